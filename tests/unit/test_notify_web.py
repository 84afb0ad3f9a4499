"""Web chat delivery of status-change notifications (issue 17): the worker appends the notification, with its
"Hủy thông báo" button, to the citizen's conversation through the Rasa HTTP API (the fake Rasa server, JWT-checked)
and sends it through the socket.io channel the widget listens on; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.notifications.outbox import Outbox
from core.notifications.subscriptions import Subscriptions
from core.notifications.worker import WorkerRules
from notifier.__main__ import build_worker
from notifier.web import WebChatNotifier
from tests.fakes.notifications import (
    CODE,
    EXPECTED_TEXT,
    result_ready,
    seed_application,
    web_worker,
)
from tests.fakes.processes import free_port
from tests.fakes.rasa_server import FakeRasaServer

SECRET = "rasa-jwt-secret-0123456789abcdef"
SENDER = "web-3f9c2a7d0e5b4c1a9f8e7d6c5b4a3921"

PUSH = {"path": f"/conversations/{SENDER}/tracker/events",
        "query": {"output_channel": "socketio", "execute_side_effects": "true"},
        "body": [{"event": "bot", "text": EXPECTED_TEXT,
                  "data": {"buttons": [{"title": "Hủy thông báo", "payload": "/unsubscribe_notifications"}]},
                  "metadata": {"pushed": True, "notification": True, "notification_id": 1}}]}  # outbox row 1


@pytest.fixture
def rasa():
    server = FakeRasaServer(token=SECRET, conversations={SENDER}).start()
    yield server
    server.stop()


def subscribed_change(db, clock, channel: str = "rest", sender: str = SENDER) -> None:
    seed_application(db)
    Subscriptions(db, clock=clock).subscribe(channel, sender, CODE)
    result_ready(clock, db)


def log_of(db) -> list[tuple]:
    return [(e["outcome"], e["channel"], e["route"], e["error"], e["state"]) for e in reversed(Outbox(db).log())]


@pytest.mark.parametrize("channel", ["rest", "socketio"])
def test_notification_is_pushed_into_the_conversation_once(db, clock, rasa, channel):
    subscribed_change(db, clock, channel)
    worker = web_worker(db, rasa.url, SECRET, clock)
    assert worker.run_once() == 1
    assert rasa.reads == [f"/conversations/{SENDER}/story"]
    assert rasa.calls == [PUSH]
    assert log_of(db) == [("sent", channel, "socketio", None, "sent")]
    clock.advance(hours=2)
    assert worker.run_once() == 0
    assert rasa.calls == [PUSH]


def test_rasa_answering_503_is_retried_after_the_backoff(db, clock, rasa):
    subscribed_change(db, clock)
    worker = web_worker(db, rasa.url, SECRET, clock, rules=WorkerRules(backoff_s=30))
    rasa.fail, rasa.fail_status = True, 503
    assert worker.run_once() == 1
    assert rasa.calls == []
    rasa.fail = False
    clock.advance(seconds=29)
    assert worker.run_once() == 0
    clock.advance(seconds=1)
    assert worker.run_once() == 1
    assert rasa.calls == [PUSH]
    assert log_of(db) == [("retry", "rest", "socketio", "Rasa answered HTTP 503", "sent"),
                          ("sent", "rest", "socketio", None, "sent")]


def test_rasa_down_is_a_temporary_failure(db, clock):
    subscribed_change(db, clock)
    assert web_worker(db, f"http://127.0.0.1:{free_port()}", SECRET, clock).run_once() == 1
    assert log_of(db) == [("retry", "rest", "socketio", "Rasa unreachable: ConnectionError", "pending")]


def test_unknown_conversation_is_given_up_at_once(db, clock, rasa):
    subscribed_change(db, clock, sender="web-0000000000000000000000000000dead")
    assert web_worker(db, rasa.url, SECRET, clock).run_once() == 1
    assert rasa.calls == []
    assert log_of(db) == [("failed", "rest", "socketio", "conversation not found in Rasa", "failed")]


def test_a_wrong_api_secret_is_refused_and_retried_not_given_up(db, clock, rasa):
    subscribed_change(db, clock)
    assert web_worker(db, rasa.url, "a-wrong-secret-0123456789abcdef", clock).run_once() == 1
    assert rasa.calls == []
    assert log_of(db) == [("retry", "rest", "socketio", "Rasa answered HTTP 401", "pending")]


def test_worker_command_delivers_the_web_channels_through_rasa(settings_env):
    settings_env(RASA_URL="http://127.0.0.1:5999", RASA_API_TOKEN=SECRET)
    from settings import get_settings

    notifiers = build_worker(get_settings()).notifiers
    assert sorted(notifiers) == ["rest", "socketio", "zalo"]
    web = notifiers["rest"]
    assert isinstance(web, WebChatNotifier) and notifiers["socketio"] is web
    assert (web.rasa.base_url, web.rasa.token) == ("http://127.0.0.1:5999", SECRET)


def test_worker_command_takes_lease_and_quiet_hours_from_settings(settings_env):
    settings_env(NOTIFY_LEASE_S="15", NOTIFY_QUIET_HOURS="0")
    from settings import get_settings

    worker = build_worker(get_settings())
    assert worker.outbox.lease == timedelta(seconds=15)
    assert worker.rules.quiet_hours is False
    settings_env(NOTIFY_LEASE_S=None, NOTIFY_QUIET_HOURS=None)
    assert build_worker(get_settings()).outbox.lease == timedelta(seconds=120)
    assert build_worker(get_settings()).rules.quiet_hours is True
