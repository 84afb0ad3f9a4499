"""Persistent rate limit of status-lookup attempts: N failures per window per sender and per code."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Callable

from actions.services.appcode import extract_application_code
from actions.services.db import Database

MAX_FAILURES = 5
WINDOW_S = 15 * 60
# How long a successful lookup (both factors proved) lets the same conversation see the code again without
# re-typing the digits; attempts are kept this long (ActionSessionStart forgets the slot at a new session anyway).
VERIFIED_TTL_S = 24 * 60 * 60


@dataclass(frozen=True)
class LimitDecision:
    """Whether a new attempt is allowed now; if not, how many seconds until it is."""

    allowed: bool
    retry_after_s: int = 0


def _key(value: str) -> str:
    # Codes and sender ids are stored hashed: the attempts table is not a list of citizens' codes.
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


class AttemptLimiter:
    """Counts failed lookups in the services database (table ``lookup_attempts``).

    An attempt is refused while the sender, or the code, has ``max_failures`` failures within the last
    ``window_s`` seconds; ``retry_after_s`` says when the oldest of those failures leaves the window.
    Successful lookups are recorded but do not erase failures (so a valid code cannot be used to reset the
    counter between guesses on another one).
    """

    def __init__(self, store: Database, *, max_failures: int = MAX_FAILURES, window_s: int = WINDOW_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = store
        self.max_failures = max_failures
        self.window_s = window_s
        self.clock = clock

    @staticmethod
    def _code_key(code: str) -> str:
        return _key(extract_application_code(code) or code.strip().upper())

    def check(self, sender_id: str, code: str | None = None) -> LimitDecision:
        """May ``sender_id`` try (``code``) now? Checks the sender's and the code's recent failures."""
        now = self.clock()
        since = now - self.window_s
        waits = [0.0]
        with self.db.read() as conn:
            for column, key in (("sender", _key(sender_id)), ("code", self._code_key(code) if code else None)):
                if key is None:
                    continue
                rows = conn.all(
                    f"SELECT at_epoch FROM lookup_attempts WHERE {column} = ? AND success = ? AND at_epoch > ? "
                    "ORDER BY at_epoch DESC LIMIT ?",
                    (key, False, since, self.max_failures),
                )
                if len(rows) >= self.max_failures:
                    oldest = float(rows[-1]["at_epoch"])
                    waits.append(oldest + self.window_s - now)
        wait = max(waits)
        if wait <= 0:
            return LimitDecision(True, 0)
        return LimitDecision(False, max(1, math.ceil(wait)))

    def verified(self, sender_id: str, code: str) -> bool:
        """Whether this conversation (``sender_id``) proved both factors for ``code`` within VERIFIED_TTL_S.

        The server's own record: a tracker's ``verified_applications`` slot is only a hint, since whoever builds
        the tracker (a forged action call) could fill it with a guess.
        """
        since = self.clock() - VERIFIED_TTL_S
        with self.db.read() as conn:
            row = conn.one(
                "SELECT 1 AS ok FROM lookup_attempts WHERE sender = ? AND code = ? AND success = ? AND at_epoch > ? "
                "LIMIT 1",
                (_key(sender_id), self._code_key(code), True, since),
            )
        return row is not None

    def record(self, sender_id: str, code: str, success: bool) -> None:
        """Store one attempt (committed before returning) and prune attempts older than a day."""
        now = self.clock()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO lookup_attempts (sender, code, at_epoch, success) VALUES (?, ?, ?, ?)",
                (_key(sender_id), self._code_key(code), now, bool(success)),
            )
            conn.execute("DELETE FROM lookup_attempts WHERE at_epoch < ?",
                         (now - max(self.window_s, VERIFIED_TTL_S),))
