"""The scaled-out profile: nginx in front of N Rasa replicas and N action servers, PostgreSQL and Redis behind.

What runs (all on loopback, each as a child process of this helper):

* nginx (Debian package, config ``deploy/nginx/scaled.conf.template``): the public port balances over the Rasa
  replicas with a sticky key per conversation (``X-Sender-Id`` header, ``?sender=``, or the
  ``/conversations/<id>/`` path) and fails over when a replica is down; a second, internal port balances the
  Rasa replicas' action calls over the action servers.
* N Rasa servers (same model) with the SQL tracker store on PostgreSQL and the Redis lock store.
* N action servers (rasa_sdk) with the status/feedback/handoff stores on PostgreSQL (``DATABASE_URL``, schema
  ``services``) and the knowledge index read from ``models/kb-index`` (built once before, never written here).
* optionally the chat page (web/server.py) and the staff API, both pointed at nginx.

Reusable from Python (tests/scaled, scripts/load.py)::

    from deploy.scaled_profile import ScaledProfile
    profile = ScaledProfile(workdir, fresh=True)   # fresh: a new database and Redis key prefix, dropped in stop()
    profile.start()                                # blocks until every process answers
    profile.url         # http://127.0.0.1:<port>; REST channel: profile.rest_url
    profile.stop()

From the shell: ``python -m deploy.scaled_profile run`` (what ``make run-scaled`` calls via scripts/run_scaled.sh).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional

from settings import ROOT

RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
ACTIONS_PY = ROOT / ".venv-actions" / "bin" / "python"
MODEL = ROOT / "models" / "tthc.tar.gz"
NGINX_TEMPLATE = ROOT / "deploy" / "nginx" / "scaled.conf.template"
SERVICES_SCHEMA = "services"
_DB_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def cors_origins(host: str, *web_ports: Optional[int]) -> List[str]:
    """Origins allowed to call Rasa from a browser: RASA_CORS_ORIGINS when set, else the chat pages' own origins
    (``http://<host>:<port>`` and ``http://localhost:<port>``). Never "*"; an empty list allows no other origin."""
    from settings import get_settings

    configured = list(get_settings().rasa_cors_origins)
    if configured:
        return configured
    origins: List[str] = []
    for port in web_ports:
        if port:
            origins += [f"http://{host}:{port}", f"http://localhost:{port}"]
    return origins


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def terminate(proc: Optional[subprocess.Popen], grace_s: float = 20.0) -> None:
    """Stop a child process: SIGTERM, then SIGKILL after ``grace_s`` seconds; reap it either way."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def nginx_binary() -> str:
    """Path of the nginx executable (Debian installs it in /usr/sbin, often not on a user's PATH)."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise RuntimeError("nginx is not installed: run `make setup` as root or `apt-get install nginx-light`.")
    return found


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether ``url`` answers 200."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback URLs we built
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


class ProfileError(RuntimeError):
    """A process of the profile did not start; the message ends with the tail of its log."""


class ScaledProfile:
    """The running scaled profile: processes, ports, URLs, and the stores it uses.

    ``fresh=True`` creates a database named ``tthc_scaled_<random>`` and a Redis key prefix of its own, and
    :meth:`stop` drops / deletes them; otherwise ``database`` (default ``tthc``) is created if missing and kept.
    Ports default to free random ones; pass ``port`` (public) and friends for fixed ones.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        replicas: int = 2,
        fresh: bool = False,
        database: str = "tthc",
        pg_host: str = "127.0.0.1",
        pg_port: int = 5432,
        pg_user: str = "postgres",
        login_db: str = "test",
        redis_host: str = "127.0.0.1",
        redis_port: int = 6379,
        redis_db: int = 2,
        port: int = 0,
        actions_lb_port: int = 0,
        rasa_ports: Optional[list] = None,
        actions_ports: Optional[list] = None,
        web_port: Optional[int] = None,
        staff_api_port: Optional[int] = None,
        console_port: Optional[int] = None,
        rasa_api_token: Optional[str] = None,
        staff_api_token: Optional[str] = None,
        action_server_token: Optional[str] = None,
        webhook_rate: str = "",
        webhook_burst: int = 0,
        model: Path = MODEL,
        extra_env: Optional[dict] = None,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.replicas = replicas
        self.fresh = fresh
        run_id = secrets.token_hex(4)
        self.database = f"tthc_scaled_{run_id}" if fresh else database
        if not _DB_NAME_RE.match(self.database):
            raise ValueError(f"invalid database name: {self.database!r}")
        self.pg = {"host": pg_host, "port": pg_port, "user": pg_user, "login_db": login_db}
        self.redis = {"host": redis_host, "port": redis_port, "db": redis_db}
        # Alphanumeric (Rasa ignores other prefixes): tthc<run id> for a fresh run, tthc otherwise.
        self.redis_key_prefix = f"tthc{run_id}" if fresh else "tthc"
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.actions_lb_port = actions_lb_port or free_port()
        self.rasa_ports = list(rasa_ports or [free_port() for _ in range(replicas)])
        self.actions_ports = list(actions_ports or [free_port() for _ in range(replicas)])
        self.web_port = web_port
        self.staff_api_port = staff_api_port
        self.console_port = console_port
        self.rasa_api_token = rasa_api_token or secrets.token_urlsafe(24)
        self.staff_api_token = staff_api_token or secrets.token_urlsafe(24)
        self.action_server_token = action_server_token or secrets.token_urlsafe(24)
        self.model = Path(model)
        # nginx's per-client limit on /webhooks/rest/ (WEBHOOK_RATE, WEBHOOK_BURST); load tests, whose simulated
        # citizens all come from 127.0.0.1, raise it.
        self.webhook_rate = webhook_rate or os.environ.get("WEBHOOK_RATE", "") or "10r/s"
        self.webhook_burst = webhook_burst or int(os.environ.get("WEBHOOK_BURST", "") or 40)
        self.procs: dict = {}
        self.database_url = f"postgresql://{pg_user}@{pg_host}:{pg_port}/{self.database}"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "KB_ENCODER_THREADS": os.environ.get("KB_ENCODER_THREADS", "1"),
            # Services (status, feedback, handoff) in PostgreSQL, schema "services" of the profile's database.
            "DATABASE_URL": self.database_url,
            "DATABASE_SCHEMA": SERVICES_SCHEMA,
            "STATUS_BACKEND": "postgres",
            "RASA_API_TOKEN": self.rasa_api_token,
            # Rasa -> action servers: the shared token (endpoints.yml headers) and loopback listening addresses.
            "ACTION_SERVER_TOKEN": self.action_server_token,
            "ACTION_SERVER_HOST": self.host,
            # One web-session secret for every Rasa replica (a widget's token must hold on any of them).
            "CHAT_SESSION_SECRET": os.environ.get("CHAT_SESSION_SECRET") or secrets.token_urlsafe(32),
            # nginx (on this host) forwards the client's address in X-Real-IP: trust it from there only.
            "TRUSTED_PROXIES": self.host,
            "RASA_URL": f"http://{self.host}:{self.port}",
            # A replica that dies mid-turn leaves its conversation's ticket lock in Redis until the lock expires
            # (Rasa's default 60 s): 20 s still exceeds the slowest turn measured under load (p99 at 50 chats ~5 s).
            "TICKET_LOCK_LIFETIME": os.environ.get("TICKET_LOCK_LIFETIME", "20"),
            # The console's analytics read Rasa's trackers from the profile's database (table events).
            "TRACKER_DB_URL": self.database_url,
            **(extra_env or {}),
        }
        self.env.pop("SERVICES_DB", None)

    # ---- URLs ----------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The public URL (nginx): REST at ``url + '/webhooks/rest/webhook'``."""
        return f"http://{self.host}:{self.port}"

    @property
    def rest_url(self) -> str:
        """The REST channel's webhook behind the balancer."""
        return f"{self.url}/webhooks/rest/webhook"

    @property
    def rasa_urls(self) -> list:
        """Each Rasa replica's own URL (bypassing nginx)."""
        return [f"http://{self.host}:{p}" for p in self.rasa_ports]

    @property
    def actions_urls(self) -> list:
        """Each action server's own URL."""
        return [f"http://{self.host}:{p}" for p in self.actions_ports]

    @property
    def web_url(self) -> Optional[str]:
        """The chat page, when started."""
        return f"http://{self.host}:{self.web_port}/" if self.web_port else None

    def replica_of(self, upstream_addr: str) -> int:
        """The replica index of an ``X-Rasa-Replica`` header value (nginx's ``$upstream_addr``; last hop wins)."""
        last = upstream_addr.split(",")[-1].split(":")[-1].strip()
        return self.rasa_ports.index(int(last))

    def log(self, name: str) -> Path:
        """The log file of one process (``rasa-0``, ``actions-1``, ``nginx`` ...)."""
        return self.workdir / "logs" / f"{name}.log"

    # ---- generated configuration -----------------------------------------------------------------
    def write_config(self) -> None:
        """Write endpoints, credentials and the nginx config into the work dir."""
        (self.workdir / "logs").mkdir(exist_ok=True)
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.workdir / "nginx" / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        actions_lb = f"http://{self.host}:{self.actions_lb_port}"
        (self.workdir / "endpoints.yml").write_text(
            "# Generated by deploy/scaled_profile.py (scaled profile); the embedded endpoints.yml is unchanged.\n"
            "action_endpoint:\n"
            f'  url: "{actions_lb}/webhook"\n'
            "  headers:\n"
            "    Authorization: Bearer ${ACTION_SERVER_TOKEN}\n"
            "tracker_store:\n"
            "  type: channels.tracker_store.ReconnectingSQLTrackerStore\n"
            '  dialect: "postgresql"\n'
            f'  url: "{self.pg["host"]}"\n'
            f"  port: {self.pg['port']}\n"
            f'  db: "{self.database}"\n'
            f'  username: "{self.pg["user"]}"\n'
            f'  login_db: "{self.pg["login_db"]}"\n'
            "lock_store:\n"
            "  type: redis\n"
            f'  url: "{self.redis["host"]}"\n'
            f"  port: {self.redis['port']}\n"
            f"  db: {self.redis['db']}\n"
            f'  key_prefix: "{self.redis_key_prefix}"\n'
            "  socket_timeout: 2\n",
            encoding="utf-8",
        )
        (self.workdir / "credentials.yml").write_text(
            "# Generated by deploy/scaled_profile.py (scaled profile).\n"
            "channels.rest.ResilientRestInput:\n"
            f'  action_health_url: "{actions_lb}/health"\n'
            "channels.socketio_push.PushSocketIOInput:\n"
            "  user_message_evt: user_uttered\n"
            "  bot_message_evt: bot_uttered\n"
            "  session_persistence: true\n",
            encoding="utf-8",
        )
        prefix = self.workdir / "nginx"
        # Started as root, nginx's workers would drop to "nobody", who cannot enter a private work dir
        # (pytest's tmp dirs are 0700): this nginx is our own process, so its workers keep our identity.
        user = "user root;" if os.geteuid() == 0 else ""
        servers = lambda ports: "\n".join(  # noqa: E731
            f"        server {self.host}:{p} max_fails=1 fail_timeout=10s;" for p in ports
        )
        conf = NGINX_TEMPLATE.read_text(encoding="utf-8")
        for key, value in {
            "USER_DIRECTIVE": user,
            "PREFIX": str(prefix),
            "HOST": self.host,
            "PORT": str(self.port),
            "ACTIONS_PORT": str(self.actions_lb_port),
            "RASA_SERVERS": servers(self.rasa_ports),
            "WEBHOOK_RATE": self.webhook_rate,
            "WEBHOOK_BURST": str(self.webhook_burst),
            "ACTION_SERVERS": servers(self.actions_ports),
        }.items():
            conf = conf.replace(f"@@{key}@@", value)
        (prefix / "nginx.conf").write_text(conf, encoding="utf-8")

    # ---- stores ------------------------------------------------------------------------------------
    def pg_query(self, dbname: str, sql: str, params: tuple = ()) -> list:
        """Run one statement in autocommit mode on ``dbname``; the rows (psycopg 3 or psycopg2, whichever this
        venv has: the action venv has the first, Rasa's the second)."""
        kwargs = {"host": self.pg["host"], "port": self.pg["port"], "user": self.pg["user"], "dbname": dbname,
                  "connect_timeout": 5}
        try:
            import psycopg
        except ImportError:
            import psycopg2

            conn = psycopg2.connect(**kwargs)
            conn.autocommit = True
        else:
            conn = psycopg.connect(autocommit=True, **kwargs)
        try:
            cur = conn.cursor()
            cur.execute(sql, params or None)
            return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def create_database(self) -> None:
        """Create the profile's database if missing (Rasa's ``login_db`` would too, but the action servers
        may start first)."""
        if not self.pg_query(self.pg["login_db"], "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)):
            self.pg_query(self.pg["login_db"], f'CREATE DATABASE "{self.database}"')

    def drop_database(self) -> None:
        """Drop the profile's database (fresh runs only; forces other sessions out)."""
        self.pg_query(self.pg["login_db"], f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def stored_event_count(self, sender: str) -> int:
        """Rows of ``sender`` in Rasa's SQL tracker store (the ``events`` table)."""
        return self.pg_query(self.database, "SELECT count(*) FROM events WHERE sender_id = %s", (sender,))[0][0]

    def services_database(self):
        """The services' :class:`core.db.Database` (status, feedback, handoff) of this profile."""
        from core.db import Database

        return Database(self.database_url, schema=SERVICES_SCHEMA)

    def delete_redis_keys(self) -> int:
        """Delete this profile's lock keys (by key prefix, in its own db number); how many were deleted."""
        cli = ["redis-cli", "-h", self.redis["host"], "-p", str(self.redis["port"]), "-n", str(self.redis["db"])]
        try:
            keys = subprocess.run([*cli, "--scan", "--pattern", f"{self.redis_key_prefix}:*"], capture_output=True,
                                  text=True, timeout=10, check=True).stdout.split()
            if keys:
                subprocess.run([*cli, "del", *keys], capture_output=True, timeout=10, check=True)
            return len(keys)
        except (OSError, subprocess.SubprocessError):
            return 0

    def seed_demo(self, count: int = 300) -> list:
        """Seed synthetic applications into the services database (scripts/seed_demo.py, run in the action
        venv so that this works from either venv); a few (code, last-4, status) to try."""
        out = self.workdir / "demo_applications.txt"
        subprocess.run([str(ACTIONS_PY), str(ROOT / "scripts" / "seed_demo.py"), "--count", str(count),
                        "--out", str(out)], cwd=ROOT, env=self.env, check=True, capture_output=True, timeout=600)
        pairs = []
        for line in out.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                code, last4, status = (part.strip() for part in line.split("|"))
                pairs.append((code, last4, status))
        return pairs

    # ---- processes ---------------------------------------------------------------------------------
    def _start(self, name: str, cmd: list) -> subprocess.Popen:
        log = self.log(name)
        with open(log, "ab") as handle:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        self.procs[name] = proc
        return proc

    def _wait(self, url: str, name: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        proc = self.procs.get(name)
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise ProfileError(f"{name} exited early (code {proc.returncode}):\n{self._tail(name)}")
            if http_ok(url):
                return
            time.sleep(0.5)
        raise ProfileError(f"{name} not ready at {url} after {seconds:.0f} s:\n{self._tail(name)}")

    def _tail(self, name: str, chars: int = 3000) -> str:
        try:
            return self.log(name).read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def start_actions(self, i: int, wait: bool = True) -> None:
        """Start action server ``i`` (and wait for it, then load its index and encoder)."""
        self._start(f"actions-{i}", [str(ACTIONS_PY), "-m", "rasa_sdk", "--actions", "actions",
                                     "--port", str(self.actions_ports[i])])
        if wait:
            self.wait_actions(i)

    def wait_actions(self, i: int) -> None:
        """Wait until action server ``i`` answers, then warm it up (index + encoder loaded now)."""
        self._wait(f"{self.actions_urls[i]}/health", f"actions-{i}", 180)
        from scripts.warmup_actions import warm_up

        warm_up(self.actions_urls[i], token=self.action_server_token)

    def cors_origins(self) -> List[str]:
        """Browser origins allowed to call Rasa: RASA_CORS_ORIGINS, else the chat page's own origin."""
        return cors_origins(self.host, self.web_port)

    def rasa_run_args(self, i: int) -> List[str]:
        """Arguments of ``rasa`` for replica ``i``.

        The API secret goes in as ``--jwt-secret=VALUE``: a generated token may start with "-", which argparse
        would otherwise read as the next option ("expected one argument", seen in CI). It signs the JWTs callers
        send in the Authorization header (staff_api/rasa_client.py); no ``?token=`` in URLs.
        """
        return [
            "run", "--model", str(self.model), "--port", str(self.rasa_ports[i]),
            "--interface", self.host, "--cors", *self.cors_origins(),
            "--credentials", str(self.workdir / "credentials.yml"),
            "--endpoints", str(self.workdir / "endpoints.yml"),
            "--enable-api", f"--jwt-secret={self.rasa_api_token}",
        ]

    def start_rasa(self, i: int, wait: bool = True) -> None:
        """Start Rasa replica ``i`` (and wait until its REST channel answers)."""
        self._start(f"rasa-{i}", [str(RASA_BIN), *self.rasa_run_args(i)])
        if wait:
            self.wait_rasa(i)

    def wait_rasa(self, i: int, seconds: float = 400) -> None:
        """Wait until Rasa replica ``i`` answers on its REST channel."""
        self._wait(f"{self.rasa_urls[i]}/webhooks/rest/", f"rasa-{i}", seconds)

    def kill_rasa(self, i: int, sig: int = signal.SIGKILL) -> None:
        """Kill Rasa replica ``i`` (SIGKILL by default: no clean shutdown) and reap it."""
        proc = self.procs.pop(f"rasa-{i}", None)
        if proc and proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(30)

    def start_nginx(self) -> None:
        """Start nginx with the generated config (foreground process, ``daemon off``)."""
        prefix = self.workdir / "nginx"
        conf = prefix / "nginx.conf"
        check = subprocess.run([nginx_binary(), "-t", "-q", "-p", str(prefix), "-c", str(conf)],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise ProfileError(f"nginx config invalid:\n{check.stderr}")
        self._start("nginx", [nginx_binary(), "-p", str(prefix), "-c", str(conf)])
        self._wait(f"{self.url}/nginx-health", "nginx", 20)

    def start(self, web: bool = False, staff_api: bool = False, console: bool = False) -> "ScaledProfile":
        """Create the database, write the configs and start every process; returns when all answer."""
        if not self.model.exists():
            raise ProfileError(f"no trained model at {self.model}: run `make train`.")
        if not (ROOT / "models" / "kb-index" / "config.json").exists():
            raise ProfileError("no knowledge index at models/kb-index: run `make build-index`.")
        self.create_database()
        # The services' schema once here (yoyo migrations), not raced by the two action servers.
        subprocess.run([str(ACTIONS_PY), "-c", "from core.db import database_from_settings; "
                        "from settings import get_settings; database_from_settings(get_settings()).ensure_schema()"],
                       cwd=ROOT, env=self.env, check=True, capture_output=True, timeout=120)
        self.write_config()
        if web:  # known before Rasa starts: the chat page's origin is the default CORS allow-list
            self.web_port = self.web_port or free_port()
        try:
            self.start_nginx()
            for i in range(self.replicas):
                self.start_actions(i, wait=False)
                self.start_rasa(i, wait=False)
            for i in range(self.replicas):
                self.wait_actions(i)
            for i in range(self.replicas):
                self.wait_rasa(i)
            if web:
                self._start("web", [str(ACTIONS_PY), str(ROOT / "scripts" / "serve_web.py"), "--host", self.host,
                                    "--port", str(self.web_port), "--rasa-url", self.url])
                self._wait(f"{self.web_url}healthz", "web", 30)
            if staff_api:
                self.staff_api_port = self.staff_api_port or free_port()
                self.env["STAFF_API_TOKEN"] = self.staff_api_token
                self._start("staff_api", [str(ACTIONS_PY), "-m", "staff_api", "--host", self.host,
                                          "--port", str(self.staff_api_port)])
                self._wait(f"http://{self.host}:{self.staff_api_port}/health", "staff_api", 60)
            if console:  # the help-desk console on the same PostgreSQL database (services schema, trackers)
                self.console_port = self.console_port or free_port()
                subprocess.run([str(ACTIONS_PY), "-m", "console", "ensure-demo"], cwd=ROOT, env=self.env,
                               check=True, timeout=120)
                self._start("console", [str(ACTIONS_PY), "-m", "console", "--host", self.host,
                                        "--port", str(self.console_port)])
                self._wait(f"http://{self.host}:{self.console_port}/health", "console", 60)
        except BaseException:
            self.stop()
            raise
        return self

    def stop_process(self, name: str) -> None:
        """Terminate one process (SIGTERM, then SIGKILL after 20 s) and reap it."""
        terminate(self.procs.pop(name, None))

    def stop(self) -> None:
        """Stop every process; a fresh profile also drops its database and deletes its Redis keys."""
        for name in list(self.procs):
            self.stop_process(name)
        if self.fresh:
            try:
                self.drop_database()
            except Exception as exc:  # noqa: BLE001 - PostgreSQL may be the thing that is down
                print(f"warning: could not drop database {self.database}: {type(exc).__name__}", file=sys.stderr)
            self.delete_redis_keys()

    def __enter__(self) -> "ScaledProfile":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def main(argv: Optional[list] = None) -> int:
    """``run``: start the profile with the ports from the environment and wait until Ctrl-C or a crash."""
    parser = argparse.ArgumentParser(description="Scaled profile: nginx + Rasa replicas + action servers.")
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "scaled")
    args = parser.parse_args(argv)
    base = _env_int("SCALED_PORT", 5100)
    replicas = _env_int("SCALED_REPLICAS", 2)
    profile = ScaledProfile(
        args.workdir,
        replicas=replicas,
        database=os.environ.get("SCALED_DATABASE", "tthc"),
        pg_host=os.environ.get("PGHOST", "127.0.0.1"),
        pg_port=_env_int("PGPORT", 5432),
        pg_user=os.environ.get("PGUSER", "postgres"),
        redis_host=os.environ.get("REDIS_HOST", "127.0.0.1"),
        redis_port=_env_int("REDIS_PORT", 6379),
        redis_db=_env_int("REDIS_DB", 2),
        port=base,
        actions_lb_port=_env_int("SCALED_ACTIONS_PORT", base + 50),
        rasa_ports=[base + 1 + i for i in range(replicas)],
        actions_ports=[base + 51 + i for i in range(replicas)],
        web_port=_env_int("WEB_PORT", 8090),
        staff_api_port=_env_int("STAFF_API_PORT", base + 90),
        console_port=_env_int("CONSOLE_PORT", base + 91),
        rasa_api_token=os.environ.get("RASA_API_TOKEN") or None,
        staff_api_token=os.environ.get("STAFF_API_TOKEN") or None,
        action_server_token=os.environ.get("ACTION_SERVER_TOKEN") or None,
    )
    stopping = False

    def on_signal(signum, frame):  # noqa: ARG001
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"Khởi động cấu hình mở rộng: {replicas} máy chủ Rasa, {replicas} máy chủ hành động, nginx "
          f"(CSDL PostgreSQL {profile.database}, Redis db {profile.redis['db']})...", flush=True)
    try:
        profile.start(web=True, staff_api=True, console=True)
    except ProfileError as exc:
        print(f"Lỗi khởi động: {exc}", file=sys.stderr)
        return 1
    print(f"""
  Cấu hình mở rộng đã sẵn sàng.
  Trang trò chuyện:   {profile.web_url}
  REST (qua nginx):   {profile.rest_url}
  Tình trạng:         {profile.url}/webhooks/rest/health
  Máy chủ Rasa:       {', '.join(profile.rasa_urls)}
  Máy chủ hành động:  {', '.join(profile.actions_urls)} (qua nginx: http://127.0.0.1:{profile.actions_lb_port})
  API cho cán bộ:     http://127.0.0.1:{profile.staff_api_port}/api/handoffs
  Bảng điều khiển:    http://127.0.0.1:{profile.console_port} (cán bộ; thống kê đọc từ PostgreSQL)
  Nhật ký (logs):     {profile.workdir / 'logs'}
  Nhấn Ctrl-C để dừng.
""", flush=True)
    reported: set = set()
    try:
        while not stopping:
            dead = {name for name, proc in profile.procs.items() if proc.poll() is not None}
            for name in sorted(dead - reported):  # one replica down: the others carry on (nginx fails over)
                print(f"Dịch vụ {name} đã dừng bất thường; xem {profile.log(name)}.", file=sys.stderr, flush=True)
            reported |= dead
            rasa_alive = [n for n in profile.procs if n.startswith("rasa-") and n not in dead]
            if "nginx" in dead or not rasa_alive:
                return 1
            time.sleep(1)
    finally:
        print("Đang dừng các dịch vụ...", flush=True)
        profile.stop()
        print("Đã dừng.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
