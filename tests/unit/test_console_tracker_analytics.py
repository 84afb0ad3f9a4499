"""Conversation analytics from a small synthetic Rasa SQL tracker store (same ``events`` schema as Rasa 3.6)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import datetime

import pytest

from console.services import analytics, analytics_csv
from console.tracker_analytics import tracker_analytics
from core.db import VN_TZ, Database
from core.rating import RatingStore
from tests.fakes.rasa_tracker_store import Tracker

DAYS = ["2026-11-25", "2026-11-26", "2026-11-27"]


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=VN_TZ)


@pytest.fixture
def tracker_db(tmp_path):
    path = tmp_path / "tracker.db"
    t = Tracker(path)
    t.answer("old", at(20, 9), "cấp lại căn cước", "1.001193", "Cấp lại thẻ căn cước")  # before the window
    # 25/11: A answered, B abstained then handed off, C one fallback then answered.
    t.answer("A", at(25, 8), "cấp lại căn cước", "1.001193", "Cấp lại thẻ căn cước")
    t.abstain("B", at(25, 9), "làm sổ đỏ, số điện thoại 0912345678")
    t.user("B", at(25, 9), "/request_human", "request_human")
    t.action("B", at(25, 9), "action_handoff")
    t.bot("B", at(25, 9), "Đã chuyển cho cán bộ.")
    t.fallback("C", at(25, 10), "asdf qwe")
    t.answer("C", at(25, 10), "cấp lại căn cước", "1.001193", "Cấp lại thẻ căn cước")
    # 26/11 (00:30 Vietnam time = 25/11 17:30 UTC): D answered, E abstained, A again, F only a fallback.
    t.answer("D", datetime(2026, 11, 26, 0, 30, tzinfo=VN_TZ), "đăng ký kết hôn ở đâu", "2.002154", "Đăng ký kết hôn")
    t.abstain("E", at(26, 11), "xin trợ cấp thất nghiệp CCCD 001099012345")
    t.answer("A", at(26, 12), "phí bao nhiêu", "1.001193", "Cấp lại thẻ căn cước")
    t.fallback("F", at(26, 13), "ASDF   qwe")
    t.close()
    return path


# What the conversations of the ``tracker_db`` fixture add up to, worked out by hand.
EXPECTED_PER_DAY = [
    {"day": "2026-11-25", "conversations": 3, "answered": 2, "handed_off": 1, "abstained": 0,
     "user_messages": 5, "fallbacks": 1},
    {"day": "2026-11-26", "conversations": 4, "answered": 3, "handed_off": 0, "abstained": 1,
     "user_messages": 4, "fallbacks": 1},
    {"day": "2026-11-27", "conversations": 0, "answered": 0, "handed_off": 0, "abstained": 0,
     "user_messages": 0, "fallbacks": 0},
]
EXPECTED_SHARES = {"answered": 0.7143, "handed_off": 0.1429, "abstained": 0.1429}  # 5/7, 1/7, 1/7
EXPECTED_FALLBACK_RATE = 0.2222  # 2 of 9 user messages
EXPECTED_TOP_PROCEDURES = [
    {"code": "1.001193", "name": "Cấp lại thẻ căn cước", "conversations": 3},
    {"code": "2.002154", "name": "Đăng ký kết hôn", "conversations": 1},
]
EXPECTED_TOP_UNANSWERED = [
    {"question": "asdf qwe", "count": 2},
    {"question": "làm sổ đỏ, số điện thoại 091*******", "count": 1},
    {"question": "xin trợ cấp thất nghiệp cccd 001*********", "count": 1},
]


def assert_fixture_figures(data: dict) -> None:
    """``data`` holds exactly the figures of the ``tracker_db`` fixture."""
    assert data["source_available"] is True
    assert data["per_day"] == EXPECTED_PER_DAY
    assert data["total_conversations"] == 7
    assert data["shares"] == EXPECTED_SHARES
    assert data["fallback_rate"] == EXPECTED_FALLBACK_RATE
    assert data["top_procedures"] == EXPECTED_TOP_PROCEDURES
    assert data["top_unanswered"] == EXPECTED_TOP_UNANSWERED


def test_conversations_outcomes_fallbacks_and_top_lists(tracker_db):
    assert_fixture_figures(tracker_analytics(tracker_db, DAYS))


def test_unanswered_questions_are_masked(tracker_db):
    data = json.dumps(tracker_analytics(tracker_db, DAYS), ensure_ascii=False)
    assert "số điện thoại 091*******" in data and "cccd 001*********" in data
    assert "0912345678" not in data and "001099012345" not in data


def test_missing_tracker_store_gives_empty_figures(tmp_path):
    data = tracker_analytics(tmp_path / "absent.db", DAYS)
    assert data["source_available"] is False and data["total_conversations"] == 0
    assert data["shares"] == {"answered": None, "handed_off": None, "abstained": None}
    assert data["fallback_rate"] is None and data["top_procedures"] == [] and data["top_unanswered"] == []
    assert not (tmp_path / "absent.db").exists()  # read-only: never created


def test_tracker_store_without_its_table_yet_is_available_and_empty(tmp_path):
    """Rasa creates the ``events`` table on its first conversation; before that the figures are zero."""
    path = tmp_path / "tracker.db"
    sqlite3.connect(path).close()
    data = tracker_analytics(path, DAYS)
    assert data["source_available"] is True and data["total_conversations"] == 0
    assert [d["conversations"] for d in data["per_day"]] == [0, 0, 0]


def test_analytics_and_csv_include_the_conversation_figures(tmp_path, tracker_db):
    db = Database(str(tmp_path / "services.db"))
    db.ensure_schema()
    ratings = RatingStore(db, clock=lambda: at(25, 10))
    ratings.record("web-1", "rest", 5)
    ratings.record("web-2", "rest", 2)
    RatingStore(db, clock=lambda: at(27, 9)).record("web-3", "zalo", 4)
    data = analytics(db, days=3, now=at(27, 15), tracker_db=tracker_db)
    assert data["conversations"]["total_conversations"] == 7
    assert data["satisfaction"]["count"] == 3 and data["satisfaction"]["average"] == 3.67
    assert data["satisfaction"]["distribution"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1}
    rows = list(csv.reader(io.StringIO(analytics_csv(data))))
    assert rows[0] == ["day", "conversations", "answered", "handed_off", "abstained", "user_messages",
                       "fallbacks", "handoffs", "feedback_reports", "status_lookups", "ratings", "average_rating"]
    assert rows[1] == ["2026-11-25", "3", "2", "1", "0", "5", "1", "0", "0", "0", "2", "3.50"]
    assert rows[2] == ["2026-11-26", "4", "3", "0", "1", "4", "1", "0", "0", "0", "0", ""]
    assert rows[3] == ["2026-11-27", "0", "0", "0", "0", "0", "0", "0", "0", "0", "1", "4.00"]
    assert ["5", "1"] in rows and ["2", "1"] in rows
    assert ["1.001193", "Cấp lại thẻ căn cước", "3"] in rows
    assert ["asdf qwe", "2"] in rows
    assert "0912345678" not in analytics_csv(data)


def test_postgres_tracker_store_gives_the_same_figures(tracker_db):
    """The scaled profile keeps Rasa's trackers in PostgreSQL (TRACKER_DB_URL): same table, same figures."""
    import uuid
    from urllib.parse import quote

    import psycopg

    from tests.fakes.databases import PG_URL, require_postgres

    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    rows = sqlite3.connect(tracker_db).execute(
        "SELECT id, sender_id, type_name, timestamp, intent_name, action_name, data FROM events").fetchall()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            # The columns Rasa's SQLTrackerStore creates (rasa/core/tracker_store.py, SQLEvent).
            conn.execute(f'CREATE TABLE "{schema}".events (id SERIAL PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, '
                         "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
                         "action_name VARCHAR(255), data TEXT)")
            with conn.cursor() as cur:
                cur.executemany(f'INSERT INTO "{schema}".events VALUES (%s, %s, %s, %s, %s, %s, %s)', rows)
            url = PG_URL + ("&" if "?" in PG_URL else "?") + "options=" + quote(f"-csearch_path={schema}")
            assert_fixture_figures(tracker_analytics(url, DAYS))
        finally:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_unreachable_postgres_tracker_store_gives_empty_figures():
    data = tracker_analytics("postgresql://nobody@127.0.0.1:9/none?connect_timeout=1", DAYS)
    assert data["source_available"] is False and data["total_conversations"] == 0


