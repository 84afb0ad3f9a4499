"""Staff accounts, sessions and CSRF tokens of the help-desk console, plus its audit log.

Passwords are hashed with scrypt (per-user random salt, parameters stored with the hash so they can be raised
later). Session tokens are random; only their SHA-256 is stored, so a copy of the database does not let anyone
log in. Each session carries its own CSRF token, compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from core.appcode import extract_application_code, mask_code
from core.db import Database, as_datetime, now_vn
from core.errors import RefusedError

ROLES = ("officer", "supervisor")
SCRYPT_N = 2 ** 14
SCRYPT_R = 8
SCRYPT_P = 1
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 256
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")


class AuthError(RefusedError):
    """A refused account operation."""


# ---- passwords -------------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """``scrypt$n$r$p$salt$hash`` for ``password`` with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=64 * 1024 * 1024)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (constant-time comparison; False for malformed hashes)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r),
                                p=int(p), dklen=len(expected), maxmem=64 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def check_password_policy(password: str, name: str) -> None:
    """Raise :class:`AuthError` when ``password`` is too short, too long or equals the account name."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise AuthError(f"Mật khẩu cần ít nhất {MIN_PASSWORD_CHARS} ký tự.")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AuthError(f"Mật khẩu dài quá {MAX_PASSWORD_CHARS} ký tự.")
    if password.strip().lower() == name.lower():
        raise AuthError("Mật khẩu không được trùng tên đăng nhập.")


def validate_name(name: str) -> str:
    """The account name in canonical form (lower case); :class:`AuthError` when not allowed."""
    canonical = (name or "").strip().lower()
    if not _NAME_RE.match(canonical):
        raise AuthError("Tên đăng nhập gồm 2–40 ký tự: chữ thường không dấu, số, dấu chấm, gạch ngang, gạch dưới.")
    return canonical


# ---- tokens ------------------------------------------------------------------------------------------------
def new_token() -> str:
    """A random URL-safe token (256 bits)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The SHA-256 (hex) under which a session token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_matches(given: str | None, expected: str | None) -> bool:
    """Constant-time check of the X-CSRF-Token header against the session's token (False when either is empty)."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


# ---- accounts and sessions ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Account:
    """A staff account (without its password hash)."""

    name: str
    role: str
    must_change_password: bool
    disabled: bool = False

    def to_dict(self) -> dict:
        """JSON-friendly data for ``/api/me``."""
        return {"name": self.name, "role": self.role, "must_change_password": self.must_change_password}


@dataclass(frozen=True)
class Session:
    """A logged-in session: the account, its CSRF token and when it expires."""

    account: Account
    csrf_token: str
    expires_at: datetime


class AccountStore:
    """Accounts and sessions in the services database (tables ``console_users`` and ``console_sessions``)."""

    def __init__(self, db: Database, *, session_hours: float = 8.0,
                 clock: Callable[[], datetime] = now_vn) -> None:
        self.db = db
        self.session_ttl = timedelta(hours=session_hours)
        self.clock = clock

    def add_user(self, name: str, password: str, role: str, *, must_change_password: bool = True) -> Account:
        """Create an account; :class:`AuthError` when the name exists or the password/role is refused."""
        name = validate_name(name)
        if role not in ROLES:
            raise AuthError("Vai trò phải là officer (cán bộ) hoặc supervisor (giám sát).")
        check_password_policy(password, name)
        hashed = hash_password(password)
        with self.db.transaction() as conn:
            if conn.one("SELECT name FROM console_users WHERE name = ?", (name,)):
                raise AuthError(f"Tài khoản {name} đã tồn tại.")
            conn.execute(
                "INSERT INTO console_users (name, password_hash, role, must_change_password, disabled, created_at) "
                "VALUES (?, ?, ?, ?, 0, ?)", (name, hashed, role, int(must_change_password), self.clock()))
        return Account(name, role, must_change_password)

    def get_user(self, name: str) -> Account | None:
        """The account called ``name``, or None."""
        with self.db.read() as conn:
            row = conn.one("SELECT name, role, must_change_password, disabled FROM console_users WHERE name = ?",
                           ((name or "").strip().lower(),))
        return _account(row) if row else None

    def list_users(self) -> list[Account]:
        """Every account, by name."""
        with self.db.read() as conn:
            rows = conn.all("SELECT name, role, must_change_password, disabled FROM console_users ORDER BY name")
        return [_account(r) for r in rows]

    def count_users(self) -> int:
        """How many accounts exist."""
        with self.db.read() as conn:
            row = conn.one("SELECT COUNT(*) AS n FROM console_users")
        return int(row["n"]) if row else 0

    def authenticate(self, name: str, password: str) -> Account | None:
        """The account when the name exists, is enabled and the password matches; None otherwise.

        An unknown name costs one scrypt too, so response times do not reveal which names exist.
        """
        with self.db.read() as conn:
            row = conn.one("SELECT name, role, must_change_password, disabled, password_hash FROM console_users "
                           "WHERE name = ?", ((name or "").strip().lower(),))
        ok = verify_password(password or "", row["password_hash"] if row else _DUMMY_HASH)
        if row is None or not ok or row["disabled"]:
            return None
        return _account(row)

    def set_password(self, name: str, new_password: str, *, must_change_password: bool = False) -> None:
        """Store a new password for ``name``; ends the account's other sessions only via :meth:`end_sessions`."""
        name = validate_name(name)
        check_password_policy(new_password, name)
        hashed = hash_password(new_password)
        with self.db.transaction() as conn:
            cur = conn.execute("UPDATE console_users SET password_hash = ?, must_change_password = ?, "
                               "password_changed_at = ? WHERE name = ?",
                               (hashed, int(must_change_password), self.clock(), name))
            if cur.rowcount == 0:
                raise AuthError(f"Không có tài khoản {name}.")

    def change_password(self, name: str, current: str, new_password: str) -> None:
        """The officer's own change: checks the current password, refuses reuse, clears the forced-change flag."""
        if self.authenticate(name, current) is None:
            raise AuthError("Mật khẩu hiện tại không đúng.")
        if current == new_password:
            raise AuthError("Mật khẩu mới phải khác mật khẩu hiện tại.")
        self.set_password(name, new_password, must_change_password=False)

    def create_session(self, account: Account) -> tuple[str, Session]:
        """A new session for ``account``: (the token for the cookie, the session)."""
        token = new_token()
        now = self.clock()
        session = Session(account, new_token(), now + self.session_ttl)
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM console_sessions WHERE expires_at < ?", (now,))
            conn.execute(
                "INSERT INTO console_sessions (token_hash, user_name, csrf_token, created_at, expires_at, "
                "last_seen_at) VALUES (?, ?, ?, ?, ?, ?)",
                (token_hash(token), account.name, session.csrf_token, now, session.expires_at, now))
        return token, session

    def get_session(self, token: str | None) -> Session | None:
        """The live session of a cookie token; None when unknown, expired or the account is disabled."""
        row = self._enabled_row_of_token(
            "SELECT s.csrf_token, s.expires_at, u.name, u.role, u.must_change_password, u.disabled "
            "FROM console_sessions s JOIN console_users u ON u.name = s.user_name WHERE s.token_hash = ?", token)
        if row is None:
            return None
        expires = as_datetime(row["expires_at"])
        if expires is None or expires <= self.clock():
            return None
        return Session(_account(row), row["csrf_token"], expires)

    def end_session(self, token: str | None) -> None:
        """Delete the session of ``token`` (logout)."""
        if token:
            with self.db.transaction() as conn:
                conn.execute("DELETE FROM console_sessions WHERE token_hash = ?", (token_hash(token),))

    # ---- personal staff API tokens ---------------------------------------------------------------------
    def issue_api_token(self, name: str) -> str:
        """A new personal staff API token for ``name`` (replacing any previous one); only its hash is stored."""
        name = (name or "").strip().lower()
        token = new_token()
        with self.db.transaction() as conn:
            row = conn.one("SELECT disabled FROM console_users WHERE name = ?", (name,))
            if row is None:
                raise AuthError(f"Không có tài khoản {name}.")
            if row["disabled"]:
                raise AuthError(f"Tài khoản {name} đã bị khóa.")
            conn.execute("DELETE FROM staff_api_tokens WHERE user_name = ?", (name,))
            conn.execute("INSERT INTO staff_api_tokens (token_hash, user_name, created_at) VALUES (?, ?, ?)",
                         (token_hash(token), name, self.clock()))
        return token

    def api_token_account(self, token: str | None) -> Account | None:
        """The enabled account owning a personal staff API token, or None."""
        row = self._enabled_row_of_token(
            "SELECT u.name, u.role, u.must_change_password, u.disabled FROM staff_api_tokens t "
            "JOIN console_users u ON u.name = t.user_name WHERE t.token_hash = ?", token)
        return None if row is None else _account(row)

    def _enabled_row_of_token(self, sql: str, token: str | None) -> dict | None:
        """The row ``sql`` finds for the hash of ``token`` (its one parameter), or None when there is no token, an
        overlong one, no row or a disabled account (the row's ``disabled``)."""
        if not token or len(token) > 200:
            return None
        with self.db.read() as conn:
            row = conn.one(sql, (token_hash(token),))
        if row is None or row["disabled"]:
            return None
        return row

    def revoke_api_tokens(self, name: str) -> int:
        """Delete the personal staff API tokens of ``name``; how many there were."""
        with self.db.transaction() as conn:
            cur = conn.execute("DELETE FROM staff_api_tokens WHERE user_name = ?", ((name or "").strip().lower(),))
            return cur.rowcount or 0

    def end_sessions(self, name: str, *, keep_token: str | None = None) -> None:
        """Delete every session of ``name`` except the one of ``keep_token`` (after a password change)."""
        keep = token_hash(keep_token) if keep_token else ""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM console_sessions WHERE user_name = ? AND token_hash <> ?", (name, keep))


