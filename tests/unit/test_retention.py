"""Retention job: personal data in old conversations masked, idle conversations deleted, recent ones untouched.

Events are written as Rasa 3.6's SQLTrackerStore writes them (table ``events``, the event's JSON in ``data``),
in SQLite (embedded profile) and PostgreSQL (scaled profile).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from console.retention import RetentionJob, redact_event
from core.db import VN_TZ
from core.handoff import HandoffStore
from tests.fakes.databases import PG_URL, make_database, postgres_available

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=VN_TZ)
OLD = NOW - timedelta(days=45)      # past the 30-day redaction period
ANCIENT = NOW - timedelta(days=400)  # past the 365-day deletion period
RECENT = NOW - timedelta(days=2)
CODE, MASKED_CODE = "H07.99-251120-0012", "H07.99-******-0012"
PHONE, MASKED_PHONE = "0912345678", "091*******"
ID_NUMBER, MASKED_ID = "027090001234", "027*********"
MESSAGE_IDS = itertools.count(1)
COLUMNS = ("CREATE TABLE events (id {pk}, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL, "
           "timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)")


class Events:
    """Rasa-shaped events for one store; ``p`` is the driver's parameter marker."""

    def __init__(self, conn, p: str) -> None:
        self.conn, self.p = conn, p

    def add(self, sender: str, at: datetime, data: dict, intent=None, action=None) -> None:
        ts = at.timestamp()
        data = {**data, "timestamp": ts}
        p = self.p
        self.conn.execute(f"INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                          f"VALUES ({p}, {p}, {p}, {p}, {p}, {p})",
                          (sender, data["event"], ts, intent, action, json.dumps(data, ensure_ascii=False)))

    def user(self, sender, at, text, intent, entities=()):
        entities = [{"entity": name, "start": text.find(value), "end": text.find(value) + len(value),
                     "value": value, "extractor": "RegexEntityExtractor"} for name, value in entities]
        parse_data = {"text": text, "intent": {"name": intent, "confidence": 0.98}, "entities": entities,
                      "intent_ranking": []}
        self.add(sender, at, {"event": "user", "text": text, "input_channel": "rest", "metadata": {},
                              "message_id": f"m{next(MESSAGE_IDS):05d}", "parse_data": parse_data}, intent=intent)

    def bot(self, sender, at, text):
        self.add(sender, at, {"event": "bot", "text": text, "data": {"buttons": None}, "metadata": {}})

    def slot(self, sender, at, name, value):
        self.add(sender, at, {"event": "slot", "name": name, "value": value}, action=name)

    def action(self, sender, at, name):
        self.add(sender, at, {"event": "action", "name": name, "policy": None, "confidence": 1.0}, action=name)

    def status_lookup(self, sender, at):
        """The status-lookup form as the bot runs it: code, then the last four digits as the factor."""
        self.user(sender, at, f"tra cứu hồ sơ {CODE}, sđt {PHONE}", "check_status", [("application_code", CODE)])
        self.action(sender, at, "status_form")
        self.slot(sender, at, "application_code", CODE)
        self.slot(sender, at, "requested_slot", "status_verification")
        self.bot(sender, at, "Để bảo vệ thông tin, ông/bà cho biết 4 số cuối số điện thoại hoặc CCCD đã khai.")
        self.action(sender, at, "action_listen")
        self.user(sender, at, "5678", "inform")
        self.action(sender, at, "status_form")
        self.slot(sender, at, "status_verification", "5678")
        self.slot(sender, at, "requested_slot", None)
        self.slot(sender, at, "verified_applications", {CODE: "5678"})
        self.bot(sender, at, f"Hồ sơ {MASKED_CODE}: đang xử lý.")
        self.action(sender, at, "action_listen")

    def feedback_contact(self, sender, at):
        self.user(sender, at, f"số tôi {PHONE}, CCCD {ID_NUMBER}, mail lan.nguyen@gmail.com", "inform")
        self.slot(sender, at, "feedback_contact", PHONE)


