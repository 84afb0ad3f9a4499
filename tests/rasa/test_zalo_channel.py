"""Zalo OA channel: signature, parser, splitting, token store, API client and webhook checks (Rasa venv).

The API client and the webhook run against tests/fakes/zalo_api_server.py over real loopback HTTP; Rasa's
agent is replaced by a stub ``on_new_message`` here (tests/e2e/test_zalo_channel.py uses the real server).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat
import time

import pytest
from rasa.shared.exceptions import RasaException

from channels.zalo.api import TokenStore, ZaloApiClient, ZaloApiError
from channels.zalo.input import ZaloInput
from channels.zalo.parser import (
    CHOICE_PROMPT,
    FOLLOW_REPLY,
    KIND_IGNORE,
    KIND_REPLY,
    KIND_TEXT,
    buttons_to_text,
    load_body,
    parse_choice,
    parse_event,
    split_text,
)
from channels.zalo.signature import is_fresh, signature_matches, zalo_signature
from core.zalo_tokens import refresh_answer
from tests.fakes.zalo_api_server import sign, text_event
from tests.fakes.zalo_channel import APP_ID, SECRET, Bot, call, make_channel

# --- signature ------------------------------------------------------------------------------------


def test_signature_formula_matches_zalo_definition():
    body = b'{"event_name":"user_send_text","timestamp":"1700000000000"}'
    expected = "mac=" + hashlib.sha256(b"app" + body + b"1700000000000" + b"secret").hexdigest()
    assert zalo_signature("app", body, "1700000000000", "secret") == expected
    assert zalo_signature("app", body, "1700000000000", "secret") == sign("app", body, "1700000000000", "secret")


@pytest.mark.parametrize(
    "received, ok",
    [("SAME", True), ("SAME_UPPER", True), ("", False), (None, False), ("mac=deadbeef", False), ("BODY", False)],
)
def test_signature_comparison(received, ok):
    body = b'{"a":"1"}'
    expected = zalo_signature("app", body, "1", "secret")
    value = {
        "SAME": expected,
        "SAME_UPPER": "mac=" + expected[4:].upper(),
        "BODY": zalo_signature("app", body + b" ", "1", "secret"),
    }.get(received, received)
    assert signature_matches(value, expected) is ok


def test_timestamp_window():
    now = 1_700_000_000.0
    assert is_fresh(str(int(now * 1000) - 299_000), 300, now=now)
    assert not is_fresh(str(int(now * 1000) - 301_000), 300, now=now)
    assert not is_fresh(str(int(now * 1000) + 301_000), 300, now=now)
    assert is_fresh(str(int(now)), 300, now=now)  # seconds are accepted
    assert not is_fresh("", 300, now=now) and not is_fresh("abc", 300, now=now)


# --- parser ---------------------------------------------------------------------------------------


def test_text_event_keeps_ids_and_timestamp_as_strings_even_if_sent_as_numbers():
    raw = (
        b'{"app_id": 1234567890123456789, "event_name": "user_send_text", "timestamp": 1700000000123,'
        b' "sender": {"id": 9876543210987654321}, "message": {"text": "xin ch\\u00e0o", "msg_id": "abc"}}'
    )
    event = parse_event(load_body(raw))
    assert event.kind == KIND_TEXT and event.text == "xin chào"
    assert event.user_id == "9876543210987654321"  # no float/int rounding
    assert event.app_id == "1234567890123456789" and event.timestamp == "1700000000123"
    assert event.dedupe_key == "msg:abc"


@pytest.mark.parametrize(
    "name, kind, needle",
    [
        ("user_send_image", KIND_REPLY, "hình ảnh"),
        ("user_send_sticker", KIND_REPLY, "nhãn dán"),
        ("user_send_location", KIND_REPLY, "vị trí"),
        ("user_send_audio", KIND_REPLY, "tin nhắn thoại"),
        ("user_send_something_new", KIND_REPLY, "tin nhắn"),
        ("unfollow", KIND_IGNORE, None),
        ("user_seen_message", KIND_IGNORE, None),
        ("oa_send_text", KIND_IGNORE, None),
        ("add_user_to_tag", KIND_IGNORE, None),
    ],
)
def test_other_events(name, kind, needle):
    event = parse_event({"event_name": name, "timestamp": "1", "sender": {"id": "42"}, "app_id": "1"})
    assert event.kind == kind
    if needle:
        assert needle in event.reply and "dạng chữ" in event.reply


def test_follow_event_uses_follower_id_and_welcomes():
    event = parse_event({"event_name": "follow", "timestamp": "5", "follower": {"id": "77"}, "oa_id": "1"})
    assert (event.kind, event.user_id, event.reply) == (KIND_REPLY, "77", FOLLOW_REPLY)
    assert event.dedupe_key == "evt:follow:77:5"


# --- splitting and buttons --------------------------------------------------------------------------


def test_short_text_is_one_piece():
    assert split_text("  Xin chào bạn.  ") == ["Xin chào bạn."]


def test_long_text_splits_on_paragraphs_then_sentences_within_limit():
    paragraph = "Hồ sơ gồm tờ khai đăng ký khai sinh theo mẫu. " * 20  # 920 chars
    text = "\n\n".join([paragraph.strip()] * 4)
    pieces = split_text(text, 2000)
    assert all(len(p) <= 2000 for p in pieces) and len(pieces) == 2
    assert pieces[0].endswith("theo mẫu.") and pieces[1].startswith("Hồ sơ")
    assert "".join(pieces).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")
    sentences = split_text(paragraph * 3, 500)
    assert all(len(p) <= 500 and p.endswith(".") for p in sentences)


def test_text_without_any_boundary_is_cut_hard():
    pieces = split_text("x" * 4500, 2000)
    assert [len(p) for p in pieces] == [2000, 2000, 500]


def test_buttons_become_numbered_list_and_numbers_map_back():
    text = buttons_to_text(
        "Bạn muốn gặp cán bộ không?",
        [{"title": "Có, gặp cán bộ", "payload": "/affirm"}, {"title": "Không", "payload": "/deny"}],
    )
    assert text == f"Bạn muốn gặp cán bộ không?\n\n{CHOICE_PROMPT}\n1. Có, gặp cán bộ\n2. Không"
    assert [parse_choice(s) for s in ("1", " 2. ", "số 3", "chọn 4)", "12", "1 2", "một", "")] == [
        1, 2, 3, 4, 12, None, None, None,
    ]


# --- token store ------------------------------------------------------------------------------------


def test_token_store_is_private_and_survives_restart(tmp_path):
    path = tmp_path / "var" / "zalo_tokens.json"
    store = TokenStore(path, "at-env", "rt-env")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    store.save("at-new", "rt-new")
    again = TokenStore(path, "at-env", "rt-env")  # same environment, after a restart
    assert (again.access_token, again.refresh_token) == ("at-new", "rt-new")
    operator = TokenStore(path, "at-operator", "rt-operator")  # the operator re-authorised the app
    assert (operator.access_token, operator.refresh_token) == ("at-operator", "rt-operator")
    assert json.loads(path.read_text())["refresh_token"] == "rt-operator"


# --- API client against the fake server -------------------------------------------------------------


def make_client(fake, tmp_path, **kwargs):
    tokens = TokenStore(tmp_path / "tokens.json", fake.access_token, fake.refresh_token)
    return ZaloApiClient(APP_ID, SECRET, tokens, api_base=fake.url, oauth_base=fake.url,
                         backoff_seconds=0.01, **kwargs)


def test_send_text_posts_zalo_request(fake, tmp_path):
    client = make_client(fake, tmp_path)
    answer = asyncio.run(client.send_text("100", "Xin chào"))
    assert answer["error"] == 0
    [call] = fake.calls("/v3.0/oa/message/cs")
    assert call.headers["access_token"] == "fake-access-0"
    assert call.json == {"recipient": {"user_id": "100"}, "message": {"text": "Xin chào"}}


def test_expired_token_is_refreshed_stored_and_retried_once(fake, tmp_path):
    client = make_client(fake, tmp_path)
    fake.expire_access_token()
    asyncio.run(client.send_text("100", "Lệ phí 8.000 đồng"))
    assert fake.delivered("100") == ["Lệ phí 8.000 đồng"]
    [refresh] = fake.calls("/v4/oa/access_token")
    assert refresh.headers["secret_key"] == SECRET
    assert refresh.form == {"refresh_token": "fake-refresh-0", "app_id": APP_ID, "grant_type": "refresh_token"}
    stored = json.loads((tmp_path / "tokens.json").read_text())
    assert (stored["access_token"], stored["refresh_token"]) == ("fake-access-1", "fake-refresh-1")
    assert client.health.token_refreshes == 1
    # After a restart the stored (rotated) refresh token is used, not the stale one from the environment.
    restarted = TokenStore(tmp_path / "tokens.json", "fake-access-0", "fake-refresh-0")
    assert restarted.refresh_token == "fake-refresh-1"


def test_token_refreshed_by_another_process_is_used_without_a_second_refresh(fake, tmp_path):
    client = make_client(fake, tmp_path)
    worker_tokens = TokenStore(tmp_path / "tokens.json", fake.access_token, fake.refresh_token)
    fake.expire_access_token()
    # The notification worker (another process) refreshed first; the channel still holds the old token.
    worker_tokens.refresh(worker_tokens.access_token, lambda refresh_token: refresh_answer(200, {
        "access_token": "worker-access", "refresh_token": "worker-refresh"}))
    fake.access_token = "worker-access"
    asyncio.run(client.send_text("100", "Lệ phí 8.000 đồng"))
    assert fake.delivered("100") == ["Lệ phí 8.000 đồng"]
    assert fake.calls("/v4/oa/access_token") == [] and client.health.token_refreshes == 0
    assert client.tokens.refresh_token == "worker-refresh"


def test_refused_refresh_is_permanent(fake, tmp_path):
    client = make_client(fake, tmp_path)
    fake.expire_access_token()
    fake.refresh_token = "rotated-elsewhere"
    with pytest.raises(ZaloApiError) as err:
        asyncio.run(client.send_text("100", "x"))
    assert err.value.code == -14014 and len(fake.calls("/v3.0/oa/message/cs")) == 1


@pytest.mark.parametrize("status", [503, 0])
def test_transient_outage_is_retried_with_backoff(fake, tmp_path, status):
    client = make_client(fake, tmp_path, max_retries=3)
    fake.outage(2, status=status)
    asyncio.run(client.send_text("100", "Thời hạn 5 ngày làm việc."))
    assert fake.delivered() == ["Thời hạn 5 ngày làm việc."]
    assert len(fake.calls("/v3.0/oa/message/cs")) == 3 and client.health.retries == 2


def test_long_outage_and_permanent_error_give_up(fake, tmp_path):
    client = make_client(fake, tmp_path, max_retries=2)
    fake.outage(5)
    with pytest.raises(ZaloApiError) as err:
        asyncio.run(client.send_text("100", "a"))
    assert err.value.code == "unavailable" and len(fake.calls("/v3.0/oa/message/cs")) == 3
    fake.reset()
    fake.fail_next(-213, "User has not followed OA")
    with pytest.raises(ZaloApiError) as err:
        asyncio.run(client.send_text("100", "a"))
    assert err.value.code == -213 and len(fake.calls("/v3.0/oa/message/cs")) == 1


# --- input channel ------------------------------------------------------------------------------------


def test_missing_credentials_name_the_env_vars():
    with pytest.raises(RasaException) as err:
        ZaloInput.from_credentials({"app_id": "1", "oa_secret_key": "", "access_token": "a"})
    assert "ZALO_OA_SECRET_KEY" in str(err.value) and "ZALO_REFRESH_TOKEN" in str(err.value)
    assert "ZALO_APP_ID" not in str(err.value)


def run_calls(channel, bot, calls):
    async def go():
        results = [await call(channel, bot, *c) for c in calls]
        await channel.dispatcher.join()
        return results

    return asyncio.run(go())


def test_webhook_rejects_forged_stale_malformed_and_duplicates(fake, tmp_path):
    channel, bot = make_channel(fake, tmp_path), Bot()
    good = text_event(APP_ID, "200", "xin chào", msg_id="m1")
    stale = text_event(APP_ID, "200", "cũ", msg_id="m2", timestamp_ms=int(time.time() * 1000) - 10 * 60 * 1000)
    broken = ('{"timestamp": "%s", "event_name": ' % good["timestamp"]).encode()  # signed, but not JSON
    results = run_calls(channel, bot, [
        (good, "mac=" + "0" * 64),
        (good, ""),
        (dict(good, message={"text": "sửa", "msg_id": "m1"}), sign(APP_ID, b"other", good["timestamp"], SECRET)),
        (stale,),
        (good, None, broken),
        (good, None, b"not json"),  # no timestamp in the body: its signature cannot be valid
        (good,),
        (good,),
    ])
    assert [r[0] for r in results] == [401, 401, 401, 403, 400, 401, 200, 200]
    assert [r[1]["status"] for r in results[-2:]] == ["accepted", "duplicate"]
    assert bot.seen == [("200", "xin chào", "zalo", "m1")]
    assert fake.delivered("200") == ["Đã nhận: xin chào"]
    assert channel.health()["rejected"] == {"signature": 4, "stale": 1, "malformed": 1, "duplicate": 1, "busy": 0}


def test_per_user_order_is_kept_while_users_run_in_parallel(fake, tmp_path):
    channel, bot = make_channel(fake, tmp_path, workers=4), Bot()
    events = []
    for i in range(5):
        events.append((text_event(APP_ID, "300", f"a{i} chậm"),))
        events.append((text_event(APP_ID, "301", f"b{i}"),))
    results = run_calls(channel, bot, events)
    assert all(r[0] == 200 for r in results)
    assert fake.delivered("300") == [f"Đã nhận: a{i} chậm" for i in range(5)]
    assert fake.delivered("301") == [f"Đã nhận: b{i}" for i in range(5)]


def test_full_queue_answers_503_and_forgets_the_id(fake, tmp_path):
    channel = make_channel(fake, tmp_path, workers=1, queue_capacity=1)
    first, second, third = (text_event(APP_ID, "400", text) for text in ("một", "hai", "ba"))
    release = asyncio.Event()
    seen = []

    async def bot(message):  # the worker stays on the first message until released
        seen.append(message.text)
        if message.text == "một":
            await release.wait()

    async def go():
        a = await call(channel, bot, first)
        while not seen:  # the worker holds "một"
            await asyncio.sleep(0.001)
        b = await call(channel, bot, second)  # waits in the queue (capacity 1)
        c = await call(channel, bot, third)  # queue full: Zalo is asked to retry
        release.set()
        await channel.dispatcher.join()
        retry = await call(channel, bot, third)  # Zalo's retry is accepted (the id was forgotten)
        await channel.dispatcher.join()
        return a[0], b[0], c[0], retry[0]

    assert asyncio.run(go()) == (200, 200, 503, 200)
    assert seen == ["một", "hai", "ba"]


def test_number_reply_maps_to_button_payload_once(fake, tmp_path):
    channel, bot = make_channel(fake, tmp_path), Bot()
    run_calls(channel, bot, [(text_event(APP_ID, "500", "nút"),), (text_event(APP_ID, "500", "2"),),
                             (text_event(APP_ID, "500", "1"),)])
    assert [s[1] for s in bot.seen] == ["nút", "Không", "1"]
    assert fake.delivered("500")[0] == f"Chọn một:\n\n{CHOICE_PROMPT}\n1. Có\n2. Không"


def test_non_text_events_get_polite_reply_without_rasa(fake, tmp_path):
    channel, bot = make_channel(fake, tmp_path), Bot()
    ts = str(int(time.time() * 1000))
    image = {"app_id": APP_ID, "event_name": "user_send_image", "timestamp": ts, "sender": {"id": "600"},
             "message": {"msg_id": "img1", "attachments": [{"type": "image", "payload": {"url": "https://x/y.jpg"}}]}}
    unfollow = {"app_id": APP_ID, "event_name": "unfollow", "timestamp": ts, "follower": {"id": "600"}}
    results = run_calls(channel, bot, [(image,), (unfollow,)])
    assert [r[1]["status"] for r in results] == ["accepted", "ignored"]
    assert bot.seen == [] and len(fake.delivered("600")) == 1 and "hình ảnh" in fake.delivered("600")[0]


def test_undeliverable_reply_shows_in_health_and_silence_gets_apology(fake, tmp_path):
    channel = make_channel(fake, tmp_path, send_retries=1)
    fake.outage(10)

    async def silent(message):
        return None

    run_calls(channel, Bot(), [(text_event(APP_ID, "700", "a"),)])
    health = channel.health()
    assert health["status"] == "degraded" and health["api"]["last_error"]["code"] == "unavailable"
    assert "700" not in json.dumps(health)
    fake.reset()
    run_calls(channel, silent, [(text_event(APP_ID, "701", "b"),)])  # actions down (port 9): apology
    assert "sự cố" in fake.delivered("701")[0] and channel.health()["status"] == "ok"


def test_markdown_emphasis_is_removed_for_zalo():
    from channels.zalo.parser import plain_text

    assert plain_text("**Đăng ký khai sinh** (mã thủ tục 1.001193)\nGiấy tờ phải nộp:") == (
        "Đăng ký khai sinh (mã thủ tục 1.001193)\nGiấy tờ phải nộp:")
    assert plain_text("a * b ** c") == "a * b ** c"  # lone asterisks are left alone
