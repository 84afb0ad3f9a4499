#!/usr/bin/env python
"""Scaled delivery measurement of the status-change notifications (issue 17, behind ``make load-notifications``).

On PostgreSQL (database ``test`` by default, a fresh schema dropped afterwards) it stores N applications, each
followed on Zalo by its own citizen, then makes the status changes through the real write path
(:func:`core.notifications.events.change_application_status`: status, history, event and outbox row in one
transaction) while two real worker processes (``python -m notifier worker``) deliver them to the fake Zalo OA
server (tests/fakes/zalo_api_server.py) this script serves on loopback. Once ~30 % of the notifications have
reached the fake, one worker is killed with SIGKILL; the other keeps running until every outbox row is done.

The workers run with quiet hours off (NOTIFY_QUIET_HOURS=0, so the run does not depend on the hour), a
per-citizen rate limit far above the load (NOTIFY_RATE_LIMIT_COUNT, default 1,000,000 per hour) and the claim
lease NOTIFY_LEASE_S (``--lease-s``, default the production 120 s). No tracker store is given, so every
notification goes out as a transaction (template) message, the route outside Zalo's consultation window.

Each change has its own notification text (one application per citizen, five different transitions per
application), so what the fake received maps back to one outbox row: the report gives delivered vs expected,
duplicates (a row received twice), missing rows, unknown messages, throughput, the delay from the status change
to the fake receiving it (p50 / p95 / max, scripts/percentiles.py), what the killed worker held and how the
surviving worker settled the rows whose attempt the killed one had started (delivery log: reconciled with the
fake's conversation history, or interrupted and sent again).

Results: reports/notifications/load.json and .md. Runs with the action venv's Python (psycopg, requests).

Usage:
    PYTHONPATH=. .venv-actions/bin/python scripts/load_notifications.py [--changes 10000] [--citizens 2000]
        [--lease-s 120] [--kill-at 0.3] [--timeout 1800]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from core.db import Database, as_datetime, now_vn
from core.notifications.events import StatusUpdate, change_application_status
from core.notifications.outbox import PENDING, SENDING
from core.notifications.subscriptions import Subscriptions
from core.status.models import (
    NEEDS_DOCUMENTS,
    OVERDUE,
    PROCESSING,
    RECEIVED,
    RESULT_READY,
    ApplicationStatus,
    StatusEvent,
)
from core.status.sql import SqlStatusBackend
from scripts.percentiles import latency_summary
from tests.fakes.zalo_api_server import SEND_PATH, TRANSACTION_PATH, FakeZaloServer

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
OUT_DIR = ROOT / "reports" / "notifications"
HOTLINE = "18001096"
AGENCY = "UBND phường Võ Cường"
# Five different transitions per application: (old, new) differs for each change, so does the text.
STATUS_PATH = (RECEIVED, PROCESSING, NEEDS_DOCUMENTS, PROCESSING, OVERDUE, RESULT_READY)
MAX_CITIZENS = 9999  # application codes H07.03-251201-0001 .. -9999
POLL_S = 0.5  # how often the outbox is checked while waiting for the workers to finish


@dataclass(frozen=True)
class LoadConfig:
    """One measurement run."""

    changes: int = 10_000
    citizens: int = 2_000
    workers: int = 2
    kill_at: float = 0.3  # kill one worker once this share of the notifications reached the fake
    lease_s: float = 120.0
    rate_limit_count: int = 1_000_000
    timeout_s: float = 1800.0
    database_url: str = PG_URL


@dataclass
class LoadResult:
    """What a run measured (``report`` is the JSON of the report)."""

    config: LoadConfig
    expected: int = 0
    outbox_rows: int = 0
    delivered: int = 0
    duplicates: int = 0
    duplicated_rows: List[int] = field(default_factory=list)
    missing: List[int] = field(default_factory=list)
    unknown_messages: int = 0
    ambiguous_texts: int = 0
    not_done: Dict[str, int] = field(default_factory=dict)
    held_at_kill: List[int] = field(default_factory=list)
    held_already_received: List[int] = field(default_factory=list)
    log_outcomes: Dict[str, int] = field(default_factory=dict)
    timed_out: bool = False
    report: Dict = field(default_factory=dict)


def app_code(i: int) -> str:
    """The i-th seeded application's code (1-based)."""
    return f"H07.03-251201-{i:04d}"


