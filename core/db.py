"""A small database layer shared by the services: SQLite (embedded default) or PostgreSQL, same schema.

Queries are written once with ``?`` placeholders; :class:`Database` adapts them to the driver. The schema
is created and upgraded with yoyo-migrations from ``migrations/sqlite`` or ``migrations/postgres``.
Every write happens inside :meth:`Database.transaction`, which commits before returning, so whatever a
service acknowledges is durable. Connections are opened per operation (cheap for SQLite, a few ms for a
local PostgreSQL) which keeps the stores safe to share between threads and processes.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS_DIR = ROOT / "migrations"
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def now_vn() -> datetime:
    """The current time in Vietnam (aware)."""
    return datetime.now(VN_TZ)


def as_datetime(value: Any) -> datetime | None:
    """A stored timestamp (ISO string from SQLite or datetime from PostgreSQL) as an aware Vietnam time."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=VN_TZ)
    return value.astimezone(VN_TZ)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=VN_TZ)


class Database:
    """Connection factory + dialect adapter for one SQLite file or one PostgreSQL database/schema.

    ``url`` is ``sqlite:///relative/or/absolute/path.db`` (or a plain file path) or
    ``postgresql://user@host:port/dbname``; ``schema`` (PostgreSQL only) puts every table in that schema.
    """

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = url
        if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            self.dialect = "postgres"
            self._dsn = "postgresql://" + url.split("://", 1)[1]
            if schema is not None and not _SCHEMA_RE.match(schema):
                raise ValueError(f"invalid schema name: {schema!r}")
            self.schema = schema
            self.path: Path | None = None
        else:
            self.dialect = "sqlite"
            raw = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url
            path = Path(raw)
            self.path = path if path.is_absolute() else ROOT / path
            self.schema = None
        self._migrated = False
        self._migrate_lock = threading.Lock()

    # ---- connections -------------------------------------------------------------------------------
    def _connect(self):
        if self.dialect == "sqlite":
            assert self.path is not None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = FULL")
            return conn
        import psycopg  # local: only the PostgreSQL profile needs it
        from psycopg.rows import dict_row

        options = f"-c search_path={self.schema}" if self.schema else None
        kwargs: dict[str, Any] = {"row_factory": dict_row, "connect_timeout": 5}
        if options:
            kwargs["options"] = options
        return psycopg.connect(self._dsn, **kwargs)

    @contextmanager
    def _raw(self) -> Iterator[Any]:
        """A new driver connection to the schema-checked database, closed afterwards."""
        self.ensure_schema()
        raw = self._connect()
        try:
            yield raw
        finally:
            raw.close()

    @contextmanager
    def transaction(self) -> Iterator["Connection"]:
        """A connection inside one write transaction: committed on success, rolled back on error."""
        with self._raw() as raw:
            if self.dialect == "sqlite":
                raw.execute("BEGIN IMMEDIATE")
                try:
                    yield Connection(self, raw)
                except BaseException:
                    # On SQLITE_FULL / IOERR SQLite may already have rolled the transaction back; a second
                    # ROLLBACK would then raise "no transaction is active" and hide the real error.
                    if raw.in_transaction:
                        raw.execute("ROLLBACK")
                    raise
                raw.execute("COMMIT")
            else:
                with raw.transaction():
                    yield Connection(self, raw)

    @contextmanager
    def read(self) -> Iterator["Connection"]:
        """A connection for reads (autocommit in SQLite, one short transaction in PostgreSQL)."""
        with self._raw() as raw:
            if self.dialect == "sqlite":
                yield Connection(self, raw)
            else:
                with raw.transaction():
                    yield Connection(self, raw)

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            raw = self._connect()
            try:
                raw.execute("SELECT 1").fetchone()
            finally:
                raw.close()
            return True
        except Exception:
            return False

    # ---- migrations --------------------------------------------------------------------------------
    def yoyo_url(self) -> str:
        """The URL yoyo-migrations uses for this database."""
        if self.dialect == "sqlite":
            return f"sqlite:///{self.path}"
        rest = self._dsn.split("://", 1)[1]
        url = f"postgresql+psycopg://{rest}"
        if self.schema:
            url += ("&" if "?" in url else "?") + f"schema={self.schema}"
        return url

    def migrate(self) -> list[str]:
        """Apply pending migrations (creating the PostgreSQL schema if needed); the ids applied."""
        from yoyo import get_backend, read_migrations  # local: heavy-ish, only at first use

        if self.dialect == "sqlite":
            assert self.path is not None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._execute_alone("PRAGMA journal_mode = WAL")  # persistent: readers never block the writer
        elif self.schema:
            self._execute_alone(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        backend = get_backend(self.yoyo_url())
        migrations = read_migrations(str(MIGRATIONS_DIR / self.dialect))
        try:
            with backend.lock():
                pending = backend.to_apply(migrations)
                backend.apply_migrations(pending)
        finally:
            backend.connection.close()
        return [m.id for m in pending]

    def ensure_schema(self) -> None:
        """Run :meth:`migrate` once per process for this database."""
        if self._migrated:
            return
        with self._migrate_lock:
            if not self._migrated:
                self.migrate()
                self._migrated = True

    def drop_schema(self) -> None:
        """PostgreSQL only: drop this database's schema with everything in it (used by tests)."""
        if self.dialect != "postgres" or not self.schema:
            raise ValueError("drop_schema needs a PostgreSQL database with a dedicated schema")
        self._execute_alone(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        self._migrated = False

    def _execute_alone(self, sql: str) -> None:
        """One statement on a connection of its own, outside the migrations (committed, then closed)."""
        raw = self._connect()
        try:
            raw.execute(sql)
            raw.commit()
        finally:
            raw.close()


class Connection:
    """One open connection; ``execute`` takes ``?`` placeholders and Python values for both dialects."""

    def __init__(self, db: Database, raw: Any) -> None:
        self.db = db
        self.raw = raw

    def _params(self, params: Sequence[Any]) -> list[Any]:
        out: list[Any] = []
        for value in params:
            if isinstance(value, datetime):
                value = _aware(value)
                if self.db.dialect == "sqlite":
                    value = value.astimezone(timezone.utc).isoformat()
            elif isinstance(value, date) and self.db.dialect == "sqlite":
                value = value.isoformat()
            elif isinstance(value, (list, dict)):
                value = json.dumps(value, ensure_ascii=False)
            out.append(value)
        return out

    def execute(self, sql: str, params: Sequence[Any] = ()):
        """Execute one statement; returns the driver's cursor (rows are mappings)."""
        if self.db.dialect == "postgres":
            sql = sql.replace("%", "%%").replace("?", "%s")  # literal % (LIKE patterns) must be doubled
        return self.raw.execute(sql, self._params(params))

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict | None:
        """The first row as a dict, or None."""
        row = self.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        """All rows as dicts."""
        return [dict(row) for row in self.execute(sql, params).fetchall()]

    def next_value(self, counter: str) -> int:
        """Atomically increment and return the named counter (1 for a new counter); call in a transaction."""
        row = self.one(
            "INSERT INTO counters (name, value) VALUES (?, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
            (counter,),
        )
        assert row is not None
        return int(row["value"])


def database_from_settings(settings: Any) -> Database:
    """The services database: ``DATABASE_URL`` (PostgreSQL) when set, else the SQLite file SERVICES_DB."""
    url = getattr(settings, "database_url", "") or ""
    if url:
        return Database(url, schema=getattr(settings, "database_schema", None) or None)
    return Database(str(settings.services_db))


_shared: dict[tuple[str, str | None], Database] = {}
_shared_lock = threading.Lock()


def shared(db: Database) -> Database:
    """The process-wide instance equal to ``db`` (same url and schema), so migrations run only once."""
    with _shared_lock:
        return _shared.setdefault((db.url, db.schema), db)


def shared_database(settings: Any) -> Database:
    """The process-wide services :class:`Database` of ``settings`` (see :func:`database_from_settings`)."""
    return shared(database_from_settings(settings))


def redact_url(url: str) -> str:
    """A database URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
