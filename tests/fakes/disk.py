"""A real full file system for the disk-full fault tests: a small tmpfs (mounting needs root) and a filler file
that uses up its space."""

from __future__ import annotations

import os
import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest


@contextmanager
def tmpfs(mount: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` (e.g. "1m") on ``mount`` and unmount it afterwards; skips the test when this
    process may not mount one."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill_disk(mount: Path) -> Path:
    """Write a filler file until the file system has no space left (big chunks, then the last few bytes)."""
    filler = mount / f"filler-{uuid.uuid4().hex}"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == 28, exc  # ENOSPC
        try:
            while True:
                handle.write(b"\0" * 512)
        except OSError:
            pass
    return filler
