"""5 failed lookups per 15 minutes per sender and per code, persisted, with a retry-after."""

from __future__ import annotations

import pytest

from actions.services.status.ratelimit import AttemptLimiter, LimitDecision
from tests.fakes.databases import make_database

CODE = "H07.99-251120-0012"


class Clock:
    """A settable clock (epoch seconds)."""

    def __init__(self, now: float = 1_764_230_400.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    yield from make_database(request.param, tmp_path)


def test_five_failures_block_the_sender(db):
    clock = Clock()
    limiter = AttemptLimiter(db, clock=clock)
    for i in range(5):
        assert limiter.check("web-1", CODE).allowed
        limiter.record("web-1", CODE, success=False)
        clock.now += 60
    # failures at t0 .. t0+240; now t0+300: the oldest leaves the window at t0+900
    assert limiter.check("web-1", CODE) == LimitDecision(False, 600)
    assert limiter.check("web-1", "H07.01-251126-0001") == LimitDecision(False, 600)  # per sender
    assert limiter.check("web-2", CODE) == LimitDecision(False, 600)  # per code
    assert limiter.check("web-2", "H07.01-251126-0001") == LimitDecision(True, 0)
    clock.now += 600
    assert limiter.check("web-1", CODE) == LimitDecision(True, 0)


def test_successes_do_not_count_nor_reset(db):
    clock = Clock()
    limiter = AttemptLimiter(db, clock=clock)
    for _ in range(4):
        limiter.record("web-1", CODE, success=False)
    for _ in range(10):
        limiter.record("web-1", CODE, success=True)
    assert limiter.check("web-1", CODE).allowed
    limiter.record("web-1", CODE, success=False)
    assert not limiter.check("web-1", CODE).allowed


def test_code_spellings_share_a_counter(db):
    limiter = AttemptLimiter(db, clock=Clock())
    for spelling in ("h07.99 251120 0012", "H0799-251120-0012", "H07.99.251120.0012", "H07.99-251120-0012",
                     "H07.99 - 251120 - 0012"):
        limiter.record("sender-" + spelling, spelling, success=False)
    assert not limiter.check("someone-else", CODE).allowed


def test_persisted_across_instances(db):
    clock = Clock()
    for _ in range(5):
        AttemptLimiter(db, clock=clock).record("web-9", CODE, success=False)
    fresh = AttemptLimiter(db, clock=clock)
    decision = fresh.check("web-9", None)
    assert decision.allowed is False and decision.retry_after_s == 900


def test_codes_and_senders_stored_hashed(db):
    limiter = AttemptLimiter(db, clock=Clock())
    limiter.record("web-1", CODE, success=False)
    with db.read() as conn:
        row = conn.one("SELECT sender, code FROM lookup_attempts")
    assert CODE not in row["code"] and "web-1" not in row["sender"]
    assert len(row["code"]) == 32
