"""The demo seed: realistic, deterministic, idempotent, consistent with the knowledge base."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta

import pytest

from core.office_hours import add_working_days
from core.status.models import RESULT_READY, STATUSES
from core.status.sql import SqlStatusBackend
from knowledge.store import get_procedure, load_procedures
from scripts import seed_demo
from scripts.seed_demo import generate, processing_days, seed, write_demo_file
from tests.fakes.databases import make_database

ANCHOR = date(2025, 11, 27)  # a Thursday


@pytest.fixture(scope="module")
def procedures():
    return load_procedures()


@pytest.fixture(scope="module")
def apps(procedures):
    return generate(procedures, count=600, seed=7, anchor=ANCHOR)


def test_processing_days_from_the_knowledge_base():
    birth = get_procedure("1.001193")
    assert birth is not None and birth.name == "Thủ tục đăng ký khai sinh"
    days, known = processing_days(birth)
    assert known and days == 1


def test_every_status_and_realistic_fields(apps):
    statuses = Counter(a.status.status for a in apps)
    assert set(statuses) == set(STATUSES)
    assert len({a.status.code for a in apps}) == len(apps)
    for a in apps:
        s = a.status
        assert re.fullmatch(r"H07\.\d{2}-\d{6}-\d{4}", s.code)
        assert s.code[7:13] == s.received_at.strftime("%y%m%d")
        assert re.fullmatch(r"0\d{9}", a.phone)
        assert re.fullmatch(r"0(27|24)[0-3]\d{8}", a.id_number)
        assert s.received_at.date() < ANCHOR and s.history[-1].at.date() < ANCHOR
        assert [e.at for e in s.history] == sorted(e.at for e in s.history)
        assert s.history[0].status == "Đã tiếp nhận" and s.history[-1].status == s.status
        assert s.status_since == s.history[-1].at and s.agency == s.history[-1].agency
        assert s.received_at.weekday() < 5
        if s.status == "Chờ bổ sung hồ sơ":
            assert s.missing_documents
        if s.status == "Từ chối":
            assert s.rejection_reason
        if s.status == RESULT_READY:
            assert s.result_pickup and s.result_pickup.startswith("Quầy trả kết quả")
    late = [a for a in apps if a.status.is_late(ANCHOR)]
    assert 0.05 * len(apps) < len(late) < 0.5 * len(apps)


def test_due_dates_follow_processing_time(apps):
    checked = 0
    for a in apps:
        s = a.status
        if any(e.status == "Chờ bổ sung hồ sơ" for e in s.history):
            continue  # the clock restarts after a supplement
        proc = get_procedure(s.procedure_code)
        assert proc is not None and proc.name == s.procedure_name
        days, _ = processing_days(proc)
        assert s.due_at.date() == add_working_days(s.received_at.date(), days)
        checked += 1
    assert checked > 300


def test_deterministic(procedures, apps):
    again = generate(procedures, count=600, seed=7, anchor=ANCHOR)
    assert [(a.status, a.phone, a.id_number) for a in again] == [(a.status, a.phone, a.id_number) for a in apps]
    other = generate(procedures, count=50, seed=8, anchor=ANCHOR)
    assert [a.status.code for a in other] != [a.status.code for a in apps[:50]]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_seed_idempotent_and_verifiable(kind, tmp_path, procedures):
    for db in make_database(kind, tmp_path):
        assert seed(db, count=300, seed_value=7, anchor=ANCHOR, procedures=procedures) == 300
        assert seed(db, count=300, seed_value=7, anchor=ANCHOR, procedures=procedures) == 0
        backend = SqlStatusBackend(db)
        assert backend.count("demo") == 300
        assert seed(db, count=200, seed_value=7, anchor=ANCHOR, procedures=procedures, reset=True) == 200
        assert backend.count("demo") == 200
        pairs = write_demo_file(db, tmp_path / "demo.txt")
        assert [p[2] for p in pairs] == list(STATUSES)
        for code, last4, status in pairs:
            found = backend.lookup(code, last4)
            assert found is not None and found.status == status
            assert backend.lookup(code, f"{(int(last4) + 1) % 10000:04d}") is None
        lines = (tmp_path / "demo.txt").read_text(encoding="utf-8").splitlines()
        assert len(lines) == 8 and lines[1].startswith(pairs[0][0])


def test_anchor_defaults_to_today(tmp_path, procedures, monkeypatch):
    for db in make_database("sqlite", tmp_path):
        seed(db, count=20, procedures=procedures)
        with db.read() as conn:
            newest = conn.one("SELECT MAX(received_at) AS m FROM applications")["m"]
        assert newest[:10] >= (seed_demo.now_vn().date() - timedelta(days=seed_demo.DAYS_BACK + 1)).isoformat()
