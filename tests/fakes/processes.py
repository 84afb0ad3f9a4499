"""A project server (``python -m console``, ``python -m staff_api``) run as a real process on a free loopback port,
for the tests that drive it over HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(base: str, proc: subprocess.Popen, log_path: Path, timeout_s: float) -> None:
    """Return once ``base``/health answers 200; fail the test, with the end of the log, when ``proc`` exits or
    ``timeout_s`` passes first."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if requests.get(base + "/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            state = "exited" if proc.poll() is not None else f"did not answer within {timeout_s:.0f} s"
            pytest.fail(f"server {state} (log {log_path}):\n" + log_path.read_text(errors="replace")[-3000:])
        time.sleep(0.1)


@contextmanager
def serving(module: str, env: dict, log_path: Path, *, start_timeout_s: float = 30.0) -> Iterator[str]:
    """Run ``python -m <module> --port <free port>`` with ``env`` (output to ``log_path``) and yield its base URL
    once ``/health`` answers; stop the process afterwards."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", module, "--port", str(port)], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            wait_until_healthy(base, proc, log_path, start_timeout_s)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=10)
