"""Failed status lookups limited per sender, per client, per client + code, per code (ceiling) and globally,
persisted, with a retry-after (core/status/ratelimit.py)."""

from __future__ import annotations

from core.status.ratelimit import AttemptLimiter, LimitDecision

CODE = "H07.99-251120-0012"


class Clock:
    """A settable clock (epoch seconds)."""

    def __init__(self, now: float = 1_764_230_400.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_five_failures_block_the_sender(db):
    clock = Clock()
    limiter = AttemptLimiter(db, clock=clock)
    for i in range(5):
        assert limiter.check("web-1", CODE).allowed
        limiter.record("web-1", CODE, success=False)
        clock.now += 60
    # failures at t0 .. t0+240; now t0+300: the oldest leaves the window at t0+900
    assert limiter.check("web-1", CODE) == LimitDecision(False, 600)
    assert limiter.check("web-1", CODE).rule == "sender"
    assert limiter.check("web-1", "H07.01-251126-0001") == LimitDecision(False, 600)  # per sender
    assert limiter.check("web-2", CODE) == LimitDecision(True, 0)  # another conversation: not locked by a stranger
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
        limiter.record("sender-" + spelling, spelling, success=False, client="client-a")
    decision = limiter.check("someone-else", CODE, client="client-a")
    assert not decision.allowed and decision.rule == "client+code"


# ---- issue 13, finding 2: guessing across senders -----------------------------------------------------------


def test_new_sender_ids_from_one_client_buy_no_new_guesses(db):
    """Ten failures from one client, each from a fresh sender id and on any codes: the client is stopped."""
    clock = Clock()
    limiter = AttemptLimiter(db, clock=clock)
    for i in range(10):
        code = f"H07.99-251120-{i:04d}"
        assert limiter.check(f"web-{i}", code, client="203.0.113.7").allowed
        limiter.record(f"web-{i}", code, success=False, client="203.0.113.7")
        clock.now += 30
    decision = limiter.check("web-new", "H07.99-251120-0099", client="203.0.113.7")
    assert decision == LimitDecision(False, 900 - 300) and decision.rule == "client"
    assert limiter.check("web-new", "H07.99-251120-0099", client="198.51.100.4").allowed  # other clients go on


def test_a_strangers_failures_do_not_lock_the_owner_out(db):
    """Five wrong guesses on the owner's code lock it for the stranger's client only."""
    clock = Clock()
    limiter = AttemptLimiter(db, clock=clock)
    for i in range(5):
        limiter.record(f"stranger-{i}", CODE, success=False, client="203.0.113.7")
    stranger = limiter.check("stranger-9", CODE, client="203.0.113.7")
    assert not stranger.allowed and stranger.rule == "client+code"
    assert limiter.check("owner", CODE, client="198.51.100.4") == LimitDecision(True, 0)


def test_code_ceiling_stops_guessing_spread_over_many_clients(db):
    clock = Clock()
    limiter = AttemptLimiter(db, clock=clock, code_ceiling=6, code_ceiling_window_s=3600)
    for i in range(6):
        limiter.record(f"s-{i}", CODE, success=False, client=f"203.0.113.{i}")
        clock.now += 60
    decision = limiter.check("owner", CODE, client="198.51.100.4")
    assert decision == LimitDecision(False, 3600 - 360) and decision.rule == "code"
    assert limiter.check("owner", "H07.01-251126-0001", client="198.51.100.4").allowed
    clock.now += 3600 - 360
    assert limiter.check("owner", CODE, client="198.51.100.4").allowed  # a ceiling, not a lock forever


def test_one_client_alone_cannot_reach_the_code_ceiling():
    """The default numbers: a client's hourly maximum stays below the ceiling, so only many clients lock a code."""
    from core.status import ratelimit

    per_hour = ratelimit.CLIENT_MAX_FAILURES * (3600 // ratelimit.WINDOW_S)
    assert per_hour < ratelimit.CODE_CEILING and ratelimit.CODE_CEILING_WINDOW_S == 3600


def test_global_circuit_opens_on_a_burst_of_failures(db):
    clock = Clock()
    limiter = AttemptLimiter(db, clock=clock, global_max_failures=8, global_window_s=300)
    for i in range(8):
        limiter.record(f"s-{i}", f"H07.99-251120-{i:04d}", success=False, client=f"203.0.113.{i}")
    decision = limiter.check("owner", CODE, client="198.51.100.4")
    assert decision == LimitDecision(False, 300) and decision.rule == "global"
    clock.now += 300
    assert limiter.check("owner", CODE, client="198.51.100.4").allowed


def test_clients_are_stored_hashed(db):
    limiter = AttemptLimiter(db, clock=Clock())
    limiter.record("web-1", CODE, success=False, client="203.0.113.7")
    limiter.record("zalo-user", CODE, success=False)  # a channel without client addresses
    with db.read() as conn:
        clients = [row["client"] for row in conn.all("SELECT client FROM lookup_attempts ORDER BY id")]
    assert clients[1] is None and "203.0.113.7" not in clients[0] and len(clients[0]) == 32


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
