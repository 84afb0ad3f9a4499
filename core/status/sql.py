"""Status backend over the services database (shared by the SQLite and PostgreSQL backends)."""

from __future__ import annotations

import json
import logging
from typing import Callable

from core.appcode import extract_application_code, mask_code
from core.db import Connection, Database, as_datetime
from core.status.base import StatusBackend, StatusBackendError, verification_matches
from core.status.models import ApplicationStatus, StatusEvent

log = logging.getLogger(__name__)

_COLUMNS = (
    "code, procedure_code, procedure_name, applicant_name, applicant_phone, applicant_id_number, received_at, "
    "due_at, status, status_since, agency, missing_documents, result_pickup, rejection_reason"
)


class SqlStatusBackend(StatusBackend):
    """Applications stored in the ``applications``/``application_events`` tables of a :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def lookup(self, code: str, verification: str) -> ApplicationStatus | None:
        """See :meth:`StatusBackend.lookup`; one indexed read, constant-time factor comparison."""
        canonical = extract_application_code(code) or ""

        def verified(row: dict | None) -> bool:
            matched = verification_matches(verification, row["applicant_phone"] if row else None,
                                           row["applicant_id_number"] if row else None)
            return row is not None and matched

        return self._read(canonical, verified)

    def lookup_trusted(self, code: str) -> ApplicationStatus | None:
        """See :meth:`StatusBackend.lookup_trusted`: the same read as :meth:`lookup`, without the factor."""
        return self._read(extract_application_code(code) or "", lambda row: row is not None)

    def _read(self, canonical: str, accept: Callable[[dict | None], bool]) -> ApplicationStatus | None:
        """The application ``canonical`` with its history when ``accept(row)`` holds for its row (None for an
        unknown code); database failures become :class:`StatusBackendError`."""
        try:
            with self.db.read() as conn:
                row = conn.one(f"SELECT {_COLUMNS} FROM applications WHERE code = ?", (canonical,)) if canonical \
                    else None
                if not accept(row):
                    log.info("status lookup %s: no match", mask_code(canonical) or "<no code>")
                    return None
                events = conn.all(
                    "SELECT status, at, agency, note FROM application_events WHERE code = ? ORDER BY seq",
                    (canonical,),
                )
        except StatusBackendError:
            raise
        except Exception as exc:  # database unavailable or broken
            raise StatusBackendError(f"status database error: {type(exc).__name__}") from exc
        return _to_status(row, events)

    def health(self) -> bool:
        """True when the database answers."""
        return self.db.ping()

    # ---- writing (seed script, tests, future importers) --------------------------------------------
    def save(self, app: ApplicationStatus, *, phone: str, id_number: str, source: str = "manual",
             conn: Connection | None = None) -> None:
        """Insert or replace one application with its history (in ``conn``'s transaction if given)."""
        if conn is None:
            with self.db.transaction() as own:
                self.save(app, phone=phone, id_number=id_number, source=source, conn=own)
            return
        conn.execute("DELETE FROM application_events WHERE code = ?", (app.code,))
        conn.execute("DELETE FROM applications WHERE code = ?", (app.code,))
        conn.execute(
            f"INSERT INTO applications ({_COLUMNS}, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (app.code, app.procedure_code, app.procedure_name, app.applicant_name, phone, id_number,
             app.received_at, app.due_at, app.status, app.status_since, app.agency,
             json.dumps(app.missing_documents, ensure_ascii=False), app.result_pickup, app.rejection_reason, source),
        )
        for seq, event in enumerate(app.history, start=1):
            conn.execute(
                "INSERT INTO application_events (code, seq, status, at, agency, note) VALUES (?, ?, ?, ?, ?, ?)",
                (app.code, seq, event.status, event.at, event.agency, event.note),
            )

    def count(self, source: str | None = None) -> int:
        """Number of stored applications (of one ``source`` if given)."""
        with self.db.read() as conn:
            if source is None:
                row = conn.one("SELECT COUNT(*) AS n FROM applications")
            else:
                row = conn.one("SELECT COUNT(*) AS n FROM applications WHERE source = ?", (source,))
        return int(row["n"]) if row else 0


def _to_status(row: dict, events: list[dict]) -> ApplicationStatus:
    return ApplicationStatus(
        code=row["code"],
        procedure_code=row["procedure_code"],
        procedure_name=row["procedure_name"],
        applicant_name=row["applicant_name"],
        received_at=as_datetime(row["received_at"]),
        due_at=as_datetime(row["due_at"]),
        status=row["status"],
        status_since=as_datetime(row["status_since"]),
        agency=row["agency"],
        history=[StatusEvent(e["status"], as_datetime(e["at"]), e["agency"], e["note"]) for e in events],
        missing_documents=list(json.loads(row["missing_documents"] or "[]")),
        result_pickup=row["result_pickup"],
        rejection_reason=row["rejection_reason"],
    )
