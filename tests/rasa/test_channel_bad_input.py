"""Bad input at the channels, in-process (the live-stack fuzzing is tests/e2e/test_fuzz_rest.py / _zalo.py).

Each case comes from the fuzz tests: an HTTP 500 for a REST body that is not a JSON object, no answer for a
non-string message, NFD text counted up to twice against the length limit, an HTTP 500 for absurdly nested
Zalo JSON, Rasa's DEBUG log with unmasked numbers and verification digits; NUL/lone surrogates are cleaned
defensively (PostgreSQL text refuses NUL).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import unicodedata

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from channels.input_rules import EMPTY_MESSAGE_REPLY, TOO_LONG_REPLY, clean_user_text
from channels.rest import ResilientRestInput
from tests.fakes.zalo_api_server import sign, text_event
from tests.fakes.zalo_channel import APP_ID, SECRET, Bot, make_channel


@pytest.mark.parametrize("value, expected", [
    ("xin chào", "xin chào"),
    ("l\u00e0m gi\u1ea5y\x00 khai sinh", "làm giấy  khai sinh"),  # NUL: PostgreSQL cannot store it
    ("a\ud800b", "a?b"),  # a lone surrogate from a JSON "\ud800" escape
    ("\x1b[31mđỏ\x1b[0m", " [31mđỏ [0m"),
    ("dòng 1\ndòng 2\ttab", "dòng 1\ndòng 2\ttab"),
    (unicodedata.normalize("NFD", "Đăng ký khai sinh"), "Đăng ký khai sinh"),
    (2, "2"),
    (None, ""), (True, ""), (["a"], ""), ({"text": "a"}, ""),
])
def test_clean_user_text(value, expected):
    assert clean_user_text(value) == expected


def turn(text):
    channel, out, seen = ResilientRestInput(), CollectingOutputChannel(), []

    async def actions_up():
        return True

    channel.action_server_is_up = actions_up

    async def on_new_message(message):
        seen.append(message.text)
        await message.output_channel.send_text_message(message.sender_id, "trả lời")

    asyncio.run(channel.handle_message(UserMessage(text, out, "u1"), on_new_message))
    return [m["text"] for m in out.messages], seen


def test_nfd_text_is_counted_composed_and_reaches_the_model_composed():
    question = ("làm giấy khai sinh cần giấy tờ gì " * 60)[:1800]
    nfd = unicodedata.normalize("NFD", question)
    assert len(nfd) > 2000
    replies, seen = turn(nfd)
    assert replies == ["trả lời"] and seen == [question.strip()]


def test_whitespace_and_control_only_messages_get_the_empty_reply():
    for text in (" \x00\x01 ", "\u0085\n\t", "\x7f"):
        assert turn(text) == ([EMPTY_MESSAGE_REPLY], [])


def test_100kb_message_gets_the_limit_reply():
    assert turn("Tôi muốn hỏi " * 8000) == ([TOO_LONG_REPLY.format(limit="2.000")], [])


def test_pii_is_masked_in_the_rasa_process_log(caplog):
    ResilientRestInput.from_credentials({})  # what `rasa run` does at start-up: the process setup runs there
    caplog.set_level(logging.DEBUG)
    logging.getLogger("rasa.core.processor").debug(
        "Received user message 'sdt 0912345678, cccd 001203004567, hồ sơ H07.99-251120-0012'")
    logged = caplog.text
    assert "0912345678" not in logged and "001203004567" not in logged and "251120" not in logged, logged
    assert "091*******" in logged and "H07.99-******-0012" in logged


def test_zalo_absurdly_nested_body_is_malformed_not_a_crash(fake, tmp_path):
    channel, bot = make_channel(fake, tmp_path), Bot()
    raw = ('{"timestamp": "1", "message": ' + "[" * 100_000 + "]" * 100_000 + "}").encode()
    status, body = asyncio.run(channel.handle_webhook(raw, sign(APP_ID, raw, "1", SECRET), bot))
    assert (status, body) == (400, {"status": "malformed"})


def test_zalo_text_is_cleaned_before_rasa(fake, tmp_path):
    channel, bot = make_channel(fake, tmp_path), Bot()
    event = text_event(APP_ID, "300", "l\u00e0m\x00 gi\u1ea5y khai sinh\ud800", msg_id="m-clean",
                       timestamp_ms=int(time.time() * 1000))
    raw = json.dumps(event).encode("ascii")  # the lone surrogate travels as a JSON escape

    async def go():
        result = await channel.handle_webhook(raw, sign(APP_ID, raw, event["timestamp"], SECRET), bot)
        await channel.dispatcher.join()
        return result

    assert asyncio.run(go())[0] == 200
    assert bot.seen == [("300", "làm  giấy khai sinh?", "zalo", "m-clean")]


@pytest.mark.parametrize("line, masked", [
    ("SlotSet(key: status_verification, value: 5678)", "SlotSet(key: status_verification, value: ****)"),
    ("\tstatus_verification: 5678\n\tverified_applications: None", "\tstatus_verification: ****\n"
                                                                   "\tverified_applications: None"),
    ("verified_applications: {'H07.99-251120-0012': '5678'}", "verified_applications: {'H07.99-******-0012': '****'}"),
])
def test_verification_digits_are_masked_where_rasa_logs_slots(line, masked):
    """Rasa's DEBUG log prints slot values: the last four digits are the lookup's verification factor."""
    from core.privacy import mask_pii

    assert mask_pii(line) == masked