def test_ratings_by_conversation_outcome(tmp_path):
    """The 1–5 score the citizen gave (slot satisfaction_rating, stored by Rasa as a float) counts towards the
    outcome of that day's conversation: answered, handed off or abstained."""
    path = tmp_path / "tracker.db"
    t = Tracker(path)

    def rate(sender, when, score):
        t.user(sender, when, f'/rate{{"rating":"{score}"}}', "rate")
        t.action(sender, when, "action_store_rating")
        t.slot(sender, when, "satisfaction_rating", float(score))

    t.answer("A", at(25, 8), "cấp lại căn cước", "1.001193", "Cấp lại thẻ căn cước")
    rate("A", at(25, 8), 5)
    t.answer("C", at(25, 9), "đăng ký kết hôn", "2.002154", "Đăng ký kết hôn")
    rate("C", at(25, 9), 4)
    t.abstain("B", at(25, 10), "làm sổ đỏ")
    t.user("B", at(25, 10), "/request_human", "request_human")
    t.action("B", at(25, 10), "action_handoff")
    rate("B", at(25, 11), 2)
    t.abstain("E", at(26, 9), "trợ cấp thất nghiệp")
    rate("E", at(26, 9), 1)
    t.slot("E", at(26, 9), "satisfaction_rating", None)  # a reset is not a score
    t.answer("G", at(26, 10), "phí bao nhiêu", "1.001193", "Cấp lại thẻ căn cước")  # answered, never rated
    t.close()

    data = tracker_analytics(path, DAYS)
    assert data["rating_by_outcome"] == {"answered": {"count": 2, "average": 4.5},
                                         "handed_off": {"count": 1, "average": 2.0},
                                         "abstained": {"count": 1, "average": 1.0}}
    empty = tracker_analytics(tmp_path / "absent.db", DAYS)["rating_by_outcome"]
    assert empty == {o: {"count": 0, "average": None} for o in ("answered", "handed_off", "abstained")}
    csv_rows = list(csv.reader(io.StringIO(analytics_csv(_analytics_with(tmp_path, path)))))
    at_header = csv_rows.index(["outcome", "ratings", "average_rating"])
    assert csv_rows[at_header + 1:at_header + 4] == [["answered", "2", "4.50"], ["handed_off", "1", "2.00"],
                                                      ["abstained", "1", "1.00"]]


