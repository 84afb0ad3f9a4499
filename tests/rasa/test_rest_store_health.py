"""The REST channel when a shared store is down: an apology instead of silence, and the store health route."""

from __future__ import annotations

import asyncio
import logging
import socket
from types import SimpleNamespace

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.lock_store import InMemoryLockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain

from channels.rest import ResilientRestInput
from channels.turn import store_down_reply


def closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unreachable_redis() -> RedisLockStore:
    """Rasa's Redis lock store pointed at a port where no Redis runs."""
    return RedisLockStore(host="127.0.0.1", port=closed_port(), socket_timeout=1)


def test_lock_store_down_gets_an_apology_and_an_error_log_without_the_message(caplog):
    lock_store = unreachable_redis()
    out = CollectingOutputChannel()
    text = "số điện thoại của tôi là 0912345678"

    async def on_new_message(message):
        async with lock_store.lock(message.sender_id):  # what Agent.handle_message does first
            await message.output_channel.send_text_message(message.sender_id, "never sent")

    with caplog.at_level(logging.ERROR, logger="channels.rest"):
        asyncio.run(ResilientRestInput().handle_message(UserMessage(text, out, "user-1"), on_new_message))
    assert [m["text"] for m in out.messages] == [store_down_reply()]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == ["Message not handled: lock store (Redis) failed (LockError); sent apology to the user."]
    assert "0912345678" not in caplog.text


def test_health_names_the_store_that_is_down_and_logs_it_once(tmp_path, caplog):
    tracker_store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "tracker.db"))
    agent = SimpleNamespace(lock_store=unreachable_redis(), tracker_store=tracker_store)
    channel = ResilientRestInput()
    with caplog.at_level(logging.ERROR, logger="channels.rest"):
        first = asyncio.run(channel.check_stores(agent))
        second = asyncio.run(channel.check_stores(agent))
    assert first == second == {"lock_store": "down", "tracker_store": "ok"}
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == ["Health: lock_store RedisLockStore is unreachable (ConnectionError)."]


def test_health_is_ok_with_the_embedded_stores(tmp_path):
    tracker_store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "tracker.db"))
    agent = SimpleNamespace(lock_store=InMemoryLockStore(), tracker_store=tracker_store)
    assert asyncio.run(ResilientRestInput().check_stores(agent)) == {"lock_store": "ok", "tracker_store": "ok"}


def test_unreachable_tracker_database_is_reported(tmp_path):
    import sqlalchemy as sa

    tracker_store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "tracker.db"))
    # The store's database server goes away: its engine now points at a PostgreSQL port where nothing listens.
    tracker_store.engine = sa.create_engine(f"postgresql://postgres@127.0.0.1:{closed_port()}/tthc")
    agent = SimpleNamespace(lock_store=InMemoryLockStore(), tracker_store=tracker_store)
    assert asyncio.run(ResilientRestInput().check_stores(agent)) == {"lock_store": "ok", "tracker_store": "down"}


def test_reconnecting_store_round_trips_and_pings_its_pool(tmp_path):
    from rasa.shared.core.events import ActionExecuted, UserUttered

    from channels.tracker_store import ReconnectingSQLTrackerStore

    store = ReconnectingSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "tracker.db"))
    assert store.engine.pool._pre_ping is True
    tracker = asyncio.run(store.get_or_create_tracker("user-1"))
    tracker.update(UserUttered("làm căn cước cần gì"))
    tracker.update(ActionExecuted("action_listen"))
    asyncio.run(store.save(tracker))
    again = asyncio.run(store.retrieve("user-1"))
    assert [e.as_dict()["event"] for e in again.events][-2:] == ["user", "action"]


