"""The action server runs actions only for callers holding ACTION_SERVER_TOKEN, and listens on loopback by default.

The real rasa-sdk Sanic app (``rasa_sdk.endpoint.create_app``) with the project's plugin hooks applied, driven
in-process over ASGI.
"""

from __future__ import annotations

import pytest
from rasa_sdk import Action
from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic

import settings
from rasa_sdk_plugins import CallerAuthPlugin
from tests.fakes.asgi import asgi_request

TOKEN = "unit-action-token-4f1c"


class RecordingAction(Action):
    """Stands for action_deliver_staff_reply: records every run (nothing may run for an unauthenticated call)."""

    runs: list = []

    def name(self) -> str:
        return "action_deliver_staff_reply"

    async def run(self, dispatcher, tracker, domain):
        RecordingAction.runs.append(tracker.sender_id)
        dispatcher.utter_message(text="Cán bộ trả lời: hồ sơ của bạn đã được chuyển sang bộ phận tư pháp.")
        return []


def action_call(sender: str = "citizen-7") -> dict:
    latest = {"text": "cán bộ trả lời chưa", "intent": {"name": "ask_procedure", "confidence": 1.0}, "entities": []}
    return {
        "next_action": "action_deliver_staff_reply", "sender_id": sender, "version": "3.6.21", "domain": {},
        "tracker": {"sender_id": sender, "slots": {}, "latest_message": latest, "paused": False,
                    "events": [{"event": "user", "text": latest["text"], "parse_data": latest}],
                    "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen"},
    }


@pytest.fixture
def configure(monkeypatch):
    """Set the environment of the action server process and re-read the settings."""

    def apply(**env):
        for name in ("ACTION_SERVER_TOKEN", "ACTION_SERVER_HOST", "SANIC_HOST"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings.get_settings.cache_clear()

    yield apply
    settings.get_settings.cache_clear()


@pytest.fixture
def app(configure, monkeypatch):
    monkeypatch.setattr(Sanic, "test_mode", True)  # several apps named "rasa_sdk" in one process
    RecordingAction.runs = []
    executor = ActionExecutor()
    executor.register_action(RecordingAction())

    def build(**env):
        configure(**env)
        sanic_app = create_app(executor)
        CallerAuthPlugin().attach_sanic_app_extensions(sanic_app)
        return sanic_app

    return build


def call(sanic_app, method: str, path: str, **kwargs):
    return asgi_request(sanic_app, method, path, **kwargs)


def test_forged_action_call_without_the_token_is_refused_and_nothing_runs(app):
    sanic_app = app(ACTION_SERVER_TOKEN=TOKEN)
    resp = call(sanic_app, "POST", "/webhook", json=action_call())
    assert resp.status_code == 401
    assert resp.json() == {"error": "unauthorized"}
    assert RecordingAction.runs == []


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, "Bearer "])
def test_wrong_token_or_scheme_is_refused(app, header):
    sanic_app = app(ACTION_SERVER_TOKEN=TOKEN)
    resp = call(sanic_app, "POST", "/webhook", json=action_call(), headers={"Authorization": header})
    assert resp.status_code == 401
    assert RecordingAction.runs == []


def test_action_list_needs_the_token_too(app):
    sanic_app = app(ACTION_SERVER_TOKEN=TOKEN)
    assert call(sanic_app, "GET", "/actions").status_code == 401
    resp = call(sanic_app, "GET", "/actions", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 200
    assert resp.json() == [{"name": "action_deliver_staff_reply"}]


def test_rasa_with_the_token_runs_the_action(app):
    sanic_app = app(ACTION_SERVER_TOKEN=TOKEN)
    resp = call(sanic_app, "POST", "/webhook", json=action_call(), headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 200, resp.text
    assert [r["text"] for r in resp.json()["responses"]] == [
        "Cán bộ trả lời: hồ sơ của bạn đã được chuyển sang bộ phận tư pháp."]
    assert RecordingAction.runs == ["citizen-7"]


def test_no_configured_token_refuses_every_call(app):
    sanic_app = app()
    resp = call(sanic_app, "POST", "/webhook", json=action_call(), headers={"Authorization": "Bearer "})
    assert resp.status_code == 503
    assert RecordingAction.runs == []


def test_health_stays_open_for_the_channels_probes(app):
    sanic_app = app(ACTION_SERVER_TOKEN=TOKEN)
    resp = call(sanic_app, "GET", "/health")
    assert resp.status_code == 200 and resp.json() == {"status": "ok"}


def test_listens_on_loopback_unless_widened(app):
    import os

    app(SANIC_HOST="0.0.0.0")  # rasa-sdk's own default would be every interface
    assert os.environ["SANIC_HOST"] == "127.0.0.1"
    app(ACTION_SERVER_HOST="0.0.0.0")
    assert os.environ["SANIC_HOST"] == "0.0.0.0"
