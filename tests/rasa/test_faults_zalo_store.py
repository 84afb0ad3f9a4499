"""Fault: a Zalo turn whose conversation cannot be saved (tracker SQLite full) gets an apology, like REST.

The error is real: Rasa's own SQLTrackerStore saving into a SQLite file capped with ``PRAGMA max_page_count``
(SQLITE_FULL). ``on_new_message`` stands in for Rasa's processor: it answers, then saves the tracker (as
``MessageProcessor.handle_message`` does), and the save raises. Stock Rasa wraps the store in
FailSafeTrackerStore, which swallows save errors; stores that re-raise (channels/tracker_store.py) and the
Redis lock store reach the channel this way.
"""

from __future__ import annotations

import asyncio
import logging
import zlib

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from channels.tracker_store import ReconnectingSQLTrackerStore
from channels.turn import store_down_reply
from tests.fakes.zalo_api_server import FakeZaloServer, text_event
from tests.fakes.zalo_channel import APP_ID, SECRET, call, make_channel

PHONE_TEXT = "số điện thoại của tôi là 0912 345 678, nhờ cán bộ gọi lại giúp"


@pytest.fixture
def fake():
    server = FakeZaloServer(app_id=APP_ID, secret_key=SECRET).start()
    yield server
    server.stop()


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


def test_zalo_turn_not_saved_gets_the_apology_and_no_user_text_in_the_log(fake, tmp_path, caplog):
    channel = make_channel(fake, tmp_path)
    store = full_tracker_store(tmp_path / "tracker.db")

    async def processor(message):
        await message.output_channel.send_text_message(message.sender_id, "Cán bộ sẽ gọi lại cho bạn.")
        tracker = DialogueStateTracker(message.sender_id, [])
        # A whole turn's events (Rasa saves the user message, the actions and the replies together).
        tracker.update(UserUttered(message.text))
        for _ in range(40):
            tracker.update(BotUttered("Cán bộ sẽ gọi lại cho bạn trong giờ hành chính, từ thứ Hai đến thứ Sáu."))
        await store.save(tracker)  # SQLITE_FULL: "database or disk is full"

    async def go():
        with caplog.at_level(logging.ERROR):
            status = await call(channel, processor, text_event(APP_ID, "500", PHONE_TEXT, msg_id="full-1"))
            await channel.dispatcher.join()
        return status

    status = asyncio.run(go())
    assert status == (200, {"status": "accepted"})
    assert fake.delivered("500") == ["Cán bộ sẽ gọi lại cho bạn.", store_down_reply()]
    assert "OperationalError" in caplog.text and "not handled" in caplog.text, caplog.text
    assert "0912" not in caplog.text and "gọi lại giúp" not in caplog.text, caplog.text


def users_on_different_workers(channel) -> tuple:
    """Two Zalo user ids whose messages go to different worker queues, so that their turns run at the same time."""
    def queue(user: str) -> int:
        return zlib.crc32(user.encode("utf-8")) % channel.dispatcher.workers

    users = [str(800 + i) for i in range(50)]
    return users[0], next(user for user in users if queue(user) != queue(users[0]))


def turn_events(text: str):
    """What Rasa saves after a turn: the user message and the bot's (long) replies."""
    events = [UserUttered(text)]
    events += [BotUttered("Cán bộ sẽ gọi lại cho bạn trong giờ hành chính, từ thứ Hai đến thứ Sáu.")] * 40
    return events


def test_a_failed_save_gets_the_apology_and_leaves_another_users_turn_alone(fake, tmp_path, caplog):
    """Rasa's fail-safe store swallows a failed save, so the turn is answered and then forgotten: that turn gets the
    apology after its answer. Another user's turn running at the same time, saved correctly, gets only its answer."""
    channel = make_channel(fake, tmp_path, workers=2)
    steady_user, failing_user = users_on_different_workers(channel)
    working = FailSafeTrackerStore(
        ReconnectingSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "working.db")))
    full = FailSafeTrackerStore(full_tracker_store(tmp_path / "tracker.db", ReconnectingSQLTrackerStore))

    async def go():
        steady_started, other_failed = asyncio.Event(), asyncio.Event()

        async def processor(message):
            if message.sender_id == steady_user:  # runs across the other user's failed save
                tracker = await working.get_or_create_tracker(message.sender_id)
                steady_started.set()
                await asyncio.wait_for(other_failed.wait(), 10)
                await message.output_channel.send_text_message(message.sender_id, "Lệ phí: miễn phí.")
                for event in turn_events(message.text):
                    tracker.update(event)
                await working.save(tracker)
                return
            await asyncio.wait_for(steady_started.wait(), 10)
            await message.output_channel.send_text_message(message.sender_id, "Cán bộ sẽ gọi lại cho bạn.")
            await full.save(DialogueStateTracker.from_events(message.sender_id, turn_events(message.text)))
            other_failed.set()

        with caplog.at_level(logging.ERROR):
            statuses = [await call(channel, processor, text_event(APP_ID, steady_user, "lệ phí bao nhiêu")),
                        await call(channel, processor, text_event(APP_ID, failing_user, PHONE_TEXT))]
            await channel.dispatcher.join()
        return statuses

    assert asyncio.run(go()) == [(200, {"status": "accepted"})] * 2
    assert fake.delivered(steady_user) == ["Lệ phí: miễn phí."]
    assert fake.delivered(failing_user) == ["Cán bộ sẽ gọi lại cho bạn.", store_down_reply()]
    assert "not handled: tracker store (SQL database) failed" in caplog.text, caplog.text
    assert "0912" not in caplog.text and "gọi lại giúp" not in caplog.text, caplog.text