def zalo_user(i: int) -> str:
    """The i-th citizen's Zalo user id (19 digits, like Zalo's)."""
    return str(3_000_000_000_000_000_000 + i)


def update_for(status: str) -> StatusUpdate:
    """The officer's update moving an application to ``status``."""
    return StatusUpdate.from_request({
        "status": status,
        "note": "Cập nhật trong đợt đo tải thông báo",
        "missing_documents": ["Bản sao giấy chứng nhận kết hôn"] if status == NEEDS_DOCUMENTS else None,
        "result_pickup": "Bộ phận Một cửa UBND phường Võ Cường" if status == RESULT_READY else None,
    })


def seed(db: Database, citizens: int) -> None:
    """``citizens`` applications in the first status, each followed on Zalo by its own citizen."""
    received = now_vn() - timedelta(days=3)
    backend = SqlStatusBackend(db)
    with db.transaction() as conn:
        for i in range(1, citizens + 1):
            app = ApplicationStatus(
                code=app_code(i), procedure_code="1.001193", procedure_name="Đăng ký khai sinh",
                applicant_name="Công dân thử tải", received_at=received, due_at=received + timedelta(days=5),
                status=STATUS_PATH[0], status_since=received, agency=AGENCY,
                history=[StatusEvent(STATUS_PATH[0], received, f"Bộ phận Một cửa {AGENCY}")])
            backend.save(app, phone=f"09{i:08d}", id_number=f"0010990{i:05d}", source="load", conn=conn)
    subscriptions = Subscriptions(db)
    for i in range(1, citizens + 1):
        subscriptions.subscribe("zalo", zalo_user(i), app_code(i))


def produce(db: Database, citizens: int, rounds: int, times: Dict[str, float]) -> None:
    """Round by round, move every application one step along STATUS_PATH through the real write path."""
    times["changes_started"] = time.time()
    for step in range(1, rounds + 1):
        update = update_for(STATUS_PATH[step])
        for i in range(1, citizens + 1):
            change_application_status(db, app_code(i), update, hotline=HOTLINE)
    times["changes_done"] = time.time()


def worker_env(config: LoadConfig, schema: str, fake: FakeZaloServer, workdir: Path) -> Dict[str, str]:
    """The environment of a ``python -m notifier worker`` process for this run."""
    env = dict(os.environ)
    env.update({
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": config.database_url,
        "DATABASE_SCHEMA": schema,
        "ZALO_API_BASE": fake.url,
        "ZALO_ACCESS_TOKEN": fake.access_token,
        "ZALO_TOKEN_STORE": str(workdir / "no-token-file.json"),
        "TRACKER_DB": str(workdir / "no-tracker.db"),  # no tracker store: every message goes as a template
        "TRACKER_DB_URL": "",
        "NOTIFY_QUIET_HOURS": "0",
        "NOTIFY_LEASE_S": str(config.lease_s),
        "NOTIFY_RATE_LIMIT_COUNT": str(config.rate_limit_count),
        "NOTIFY_POLL_INTERVAL_S": "0",
    })
    return env


def start_workers(count: int, env: Dict[str, str], workdir: Path) -> List[subprocess.Popen]:
    """``count`` worker processes, each logging to ``workdir``/worker-<n>.log."""
    procs = []
    for n in range(1, count + 1):
        with open(workdir / f"worker-{n}.log", "w") as log:
            procs.append(subprocess.Popen([sys.executable, "-m", "notifier", "worker"], cwd=ROOT, env=env,
                                          stdout=log, stderr=subprocess.STDOUT))
    return procs


def received_messages(fake: FakeZaloServer) -> List[Tuple[str, str, float]]:
    """(user id, notification text, time received) of every message the fake accepted."""
    out = []
    for rec in fake.calls(TRANSACTION_PATH) + fake.calls(SEND_PATH):
        if rec.status != 200 or not isinstance(rec.answer, dict) or rec.answer.get("error") != 0:
            continue
        body = rec.json or {}
        user = body["recipient"]["user_id"]
        message = body["message"]
        if "text" in message:
            text = message["text"]
        else:
            elements = message["attachment"]["payload"]["elements"]
            text = next(e["content"] for e in elements if e["type"] == "text")
        out.append((user, text, rec.at))
    return out


