"""One chat turn as every channel runs it: whether its stores failed, and the apologies that replace its answer.

Rasa wraps the tracker store in ``FailSafeTrackerStore``, which turns a failed read into "no tracker" and a failed
save into a log line: the turn is answered as if the conversation had just begun, and then forgotten. The store
(channels/tracker_store.py) records such a failure on the turn it happens in (:func:`record_tracker_store_failure`,
a context variable set by :func:`run_turn`), never on the process: a failure in another conversation running at
the same time leaves this turn's answer alone. A store that raises (the Redis lock store, a store outside the
fail-safe wrapper) fails the turn the same way.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterator, Optional

from rasa.core.channels.channel import UserMessage

ACTIONS_DOWN_REPLY = (
    "Xin lỗi, hệ thống trợ lý đang gặp sự cố tạm thời nên chưa trả lời được câu hỏi này. "
    "Bạn vui lòng thử lại sau ít phút, hoặc gọi tổng đài hỗ trợ Dịch vụ công {hotline} (miễn phí)."
)
# A store (Redis lock store, SQL tracker store) failed while handling the message: nothing was recorded, so the
# citizen is asked to send it again.
STORE_DOWN_REPLY = (
    "Xin lỗi, hệ thống trợ lý đang gặp sự cố tạm thời nên chưa nhận được tin nhắn này. "
    "Bạn vui lòng gửi lại sau ít phút, hoặc gọi tổng đài hỗ trợ Dịch vụ công {hotline} (miễn phí)."
)
TRACKER_STORE = "tracker store (SQL database)"


def _hotline() -> str:
    from settings import get_settings

    return get_settings().support_hotline


def actions_down_reply() -> str:
    """The apology sent when the action server cannot be reached (with the SUPPORT_HOTLINE number)."""
    return ACTIONS_DOWN_REPLY.format(hotline=_hotline())


def store_down_reply() -> str:
    """The apology sent when a store failed during the turn (with the SUPPORT_HOTLINE number)."""
    return STORE_DOWN_REPLY.format(hotline=_hotline())


@dataclass
class Turn:
    """What happened to the stores while Rasa handled one message."""

    tracker_store_failed: bool = False  # marked by the tracker store (Rasa's fail-safe wrapper hides the error)
    error: Optional[str] = None  # what raised out of Rasa, e.g. "lock store (Redis) failed (LockError)"

    @property
    def failure(self) -> Optional[str]:
        """What failed, for the log line; ``None`` when the turn was handled and saved."""
        if self.error:
            return self.error
        return f"{TRACKER_STORE} failed" if self.tracker_store_failed else None


_current_turn: ContextVar[Optional[Turn]] = ContextVar("channels_turn", default=None)


@contextmanager
def tracked_turn() -> Iterator[Turn]:
    """The turn of the code run inside (tasks started inside share it: they copy the context, not the turn)."""
    turn = Turn()
    token = _current_turn.set(turn)
    try:
        yield turn
    finally:
        _current_turn.reset(token)


def record_tracker_store_failure() -> None:
    """Mark the running turn's tracker store as failed (no turn outside a channel's message: nothing to mark)."""
    turn = _current_turn.get()
    if turn is not None:
        turn.tracker_store_failed = True


def failure_source(exc: BaseException) -> str:
    """Which store an exception raised while handling a message points at (for the log line)."""
    from rasa.core.lock_store import LockError

    if isinstance(exc, LockError):
        return "lock store (Redis)"
    module = type(exc).__module__ or ""
    if module.startswith(("sqlalchemy", "psycopg2")):
        return TRACKER_STORE
    if module.startswith("redis"):
        return "lock store (Redis)"
    return "message handling"


async def run_turn(message: UserMessage, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Turn:
    """Pass ``message`` to Rasa and return its turn: when ``turn.failure`` is set, the channel sends
    :func:`store_down_reply` (a turn whose tracker store failed was answered without the conversation's history,
    or will be forgotten).

    Only an exception's type is named: SQL errors quote their parameters, i.e. the citizen's message.
    """
    with tracked_turn() as turn:
        try:
            await on_new_message(message)
        except Exception as exc:  # noqa: BLE001 - a store is down: the channel apologises instead of an empty answer
            turn.error = f"{failure_source(exc)} failed ({type(exc).__name__})"
    return turn
