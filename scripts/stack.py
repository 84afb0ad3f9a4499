"""The embedded stack on free loopback ports: the action server and the Rasa server with the REST channel.

Reusable from Python (tests/e2e/conftest.py adds the chat page, the Zalo channel and socket.io push to it;
scripts/eval_dialogue.py and scripts/load.py use it as is)::

    from scripts.stack import RestStack
    stack = RestStack(workdir, extra_env={"KB_BANK_SPLITS": "train"})
    stack.start()          # blocks until both servers answer; raises StackError with the log tail otherwise
    stack.rasa_url         # REST channel: stack.rasa_url + "/webhooks/rest/webhook"
    stack.shutdown()

Everything of one stack lives in ``workdir``: endpoints.yml, credentials.yml, the tracker store, the services
database and one log per process. Nothing starts at import.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Dict, Iterable, Optional

from deploy.scaled_profile import cors_origins, free_port, http_ok, terminate

ROOT = Path(__file__).resolve().parents[1]
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
ACTIONS_PY = ROOT / ".venv-actions" / "bin" / "python"


def model_path() -> Path:
    """The Rasa model to serve: ``RASA_MODEL`` (a worktree's own model) or the shared models/tthc.tar.gz."""
    return Path(os.environ.get("RASA_MODEL") or ROOT / "models" / "tthc.tar.gz")


class StackError(RuntimeError):
    """A process of the stack died or did not answer in time (the message ends with its log)."""


def log_tail(log: Path, chars: int = 3000) -> str:
    """The end of a process log ("" when there is none yet)."""
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def wait_http(url: str, seconds: float, proc: subprocess.Popen, log: Path) -> None:
    """Poll ``url`` until it answers 200; raise :class:`StackError` with the log if the process dies or times out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"{url} process exited early:\n{log_tail(log)}")
        if http_ok(url):
            return
        time.sleep(0.5)
    raise StackError(f"{url} not ready after {seconds} s:\n{log_tail(log)}")


class RestStack:
    """The action server and the Rasa server (REST channel, HTTP API behind a JWT secret) of one work folder."""

    # Origins allowed to call Rasa from a browser (subclasses serving a chat page add their ports).
    web_ports: tuple = ()

    def __init__(self, workdir: Path, model: Optional[Path] = None, extra_env: Optional[Dict[str, str]] = None) -> None:
        """Prepare the folder and the configuration (nothing runs yet); ``extra_env`` goes to both servers."""
        self.workdir = Path(workdir)
        self.model = Path(model) if model else model_path()
        self.rasa_port, self.actions_port = free_port(), free_port()
        self.rasa_url = f"http://127.0.0.1:{self.rasa_port}"
        self.actions_url = f"http://127.0.0.1:{self.actions_port}"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                    "KB_ENCODER_THREADS": "1"}
        # Services (status, feedback, handoff) on their own SQLite file; Rasa's HTTP API behind a token.
        self.services_db = self.workdir / "services.db"
        self.rasa_api_token = "e2e-rasa-api-jwt-secret-0123456789abcdef"  # signs the API's JWTs
        # Rasa -> action server: the shared token (endpoints.yml headers, as `make run`), loopback addresses.
        self.action_server_token = "e2e-action-server-token"
        self.env.update({"SERVICES_DB": str(self.services_db), "STATUS_BACKEND": "sqlite",
                         "RASA_API_TOKEN": self.rasa_api_token, "ACTION_SERVER_TOKEN": self.action_server_token,
                         "ACTION_SERVER_HOST": "127.0.0.1", "CHAT_SESSION_SECRET": "e2e-chat-session-secret-0123"})
        self.env.pop("DATABASE_URL", None)
        self.env.update(extra_env or {})
        self.procs: dict = {}
        (self.workdir / "endpoints.yml").write_text(
            f'action_endpoint:\n  url: "{self.actions_url}/webhook"\n'
            "  headers:\n    Authorization: Bearer ${ACTION_SERVER_TOKEN}\n"
            # The product's tracker store (endpoints.yml) on a file of this stack.
            f'tracker_store:\n  type: channels.tracker_store.ReconnectingSQLTrackerStore\n'
            f'  dialect: "sqlite"\n  db: "{self.workdir / "tracker.db"}"\n'
        )
        (self.workdir / "credentials.yml").write_text(
            f'channels.rest.ResilientRestInput:\n  action_health_url: "{self.actions_url}/health"\n'
        )

    def _start(self, name: str, cmd: list) -> subprocess.Popen:
        log = self.workdir / f"{name}.log"
        proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def start_actions(self) -> None:
        """Start (or restart) the action server, wait for its health route and warm its knowledge search up."""
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
        """Stop every process of the stack."""
        for name in list(self.procs):
            self.stop(name)

    def restart_rasa(self, cmd: Optional[list] = None) -> None:
        """(Re)start the Rasa server with ``cmd`` (default: the running one's command) and wait until it answers."""
        cmd = list(cmd or self.procs["rasa"].args)
        self.stop("rasa")
        proc = self._start("rasa", cmd)
        wait_http(f"{self.rasa_url}/webhooks/rest/", 300, proc, self.workdir / "rasa.log")

    def cors(self) -> Iterable[str]:
        """The ``--cors`` origins (RASA_CORS_ORIGINS, else the chat pages' own origins)."""
        return cors_origins("127.0.0.1", *self.web_ports)

    def rasa_command(self) -> list:
        """``rasa run`` on this stack's port, credentials and endpoints, with the HTTP API (as `make run`)."""
        origins = list(self.cors())
        return [str(RASA_BIN), "run", "--model", str(self.model), "--port", str(self.rasa_port),
                "--interface", "127.0.0.1", *(["--cors", *origins] if origins else []),
                "--credentials", str(self.workdir / "credentials.yml"),
                "--endpoints", str(self.workdir / "endpoints.yml"),
                "--enable-api", f"--jwt-secret={self.rasa_api_token}"]

    def start(self) -> None:
        """Start both servers and wait until each answers (Rasa loads its model while the actions warm up)."""
        rasa = self._start("rasa", self.rasa_command())
        self.start_actions()
        wait_http(f"{self.rasa_url}/webhooks/rest/", 300, rasa, self.workdir / "rasa.log")