def outbox_rows(db: Database) -> List[dict]:
    """Every outbox row of the run."""
    with db.read() as conn:
        return conn.all("SELECT id, sender_id, text, state, attempts, created_at, sent_at FROM notification_outbox "
                        "ORDER BY id")


def held_by(db: Database, pid: int) -> List[int]:
    """The rows a worker process claimed and had not finished (its id is host:pid:random)."""
    with db.read() as conn:
        rows = conn.all("SELECT id FROM notification_outbox WHERE state = ? AND claimed_by LIKE ? ORDER BY id",
                        (SENDING, f"{socket.gethostname()}:{pid}:%"))
    return [int(r["id"]) for r in rows]


def log_outcomes(db: Database) -> Dict[str, int]:
    """How many delivery-log rows have each outcome (sent, reconciled, interrupted, ...)."""
    with db.read() as conn:
        rows = conn.all("SELECT outcome, COUNT(*) AS n FROM notification_log GROUP BY outcome")
    return {r["outcome"]: int(r["n"]) for r in rows}


def unfinished(db: Database) -> Dict[str, int]:
    """Rows still pending or being sent."""
    with db.read() as conn:
        rows = conn.all("SELECT state, COUNT(*) AS n FROM notification_outbox WHERE state IN (?, ?) GROUP BY state",
                        (PENDING, SENDING))
    return {r["state"]: int(r["n"]) for r in rows}


def wait_until_done(db: Database, producer: threading.Thread, deadline: float) -> bool:
    """Wait until the producer finished and no outbox row is pending or being sent; False on the deadline."""
    while time.monotonic() < deadline:
        if not producer.is_alive() and not unfinished(db):
            return True
        time.sleep(POLL_S)
    return False


def run(config: LoadConfig) -> LoadResult:
    """Seed, produce, deliver with ``config.workers`` workers, kill one midway, and measure."""
    if config.citizens > MAX_CITIZENS or config.changes % config.citizens:
        raise ValueError(f"changes must be a multiple of citizens (at most {MAX_CITIZENS})")
    rounds = config.changes // config.citizens
    if not 1 <= rounds < len(STATUS_PATH):
        raise ValueError(f"changes / citizens must be 1..{len(STATUS_PATH) - 1}")
    started = time.perf_counter()
    result = LoadResult(config=config, expected=config.changes)
    db = Database(config.database_url, schema=f"notify_load_{uuid.uuid4().hex[:10]}")
    fake = FakeZaloServer().start()
    procs: List[subprocess.Popen] = []
    times: Dict[str, float] = {}
    received_at_kill: set = set()
    try:
        db.ensure_schema()
        seed(db, config.citizens)
        seeded_s = time.perf_counter() - started
        with tempfile.TemporaryDirectory(prefix="notify-load-") as tmp:
            workdir = Path(tmp)
            procs = start_workers(config.workers, worker_env(config, db.schema, fake, workdir), workdir)
            producer = threading.Thread(target=produce, args=(db, config.citizens, rounds, times), daemon=True)
            producer.start()
            deadline = time.monotonic() + config.timeout_s
            kill_target = math.ceil(config.kill_at * config.changes)
            victim = procs[0]
            if fake.wait_for(lambda f: len(f.requests) >= kill_target, timeout=config.timeout_s):
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                times["killed"] = time.time()
                result.held_at_kill = held_by(db, victim.pid)
                received_at_kill = {(u, t) for u, t, _ in received_messages(fake)}
                times["received_at_kill"] = len(received_at_kill)
            result.timed_out = not wait_until_done(db, producer, deadline)
            times["done"] = time.time()
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(timeout=30)
            logs = {p.name: p.read_text(errors="replace")[-2000:] for p in workdir.glob("worker-*.log")}
        rows = outbox_rows(db)
        messages = received_messages(fake)
        result.not_done = unfinished(db)
        result.log_outcomes = log_outcomes(db)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        fake.stop()
        if db.schema:
            db.drop_schema()
    held = set(result.held_at_kill)
    result.held_already_received = [int(r["id"]) for r in rows if int(r["id"]) in held
                                    and (r["sender_id"], r["text"][:1000]) in received_at_kill]
    analyse(result, rows, messages, times, seeded_s, time.perf_counter() - started, logs)
    return result