def _analytics_with(tmp_path, tracker_path) -> dict:
    db = Database(str(tmp_path / "services.db"))
    db.ensure_schema()
    return analytics(db, days=3, now=at(27, 12), tracker_db=tracker_path)


# ---- issue 13, finding 6: CSV formula injection through a message entity ------------------------------------------


def test_made_up_procedure_codes_are_not_counted(tmp_path):
    """`/choose_procedure{"procedure_code":"=2+3"}` from many senders never reaches the top procedures."""
    path = tmp_path / "tracker.db"
    t = Tracker(path)
    for n in range(30):
        t.user(f"x{n}", at(26, 9), '/choose_procedure{"procedure_code":"=2+3"}', "choose_procedure")
        t.slot(f"x{n}", at(26, 9), "procedure_code", "=2+3")
        t.slot(f"x{n}", at(26, 9), "procedure_name", "@SUM(A1)")
    t.answer("A", at(26, 10), "cấp lại căn cước", "1.001193", "Cấp lại thẻ căn cước")
    t.close()
    data = tracker_analytics(path, DAYS)
    assert data["top_procedures"] == [{"code": "1.001193", "name": "Cấp lại thẻ căn cước", "conversations": 1}]


def test_every_text_cell_of_the_export_is_escaped(tmp_path, tracker_db):
    data = _analytics_with(tmp_path, tracker_db)
    data["conversations"]["top_procedures"] = [{"code": "=2+3", "name": "+cmd|' /C calc'!A0", "conversations": 30}]
    data["conversations"]["top_unanswered"] = [{"question": "-1+1", "count": 2}, {"question": "@SUM(A1:A9)",
                                                                                     "count": 1},
                                               {"question": "\tthuế đất", "count": 1},
                                               {"question": "\r=1", "count": 1},
                                               {"question": "làm sổ đỏ = bao lâu", "count": 1}]
    data["conversations"]["rating_by_outcome"] = {"=HYPERLINK(\"http://x\")": {"count": 1, "average": 1.0}}
    rows = list(csv.reader(io.StringIO(analytics_csv(data), newline="")))
    assert ["'=2+3", "'+cmd|' /C calc'!A0", "30"] in rows
    assert ["'-1+1", "2"] in rows and ["'@SUM(A1:A9)", "1"] in rows
    assert rows[-3:] == [["'\tthuế đất", "1"], ["'\r=1", "1"], ["làm sổ đỏ = bao lâu", "1"]], rows
    assert ["làm sổ đỏ = bao lâu", "1"] in rows
    assert ["'=HYPERLINK(\"http://x\")", "1", "1.00"] in rows
    for row in rows:
        assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row), row