class Store:
    def __init__(self, source, connect, p) -> None:
        self.source, self._connect, self.p = source, connect, p

    def rows(self) -> list[tuple]:
        conn = self._connect()
        try:
            return [tuple(r) for r in conn.execute("SELECT sender_id, timestamp, data FROM events ORDER BY id")]
        finally:
            conn.close()

    def texts(self, sender: str) -> str:
        return "\n".join(data for s, _, data in self.rows() if s == sender)

    def write(self, fill) -> None:
        conn = self._connect()
        try:
            fill(Events(conn, self.p))
            conn.commit()
        finally:
            conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "tracker.db"
        sqlite3.connect(path).execute(COLUMNS.format(pk="INTEGER PRIMARY KEY")).connection.close()
        yield Store(path, lambda: sqlite3.connect(path), "?")
        return
    import psycopg

    if not postgres_available():
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = PG_URL + ("&" if "?" in PG_URL else "?") + "options=" + quote(f"-csearch_path={schema}")
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            with psycopg.connect(url) as conn:
                conn.execute(COLUMNS.format(pk="SERIAL PRIMARY KEY"))
            yield Store(url, lambda: psycopg.connect(url), "%s")
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def job(source, services=None, **kwargs) -> RetentionJob:
    return RetentionJob(source, services, clock=NOW.timestamp, **kwargs)


def test_old_conversation_is_masked_and_recent_one_untouched(store):
    def fill(ev):
        ev.status_lookup("old-citizen", OLD)
        ev.feedback_contact("old-citizen", OLD)
        ev.status_lookup("new-citizen", RECENT)
        ev.feedback_contact("new-citizen", RECENT)

    store.write(fill)
    before = store.rows()
    report = job(store.source).run()
    assert report.errors == []
    assert report.events_scanned == 15  # the old conversation only
    assert report.events_redacted == 7
    old = store.texts("old-citizen")
    for secret in (CODE, PHONE, ID_NUMBER, "lan.nguyen@", "5678"):
        assert secret not in old
    for masked in (MASKED_CODE, MASKED_PHONE, MASKED_ID, "l*********@gmail.com"):
        assert masked in old
    # The recent conversation is byte-for-byte what Rasa wrote.
    assert [r for r in store.rows() if r[0] == "new-citizen"] == [r for r in before if r[0] == "new-citizen"]
    assert "5678" in store.texts("new-citizen")


def test_masked_events_keep_their_shape(store):
    store.write(lambda ev: ev.status_lookup("citizen", OLD))
    job(store.source).run()
    events = [json.loads(data) for _, _, data in store.rows()]
    first, factor = events[0], events[6]
    assert first["text"] == f"tra cứu hồ sơ {MASKED_CODE}, sđt {MASKED_PHONE}"
    assert first["parse_data"]["text"] == first["text"]
    assert first["parse_data"]["entities"][0]["value"] == MASKED_CODE
    assert first["parse_data"]["intent"] == {"name": "check_status", "confidence": 0.98}
    assert factor["text"] == "****" and factor["parse_data"]["text"] == "****"
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot" and e["value"] is not None}
    assert slots == {"application_code": MASKED_CODE, "requested_slot": "status_verification",
                     "status_verification": "****", "verified_applications": {MASKED_CODE: "****"}}
    assert [e["timestamp"] for e in events] == [OLD.timestamp()] * len(events)


def test_second_run_changes_nothing(store):
    store.write(lambda ev: ev.status_lookup("citizen", OLD))
    assert job(store.source).run().events_redacted == 5
    once = store.rows()
    again = job(store.source).run()
    assert again.events_redacted == 0 and again.events_scanned == 13
    assert store.rows() == once


def test_dry_run_counts_but_writes_nothing(store):
    store.write(lambda ev: (ev.status_lookup("citizen", OLD), ev.status_lookup("gone", ANCIENT)))
    before = store.rows()
    report = job(store.source).run(dry_run=True)
    assert (report.events_redacted, report.conversations_deleted, report.events_deleted) == (5, 1, 13)
    assert store.rows() == before


def test_idle_conversations_are_deleted_whole(store):
    def fill(ev):
        ev.status_lookup("gone", ANCIENT)
        ev.status_lookup("came-back", ANCIENT)
        ev.user("came-back", RECENT, "cảm ơn", "thank")

    store.write(fill)
    report = job(store.source).run()
    assert (report.conversations_deleted, report.events_deleted) == (1, 13)
    senders = {s for s, _, _ in store.rows()}
    assert senders == {"came-back"}
    # The conversation that came back keeps its old events, masked.
    assert CODE not in store.texts("came-back") and MASKED_CODE in store.texts("came-back")