def analyse(result: LoadResult, rows: List[dict], messages: List[Tuple[str, str, float]], times: Dict[str, float],
            seeded_s: float, wall_s: float, logs: Dict[str, str]) -> None:
    """Match what the fake received to the outbox rows and fill in the result and its report."""
    config = result.config
    result.outbox_rows = len(rows)
    by_key: Dict[Tuple[str, str], int] = {}
    for r in rows:
        key = (r["sender_id"], r["text"][:1000])
        result.ambiguous_texts += key in by_key
        by_key[key] = int(r["id"])
    created = {int(r["id"]): as_datetime(r["created_at"]).timestamp() for r in rows}
    receipts: Counter = Counter()
    first_at: Dict[int, float] = {}
    for user, text, at in messages:
        row_id = by_key.get((user, text))
        if row_id is None:
            result.unknown_messages += 1
            continue
        receipts[row_id] += 1
        first_at[row_id] = min(at, first_at.get(row_id, at))
    result.delivered = len(receipts)
    result.duplicated_rows = sorted(i for i, n in receipts.items() if n > 1)
    result.duplicates = sum(n - 1 for n in receipts.values())
    result.missing = sorted(set(created) - set(receipts))
    delays_ms = [(first_at[i] - created[i]) * 1000.0 for i in first_at]
    held = set(result.held_at_kill)
    delays_not_held = [(first_at[i] - created[i]) * 1000.0 for i in first_at if i not in held]
    start = times.get("changes_started", 0.0)
    last = max(first_at.values()) if first_at else start
    killed = times.get("killed")
    before = sum(1 for at in first_at.values() if killed and at <= killed)
    rates = {
        "overall_per_s": round(result.delivered / (last - start), 1) if last > start else None,
        "two_workers_per_s": round(before / (killed - start), 1) if killed else None,
        "one_worker_per_s": round((result.delivered - before) / (last - killed), 1) if killed and last > killed
        else None,
    }
    result.report = {
        "config": asdict(config) | {"database_url": "postgresql://…/" + config.database_url.rsplit("/", 1)[-1]},
        "expected": result.expected,
        "outbox_rows": result.outbox_rows,
        "delivered_rows": result.delivered,
        "messages_received": len(messages),
        "duplicates": result.duplicates,
        "duplicated_rows": result.duplicated_rows,
        "missing_rows": len(result.missing),
        "unknown_messages": result.unknown_messages,
        "ambiguous_texts": result.ambiguous_texts,
        "rows_not_done": result.not_done,
        "log_outcomes": result.log_outcomes,
        "timed_out": result.timed_out,
        "kill": {
            "after_received": times.get("received_at_kill"),
            "at_s": round(killed - start, 2) if killed else None,
            "rows_held": len(result.held_at_kill),
            "rows_held_already_received": len(result.held_already_received),
            "held_row_delay_ms": latency_summary([(first_at[i] - created[i]) * 1000.0 for i in held
                                                  if i in first_at], 0),
        },
        "changes_s": round(times.get("changes_done", start) - start, 2),
        "changes_per_s": round(config.changes / (times["changes_done"] - start), 1)
        if times.get("changes_done") else None,
        "delivery_span_s": round(last - start, 2),
        "throughput": rates,
        "delay_ms": latency_summary(delays_ms, 0),
        "delay_ms_not_held": latency_summary(delays_not_held, 0),
        "seed_s": round(seeded_s, 1),
        "wall_s": round(wall_s, 1),
        "host": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "worker_log_tails": logs if result.missing or result.timed_out else {},
    }


