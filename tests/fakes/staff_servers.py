"""The help-desk console and the staff API as real processes on a temporary SQLite database with a fake Rasa
(the servers of tests/unit/test_console_api.py, test_staff_api.py and the fuzzing tests), and a logged-in console
client."""

from __future__ import annotations

import os
import subprocess
import sys

import requests

from console.auth import AccountStore
from core.db import Database
from core.feedback import FeedbackStore
from core.handoff import HandoffStore
from core.status.sqlite import SqliteStatusBackend
from tests.fakes.console_data import APP_CODE, application, console_environment
from tests.fakes.processes import ROOT, serving
from tests.fakes.rasa_server import FakeRasaServer

RASA_TOKEN = "rasa-secret"
STAFF_TOKEN = "staff-token-for-tests-0123456789"
# The shared secret of the one-stop system's signed status webhook (POST /events/status on the staff API).
WEBHOOK_SECRET = "one-stop-webhook-secret-for-tests"
PASSWORD = "mat-khau-can-bo-2025"
TRANSCRIPT = [{"role": "user", "text": "Tôi muốn gặp cán bộ", "at": "2025-11-27T09:00:00+07:00"}]
GET_ENDPOINTS = ["/api/me", "/api/search?q=c%C4%83n+c%C6%B0%E1%BB%9Bc", "/api/procedures/1.014064",
                 "/api/handoffs", "/api/handoffs/HT-251127-0001", f"/api/status/{APP_CODE}", "/api/feedback",
                 "/api/feedback/PA-251127-0001", "/api/analytics", "/api/audit", "/api/facets", "/api/review",
                 "/api/review/1/answer"]
POST_ENDPOINTS = ["/api/logout", "/api/password", "/api/handoffs/HT-251127-0001/reply",
                  "/api/handoffs/HT-251127-0001/close", "/api/feedback/PA-251127-0001/status", "/api/review/1/link",
                  "/api/review/1/out_of_scope", "/api/review/1/faq", "/api/review/1/approve", "/api/review/1/reject"]


def console_server(tmp, tracker_db=None, env=None):
    """The console with four accounts, one application, one feedback report and one open handoff; yields its
    environment (``base``, ``db``, ``rasa``, ``feedback``, ``ticket``, ``log``). ``tracker_db``: Rasa's tracker
    store it reads (default: none yet); ``env``: extra settings."""
    db = Database(str(tmp / "services.db"))
    db.ensure_schema()
    accounts = AccountStore(db)
    accounts.add_user("lan", PASSWORD, "officer", must_change_password=False)
    accounts.add_user("minh", PASSWORD, "supervisor", must_change_password=False)
    accounts.add_user("moi", PASSWORD, "officer")  # must change the password first
    accounts.add_user("khoa", PASSWORD, "officer", must_change_password=False)  # locked out by a test
    SqliteStatusBackend(db).save(application(), phone="0912345678", id_number="001099012345")
    report = FeedbackStore(db).create("hạ tầng", "Đèn đường hỏng ở ngõ 5", "phường Bến Nghé", "0912345678", True,
                                      "web-fb", "socketio")
    ticket = HandoffStore(db).open_ticket("web-0912", "socketio", TRANSCRIPT, "user_request")
    with FakeRasaServer(token=RASA_TOKEN) as rasa:
        environ = {**console_environment(tmp, rasa.url, RASA_TOKEN, tracker_db or tmp / "no-tracker.db"),
                   **(env or {})}
        with serving("console", environ, tmp / "console.log") as base:
            yield {"base": base, "db": db, "rasa": rasa, "feedback": report.code, "ticket": ticket.id,
                   "log": tmp / "console.log"}


def console_with_staff(tmp, tracker_db, password: str, env=None):
    """The console on ``tmp``'s services database (the caller fills it beforehand) reading the tracker
    store ``tracker_db``, with the officer ``can-bo`` and the supervisor ``giam-sat`` (password ``password``) made
    with the console's CLI; yields ``base`` and the fake ``rasa``. ``env``: extra settings."""
    with FakeRasaServer(token=RASA_TOKEN) as rasa:
        environ = {**console_environment(tmp, rasa.url, RASA_TOKEN, tracker_db), **(env or {})}
        for name, role in (("can-bo", "officer"), ("giam-sat", "supervisor")):
            done = subprocess.run([sys.executable, "-m", "console", "users", "add", name, "--role", role,
                                   "--password-stdin", "--no-force-change"], cwd=ROOT, env=environ,
                                  input=password + "\n", capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
        with serving("console", environ, tmp / "console.log", start_timeout_s=60) as base:
            yield {"base": base, "rasa": rasa}


class Client:
    """A logged-in browser: the session cookie plus the CSRF token from the login answer."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.csrf = ""

    def login(self, name: str, password: str = PASSWORD) -> requests.Response:
        response = self.http.post(self.base + "/api/login", json={"name": name, "password": password}, timeout=10)
        if response.status_code == 200:
            self.csrf = response.json()["csrf_token"]
        return response

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.base + path, timeout=30, **kwargs)

    def post(self, path: str, body: dict | None = None, csrf: str | None = None) -> requests.Response:
        headers = {"X-CSRF-Token": self.csrf if csrf is None else csrf}
        return self.http.post(self.base + path, json=body or {}, headers=headers, timeout=30)


def logged_in(env, name: str) -> Client:
    client = Client(env["base"])
    assert client.login(name).status_code == 200
    return client

def staff_api_server(tmp):
    """The staff API with one officer; yields ``base``, ``db``, ``rasa``, ``log`` and ``officer_token``."""
    db = Database(str(tmp / "services.db"))
    db.ensure_schema()
    accounts = AccountStore(db)
    accounts.add_user("hoa", "mat-khau-can-bo-2025", "officer", must_change_password=False)
    officer_token = accounts.issue_api_token("hoa")
    with FakeRasaServer(token=RASA_TOKEN) as rasa:
        environ = {**os.environ, "PYTHONPATH": str(ROOT), "SERVICES_DB": str(tmp / "services.db"),
                   "STAFF_API_TOKEN": STAFF_TOKEN, "RASA_URL": rasa.url, "RASA_API_TOKEN": RASA_TOKEN,
                   "DATABASE_URL": "", "STATUS_BACKEND": "sqlite", "STATUS_WEBHOOK_SECRET": WEBHOOK_SECRET}
        with serving("staff_api", environ, tmp / "staff_api.log") as base:
            yield {"base": base, "db": db, "rasa": rasa, "log": tmp / "staff_api.log", "officer_token": officer_token}
