"""Starts the real stack (action server, Rasa server, chat page) on free loopback ports for e2e tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from scripts.scaled_profile import cors_origins, free_port, terminate  # noqa: F401 - free_port: e2e tests
from tests.fakes import zalo_api_server as zalo_fake

ROOT = Path(__file__).resolve().parents[2]
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
ACTIONS_PY = ROOT / ".venv-actions" / "bin" / "python"
# RASA_MODEL lets a worktree test its own model without overwriting the shared models/tthc.tar.gz.
MODEL = Path(os.environ.get("RASA_MODEL") or ROOT / "models" / "tthc.tar.gz")
ZALO_MAX_TEXT_CHARS = 600  # the e2e Zalo channel splits replies at 600 characters (production: 2,000)


def wait_http(url: str, seconds: float, proc: subprocess.Popen, log: Path) -> None:
    """Poll ``url`` until it answers 200; fail with the process log if it dies or times out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{url} process exited early:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} not ready after {seconds} s:\n{log.read_text(errors='replace')[-3000:]}")


class Stack:
    """The running processes and their URLs."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.rasa_port, self.actions_port, self.web_port = free_port(), free_port(), free_port()
        # A stand-in third-party portal embedding the widget (test_browser_widget.py): another allowed origin.
        self.portal_port = free_port()
        self.rasa_url = f"http://127.0.0.1:{self.rasa_port}"
        self.actions_url = f"http://127.0.0.1:{self.actions_port}"
        self.web_url = f"http://127.0.0.1:{self.web_port}/"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                    "KB_ENCODER_THREADS": "1"}
        # Services (status, feedback, handoff) on their own SQLite file; Rasa's HTTP API behind a token.
        self.services_db = workdir / "services.db"
        self.rasa_api_token = "e2e-rasa-api-jwt-secret-0123456789abcdef"  # signs the API's JWTs
        # Rasa -> action server: the shared token (endpoints.yml headers, as `make run`), loopback addresses.
        self.action_server_token = "e2e-action-server-token"
        self.env.update({"SERVICES_DB": str(self.services_db), "STATUS_BACKEND": "sqlite",
                         "RASA_API_TOKEN": self.rasa_api_token, "ACTION_SERVER_TOKEN": self.action_server_token,
                         "ACTION_SERVER_HOST": "127.0.0.1", "CHAT_SESSION_SECRET": "e2e-chat-session-secret-0123"})
        self.env.pop("DATABASE_URL", None)
        self.procs: dict = {}
        (workdir / "endpoints.yml").write_text(
            f'action_endpoint:\n  url: "{self.actions_url}/webhook"\n'
            "  headers:\n    Authorization: Bearer ${ACTION_SERVER_TOKEN}\n"
            # The product's tracker store (endpoints.yml) on a file of this stack.
            f'tracker_store:\n  type: channels.tracker_store.ReconnectingSQLTrackerStore\n'
            f'  dialect: "sqlite"\n  db: "{workdir / "tracker.db"}"\n'
        )
        (workdir / "credentials.yml").write_text(
            f'channels.rest.ResilientRestInput:\n  action_health_url: "{self.actions_url}/health"\n'
        )
        # Zalo OA channel wired to a local fake Zalo API (tests/e2e/test_zalo_channel.py); the ${ZALO_...}
        # placeholders go through Rasa's own expansion, as with `make run`. Short texts exercise splitting.
        self.zalo = zalo_fake.FakeZaloServer().start()
        self.env.update(zalo_fake.rasa_env(self.zalo))
        self.zalo_token_file = workdir / "zalo_tokens.json"
        with open(workdir / "credentials.yml", "a", encoding="utf-8") as handle:
            handle.write(zalo_fake.credentials_yaml(
                str(self.zalo_token_file), f"{self.actions_url}/health",
                max_text_chars=ZALO_MAX_TEXT_CHARS, send_retries=3, retry_backoff_seconds=0.2))
            # The web widget's push path: socket.io rooms named after the sender id (as in credentials.yml).
            handle.write("channels.socketio_push.PushSocketIOInput:\n  user_message_evt: user_uttered\n"
                         "  bot_message_evt: bot_uttered\n  session_persistence: true\n")

    def _start(self, name: str, cmd: list) -> subprocess.Popen:
        log = self.workdir / f"{name}.log"
        proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def start_actions(self) -> None:
        """Start (or restart) the action server and wait for its health route."""
        proc = self._start(
            "actions", [str(ACTIONS_PY), "-m", "rasa_sdk", "--actions", "actions", "--port", str(self.actions_port)]
        )
        wait_http(f"{self.actions_url}/health", 120, proc, self.workdir / "actions.log")
        from scripts.warmup_actions import warm_up

        warm_up(self.actions_url, token=self.action_server_token)

    def stop(self, name: str) -> None:
        """Terminate one process and wait for it."""
        terminate(self.procs.pop(name, None))

    def shutdown(self) -> None:
        """Stop every process of the stack and the fake Zalo API."""
        for name in list(self.procs):
            self.stop(name)
        self.zalo.stop()

    def restart_rasa(self, cmd: list | None = None) -> None:
        """(Re)start the Rasa server with ``cmd`` (default: the running one's command) and wait until it answers."""
        cmd = list(cmd or self.procs["rasa"].args)
        self.stop("rasa")
        proc = self._start("rasa", cmd)
        wait_http(f"{self.rasa_url}/webhooks/rest/", 300, proc, self.workdir / "rasa.log")

    def rasa_command(self) -> list:
        """``rasa run`` on this stack's port, credentials and endpoints, with the HTTP API (as `make run`)."""
        return [str(RASA_BIN), "run", "--model", str(MODEL), "--port", str(self.rasa_port),
                "--interface", "127.0.0.1", "--cors", *cors_origins("127.0.0.1", self.web_port, self.portal_port),
                "--credentials", str(self.workdir / "credentials.yml"),
                "--endpoints", str(self.workdir / "endpoints.yml"),
                "--enable-api", f"--jwt-secret={self.rasa_api_token}"]

    def start(self) -> None:
        """Start everything and wait until each answers."""
        self.start_actions()
        rasa = self._start("rasa", self.rasa_command())
        web = self._start(
            "web",
            [sys.executable, str(ROOT / "scripts" / "serve_web.py"), "--host", "127.0.0.1",
             "--port", str(self.web_port), "--rasa-url", self.rasa_url],
        )
        wait_http(f"{self.rasa_url}/webhooks/rest/", 300, rasa, self.workdir / "rasa.log")
        wait_http(f"{self.web_url}healthz", 30, web, self.workdir / "web.log")


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The whole assistant running on loopback."""
    if not MODEL.exists():
        pytest.fail(f"No trained model at {MODEL}: run `make train` (make test does it).")
    running = Stack(tmp_path_factory.mktemp("stack"))
    try:
        running.start()
        yield running
    finally:
        running.shutdown()


@pytest.fixture(scope="session")
def live_stack(stack):
    """URLs of the running stack, for the browser tests."""
    return {"web_url": stack.web_url, "rasa_url": stack.rasa_url, "portal_port": stack.portal_port}


STAFF_API_TOKEN = "e2e-staff-api-token-0123456789"


@pytest.fixture(scope="session")
def staff_api(stack):
    """The real staff API (``python -m staff_api``) on the stack's services database and Rasa server."""
    port = free_port()
    env = {**stack.env, "STAFF_API_TOKEN": STAFF_API_TOKEN, "RASA_URL": stack.rasa_url}
    log = stack.workdir / "staff_api.log"
    proc = subprocess.Popen([str(ACTIONS_PY), "-m", "staff_api", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    stack.procs["staff_api"] = proc
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/health", 60, proc, log)
    yield {"url": base, "headers": {"Authorization": f"Bearer {STAFF_API_TOKEN}"}}
    stack.stop("staff_api")


def say(stack: Stack, sender: str, text: str) -> list:
    """Send one message through the REST channel and return the bot's messages."""
    resp = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.fixture(scope="module")
def seeded(stack):
    """The demo applications in the stack's services database; a few (code, last-4, status) to try."""
    from actions.services.db import Database
    from scripts.seed_demo import demo_pairs, seed

    db = Database(str(stack.services_db))
    seed(db, count=300)
    pairs = demo_pairs(db)
    assert pairs, "no demo applications were seeded"
    return pairs