def test_csv_cell_keeps_numbers_and_plain_text():
    from console.services import csv_cell

    assert csv_cell(-3) == -3 and csv_cell(2.5) == 2.5 and csv_cell(None) == ""
    assert csv_cell("Cấp lại thẻ căn cước") == "Cấp lại thẻ căn cước"
    assert csv_cell("=1+1") == "'=1+1"


# ---- issue 16: the answer rate week by week -------------------------------------------------------------------------


def test_iso_weeks_in_vietnam_time_across_a_year_end():
    from datetime import date

    from console.tracker_analytics import iso_week, week_keys, week_start

    # 2026 starts on a Thursday, so it has 53 ISO weeks; 1 January 2027 (a Friday) belongs to its last one.
    assert iso_week(date(2026, 11, 30)) == "2026-W49" and iso_week(date(2026, 11, 29)) == "2026-W48"
    assert iso_week(date(2027, 1, 1)) == "2026-W53" and iso_week(date(2027, 1, 4)) == "2027-W01"
    assert week_keys(date(2027, 1, 2), 3) == ["2026-W51", "2026-W52", "2026-W53"]
    assert week_keys(date(2027, 1, 4), 2) == ["2026-W53", "2027-W01"]
    assert week_start("2026-W53") == date(2026, 12, 28) and week_start("2026-W49") == date(2026, 11, 30)


