"""Retention of citizens' personal data in stored conversations.

Rasa's tracker store keeps every event verbatim (what the citizen typed, slot values), and a handoff ticket keeps
the transcript the officer read. Both are needed while a conversation is live; afterwards the personal data in
them is not. :class:`RetentionJob` therefore

* **redacts** tracker events older than ``redact_after_days``: every string in the event goes through
  :func:`~core.privacy.mask_pii` (phone, ID and application numbers, e-mails, names), and the status
  lookup's verification factor (the digits typed when the bot asked for them, the ``status_verification`` slot, the
  values remembered in ``verified_applications``, digits typed next to the code in a status or feedback lookup) is
  replaced by ``****``;
* **deletes** whole conversations whose last event is older than ``delete_after_days`` (0 = never), the only way
  to remove personal data that no pattern recognises, such as a name typed in free text;
* **masks** finished status-change notifications (outbox rows sent or given up, and the status events) older
  than ``redact_after_days``: application code and text masked, the recipient's id replaced by a pseudonym;
* **redacts** the transcripts and replies of handoff tickets closed more than ``redact_after_days`` ago: the same
  patterns (names included), and the citizen's reply to the bot's question for the verification digits.

Redaction is idempotent (masked text masks to itself), so the job can run as often as wanted: ``python -m console
retention`` from cron, or the console server's daily timer (``RETENTION_INTERVAL_HOURS``). A run remembers its
cutoff in the services database, and the next one reads only the events since (with two days' overlap).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from core import tracker_db
from core.appcode import mask_code
from core.db import VN_TZ, Database, as_datetime
from core.privacy import LOOKUP_INTENTS, hide_digits_outside_codes, hide_verification_replies, mask_pii

log = logging.getLogger(__name__)

FACTOR_SLOT = "status_verification"
VERIFIED_SLOT = "verified_applications"
MASKED_FACTOR = "****"
BATCH = 2000
# Each run scans from the previous run's cutoff (kept in the services database's ``meta`` table) minus this
# overlap, so a daily run reads one day of events, not the whole history; a citizen who answers the
# verification question more than this long after it was asked would have that answer scanned without context.
WATERMARK_OVERLAP_S = 2 * 86400
_DIGITS_RE = re.compile(r"\d")


@dataclass
class RetentionReport:
    """What one run did (or, with ``dry_run``, would do)."""

    redact_before: str
    delete_before: str | None
    scanned_from: str | None = None
    events_scanned: int = 0
    events_redacted: int = 0
    conversations_deleted: int = 0
    events_deleted: int = 0
    tickets_redacted: int = 0
    replies_redacted: int = 0
    notifications_redacted: int = 0
    dry_run: bool = False
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-friendly form (printed by the CLI)."""
        return asdict(self)


def redact_strings(value: Any) -> Any:
    """``value`` (decoded JSON) with every string, dictionary keys included, passed through :func:`mask_pii`."""
    if isinstance(value, str):
        return mask_pii(value)
    if isinstance(value, list):
        return [redact_strings(item) for item in value]
    if isinstance(value, dict):
        # Keys too: ``verified_applications`` maps application codes to their factor.
        return {redact_strings(key): redact_strings(item) for key, item in value.items()}
    return value


def _mask_digits(text: Any) -> Any:
    return _DIGITS_RE.sub("*", text) if isinstance(text, str) else text


def redact_event(data: dict, *, answering_factor: bool = False) -> dict:
    """One Rasa event (its JSON ``data``) with personal data masked.

    ``answering_factor``: the event is the citizen's reply while the bot was asking for the verification factor,
    so every digit in it is a secret, not only the patterns :func:`mask_pii` knows.
    """
    out = redact_strings(data)
    kind = out.get("event")
    if kind == "slot":
        if out.get("name") == FACTOR_SLOT and out.get("value") is not None:
            out["value"] = MASKED_FACTOR
        elif out.get("name") == VERIFIED_SLOT and isinstance(out.get("value"), dict):
            out["value"] = {code: MASKED_FACTOR for code in out["value"]}
    elif kind == "user" and answering_factor:
        out["text"] = _mask_digits(out.get("text"))
        parse = out.get("parse_data")
        if isinstance(parse, dict):
            parse["text"] = _mask_digits(parse.get("text"))
            for entity in parse.get("entities") or []:
                if isinstance(entity, dict):
                    entity["value"] = _mask_digits(entity.get("value"))
                    entity["text"] = _mask_digits(entity.get("text"))
    elif kind == "user" and _intent(out) in LOOKUP_INTENTS:
        # "tra cứu phản ánh PA-251127-0042, 4 số cuối 5678": the digits typed next to the code are the factor.
        if isinstance(out.get("text"), str):
            out["text"] = hide_digits_outside_codes(out["text"])
        parse = out.get("parse_data")
        if isinstance(parse, dict) and isinstance(parse.get("text"), str):
            parse["text"] = hide_digits_outside_codes(parse["text"])
    return out


