"""Subscriptions to status-change notifications (issue 17), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest

from core.db import VN_TZ
from core.notifications.subscriptions import Subscriptions

AT = datetime(2025, 11, 20, 9, 15, tzinfo=VN_TZ)


@pytest.fixture
def subs(db):
    return Subscriptions(db, clock=lambda: AT)


def test_subscribe_stores_channel_sender_canonical_code_and_time(subs):
    assert subs.subscribe("zalo", "1000000000000000001", "h07.99 251120 0012") is True
    [sub] = subs.list_for("zalo", "1000000000000000001")
    assert (sub.channel, sub.sender_id, sub.code, sub.created_at) == (
        "zalo", "1000000000000000001", "H07.99-251120-0012", AT)


def test_subscribing_twice_keeps_one_subscription(subs):
    assert subs.subscribe("rest", "web-abc", "H07.99-251120-0012") is True
    assert subs.subscribe("rest", "web-abc", "H0799-251120-0012") is False
    assert [s.code for s in subs.list_for("rest", "web-abc")] == ["H07.99-251120-0012"]


def test_subscribe_refuses_text_without_a_code(subs):
    with pytest.raises(ValueError):
        subs.subscribe("rest", "web-abc", "hồ sơ của tôi")
    assert subs.list_for("rest", "web-abc") == []


def test_list_for_and_for_code_separate_senders_and_channels(subs):
    subs.subscribe("zalo", "u1", "H07.99-251120-0012")
    subs.subscribe("zalo", "u1", "H07.99-251121-0003")
    subs.subscribe("rest", "u1", "H07.99-251120-0012")
    subs.subscribe("zalo", "u2", "H07.99-251120-0012")
    assert [s.code for s in subs.list_for("zalo", "u1")] == ["H07.99-251120-0012", "H07.99-251121-0003"]
    assert [(s.channel, s.sender_id) for s in subs.for_code("h07.99-251120-0012")] == [
        ("zalo", "u1"), ("rest", "u1"), ("zalo", "u2")]
    assert subs.codes() == ["H07.99-251120-0012", "H07.99-251121-0003"]


def test_unsubscribe_one_code_or_all(subs):
    subs.subscribe("zalo", "u1", "H07.99-251120-0012")
    subs.subscribe("zalo", "u1", "H07.99-251121-0003")
    subs.subscribe("zalo", "u2", "H07.99-251120-0012")
    assert subs.unsubscribe("zalo", "u1", "H07.99 251121 0003") == 1
    assert subs.unsubscribe("zalo", "u1", "H07.99-251121-0003") == 0
    assert subs.unsubscribe("zalo", "u1", "không có mã") == 0
    assert [s.code for s in subs.list_for("zalo", "u1")] == ["H07.99-251120-0012"]
    assert subs.unsubscribe("zalo", "u1") == 1
    assert subs.list_for("zalo", "u1") == []
    assert [s.sender_id for s in subs.for_code("H07.99-251120-0012")] == ["u2"]