def _account(row: dict) -> Account:
    return Account(row["name"], row["role"], bool(row["must_change_password"]), bool(row["disabled"]))


# ---- login throttle ----------------------------------------------------------------------------------------
# A wrong password locks the account only for the client that typed it: 5 failures in 15 minutes from one client
# address. Anyone else (the officer at their own desk) can still log in. A slower backstop per account stops a
# guess spread over many addresses, and one per client stops a client trying many accounts.
LOGIN_PAIR_LIMIT = (5, 15 * 60)         # failures, window (s): per account + client
LOGIN_ACCOUNT_LIMIT = (50, 60 * 60)     # per account, all clients together
LOGIN_CLIENT_LIMIT = (20, 15 * 60)      # per client, all accounts together


class LoginThrottle:
    """Failed-login counters (in memory, per console process) keyed on account + client, with two backstops."""

    def __init__(self, *, pair: tuple[int, float] = LOGIN_PAIR_LIMIT, account: tuple[int, float] = LOGIN_ACCOUNT_LIMIT,
                 client: tuple[int, float] = LOGIN_CLIENT_LIMIT, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = {"pair": pair, "account": account, "client": client}
        self.clock = clock
        self._failures: dict[tuple, list[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(name: str, client: str) -> dict[str, tuple]:
        name = (name or "").strip().lower()[:100]
        return {"pair": ("pair", name, client), "account": ("account", name), "client": ("client", client)}

    def _recent(self, key: tuple, window: float, now: float) -> list[float]:
        recent = [t for t in self._failures.get(key, []) if now - t < window]
        if recent:
            self._failures[key] = recent
        else:
            self._failures.pop(key, None)
        return recent

    def retry_after(self, name: str, client: str) -> int:
        """Seconds until ``client`` may try ``name`` again (0: now)."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for kind, key in self._keys(name, client).items():
                limit, window = self.limits[kind]
                recent = self._recent(key, window, now)
                if len(recent) >= limit:
                    wait = max(wait, recent[-limit] + window - now)
        return math.ceil(wait) if wait > 0 else 0

    def blocked(self, name: str, client: str) -> bool:
        """True while ``client`` may not try to log in as ``name``."""
        return self.retry_after(name, client) > 0

    def failed(self, name: str, client: str) -> None:
        """Count one failed login of ``client`` as ``name``."""
        now = self.clock()
        with self._lock:
            for kind, key in self._keys(name, client).items():
                self._failures[key] = self._recent(key, self.limits[kind][1], now) + [now]

    def succeeded(self, name: str, client: str) -> None:
        """Forget the failures of this account from this client (the backstops keep counting)."""
        with self._lock:
            self._failures.pop(self._keys(name, client)["pair"], None)


# ---- audit log ---------------------------------------------------------------------------------------------
def mask_key(key: str | None) -> str:
    """A citizen data key (application code, feedback code, ticket id) safe to keep in the audit log."""
    if not key:
        return ""
    key = key.strip()
    if extract_application_code(key):
        return mask_code(key)
    if len(key) <= 8:
        return key[0] + "*" * (len(key) - 1)
    return f"{key[:3]}{'*' * (len(key) - 7)}{key[-4:]}"


@dataclass(frozen=True)
class AuditEntry:
    """One audited action."""

    id: int
    at: datetime
    staff: str
    action: str
    subject: str | None
    detail: str | None

    def to_dict(self) -> dict:
        """JSON-friendly data."""
        return {"id": self.id, "at": self.at.isoformat(), "staff": self.staff, "action": self.action,
                "subject": self.subject, "detail": self.detail}


class AuditLog:
    """Who looked at or changed which citizen data, and when (table ``console_audit``)."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = now_vn) -> None:
        self.db = db
        self.clock = clock

    def record(self, staff: str, action: str, key: str | None = None, detail: str | None = None) -> None:
        """Append one entry; ``key`` (the citizen data key) is stored masked."""
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO console_audit (at, staff, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
                         (self.clock(), staff, action, mask_key(key) or None, (detail or None) and detail[:500]))

    def recent(self, limit: int = 100, action: str | None = None) -> list[AuditEntry]:
        """The latest entries, newest first (of one ``action`` if given)."""
        with self.db.read() as conn:
            if action:
                rows = conn.all("SELECT * FROM console_audit WHERE action = ? ORDER BY id DESC LIMIT ?",
                                (action, limit))
            else:
                rows = conn.all("SELECT * FROM console_audit ORDER BY id DESC LIMIT ?", (limit,))
        return [AuditEntry(int(r["id"]), as_datetime(r["at"]), r["staff"], r["action"], r["subject"], r["detail"])
                for r in rows]
