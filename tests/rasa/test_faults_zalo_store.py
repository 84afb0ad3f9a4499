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

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from channels.rest import STORE_DOWN_REPLY
from tests.fakes.zalo_api_server import FakeZaloServer, text_event
from tests.fakes.zalo_channel import APP_ID, SECRET, call, make_channel

PHONE_TEXT = "số điện thoại của tôi là 0912 345 678, nhờ cán bộ gọi lại giúp"


@pytest.fixture
def fake():
    server = FakeZaloServer(app_id=APP_ID, secret_key=SECRET).start()
    yield server
    server.stop()


def full_tracker_store(path) -> SQLTrackerStore:
    """Rasa's SQLTrackerStore on a SQLite file that cannot grow any more."""
    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(path))
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
    assert fake.delivered("500") == ["Cán bộ sẽ gọi lại cho bạn.", STORE_DOWN_REPLY]
    assert "OperationalError" in caplog.text and "not handled" in caplog.text, caplog.text
    assert "0912" not in caplog.text and "gọi lại giúp" not in caplog.text, caplog.text
