"""Rasa's SQL tracker store on a SQLite file that cannot grow any more (Rasa venv): every save of a turn fails
with the real SQLITE_FULL error ("database or disk is full"), as on a full disk; and a stand-in for Rasa's
processor running two conversations' turns at the same time, one saved there and one saved correctly."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from channels.tracker_store import ReconnectingSQLTrackerStore

LONG_REPLY = "Cán bộ sẽ gọi lại cho bạn trong giờ hành chính, từ thứ Hai đến thứ Sáu."


def full_tracker_store(path, store_class=SQLTrackerStore) -> SQLTrackerStore:
    """Rasa's SQLTrackerStore (or ``store_class``) on a SQLite file that cannot grow any more."""
    store = store_class(Domain.empty(), dialect="sqlite", db=str(path))
    with store.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE filler (blob TEXT)"))
    with store.engine.connect() as conn:
        pages = conn.execute(sa.text("PRAGMA page_count")).scalar()
    store.engine.dispose()

    @sa.event.listens_for(store.engine, "connect")
    def cap(dbapi_connection, _record):  # every new connection sees the file as capped at its current size
        dbapi_connection.execute(f"PRAGMA max_page_count = {int(pages)}")

    with store.engine.connect() as conn:  # use up the free pages: the next write that needs a page fails
        for size in (2000, 200, 20):
            while True:
                try:
                    conn.execute(sa.text("INSERT INTO filler VALUES (:b)"), {"b": "x" * size})
                except sa.exc.OperationalError as exc:
                    assert "full" in str(exc)
                    break
    return store


def turn_events(text: str) -> list:
    """What Rasa saves after a turn: the user message and the bot's (long) replies, more than a full file takes."""
    return [UserUttered(text)] + [BotUttered(LONG_REPLY)] * 40


class TwoTurnsOneFailing:
    """Stands in for Rasa's processor (``on_new_message``) with the stores Rasa uses: its fail-safe wrapper around
    :class:`ReconnectingSQLTrackerStore`. The ``steady`` sender's turn reads its tracker, waits until the other
    turn's save has failed, then answers :attr:`STEADY_ANSWER` and saves into a working database; any other
    sender's turn answers :attr:`FAILING_ANSWER` and then saves into a full one (the wrapper swallows the error)."""

    STEADY_ANSWER = "Lệ phí: miễn phí."
    FAILING_ANSWER = "Cán bộ sẽ gọi lại cho bạn."

    def __init__(self, steady: str, tmp_path) -> None:
        self.steady = steady
        self.working = FailSafeTrackerStore(
            ReconnectingSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "working.db")))
        self.full = FailSafeTrackerStore(full_tracker_store(tmp_path / "tracker.db", ReconnectingSQLTrackerStore))
        self.steady_started = asyncio.Event()
        self.other_failed = asyncio.Event()

    async def __call__(self, message) -> None:
        out, sender = message.output_channel, message.sender_id
        if sender == self.steady:  # runs across the other sender's failed save
            tracker = await self.working.get_or_create_tracker(sender)
            self.steady_started.set()
            await asyncio.wait_for(self.other_failed.wait(), 10)
            await out.send_text_message(sender, self.STEADY_ANSWER)
            for event in turn_events(message.text):
                tracker.update(event)
            await self.working.save(tracker)
            return
        await asyncio.wait_for(self.steady_started.wait(), 10)
        await out.send_text_message(sender, self.FAILING_ANSWER)
        await self.full.save(DialogueStateTracker.from_events(sender, turn_events(message.text)))
        self.other_failed.set()