@pytest.fixture
def weekly_tracker(tmp_path):
    """Three weeks of conversations (ISO weeks 47, 48 and 49 of 2026), worked out by hand below."""
    path = tmp_path / "tracker.db"
    t = Tracker(path)
    # Week 47 (16–22/11): one answered, one abstained, one handed off late on Sunday evening (23:30 Vietnam time,
    # 16:30 UTC: still week 47), one that only pressed the greeting button (no question: not counted).
    t.answer("G", at(17, 9), "cấp lại căn cước bị mất", "1.001193", "Cấp lại thẻ căn cước")
    t.abstain("H", at(18, 10), "xin giấy phép nuôi chim yến trong nhà")
    late_sunday = datetime(2026, 11, 22, 23, 30, tzinfo=VN_TZ)
    t.user("I", late_sunday, "tôi muốn gặp cán bộ về đất đai", "request_human")
    t.action("I", late_sunday, "action_handoff")
    t.user("J", at(19, 8), "/greet", "greet")
    t.action("J", at(19, 8), "utter_greet")
    # Week 48 (23–29/11): K at 00:30 on Monday 23/11 Vietnam time (17:30 UTC on Sunday: week 48, not 47),
    # L answered twice on 24/11 (one conversation) and again on 26/11 (another), M abstained.
    t.answer("K", datetime(2026, 11, 23, 0, 30, tzinfo=VN_TZ), "đăng ký kết hôn ở đâu", "2.002154",
             "Đăng ký kết hôn")
    t.answer("L", at(24, 9), "làm hộ chiếu mất bao lâu", "2.001234", "Cấp hộ chiếu")
    t.answer("L", at(24, 10), "phí bao nhiêu", "2.001234", "Cấp hộ chiếu")
    t.answer("L", at(26, 15), "cấp lại căn cước bị mất", "1.001193", "Cấp lại thẻ căn cước")
    t.abstain("M", at(27, 16), "trợ cấp cho người nuôi con nhỏ ở quê")
    # Week 49 (from 30/11): nothing yet.
    t.close()
    return path


EXPECTED_WEEKS = [
    {"week": "2026-W47", "start": "2026-11-16", "conversations": 3, "answered": 1, "handed_off": 1, "abstained": 1,
     "answer_rate": 0.3333},  # 1 of 3
    {"week": "2026-W48", "start": "2026-11-23", "conversations": 4, "answered": 3, "handed_off": 0, "abstained": 1,
     "answer_rate": 0.75},  # 3 of 4
    {"week": "2026-W49", "start": "2026-11-30", "conversations": 0, "answered": 0, "handed_off": 0, "abstained": 0,
     "answer_rate": None},
]


def test_answer_rate_week_by_week(weekly_tracker):
    data = tracker_analytics(weekly_tracker, ["2026-12-01"], ["2026-W47", "2026-W48", "2026-W49"])
    assert data["per_week"] == EXPECTED_WEEKS
    # The weeks read further back than the days: the day figures still cover 1 December only.
    assert data["per_day"] == [{"day": "2026-12-01", "conversations": 0, "answered": 0, "handed_off": 0,
                                "abstained": 0, "user_messages": 0, "fallbacks": 0}]
    assert data["top_procedures"] == [] and data["top_unanswered"] == []


def test_answer_rate_by_week_in_the_analytics_json_and_csv(tmp_path, weekly_tracker):
    db = Database(str(tmp_path / "services.db"))
    db.ensure_schema()
    data = analytics(db, days=3, now=datetime(2026, 12, 1, 9, 0, tzinfo=VN_TZ), tracker_db=weekly_tracker, weeks=3)
    assert data["conversations"]["per_week"] == EXPECTED_WEEKS
    rows = list(csv.reader(io.StringIO(analytics_csv(data))))
    header = rows.index(["week", "week_start", "conversations_with_question", "answered", "handed_off", "abstained",
                         "answer_rate"])
    assert rows[header + 1:header + 4] == [["2026-W47", "2026-11-16", "3", "1", "1", "1", "0.3333"],
                                           ["2026-W48", "2026-11-23", "4", "3", "0", "1", "0.7500"],
                                           ["2026-W49", "2026-11-30", "0", "0", "0", "0", ""]]
    # Days 29/11–1/12: L's and M's conversations are before the window, K's too: the day series are empty.
    assert [d["conversations"] for d in data["conversations"]["per_day"]] == [0, 0, 0]