def test_delete_after_zero_keeps_everything(store):
    store.write(lambda ev: ev.status_lookup("gone", ANCIENT))
    report = job(store.source, delete_after_days=0).run()
    assert report.conversations_deleted == 0 and report.delete_before is None
    assert len(store.rows()) == 13 and CODE not in store.texts("gone")


def test_factor_digits_outside_the_form_are_kept(store):
    # "5678" typed as an answer to another question is not a secret: only the factor reply is masked.
    def fill(ev):
        ev.user("citizen", OLD, "phí 5678 đồng à", "ask_fee")
        ev.slot("citizen", OLD, "requested_slot", "feedback_location")
        ev.user("citizen", OLD, "số 12 Lý Thái Tổ", "inform")

    store.write(fill)
    job(store.source).run()
    text = store.texts("citizen")
    assert "phí 5678 đồng à" in text and "số 12 Lý Thái Tổ" in text


def test_missing_store_and_missing_table_are_not_errors(tmp_path):
    report = job(tmp_path / "none.db").run()
    assert report.errors == [] and report.events_scanned == 0
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert job(empty).run().errors == []
    assert not (tmp_path / "none.db").exists()


def test_unreachable_postgres_is_reported_not_raised():
    report = job("postgresql://nobody@127.0.0.1:9/none?connect_timeout=1").run()
    assert report.errors == ["tracker: OperationalError"]


def test_bad_periods_are_refused(tmp_path):
    with pytest.raises(ValueError):
        job(tmp_path / "t.db", redact_after_days=30, delete_after_days=7)
    with pytest.raises(ValueError):
        job(tmp_path / "t.db", redact_after_days=-1)


@pytest.fixture(params=["sqlite", "postgres"])
def services(request, tmp_path):
    yield from make_database(request.param, tmp_path)


def test_closed_handoff_transcripts_are_masked(services, tmp_path):
    transcript = [{"role": "user", "text": f"hồ sơ {CODE} của tôi, gọi {PHONE}", "at": OLD.isoformat()},
                  {"role": "bot", "text": "Tôi chuyển ông/bà tới cán bộ.", "at": OLD.isoformat()}]
    old_store = HandoffStore(services, clock=lambda: OLD)
    closed = old_store.open_ticket("a", "rest", transcript, "user_request")
    old_store.add_reply(closed.id, f"Cán bộ sẽ gọi lại số {PHONE}.", "lan")
    old_store.close(closed.id, "lan")
    still_open = old_store.open_ticket("b", "rest", transcript, "user_request")
    recent_store = HandoffStore(services, clock=lambda: RECENT)
    recent = recent_store.open_ticket("c", "rest", transcript, "user_request")
    recent_store.close(recent.id, "lan")

    report = job(tmp_path / "no-tracker.db", services).run()
    assert (report.tickets_redacted, report.replies_redacted) == (1, 1)
    masked = old_store.get(closed.id)
    assert masked.transcript[0]["text"] == f"hồ sơ {MASKED_CODE} của tôi, gọi {MASKED_PHONE}"
    assert masked.transcript[1] == transcript[1]
    assert masked.replies[0].text == f"Cán bộ sẽ gọi lại số {MASKED_PHONE}."
    assert old_store.get(still_open.id).transcript == transcript  # an officer may still need it
    assert recent_store.get(recent.id).transcript == transcript


def test_closed_handoff_transcripts_lose_the_verification_answer_and_names(services, tmp_path):
    ask = ("Để bảo vệ thông tin của bạn, vui lòng nhập 4 chữ số cuối của số điện thoại hoặc số căn cước đã khai "
           "khi nộp hồ sơ.")
    transcript = [
        {"role": "user", "text": f"tra cứu hồ sơ {CODE}", "at": OLD.isoformat()},
        {"role": "bot", "text": ask, "at": OLD.isoformat()},
        {"role": "user", "text": "5678", "at": OLD.isoformat()},
        {"role": "bot", "text": f"Hồ sơ {CODE} — Đăng ký khai sinh (người nộp: Nguyễn Văn An).",
         "at": OLD.isoformat()},
        {"role": "user", "text": "tôi tên là Trần Thị Lan, sđt0912345678, gặp cán bộ", "at": OLD.isoformat()},
    ]
    store = HandoffStore(services, clock=lambda: OLD)
    ticket = store.open_ticket("a", "rest", transcript, "user_request")
    store.close(ticket.id, "lan")

    report = job(tmp_path / "no-tracker.db", services).run()
    assert report.tickets_redacted == 1
    assert [m["text"] for m in store.get(ticket.id).transcript] == [
        f"tra cứu hồ sơ {MASKED_CODE}",
        ask,
        "****",
        f"Hồ sơ {MASKED_CODE} — Đăng ký khai sinh (người nộp: ***).",
        "tôi tên là ***, sđt091*******, gặp cán bộ",
    ]
    assert job(tmp_path / "no-tracker.db", services).run().tickets_redacted == 0  # idempotent


