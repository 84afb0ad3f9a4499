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


@contextmanager
def serving(module: str, env: dict, log_path: Path, *, start_timeout_s: float = 30.0) -> Iterator[str]:
    """Run ``python -m <module> --port <free port>`` with ``env`` (output to ``log_path``) and yield its base URL
    once ``/health`` answers 200; stop the process afterwards. Fails the test, with the log, when the process exits
    or does not answer within ``start_timeout_s``."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", module, "--port", str(port)], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + start_timeout_s
            while True:
                try:
                    if requests.get(base + "/health", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if proc.poll() is not None:
                    pytest.fail(f"{module} exited: " + log_path.read_text())
                if time.monotonic() > deadline:
                    pytest.fail(f"{module} did not start within {start_timeout_s:.0f} s: " + log_path.read_text())
                time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=10)
