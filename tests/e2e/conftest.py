"""Starts the real stack (action server, Rasa server, chat page) on free loopback ports for e2e tests.

The action server and Rasa part is ``scripts/stack.py`` (also used by scripts/eval_dialogue.py and
scripts/load.py); this adds the chat page, the Zalo channel on a fake Zalo API and socket.io push.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from deploy.scaled_profile import free_port  # noqa: F401 - free_port: e2e tests
from scripts.stack import ACTIONS_PY, RASA_BIN, ROOT, RestStack, StackError, model_path  # noqa: F401
from scripts.stack import wait_http as _wait_http
from tests.fakes import zalo_api_server as zalo_fake
from tests.fakes.browser import browser, chat_page_url  # noqa: F401 - the browser tests' fixtures
from tests.fakes.processes import wait_until_healthy

# RASA_MODEL lets a worktree test its own model without overwriting the shared models/tthc.tar.gz.
MODEL = model_path()
ZALO_MAX_TEXT_CHARS = 600  # the e2e Zalo channel splits replies at 600 characters (production: 2,000)


def wait_http(url: str, seconds: float, proc: subprocess.Popen, log: Path) -> None:
    """Poll ``url`` until it answers 200; fail with the process log if it dies or times out."""
    try:
        _wait_http(url, seconds, proc, log)
    except StackError as exc:
        pytest.fail(str(exc))


class Stack(RestStack):
    """The running processes and their URLs: scripts/stack.py's servers, the chat page, Zalo and socket.io push."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.web_port = free_port()
        # A stand-in third-party portal embedding the widget (test_browser_widget.py): another allowed origin.
        self.portal_port = free_port()
        self.web_ports = (self.web_port, self.portal_port)
        self.web_url = f"http://127.0.0.1:{self.web_port}/"
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

    def shutdown(self) -> None:
        """Stop every process of the stack and the fake Zalo API."""
        super().shutdown()
        self.zalo.stop()

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


CONSOLE_PASSWORD = "mat-khau-truc-tong-dai-2026"


def console_env(stack: Stack) -> dict:
    """The environment of the console and the notification worker: the stack's services database, tracker store and
    Rasa server (with its API token), as `make run` gives them."""
    return {**stack.env, "TRACKER_DB": str(stack.workdir / "tracker.db"), "RASA_URL": stack.rasa_url,
            "RASA_API_TOKEN": stack.rasa_api_token}


@pytest.fixture(scope="session")
def live_console(stack):
    """The console process wired to the running stack, with an officer ("truc-ban") and a supervisor
    ("truong-bo-phan") account, both with CONSOLE_PASSWORD."""
    env = console_env(stack)
    for name, role in (("truc-ban", "officer"), ("truong-bo-phan", "supervisor")):
        done = subprocess.run([sys.executable, "-m", "console", "users", "add", name, "--role", role,
                               "--password-stdin", "--no-force-change"], cwd=ROOT, env=env,
                              input=CONSOLE_PASSWORD + "\n", capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    port = free_port()
    log = stack.workdir / "console.log"
    proc = subprocess.Popen([sys.executable, "-m", "console", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    stack.procs["console"] = proc
    base = f"http://127.0.0.1:{port}"
    wait_until_healthy(base, proc, log, 60)
    yield base
    stack.stop("console")


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
    from core.db import Database
    from scripts.seed_demo import demo_pairs, seed

    db = Database(str(stack.services_db))
    seed(db, count=300)
    pairs = demo_pairs(db)
    assert pairs, "no demo applications were seeded"
    return pairs
