"""Console account helpers: scrypt hashing, password policy, sessions with expiry, CSRF compare, audit masking."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from console.auth import (
    AccountStore,
    AuditLog,
    AuthError,
    csrf_matches,
    hash_password,
    mask_key,
    token_hash,
    verify_password,
)
from core.db import VN_TZ, Database

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "mat-khau-rat-dai-2025"


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = datetime(2025, 11, 27, 8, 0, tzinfo=VN_TZ)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def accounts(db, clock):
    return AccountStore(db, session_hours=8, clock=clock)


def test_hash_is_salted_scrypt_and_verifies():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("scrypt$16384$8$1$") and first != second  # per-hash random salt
    assert PASSWORD not in first
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password(PASSWORD + "x", first)
    assert not verify_password("", first)


@pytest.mark.parametrize("stored", ["", "plain", "md5$x$y$z$a$b", "scrypt$notanumber$8$1$AAAA$AAAA",
                                    "scrypt$16384$8$1$@@@$@@@"])
def test_malformed_hashes_never_verify(stored):
    assert verify_password(PASSWORD, stored) is False


def test_csrf_compare():
    assert csrf_matches("abc123", "abc123")
    assert not csrf_matches("abc124", "abc123")
    assert not csrf_matches("", "abc123")
    assert not csrf_matches(None, "abc123")
    assert not csrf_matches("abc123", "")


def test_add_user_and_authenticate(accounts):
    account = accounts.add_user("Lan.Nguyen", PASSWORD, "officer")
    assert account.name == "lan.nguyen" and account.role == "officer" and account.must_change_password
    assert accounts.authenticate("lan.nguyen", PASSWORD) == account
    assert accounts.authenticate("LAN.NGUYEN ", PASSWORD) == account
    assert accounts.authenticate("lan.nguyen", "sai-mat-khau-123") is None
    assert accounts.authenticate("khong-ton-tai", PASSWORD) is None
    with pytest.raises(AuthError, match="đã tồn tại"):
        accounts.add_user("lan.nguyen", PASSWORD, "supervisor")


@pytest.mark.parametrize("name, password, role, message", [
    ("lan", "ngan", "officer", "ít nhất 10"),
    ("lan", PASSWORD, "admin", "Vai trò"),
    ("a b", PASSWORD, "officer", "Tên đăng nhập"),
    ("nguyễn", PASSWORD, "officer", "Tên đăng nhập"),
    ("lannguyen12", "lannguyen12", "officer", "trùng tên"),
])
def test_add_user_refusals(accounts, name, password, role, message):
    with pytest.raises(AuthError, match=message):
        accounts.add_user(name, password, role)
    assert accounts.count_users() == 0


def test_change_password_clears_flag_and_checks_current(accounts):
    accounts.add_user("lan", PASSWORD, "officer")
    with pytest.raises(AuthError, match="hiện tại không đúng"):
        accounts.change_password("lan", "sai-mat-khau-123", "mat-khau-moi-2025")
    with pytest.raises(AuthError, match="phải khác"):
        accounts.change_password("lan", PASSWORD, PASSWORD)
    accounts.change_password("lan", PASSWORD, "mat-khau-moi-2025")
    assert accounts.get_user("lan").must_change_password is False
    assert accounts.authenticate("lan", PASSWORD) is None
    assert accounts.authenticate("lan", "mat-khau-moi-2025") is not None


def test_sessions_expire_and_tokens_are_stored_hashed(accounts, db, clock):
    account = accounts.add_user("lan", PASSWORD, "supervisor")
    token, session = accounts.create_session(account)
    assert session.expires_at == clock.now + timedelta(hours=8)
    with db.read() as conn:
        rows = conn.all("SELECT token_hash, csrf_token FROM console_sessions")
    assert rows == [{"token_hash": token_hash(token), "csrf_token": session.csrf_token}]
    assert token not in str(rows)
    assert accounts.get_session(token).account.name == "lan"
    assert accounts.get_session(token + "x") is None
    assert accounts.get_session(None) is None
    clock.now += timedelta(hours=7, minutes=59)
    assert accounts.get_session(token) is not None
    clock.now += timedelta(minutes=1)
    assert accounts.get_session(token) is None


def test_logout_and_end_other_sessions(accounts):
    account = accounts.add_user("lan", PASSWORD, "officer")
    first, _ = accounts.create_session(account)
    second, _ = accounts.create_session(account)
    third, _ = accounts.create_session(account)
    accounts.end_session(first)
    assert accounts.get_session(first) is None and accounts.get_session(second) is not None
    accounts.end_sessions("lan", keep_token=third)
    assert accounts.get_session(second) is None and accounts.get_session(third) is not None


def test_disabled_account_loses_its_sessions(accounts, db):
    account = accounts.add_user("lan", PASSWORD, "officer")
    token, _ = accounts.create_session(account)
    with db.transaction() as conn:
        conn.execute("UPDATE console_users SET disabled = 1 WHERE name = 'lan'")
    assert accounts.get_session(token) is None
    assert accounts.authenticate("lan", PASSWORD) is None


@pytest.mark.parametrize("key, masked", [
    ("H07.99-251120-0012", "H07.99-******-0012"),
    ("PA-251127-0003", "PA-*******0003"),
    ("HT-251127-0001", "HT-*******0001"),
    ("abc", "a**"),
    ("", ""),
    (None, ""),
])
def test_mask_key(key, masked):
    assert mask_key(key) == masked


def test_audit_log_masks_keys(db, clock):
    audit = AuditLog(db, clock=clock)
    audit.record("lan", "status_lookup", "H07.99-251120-0012", "found")
    audit.record("minh", "feedback_list", None, "3 reports")
    entries = audit.recent()
    assert [(e.staff, e.action, e.subject, e.detail) for e in entries] == [
        ("minh", "feedback_list", None, "3 reports"),
        ("lan", "status_lookup", "H07.99-******-0012", "found"),
    ]
    assert entries[0].at == clock.now
    assert [e.action for e in audit.recent(action="status_lookup")] == ["status_lookup"]


def _cli(args: list[str], db_path, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SERVICES_DB": str(db_path), "DATABASE_URL": ""}
    return subprocess.run([sys.executable, "-m", "console", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_cli_users_and_demo_account(tmp_path):
    db_path = tmp_path / "services.db"
    demo = _cli(["ensure-demo"], db_path)
    assert demo.returncode == 0, demo.stderr
    password = demo.stdout.split("mật khẩu: ")[1].split()[0]
    accounts = AccountStore(Database(str(db_path)))
    account = accounts.authenticate("demo", password)
    assert account is not None and account.role == "supervisor" and account.must_change_password
    again = _cli(["ensure-demo"], db_path)
    assert again.returncode == 0 and again.stdout == ""  # printed once only

    added = _cli(["users", "add", "Lan", "--role", "officer", "--password-stdin"], db_path, PASSWORD + "\n")
    assert added.returncode == 0 and "lan" in added.stdout
    lan = accounts.authenticate("lan", PASSWORD)
    assert lan is not None and lan.role == "officer" and lan.must_change_password
    short = _cli(["users", "add", "hoa", "--role", "officer", "--password-stdin"], db_path, "ngan\n")
    assert short.returncode == 1 and "ít nhất 10" in short.stderr
    bad_role = _cli(["users", "add", "hoa", "--role", "admin", "--password-stdin"], db_path, PASSWORD + "\n")
    assert bad_role.returncode == 2
    listing = _cli(["users", "list"], db_path)
    assert listing.stdout.splitlines() == ["demo\tsupervisor (phải đổi mật khẩu)", "lan\tofficer (phải đổi mật khẩu)"]
    with Database(str(db_path)).read() as conn:
        stored = conn.one("SELECT password_hash FROM console_users WHERE name = 'lan'")["password_hash"]
    assert stored.startswith("scrypt$") and PASSWORD not in stored


# ---- issue 13, finding 7: the login lock is per account + client, with slower backstops ----------------------------


class SecondsClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_login_lock_is_per_account_and_client():
    from console.auth import LoginThrottle

    clock = SecondsClock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(5):
        assert not throttle.blocked("lan", "203.0.113.7")
        throttle.failed("Lan", "203.0.113.7")  # names compare case-insensitively
    assert throttle.retry_after("lan", "203.0.113.7") == 15 * 60  # until the first failure leaves the window
    assert not throttle.blocked("lan", "198.51.100.20")  # the officer's own desk
    assert not throttle.blocked("minh", "203.0.113.7")  # other accounts from the same client
    clock.now += 15 * 60
    assert not throttle.blocked("lan", "203.0.113.7")


def test_success_clears_only_the_pair():
    from console.auth import LoginThrottle

    throttle = LoginThrottle(clock=SecondsClock())
    for _ in range(4):
        throttle.failed("lan", "203.0.113.7")
    throttle.succeeded("lan", "203.0.113.7")
    for _ in range(4):
        throttle.failed("lan", "203.0.113.7")
    assert not throttle.blocked("lan", "203.0.113.7")


def test_account_backstop_across_many_clients():
    from console.auth import LOGIN_ACCOUNT_LIMIT, LoginThrottle

    clock = SecondsClock()
    throttle = LoginThrottle(clock=clock)
    limit, window = LOGIN_ACCOUNT_LIMIT
    for n in range(limit):
        assert not throttle.blocked("lan", f"10.0.{n // 250}.{n % 250}")
        throttle.failed("lan", f"10.0.{n // 250}.{n % 250}")
        clock.now += 1
    assert throttle.blocked("lan", "198.51.100.20")  # a guess spread over 50 addresses stops the account
    assert not throttle.blocked("minh", "198.51.100.20")
    clock.now += window
    assert not throttle.blocked("lan", "198.51.100.20")


def test_client_backstop_across_many_accounts():
    from console.auth import LOGIN_CLIENT_LIMIT, LoginThrottle

    throttle = LoginThrottle(clock=SecondsClock())
    limit, _ = LOGIN_CLIENT_LIMIT
    for n in range(limit):
        throttle.failed(f"user{n}", "203.0.113.7")
    assert throttle.blocked("lan", "203.0.113.7")  # password spraying from one address
    assert not throttle.blocked("lan", "198.51.100.20")


# ---- issue 13, finding 7: each officer's own staff API token --------------------------------------------------------


def test_cli_issues_and_revokes_an_officers_api_token(tmp_path):
    db_path = tmp_path / "services.db"
    db = Database(str(db_path))
    db.ensure_schema()
    accounts = AccountStore(db)
    accounts.add_user("hoa", "mat-khau-can-bo-2025", "officer", must_change_password=False)
    issued = _cli(["users", "token", "hoa"], db_path)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip().splitlines()[-1]
    assert accounts.api_token_account(token).name == "hoa"
    with db.read() as conn:  # only the hash is stored
        assert conn.one("SELECT token_hash FROM staff_api_tokens")["token_hash"] == token_hash(token)
    revoked = _cli(["users", "token", "hoa", "--revoke"], db_path)
    assert revoked.returncode == 0 and "Đã thu hồi 1 mã truy cập API của hoa." in revoked.stdout
    assert accounts.api_token_account(token) is None
    unknown = _cli(["users", "token", "khong-co"], db_path)
    assert unknown.returncode == 1 and "Không có tài khoản khong-co." in unknown.stderr