def markdown(report: Dict) -> str:
    """The report as Markdown."""
    c, k, t = report["config"], report["kill"], report["throughput"]
    d, dn, dh = report["delay_ms"], report["delay_ms_not_held"], k["held_row_delay_ms"]
    lines = [
        "# Status-change notifications: scaled delivery (issue 17)",
        "",
        f"Generated by `make load-notifications` (scripts/load_notifications.py) in {report['wall_s']} s "
        f"(seeding {report['seed_s']} s), {report['host']['cpus']} CPUs shared, Python {report['host']['python']}.",
        "",
        f"PostgreSQL (fresh schema in `{c['database_url']}`), {c['citizens']:,} citizens each following one "
        f"application on Zalo, {c['changes']:,} status changes through `change_application_status` (one "
        f"transaction each, {report['changes_per_s']} changes/s, {report['changes_s']} s) while {c['workers']} "
        "`python -m notifier worker` processes deliver to the fake Zalo OA server on loopback (transaction "
        "template messages: no tracker store, so nobody is inside the consultation window).",
        f"Worker settings: NOTIFY_QUIET_HOURS=0 (quiet hours off), NOTIFY_RATE_LIMIT_COUNT={c['rate_limit_count']:,} "
        f"per hour (far above the 5 per citizen here), NOTIFY_LEASE_S={c['lease_s']:g}.",
        f"Worker 1 was killed with SIGKILL once {k['after_received']:,} messages had reached the fake "
        f"({c['kill_at']:.0%} target), {k['at_s']} s after the first change; worker 2 ran on.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| expected notifications (outbox rows) | {report['expected']:,} ({report['outbox_rows']:,} rows) |",
        f"| delivered (rows the fake received) | {report['delivered_rows']:,} |",
        f"| messages the fake accepted | {report['messages_received']:,} |",
        f"| duplicates (a row received more than once) | {report['duplicates']} "
        f"(rows {report['duplicated_rows'] or '—'}) |",
        f"| missing | {report['missing_rows']} |",
        f"| unknown messages / ambiguous texts | {report['unknown_messages']} / {report['ambiguous_texts']} |",
        f"| rows left pending / sending | {report['rows_not_done'] or 'none'} |",
        f"| rows the killed worker held | {k['rows_held']} (of which already received by the fake: "
        f"{k['rows_held_already_received']}) |",
        f"| in-doubt rows (attempt started, no outcome) reconciled without resending / interrupted and sent "
        f"again | {report['log_outcomes'].get('reconciled', 0)} / {report['log_outcomes'].get('interrupted', 0)} |",
        f"| delay of the held rows, p50 / max | {dh['p50']:,} / {dh['max']:,} ms |",
        f"| throughput overall | {t['overall_per_s']} deliveries/s over {report['delivery_span_s']} s |",
        f"| throughput with 2 workers / with 1 worker | {t['two_workers_per_s']} / {t['one_worker_per_s']} "
        "deliveries/s |",
        f"| delay change → delivery, p50 / p95 / p99 / max | {d['p50']:,} / {d['p95']:,} / {d['p99']:,} / "
        f"{d['max']:,} ms |",
        f"| same, rows the killed worker did not hold | {dn['p50']:,} / {dn['p95']:,} / {dn['p99']:,} / "
        f"{dn['max']:,} ms |",
        "",
        "Delay: the outbox row's `created_at` (the status change's time) to the fake Zalo server receiving the "
        "message (the first time, for a duplicated row); percentiles by scripts/percentiles.py (nearest rank). "
        "A worker commits the start of each attempt before calling Zalo, so a worker killed between Zalo's answer "
        "and marking the row sent leaves the row claimed and in doubt; once its lease runs out the other worker "
        "reads the OA's conversation history (`GET /v2.0/oa/conversation`) for the exact text sent since the "
        "attempt started: found → recorded sent (reconciled), not resent; not found → sent; history unreadable → "
        "sent again (at-least-once) and logged.",
        "",
    ]
    if t["two_workers_per_s"] and report["changes_per_s"] and report["changes_per_s"] > t["two_workers_per_s"]:
        lines += [
            f"The changes came faster ({report['changes_per_s']}/s) than the workers delivered, so a backlog "
            "grew and the delay is mostly time spent waiting in the outbox: it measures the saturated system, "
            "not one delivery's latency.",
            "",
        ]
    return "\n".join(lines)


def write_report(report: Dict, out_dir: Path) -> None:
    """reports/notifications/load.json and load.md."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "load.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out_dir / "load.md").write_text(markdown(report), encoding="utf-8")


def main(argv: Optional[List[str]] = None) -> int:
    """Run the measurement and write the report; exit 1 when a notification is missing or the run timed out."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--citizens", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill-at", type=float, default=0.3)
    parser.add_argument("--lease-s", type=float, default=120.0)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    result = run(LoadConfig(changes=args.changes, citizens=args.citizens, workers=args.workers,
                            kill_at=args.kill_at, lease_s=args.lease_s, timeout_s=args.timeout))
    write_report(result.report, args.out)
    print(markdown(result.report))
    return 1 if result.missing or result.timed_out else 0


if __name__ == "__main__":
    sys.exit(main())
