"""Persistent rate limit of status-lookup attempts (issue 4; per client and global rules from issue 13).

Failures counted within a sliding window, per rule (an attempt is refused while any rule is full):

* per conversation (sender): MAX_FAILURES per WINDOW_S;
* per client (the address the channel saw, hashed; any sender, any code): CLIENT_MAX_FAILURES per WINDOW_S, so
  inventing new sender ids does not buy new guesses;
* per client and code: MAX_FAILURES per WINDOW_S. A stranger's wrong guesses lock the code for that stranger
  only, never for the owner who proves the other factor from another client;
* per code from all clients (ceiling): CODE_CEILING failures per CODE_CEILING_WINDOW_S, above what one client
  can reach alone (CLIENT_MAX_FAILURES * 4 per hour), against guessing spread over many clients;
* everything (circuit): GLOBAL_MAX_FAILURES per GLOBAL_WINDOW_S, a burst of failures from everywhere pauses
  lookups for everyone until it leaves the window.

Channels that authenticate their users themselves (Zalo) pass no client: the per-conversation rule holds for them.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import KW_ONLY, dataclass, field
from typing import Callable, List, Optional, Tuple

from core.appcode import extract_application_code
from core.db import Database

MAX_FAILURES = 5
WINDOW_S = 15 * 60
CLIENT_MAX_FAILURES = 10
CODE_CEILING = 50
CODE_CEILING_WINDOW_S = 60 * 60
GLOBAL_MAX_FAILURES = 200
GLOBAL_WINDOW_S = 5 * 60
# How long a successful lookup (both factors proved) lets the same conversation see the code again without
# re-typing the digits; attempts are kept this long (ActionSessionStart forgets the slot at a new session anyway).
VERIFIED_TTL_S = 24 * 60 * 60


@dataclass(frozen=True)
class LimitDecision:
    """Whether a new attempt is allowed now; if not, how many seconds until it is (and which rule refused)."""

    allowed: bool
    retry_after_s: int = 0
    rule: str = field(default="", compare=False)  # informative (logs), not part of the decision


def _key(value: str) -> str:
    # Codes, sender ids and clients are stored hashed: the attempts table is not a list of citizens' codes.
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


@dataclass(eq=False)
class AttemptLimiter:
    """Counts failed lookups in the services database (table ``lookup_attempts``), rules in the module docstring.

    ``retry_after_s`` says when the oldest failure of the fullest rule leaves its window. Successful lookups are
    recorded but do not erase failures (so a valid code cannot be used to reset the counter between guesses on
    another one). Only the database is positional; the rules' limits and the clock are keyword arguments.
    """

    db: Database
    _: KW_ONLY
    max_failures: int = MAX_FAILURES
    window_s: int = WINDOW_S
    client_max_failures: int = CLIENT_MAX_FAILURES
    code_ceiling: int = CODE_CEILING
    code_ceiling_window_s: int = CODE_CEILING_WINDOW_S
    global_max_failures: int = GLOBAL_MAX_FAILURES
    global_window_s: int = GLOBAL_WINDOW_S
    clock: Callable[[], float] = time.time

    @staticmethod
    def _code_key(code: str) -> str:
        return _key(extract_application_code(code) or code.strip().upper())

    def _rules(self, sender_id: str, code: Optional[str], client: Optional[str]) -> List[Tuple[str, dict, int, int]]:
        """(name, column -> key, max failures, window) of every rule that applies to this attempt."""
        rules = [("sender", {"sender": _key(sender_id)}, self.max_failures, self.window_s)]
        code_key = self._code_key(code) if code else None
        if client:
            rules.append(("client", {"client": _key(client)}, self.client_max_failures, self.window_s))
            if code_key:
                rules.append(("client+code", {"client": _key(client), "code": code_key}, self.max_failures,
                              self.window_s))
        if code_key:
            rules.append(("code", {"code": code_key}, self.code_ceiling, self.code_ceiling_window_s))
        rules.append(("global", {}, self.global_max_failures, self.global_window_s))
        return rules

    def check(self, sender_id: str, code: str | None = None, client: str | None = None) -> LimitDecision:
        """May ``sender_id`` (from ``client``, when the channel knows it) try ``code`` now?"""
        now = self.clock()
        worst = LimitDecision(True, 0)
        with self.db.read() as conn:
            for name, keys, limit, window in self._rules(sender_id, code, client):
                where = "".join(f" AND {column} = ?" for column in keys)
                rows = conn.all(
                    f"SELECT at_epoch FROM lookup_attempts WHERE success = ? AND at_epoch > ?{where} "
                    "ORDER BY at_epoch DESC LIMIT ?",
                    (False, now - window, *keys.values(), limit),
                )
                if len(rows) >= limit:
                    wait = max(1, math.ceil(float(rows[-1]["at_epoch"]) + window - now))
                    if wait > worst.retry_after_s:
                        worst = LimitDecision(False, wait, name)
        return worst

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

    def record(self, sender_id: str, code: str, success: bool, client: str | None = None) -> None:
        """Store one attempt (committed before returning) and prune attempts older than a day."""
        now = self.clock()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO lookup_attempts (sender, code, at_epoch, success, client) VALUES (?, ?, ?, ?, ?)",
                (_key(sender_id), self._code_key(code), now, bool(success), _key(client) if client else None),
            )
            conn.execute("DELETE FROM lookup_attempts WHERE at_epoch < ?",
                         (now - max(self.window_s, VERIFIED_TTL_S),))