def test_old_bot_answer_loses_the_applicant_name(store):
    def fill(ev):
        ev.status_lookup("citizen", OLD)
        ev.bot("citizen", OLD, f"Hồ sơ {CODE} — Đăng ký khai sinh (người nộp: Nguyễn Văn An).")

    store.write(fill)
    job(store.source).run()
    text = store.texts("citizen")
    assert "Nguyễn Văn An" not in text and "(người nộp: ***)" in text


def test_redact_event_leaves_non_personal_events_alone():
    event = {"event": "action", "name": "action_answer_procedure", "policy": "RulePolicy", "confidence": 1.0}
    assert redact_event(event) == event
    rating = {"event": "slot", "name": "satisfaction_rating", "value": 5}
    assert redact_event(rating) == rating


def test_cli_prints_the_report(tmp_path):
    path = tmp_path / "tracker.db"
    conn = sqlite3.connect(path)
    conn.execute(COLUMNS.format(pk="INTEGER PRIMARY KEY"))
    Events(conn, "?").user("citizen", datetime.now(VN_TZ) - timedelta(days=40), f"gọi {PHONE}", "inform")
    conn.commit()
    conn.close()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "TRACKER_DB": str(path),
           "SERVICES_DB": str(tmp_path / "services.db"), "RETENTION_REDACT_DAYS": "30"}
    out = subprocess.run([sys.executable, "-m", "console", "retention"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert (report["events_scanned"], report["events_redacted"], report["errors"]) == (1, 1, [])
    assert PHONE not in path.read_bytes().decode("utf-8", "replace")
    bad = subprocess.run([sys.executable, "-m", "console", "retention"], cwd=ROOT, capture_output=True, text=True,
                         env={**env, "RETENTION_DELETE_DAYS": "7"}, timeout=120)
    assert bad.returncode == 2 and "không hợp lệ" in bad.stderr and "Traceback" not in bad.stderr


def test_later_runs_scan_only_since_the_previous_cutoff(store, tmp_path):
    services = next(make_database("sqlite", tmp_path))
    just_old = NOW - timedelta(days=31)

    def fill(ev):
        ev.status_lookup("old", OLD)
        ev.status_lookup("just-old", just_old)

    store.write(fill)
    first = job(store.source, services).run()
    assert first.scanned_from is None and first.events_scanned == 26 and first.events_redacted == 10
    # A day later: only the two days before the last cutoff and the day since are read again.
    store.write(lambda ev: ev.status_lookup("new-old", NOW - timedelta(days=29, hours=12)))
    a_day_later = RetentionJob(store.source, services, clock=lambda: NOW.timestamp() + 86400)
    second = a_day_later.run()
    assert second.scanned_from == (NOW - timedelta(days=32)).isoformat()
    assert (second.events_scanned, second.events_redacted) == (26, 5)  # just-old (already masked) + new-old
    assert CODE not in store.texts("new-old")
    # Dry runs do not move the watermark (the second run's cutoff, NOW - 29 days).
    days_later = RetentionJob(store.source, services, clock=lambda: NOW.timestamp() + 5 * 86400)
    assert [days_later.run(dry_run=True).scanned_from for _ in range(2)] == [(NOW - timedelta(days=31)).isoformat()] * 2


def test_digits_typed_with_a_feedback_code_are_hidden(store):
    def fill(ev):
        ev.user("citizen", OLD, "tra cứu phản ánh PA-251127-0042, 4 số cuối 5678", "check_feedback_status")
        ev.user("citizen", OLD, "phí 5678 đồng à", "ask_fee")  # not a lookup: kept

    store.write(fill)
    job(store.source).run()
    text = store.texts("citizen")
    assert text.count("tra cứu phản ánh PA-251127-0042, * số cuối ****") == 2  # text and parse_data.text
    assert "số cuối 5678" not in text and text.count("phí 5678 đồng à") == 2
