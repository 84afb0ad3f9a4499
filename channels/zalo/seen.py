"""Zalo events already accepted, remembered outside the process so a replay is refused after a restart or by
another Rasa replica.

Two stores, one interface (:meth:`add` is atomic: True only for the first caller within the time to live):

* :class:`SqliteSeenStore` — a SQLite file (embedded profile; default ``var/zalo_seen.db``), shared by the
  processes of one machine;
* :class:`RedisSeenStore` — Redis (``redis://host:port/db``, the scaled profile's lock-store Redis), shared by
  every replica; ``SET NX EX`` gives the TTL.

Only a SHA-256 of the event key is stored (the key holds the Zalo user id).
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
import threading
import time
from pathlib import Path
from typing import Callable, Protocol

DEFAULT_SEEN_STORE = "var/zalo_seen.db"
REDIS_PREFIX = "tthc:zalo:seen:"


class SeenStore(Protocol):
    """Where accepted event keys are remembered."""

    def add(self, key: str, ttl_seconds: float) -> bool:
        """Record ``key``; False if it was already recorded less than its time to live ago."""

    def discard(self, key: str) -> None:
        """Forget ``key`` (the event was not accepted after all, so Zalo's retry must be processed)."""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class SqliteSeenStore:
    """Seen event keys in a SQLite file (table ``zalo_seen``: key hash, expiry epoch)."""

    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._ready = False
        self._lock = threading.Lock()
        self._added = 0

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), timeout=10, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 10000")
        if not self._ready:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("CREATE TABLE IF NOT EXISTS zalo_seen (key TEXT PRIMARY KEY, expires_at REAL NOT NULL)")
                self._ready = True
        return conn

    def add(self, key: str, ttl_seconds: float) -> bool:
        """Atomic insert-if-absent (an expired entry counts as absent)."""
        digest, now = _digest(key), self.clock()
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM zalo_seen WHERE key = ? AND expires_at <= ?", (digest, now))
            cur = conn.execute("INSERT OR IGNORE INTO zalo_seen (key, expires_at) VALUES (?, ?)",
                               (digest, now + ttl_seconds))
            new = cur.rowcount == 1
            self._added += 1
            if self._added % 500 == 0:  # keep the file small: drop expired entries now and then
                conn.execute("DELETE FROM zalo_seen WHERE expires_at <= ?", (now,))
            conn.execute("COMMIT")
            return new
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def discard(self, key: str) -> None:
        """Delete ``key``."""
        conn = self._connect()
        try:
            conn.execute("DELETE FROM zalo_seen WHERE key = ?", (_digest(key),))
        finally:
            conn.close()


class RedisSeenStore:
    """Seen event keys in Redis, expiring by themselves."""

    def __init__(self, url: str, prefix: str = REDIS_PREFIX) -> None:
        import redis  # local: only the scaled profile needs it

        self.client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
        self.prefix = prefix

    def add(self, key: str, ttl_seconds: float) -> bool:
        """``SET key NX EX ttl``: True only when the key was not there."""
        return bool(self.client.set(self.prefix + _digest(key), b"1", nx=True, ex=max(1, math.ceil(ttl_seconds))))

    def discard(self, key: str) -> None:
        """Delete ``key``."""
        self.client.delete(self.prefix + _digest(key))


def seen_store_from_setting(value: str | None, root: Path) -> SeenStore:
    """``redis://…``/``rediss://…`` → Redis; anything else is a SQLite file (relative paths from ``root``)."""
    value = (value or "").strip() or DEFAULT_SEEN_STORE
    if value.startswith(("redis://", "rediss://", "unix://")):
        return RedisSeenStore(value)
    path = Path(value)
    return SqliteSeenStore(path if path.is_absolute() else root / path)
