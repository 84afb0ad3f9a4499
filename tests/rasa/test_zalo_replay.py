"""Zalo replays (issue 13, finding 8): accepted event ids outlive the process, the signature is checked before the
body is parsed, and the health route shows details only to an operator."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid

import channels.zalo.input as zalo_input
from channels.zalo.seen import RedisSeenStore, SqliteSeenStore, seen_store_from_setting
from tests.fakes.zalo_api_server import sign, text_event
from tests.fakes.zalo_channel import APP_ID, SECRET, Bot, call, make_channel

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def accept(channel, bot, event):
    async def go():
        result = await call(channel, bot, event)
        await channel.dispatcher.join()
        return result

    return asyncio.run(go())


def test_replay_after_a_restart_is_refused(fake, tmp_path):
    event = text_event(APP_ID, "900", "làm giấy khai sinh cần giấy tờ gì", msg_id="replayed-1")
    bot = Bot()
    assert accept(make_channel(fake, tmp_path), bot, event) == (200, {"status": "accepted"})
    restarted = make_channel(fake, tmp_path)  # a new process (or the other replica) on the same store
    assert accept(restarted, bot, event) == (200, {"status": "duplicate"})
    assert bot.seen == [("900", "làm giấy khai sinh cần giấy tờ gì", "zalo", "replayed-1")]
    assert fake.delivered("900") == ["Đã nhận: làm giấy khai sinh cần giấy tờ gì"]
    assert restarted.health()["rejected"]["duplicate"] == 1


def test_forged_body_is_never_parsed(fake, tmp_path, monkeypatch):
    parsed = []
    monkeypatch.setattr(zalo_input, "load_body", lambda raw: parsed.append(raw) or {})
    channel = make_channel(fake, tmp_path)
    deeply_nested = b'{"timestamp": "1700000000000", "x": ' + b"[" * 200000 + b"]" * 200000 + b"}"
    status, body = asyncio.run(channel.handle_webhook(deeply_nested, "mac=" + "0" * 64, Bot()))
    assert (status, body) == (401, {"status": "invalid signature"})
    assert parsed == []


def test_signed_nested_body_is_parsed_and_malformed(fake, tmp_path):
    channel = make_channel(fake, tmp_path)
    now_ms = str(int(time.time() * 1000))
    raw = ('{"timestamp": "' + now_ms + '", "message": ' + "[" * 50000 + "]" * 50000 + "}").encode()
    status, body = asyncio.run(channel.handle_webhook(raw, sign(APP_ID, raw, now_ms, SECRET), Bot()))
    assert (status, body) == (400, {"status": "malformed"})


def test_signed_body_with_another_top_level_timestamp_is_malformed(fake, tmp_path):
    channel = make_channel(fake, tmp_path)
    event = text_event(APP_ID, "901", "xin chào")
    nested_ts = "1700000000000"
    raw = json.dumps({**event, "message": {**event["message"], "timestamp": nested_ts}}).encode()
    raw = raw.replace(f'"timestamp": "{event["timestamp"]}"'.encode(), b'"timestamp": "1"')
    status, _ = asyncio.run(channel.handle_webhook(raw, sign(APP_ID, raw, nested_ts, SECRET), Bot()))
    assert status == 400  # signed with the nested timestamp, but the event's own one differs


def test_health_is_a_bare_status_without_the_operator_token(fake, tmp_path):
    channel = make_channel(fake, tmp_path, health_token="operator-token-0123456789")
    channel.rejected["signature"] = 7
    assert channel.health_view(None) == {"status": "ok"}
    assert channel.health_view("Bearer wrong") == {"status": "ok"}
    details = channel.health_view("Bearer operator-token-0123456789")
    assert details["rejected"]["signature"] == 7 and "api" in details and "queue" in details
    no_token = make_channel(fake, tmp_path)  # no token configured: details for nobody
    assert no_token.health_view("Bearer ") == {"status": "ok"}


def test_sqlite_seen_store_expires_entries(tmp_path):
    now = [1000.0]
    store = SqliteSeenStore(tmp_path / "seen.db", clock=lambda: now[0])
    assert store.add("msg:a", 600) is True
    assert SqliteSeenStore(tmp_path / "seen.db", clock=lambda: now[0]).add("msg:a", 600) is False
    now[0] += 601
    assert store.add("msg:a", 600) is True  # the TTL passed
    store.discard("msg:a")
    assert store.add("msg:a", 600) is True


def test_redis_seen_store_is_shared_and_expires():
    """Needs the local Redis (127.0.0.1:6379, as in CI); fails, not skips, when it is absent."""
    prefix = f"test:zalo:seen:{uuid.uuid4().hex[:8]}:"
    one, other = RedisSeenStore(REDIS_URL, prefix=prefix), RedisSeenStore(REDIS_URL, prefix=prefix)
    try:
        assert one.add("msg:b", 2) is True
        assert other.add("msg:b", 2) is False  # another replica
        ttl = one.client.ttl(next(iter(one.client.scan_iter(prefix + "*"))))
        assert 0 < ttl <= 2
        one.discard("msg:b")
        assert other.add("msg:b", 2) is True
    finally:
        for key in one.client.scan_iter(prefix + "*"):
            one.client.delete(key)


def test_store_setting_picks_redis_or_sqlite(tmp_path):
    assert isinstance(seen_store_from_setting("redis://127.0.0.1:6379/2", tmp_path), RedisSeenStore)
    store = seen_store_from_setting("", tmp_path)
    assert isinstance(store, SqliteSeenStore) and store.path == tmp_path / "var" / "zalo_seen.db"
