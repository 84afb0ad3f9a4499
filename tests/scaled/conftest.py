"""The scaled profile (deploy/scaled_profile.py) started once for the module: nginx, two Rasa replicas, two
action servers, PostgreSQL and Redis as they run on this machine (fresh database and Redis key prefix, removed
afterwards)."""

from __future__ import annotations

import subprocess
import time

import pytest
import requests

from deploy.scaled_profile import MODEL, ScaledProfile
from staff_api.rasa_client import rasa_auth_headers

REDIS_RESTART = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379", "--save", ""]
PG_CLUSTER = ["15", "main"]


@pytest.fixture(scope="session")
def profile(tmp_path_factory):
    """The whole scaled profile on loopback, with demo applications seeded in its PostgreSQL database."""
    if not MODEL.exists():
        pytest.fail("No trained model at models/tthc.tar.gz: run `make train`.")
    ensure_redis_running()  # the machine starts both; start them if a previous run left them down
    ensure_postgres_running()
    started = time.perf_counter()
    running = ScaledProfile(tmp_path_factory.mktemp("scaled"), fresh=True)
    try:
        running.start(web=True)
        running.startup_s = time.perf_counter() - started
        running.demo = running.seed_demo(count=200)
        yield running
    finally:
        ensure_redis_running()
        ensure_postgres_running()
        running.stop()


class Turn:
    """One REST turn through the balancer: the bot's messages, the replica that answered, how long it took."""

    def __init__(self, messages: list, replica: int | None, seconds: float, status: int) -> None:
        self.messages = messages
        self.replica = replica
        self.seconds = seconds
        self.status = status

    @property
    def text(self) -> str:
        """All bot texts of the turn, joined."""
        return "\n".join(m.get("text", "") for m in self.messages)


def say(profile: ScaledProfile, sender: str, text: str, timeout: float = 120) -> Turn:
    """Send one message through nginx with the widget's sticky header; the turn."""
    started = time.perf_counter()
    resp = requests.post(profile.rest_url, json={"sender": sender, "message": text},
                         headers={"X-Sender-Id": sender}, timeout=timeout)
    seconds = time.perf_counter() - started
    replica = profile.replica_of(resp.headers["X-Rasa-Replica"]) if resp.headers.get("X-Rasa-Replica") else None
    messages = resp.json() if resp.status_code == 200 else []
    return Turn(messages, replica, seconds, resp.status_code)


def tracker(profile: ScaledProfile, sender: str, base: str | None = None) -> dict:
    """Rasa's tracker of ``sender`` (through nginx by default: sticky on the /conversations/<id>/ path)."""
    resp = requests.get(f"{base or profile.url}/conversations/{sender}/tracker",
                        headers=rasa_auth_headers(profile.rasa_api_token), timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


def stored_event_count(profile: ScaledProfile, sender: str) -> int:
    """Rows of ``sender`` in Rasa's SQL tracker store (PostgreSQL ``events`` table)."""
    return profile.stored_event_count(sender)


def redis_up() -> bool:
    """Whether the machine's Redis answers PING."""
    try:
        out = subprocess.run(["redis-cli", "-p", "6379", "ping"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() == "PONG"
    except (OSError, subprocess.SubprocessError):
        return False


def ensure_redis_running() -> None:
    """Start the machine's Redis again if it is down (the command from the machine's notes)."""
    if not redis_up():
        subprocess.run(REDIS_RESTART, check=False, timeout=30)
        for _ in range(50):
            if redis_up():
                return
            time.sleep(0.1)


def postgres_up() -> bool:
    """Whether PostgreSQL accepts connections."""
    return subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"], check=False).returncode == 0


def ensure_postgres_running() -> None:
    """Start the machine's PostgreSQL cluster again if it is down."""
    if not postgres_up():
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *PG_CLUSTER, "start"], check=False, timeout=60)
        for _ in range(100):
            if postgres_up():
                return
            time.sleep(0.2)