def test_failed_read_is_marked_on_the_turn_sanitised_and_turns_the_answer_into_an_apology(tmp_path, caplog):
    import sqlalchemy as sa
    from rasa.core.tracker_store import FailSafeTrackerStore

    from channels.tracker_store import ReconnectingSQLTrackerStore, TrackerStoreUnavailable
    from channels.turn import tracked_turn

    store = ReconnectingSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "tracker.db"))
    store.engine = sa.create_engine(f"postgresql://postgres@127.0.0.1:{closed_port()}/tthc")
    store.sessionmaker = sa.orm.session.sessionmaker(bind=store.engine)
    with tracked_turn() as turn:
        try:
            asyncio.run(store.retrieve("citizen-0912345678"))
        except TrackerStoreUnavailable as exc:
            assert str(exc) == "OperationalError"
        else:
            raise AssertionError("retrieve should fail")
    assert turn.tracker_store_failed
    fail_safe = FailSafeTrackerStore(store)  # what Rasa wraps every store in
    out = CollectingOutputChannel()

    async def on_new_message(message):
        # Rasa's processor: the failed read becomes "no tracker", and the turn is answered from scratch.
        assert await fail_safe.retrieve(message.sender_id) is None
        await message.output_channel.send_text_message(message.sender_id, "Bạn cần làm thủ tục gì?")

    with caplog.at_level(logging.ERROR):
        asyncio.run(ResilientRestInput().handle_message(UserMessage("mã hồ sơ của tôi", out, "u-1"), on_new_message))
    assert [m["text"] for m in out.messages] == [store_down_reply()]
    assert "Message not handled: tracker store (SQL database) failed; sent apology to the user." in caplog.text
    assert "0912345678" not in caplog.text


def test_a_store_failure_in_another_conversation_does_not_withdraw_this_answer(tmp_path, caplog):
    """Two conversations at once: the tracker store fails for one of them while the other's turn is running. Only
    the failed turn is answered with the apology; the other keeps its answer (it was read and saved correctly)."""
    import sqlalchemy as sa
    from rasa.core.tracker_store import FailSafeTrackerStore
    from rasa.shared.core.events import UserUttered

    from channels.tracker_store import ReconnectingSQLTrackerStore

    working = FailSafeTrackerStore(
        ReconnectingSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "tracker.db")))
    broken_store = ReconnectingSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "other.db"))
    broken_store.engine = sa.create_engine(f"postgresql://postgres@127.0.0.1:{closed_port()}/tthc")
    broken_store.sessionmaker = sa.orm.session.sessionmaker(bind=broken_store.engine)
    broken = FailSafeTrackerStore(broken_store)
    channel = ResilientRestInput()

    async def actions_up():
        return True

    channel.action_server_is_up = actions_up

    async def go():
        steady_started, other_failed = asyncio.Event(), asyncio.Event()

        async def steady(message):  # reads and saves its tracker fine, but runs across the other turn's failure
            tracker = await working.get_or_create_tracker(message.sender_id)
            steady_started.set()
            await asyncio.wait_for(other_failed.wait(), 10)
            await message.output_channel.send_text_message(message.sender_id, "Lệ phí: miễn phí.")
            tracker.update(UserUttered(message.text))
            await working.save(tracker)

        async def failing(message):  # its read fails: Rasa's fail-safe store answers as if the conversation began
            await asyncio.wait_for(steady_started.wait(), 10)
            assert await broken.retrieve(message.sender_id) is None
            await message.output_channel.send_text_message(message.sender_id, "Bạn cần làm thủ tục gì?")
            other_failed.set()

        steady_out, failing_out = CollectingOutputChannel(), CollectingOutputChannel()
        await asyncio.gather(
            channel.handle_message(UserMessage("lệ phí bao nhiêu", steady_out, "citizen-a"), steady),
            channel.handle_message(UserMessage("mã hồ sơ của tôi", failing_out, "citizen-b"), failing),
        )
        return [m["text"] for m in steady_out.messages], [m["text"] for m in failing_out.messages]

    with caplog.at_level(logging.ERROR):
        steady_replies, failing_replies = asyncio.run(go())
    assert steady_replies == ["Lệ phí: miễn phí."]
    assert failing_replies == [store_down_reply()]
    assert caplog.text.count("Message not handled: tracker store (SQL database) failed") == 1, caplog.text