def _intent(event: dict) -> str | None:
    parse = event.get("parse_data")
    intent = parse.get("intent") if isinstance(parse, dict) else None
    return intent.get("name") if isinstance(intent, dict) else None


class RetentionJob:
    """Redacts and deletes stored conversations by age; see the module docstring."""

    def __init__(self, tracker_source: Path | str, services_db: Database | None, *, redact_after_days: int = 30,
                 delete_after_days: int = 365, clock: Callable[[], float] = time.time) -> None:
        if redact_after_days < 0 or delete_after_days < 0:
            raise ValueError("retention periods must not be negative")
        if delete_after_days and delete_after_days < redact_after_days:
            raise ValueError("delete_after_days must be 0 (never) or at least redact_after_days")
        self.tracker = tracker_db.TrackerDb(tracker_source)
        self.services_db = services_db
        self.redact_after_days = redact_after_days
        self.delete_after_days = delete_after_days
        self.clock = clock

    def run(self, *, dry_run: bool = False) -> RetentionReport:
        """Apply the policy once; every part runs even when another fails (errors are listed, not raised)."""
        started = time.perf_counter()
        now = self.clock()
        redact_before = now - self.redact_after_days * 86400
        delete_before = now - self.delete_after_days * 86400 if self.delete_after_days else None
        report = RetentionReport(redact_before=_iso(redact_before),
                                 delete_before=_iso(delete_before) if delete_before else None, dry_run=dry_run)
        for name, part in (("tracker", lambda: self._trackers(report, redact_before, delete_before, dry_run)),
                           ("handoff", lambda: self._tickets(report, redact_before, dry_run)),
                           ("notifications", lambda: self._notifications(report, redact_before, dry_run))):
            try:
                part()
            except Exception as exc:  # one store down must not stop the other part
                log.error("retention: %s part failed: %s", name, type(exc).__name__)
                report.errors.append(f"{name}: {type(exc).__name__}")
        report.seconds = round(time.perf_counter() - started, 3)
        log.info("retention: %s", json.dumps(report.to_dict(), ensure_ascii=False))
        return report

    # ---- tracker store -----------------------------------------------------------------------------
    def _watermark_key(self) -> str:
        digest = hashlib.sha256(str(self.tracker.source).encode("utf-8")).hexdigest()[:16]
        return f"retention_redacted_before:{digest}"

    def _read_watermark(self) -> float | None:
        if self.services_db is None:
            return None
        with self.services_db.read() as conn:
            row = conn.one("SELECT value FROM meta WHERE key = ?", (self._watermark_key(),))
        try:
            return float(row["value"]) if row else None
        except (TypeError, ValueError):
            return None

    def _write_watermark(self, value: float) -> None:
        if self.services_db is None:
            return
        with self.services_db.transaction() as conn:
            conn.execute("DELETE FROM meta WHERE key = ?", (self._watermark_key(),))
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (self._watermark_key(), repr(value)))

    def _trackers(self, report: RetentionReport, redact_before: float, delete_before: float | None,
                  dry_run: bool) -> None:
        watermark = self._read_watermark()
        scan_from = watermark - WATERMARK_OVERLAP_S if watermark is not None else None
        report.scanned_from = _iso(scan_from) if scan_from is not None else None
        conn = self.tracker.connect()
        if conn is None:
            return
        try:
            if not self.tracker.has_events_table(conn):
                return
            doomed: set[str] = set()
            if delete_before is not None:
                doomed = self._delete_idle(conn, report, delete_before, dry_run)
            # A dry run leaves the idle conversations in place: skip them so the counts match a real run.
            self._redact_old(conn, report, scan_from, redact_before, dry_run, skip=doomed if dry_run else set())
        finally:
            conn.close()
        if not dry_run:
            self._write_watermark(redact_before)

    def _delete_idle(self, conn, report: RetentionReport, delete_before: float, dry_run: bool) -> set[str]:
        """Delete (or, dry, count) the conversations idle since ``delete_before``; their sender ids."""
        p = self.tracker.param
        idle = f"SELECT sender_id FROM events GROUP BY sender_id HAVING MAX(timestamp) < {p}"
        rows = conn.execute(f"SELECT sender_id, COUNT(*) FROM events GROUP BY sender_id "
                            f"HAVING MAX(timestamp) < {p}", (delete_before,)).fetchall()
        report.conversations_deleted = len(rows)
        report.events_deleted = sum(int(n) for _, n in rows)
        if rows and not dry_run:
            # One statement: a conversation that came back to life meanwhile has a newer event and is kept.
            conn.execute(f"DELETE FROM events WHERE sender_id IN ({idle})", (delete_before,))
            conn.commit()
        return {sender for sender, _ in rows}

    def _redact_old(self, conn, report: RetentionReport, scan_from: float | None, redact_before: float,
                    dry_run: bool, skip: set[str]) -> None:
        p = self.tracker.param
        since = f" AND timestamp >= {p}" if scan_from is not None else ""
        since_args = (scan_from,) if scan_from is not None else ()
        asking: dict[str, bool] = {}  # sender -> the bot is asking for the verification factor
        last_id = -1
        while True:
            rows = conn.execute(
                f"SELECT id, sender_id, data FROM events WHERE timestamp < {p}{since} AND id > {p} "
                f"ORDER BY id LIMIT {BATCH}", (redact_before, *since_args, last_id)).fetchall()
            if not rows:
                break
            updates = []
            for event_id, sender, raw in rows:
                last_id = event_id
                if sender in skip:
                    continue
                report.events_scanned += 1
                data = _loads(raw)
                if data is None:
                    continue
                if data.get("event") == "slot" and data.get("name") == "requested_slot":
                    asking[sender] = data.get("value") == FACTOR_SLOT
                redacted = redact_event(data, answering_factor=asking.get(sender, False))
                if redacted != data:
                    updates.append((json.dumps(redacted, ensure_ascii=False), event_id))
            report.events_redacted += len(updates)
            if updates and not dry_run:
                cur = conn.cursor()
                cur.executemany(f"UPDATE events SET data = {p} WHERE id = {p}", updates)
                conn.commit()

    # ---- handoff tickets ---------------------------------------------------------------------------
    def _tickets(self, report: RetentionReport, redact_before: float, dry_run: bool) -> None:
        if self.services_db is None:
            return
        cutoff = datetime.fromtimestamp(redact_before, tz=VN_TZ)
        with self.services_db.transaction() as conn:
            rows = conn.all("SELECT id, transcript, closed_at FROM handoff_tickets "
                            "WHERE status <> 'open' AND closed_at IS NOT NULL")
            for row in rows:
                closed = as_datetime(row["closed_at"])
                if closed is None or closed >= cutoff:
                    continue
                transcript = _loads(row["transcript"], default=[])
                redacted = hide_verification_replies(redact_strings(transcript))
                if redacted != transcript:
                    report.tickets_redacted += 1
                    if not dry_run:
                        conn.execute("UPDATE handoff_tickets SET transcript = ? WHERE id = ?",
                                     (json.dumps(redacted, ensure_ascii=False), row["id"]))
                for reply in conn.all("SELECT id, text FROM handoff_replies WHERE ticket_id = ?", (row["id"],)):
                    masked = mask_pii(reply["text"])
                    if masked != reply["text"]:
                        report.replies_redacted += 1
                        if not dry_run:
                            conn.execute("UPDATE handoff_replies SET text = ? WHERE id = ?", (masked, reply["id"]))


    # ---- status-change notifications ----------------------------------------------------------------
    def _notifications(self, report: RetentionReport, redact_before: float, dry_run: bool) -> None:
        """Finished outbox rows (sent or given up) and status events older than the cutoff: the application code
        and the text masked, the recipient's id replaced by a pseudonym."""
        if self.services_db is None:
            return
        cutoff = datetime.fromtimestamp(redact_before, tz=VN_TZ)
        with self.services_db.transaction() as conn:
            rows = conn.all("SELECT id, sender_id, code, text FROM notification_outbox "
                            "WHERE state IN ('sent', 'failed') AND created_at < ? AND code NOT LIKE ?",
                            (cutoff, "%*%"))
            report.notifications_redacted += len(rows)
            if dry_run:
                return
            for row in rows:
                pseudonym = "h:" + hashlib.sha256(row["sender_id"].encode("utf-8")).hexdigest()[:16]
                conn.execute("UPDATE notification_outbox SET sender_id = ?, code = ?, text = ? WHERE id = ?",
                             (pseudonym, mask_code(row["code"]), mask_pii(row["text"]), row["id"]))
            for event in conn.all("SELECT event_id, code FROM status_change_events WHERE received_at < ? "
                                  "AND code NOT LIKE ?", (cutoff, "%*%")):
                conn.execute("UPDATE status_change_events SET code = ? WHERE event_id = ?",
                             (mask_code(event["code"]), event["event_id"]))


def _loads(raw: Any, default: Any = None) -> Any:
    try:
        value = json.loads(raw) if raw else default
    except (TypeError, ValueError):
        return default
    return value if isinstance(value, (dict, list)) else default


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=VN_TZ).isoformat(timespec="seconds")


def retention_job_from_settings(settings: Any, services_db: Database | None = None) -> RetentionJob:
    """The job for this deployment: the scaled profile's PostgreSQL trackers, else the embedded SQLite file."""
    return RetentionJob(tracker_db.tracker_source(settings), services_db,
                        redact_after_days=settings.retention_redact_days,
                        delete_after_days=settings.retention_delete_days)

