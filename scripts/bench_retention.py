"""Benchmark of the retention job (console/retention.py) on a synthetic SQLite tracker store.

    python scripts/bench_retention.py [--conversations 20000]

Writes conversations shaped like the bot's (a procedure question, a status lookup with a code, a phone number and
the verification digits), half of them 45 days old, a tenth 400 days old, then times a dry run, the first real
run (masks and deletes), the next day's run (reads only since the previous cutoff: the daily cost) and a full
rescan without that watermark (nothing left to change). Prints events per second.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from console.retention import RetentionJob  # noqa: E402
from core.db import Database  # noqa: E402

DAY = 86400


def conversation(sender: str, ts: float, n: int) -> list[tuple]:
    """One conversation's events as Rasa's SQLTrackerStore stores them."""
    code, phone = f"H07.99-2511{n % 30:02d}-{n % 10000:04d}", f"09{n % 100000000:08d}"

    def user(text, intent):
        return ("user", intent, None, {"event": "user", "text": text, "input_channel": "rest", "metadata": {},
                                       "parse_data": {"text": text, "intent": {"name": intent, "confidence": 0.9},
                                                      "entities": [], "intent_ranking": []}})

    def slot(name, value):
        return ("slot", None, name, {"event": "slot", "name": name, "value": value})

    def action(name):
        return ("action", None, name, {"event": "action", "name": name, "policy": "RulePolicy", "confidence": 1})

    def bot(text):
        return ("bot", None, None, {"event": "bot", "text": text, "data": {}, "metadata": {}})

    events = [
        action("action_session_start"), user("làm giấy khai sinh cần giấy tờ gì", "ask_procedure"),
        action("action_answer_procedure"), bot("Thủ tục Đăng ký khai sinh cần: Tờ khai ... " * 8),
        slot("procedure_code", "1.001193"), action("action_listen"),
        user(f"tra cứu hồ sơ {code}, số tôi {phone}", "check_status"), action("application_status_form"),
        slot("application_code", code), slot("requested_slot", "status_verification"),
        bot("Ông/bà cho biết 4 chữ số cuối số điện thoại."), action("action_listen"),
        user(phone[-4:], "inform"), slot("status_verification", phone[-4:]), slot("requested_slot", None),
        slot("verified_applications", {code: phone[-4:]}), bot("Hồ sơ đang xử lý."), action("action_listen"),
    ]
    rows = []
    for i, (type_name, intent, action_name, data) in enumerate(events):
        at = ts + i
        rows.append((sender, type_name, at, intent, action_name, json.dumps({**data, "timestamp": at},
                                                                            ensure_ascii=False)))
    return rows


def build(path: Path, conversations: int, now: float) -> int:
    """A tracker store with ``conversations`` conversations; the number of events."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
                 "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
                 "action_name VARCHAR(255), data TEXT)")
    conn.execute("CREATE INDEX ix_events_sender_id ON events (sender_id)")  # as Rasa creates it
    total = 0
    for n in range(conversations):
        age = 400 if n % 10 == 0 else (45 if n % 2 else 2)
        rows = conversation(f"citizen-{n}", now - age * DAY, n)
        conn.executemany("INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                         "VALUES (?, ?, ?, ?, ?, ?)", rows)
        total += len(rows)
    conn.commit()
    conn.close()
    return total


def main() -> int:
    """Build, run three times, print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=20000)
    args = parser.parse_args()
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tracker.db"
        events = build(path, args.conversations, now)
        size_mb = path.stat().st_size / 1e6
        print(f"tracker store: {args.conversations:,} conversations, {events:,} events, {size_mb:.1f} MB")
        services = Database(str(Path(tmp) / "services.db"))
        runs = (("dry run", None, now, True), ("first run", services, now, False),
                ("next day", services, now + DAY, False), ("full rescan", None, now + DAY, False))
        for label, db, at, dry in runs:
            report = RetentionJob(path, db, clock=lambda at=at: at).run(dry_run=dry)
            rate = report.events_scanned / report.seconds if report.seconds else 0
            print(f"{label:>11}: {report.seconds:7.2f} s  scanned {report.events_scanned:,} "
                  f"({rate:,.0f} events/s), masked {report.events_redacted:,}, deleted "
                  f"{report.conversations_deleted:,} conversations / {report.events_deleted:,} events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
