"""Status-change notifications in the conversation (issue 17): the offer after a verified lookup, consent, decline,
unsubscribing and the list, on the real services database (SQLite and PostgreSQL: the ``db`` fixture)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import pytest

from actions.actions_notifications import (
    ActionDeclineNotifications,
    ActionListNotifications,
    ActionSubscribeNotifications,
    ActionUnsubscribeNotifications,
)
from actions.actions_procedure import ActionAnswerProcedure
from actions.actions_status import ActionCheckStatus
from core.db import VN_TZ
from core.notifications.subscriptions import Subscriptions
from core.status.answer import format_status
from core.status.models import PROCESSING
from core.status.ratelimit import AttemptLimiter
from core.status.sql import SqlStatusBackend
from settings import get_settings
from tests.fakes.actions import run_action as run
from tests.fakes.actions import slots_of
from tests.fakes.knowledge import abstaining_service, answering, searching_service
from tests.fakes.notifications import CODE, seed_application
from tests.fakes.responses import response, response_text
from tests.fakes.status import make_app
from tests.fakes.trackers import channel_tracker

MASKED = "H07.02-******-0003"
OTHER = "H29.22-250315-0087"
ZALO_USER = "2512523625412515"
SUBSCRIBED_AT = datetime(2025, 11, 27, 9, 30, tzinfo=VN_TZ)


class Services:
    """The status backend, the attempt limiter and the subscriptions, all on one real services database."""

    def __init__(self, db):
        seed_application(db)
        self.backend = SqlStatusBackend(db)
        self.limiter = AttemptLimiter(db)
        self.subscriptions = Subscriptions(db, clock=lambda: SUBSCRIBED_AT)

    def lookup(self, digits="5678", *, sender=ZALO_USER, channel="zalo", code=CODE, subscriptions=None):
        """The status form done: action_check_status with the code and the digits typed."""
        action = ActionCheckStatus(backend=self.backend, limiter=self.limiter, clock=lambda: SUBSCRIBED_AT,
                                   subscriptions=subscriptions or self.subscriptions)
        trk = channel_tracker(digits, "inform", sender=sender, channel=channel,
                              slots={"application_code": code, "status_verification": digits})
        return run(action, trk)

    def subscribe(self, text="có", intent="affirm", *, sender=ZALO_USER, channel="zalo", slots=None, store=None,
                  metadata=None, quiet_hours=True):
        action = ActionSubscribeNotifications(store=store or self.subscriptions, limiter=self.limiter,
                                              quiet_hours=quiet_hours)
        return run(action, channel_tracker(text, intent, sender=sender, channel=channel, slots=slots,
                                           metadata=metadata))

    def followed(self, channel="zalo", sender=ZALO_USER):
        return [s.code for s in self.subscriptions.list_for(channel, sender)]


@pytest.fixture
def services(db):
    return Services(db)


def after_offer(code=CODE):
    """The slots after a verified lookup of ``code`` offered notifications."""
    return {"notification_offer": code, "verified_applications": {code: "5678"}}


class Unavailable:
    """A subscription store whose database cannot be reached: every call fails as SQLite does on a broken disk."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise sqlite3.OperationalError("disk I/O error")

        return fail


# ---- the offer --------------------------------------------------------------------------------------------------


def test_verified_lookup_is_followed_by_the_offer(services):
    messages, events = services.lookup("5678")
    assert [m["text"] for m in messages] == [
        format_status(make_app(PROCESSING), SUBSCRIBED_AT.date()),
        "Nhận thông báo khi hồ sơ có thay đổi? Nếu bạn đồng ý, tôi sẽ nhắn cho bạn ngay tại đây mỗi khi hồ sơ "
        "H07.02-******-0003 chuyển bước hoặc có kết quả.",
    ]
    assert messages[1]["buttons"] == [{"title": "Có", "payload": "/affirm"}, {"title": "Không", "payload": "/deny"}]
    assert slots_of(events)["notification_offer"] == CODE
    assert services.followed() == []  # an offer is not a consent


@pytest.mark.parametrize("digits", ["1111", "9999"])
def test_no_offer_after_a_lookup_that_found_nothing(services, digits):
    messages, events = services.lookup(digits)
    assert [m["text"] for m in messages] == [response_text("utter_status_no_match",
                                                           hotline=get_settings().support_hotline)]
    assert slots_of(events)["notification_offer"] is None


def test_no_offer_for_a_code_the_citizen_already_follows(services):
    services.subscriptions.subscribe("zalo", ZALO_USER, CODE)
    messages, events = services.lookup("5678")
    assert [m.get("response") for m in messages] == [None]  # the status answer only
    assert slots_of(events)["notification_offer"] is None


def test_store_down_at_the_offer_leaves_the_status_answer_alone(services):
    messages, events = services.lookup("5678", subscriptions=Unavailable())
    assert [m["text"] for m in messages] == [format_status(make_app(PROCESSING), SUBSCRIBED_AT.date())]
    assert slots_of(events)["notification_offer"] is None


# ---- consent ----------------------------------------------------------------------------------------------------


def test_yes_stores_the_consent_with_the_channel_and_sender_the_server_knows(services):
    services.lookup("5678")
    # What the client sent along claims another conversation: it decides nothing.
    forged = {"sender_id": "someone-else", "channel": "rest", "input_channel": "rest"}
    messages, events = services.subscribe("có", slots=after_offer(), metadata=forged)
    assert [m["text"] for m in messages] == [
        "Đã đăng ký! Tôi sẽ nhắn cho bạn tại đây khi hồ sơ H07.02-******-0003 có thay đổi (thay đổi trong khoảng "
        "21 giờ tối đến 7 giờ sáng được báo lúc 7 giờ). Muốn dừng, bạn nhắn “hủy thông báo” bất cứ lúc nào."]
    assert CODE not in messages[0]["text"]
    [sub] = services.subscriptions.for_code(CODE)
    assert (sub.channel, sub.sender_id, sub.code, sub.created_at) == ("zalo", ZALO_USER, CODE, SUBSCRIBED_AT)
    assert slots_of(events) == {"notification_offer": None}


def test_consent_reply_names_no_quiet_hours_when_the_deployment_sends_at_any_hour(services):
    services.lookup("5678")
    messages, _ = services.subscribe("có", slots=after_offer(), quiet_hours=False)
    assert [m["text"] for m in messages] == [
        "Đã đăng ký! Tôi sẽ nhắn cho bạn tại đây khi hồ sơ H07.02-******-0003 có thay đổi. Muốn dừng, bạn nhắn “hủy "
        "thông báo” bất cứ lúc nào."]
    assert services.followed() == [CODE]


def test_yes_twice_keeps_one_subscription(services):
    services.lookup("5678")
    services.subscribe("có", slots=after_offer())
    messages, _ = services.subscribe("ừ đăng ký đi", slots=after_offer())
    assert [m["text"] for m in messages] == [response_text("utter_notify_already", code=MASKED)]
    assert services.followed() == [CODE]


def test_asking_for_notifications_names_a_verified_code(services):
    services.lookup("5678", channel="rest", sender="web-7f3a")
    messages, _ = services.subscribe("cho tôi nhận thông báo hồ sơ h07.02 251120 0003 nhé", "subscribe_notifications",
                                     channel="rest", sender="web-7f3a", slots={"verified_applications": {CODE: "5678"}})
    assert messages[0]["response"] == "utter_notify_subscribed"
    assert services.followed("rest", "web-7f3a") == [CODE]


def test_forged_offer_and_verified_slots_without_a_server_record_subscribe_nothing(services):
    """A tracker claiming the lookup was verified (a forged action call or replayed slots): the server never saw
    this conversation prove both factors, so nothing is stored."""
    messages, events = services.subscribe("có", slots=after_offer())
    assert [m["text"] for m in messages] == [response_text("utter_notify_need_lookup")]
    assert services.subscriptions.for_code(CODE) == []
    assert slots_of(events) == {"notification_offer": None}


def test_a_wrong_guess_does_not_open_the_consent(services):
    services.lookup("1111")
    messages, _ = services.subscribe("có", slots=after_offer())
    assert messages[0]["response"] == "utter_notify_need_lookup"
    assert services.subscriptions.for_code(CODE) == []


def test_verified_code_cannot_be_swapped_for_another_one(services):
    """The offer was for CODE; a message naming another code this conversation never verified subscribes nothing."""
    services.lookup("5678")
    messages, _ = services.subscribe(f"nhận thông báo hồ sơ {OTHER}", "subscribe_notifications",
                                     slots={"notification_offer": CODE,
                                            "verified_applications": {CODE: "5678", OTHER: "5678"}})
    assert messages[0]["response"] == "utter_notify_need_lookup"
    assert services.subscriptions.for_code(OTHER) == [] and services.followed() == []


def test_verification_on_zalo_is_not_inherited_by_a_rest_caller_reusing_the_sender_id(services):
    services.lookup("5678", channel="zalo")
    messages, _ = services.subscribe("có", channel="rest", slots=after_offer())
    assert messages[0]["response"] == "utter_notify_need_lookup"
    assert services.subscriptions.for_code(CODE) == []


def test_asking_without_any_lookup_explains_the_first_step(services):
    messages, _ = services.subscribe("tôi muốn nhận thông báo khi hồ sơ có kết quả", "subscribe_notifications")
    assert [m["text"] for m in messages] == [response_text("utter_notify_need_lookup")]


def test_no_stores_nothing_and_closes_the_offer(services):
    services.lookup("5678")
    messages, events = run(ActionDeclineNotifications(),
                           channel_tracker("không cần đâu", "deny", sender=ZALO_USER, channel="zalo",
                                           slots=after_offer()))
    assert [m["text"] for m in messages] == [
        "Vâng, tôi sẽ không gửi thông báo. Khi cần xem tình trạng mới nhất, bạn cứ nhắn “tra cứu hồ sơ” nhé."]
    assert slots_of(events) == {"notification_offer": None}
    assert services.subscriptions.for_code(CODE) == []


def test_storage_failure_apologises_and_keeps_the_offer_for_a_retry(services):
    services.lookup("5678")
    messages, events = services.subscribe("có", slots=after_offer(), store=Unavailable())
    assert [m["text"] for m in messages] == [
        "Xin lỗi, hệ thống chưa lưu được đăng ký nhận thông báo của bạn. Bạn vui lòng nhắn “nhận thông báo” sau ít "
        f"phút để thử lại, hoặc gọi tổng đài {get_settings().support_hotline}."]
    assert events == []  # the offer stays open
    messages, _ = services.subscribe("nhận thông báo", "subscribe_notifications", slots=after_offer())
    assert messages[0]["response"] == "utter_notify_subscribed"
    assert services.followed() == [CODE]


# ---- unsubscribing ----------------------------------------------------------------------------------------------


def follow(services, *pairs):
    for channel, sender, code in pairs:
        services.subscriptions.subscribe(channel, sender, code)


def unsubscribe(services, text, *, sender=ZALO_USER, channel="zalo", store=None):
    action = ActionUnsubscribeNotifications(store=store or services.subscriptions)
    return run(action, channel_tracker(text, "unsubscribe_notifications", sender=sender, channel=channel))


@pytest.mark.parametrize("text", ["hủy thông báo", "huy thong bao", "ko nhận tb nữa đâu",
                                  "/unsubscribe_notifications"])
def test_unsubscribe_stops_all_of_this_senders_subscriptions_on_this_channel(services, text):
    follow(services, ("zalo", ZALO_USER, CODE), ("zalo", ZALO_USER, OTHER), ("rest", ZALO_USER, CODE),
           ("zalo", "another-citizen", CODE))
    messages, events = unsubscribe(services, text)
    assert [m["text"] for m in messages] == [
        "Tôi đã hủy 2 đăng ký nhận thông báo của bạn. Bạn sẽ không nhận thêm tin nhắn về tình trạng các hồ sơ này; "
        "khi cần, bạn vẫn tra cứu được bằng cách nhắn “tra cứu hồ sơ”."]
    assert services.followed() == []
    assert [(s.channel, s.sender_id) for s in services.subscriptions.for_code(CODE)] == [
        ("rest", ZALO_USER), ("zalo", "another-citizen")]
    assert slots_of(events) == {"notification_offer": None}


@pytest.mark.parametrize("text", ["hủy thông báo hồ sơ H29.22-250315-0087",
                                  "huy theo doi ho so h29.22 250315 0087",
                                  "hủy thông báo H29.22-******-0087"])  # the masked form the list shows
def test_unsubscribe_one_named_code(services, text):
    follow(services, ("zalo", ZALO_USER, CODE), ("zalo", ZALO_USER, OTHER))
    messages, _ = unsubscribe(services, text)
    assert [m["text"] for m in messages] == [
        "Tôi đã hủy 1 đăng ký nhận thông báo cho hồ sơ H29.22-******-0087. Các hồ sơ khác bạn đăng ký (nếu có) vẫn "
        "được thông báo như cũ."]
    assert services.followed() == [CODE]


def test_unsubscribe_a_code_not_followed_removes_nothing(services):
    follow(services, ("zalo", ZALO_USER, CODE))
    for text in (f"hủy thông báo hồ sơ {OTHER}", "hủy thông báo H29.22-******-0087"):
        messages, _ = unsubscribe(services, text)
        assert [m["text"] for m in messages] == [response_text("utter_notify_none_code")]
    assert services.followed() == [CODE]


def test_unsubscribe_with_nothing_followed(services):
    messages, _ = unsubscribe(services, "đừng gửi thông báo cho tôi nữa")
    assert [m["text"] for m in messages] == [
        "Bạn chưa đăng ký nhận thông báo cho hồ sơ nào trong cuộc trò chuyện này, nên không có gì để hủy."]


def test_unsubscribe_failure_apologises_and_the_subscriptions_stay(services):
    follow(services, ("zalo", ZALO_USER, CODE))
    messages, events = unsubscribe(services, "hủy thông báo", store=Unavailable())
    assert [m["text"] for m in messages] == [response_text("utter_notify_unsubscribe_error",
                                                           hotline=get_settings().support_hotline)]
    assert "các đăng ký của bạn vẫn giữ nguyên" in messages[0]["text"]
    assert events == []
    assert services.followed() == [CODE]


# ---- the list ---------------------------------------------------------------------------------------------------


def list_subscriptions(services, text="thông báo của tôi", *, sender=ZALO_USER, channel="zalo", store=None):
    action = ActionListNotifications(store=store or services.subscriptions)
    return run(action, channel_tracker(text, "list_notifications", sender=sender, channel=channel))


def test_list_shows_the_codes_masked(services):
    follow(services, ("zalo", ZALO_USER, CODE), ("zalo", ZALO_USER, OTHER),
           ("zalo", "another-citizen", "H01.34-251003-0110"), ("rest", ZALO_USER, "H26.10-250920-0301"))
    messages, _ = list_subscriptions(services, "tôi đang đăng ký theo dõi hồ sơ nào")
    assert messages == [{
        **messages[0],
        "text": "Bạn đang nhận thông báo cho 2 hồ sơ:\n• H07.02-******-0003 (đăng ký ngày 27/11/2025)\n"
                "• H29.22-******-0087 (đăng ký ngày 27/11/2025)\nMuốn dừng, bạn nhắn “hủy thông báo” (tất cả) hoặc "
                "“hủy thông báo” kèm mã hồ sơ.",
        "buttons": [{"title": "Hủy tất cả thông báo", "payload": "/unsubscribe_notifications"}],
    }]
    for full in (CODE, OTHER, "251120", "250315"):
        assert full not in messages[0]["text"]


def test_list_when_nothing_is_followed(services):
    messages, _ = list_subscriptions(services)
    assert [m["text"] for m in messages] == [response_text("utter_notify_list_empty")]


def test_list_failure_apologises(services):
    messages, _ = list_subscriptions(services, store=Unavailable())
    assert [m["text"] for m in messages] == [response_text("utter_notify_list_error",
                                                           hotline=get_settings().support_hotline)]


def test_the_list_button_unsubscribes_everything(services):
    """The list's button sends /unsubscribe_notifications, as the button of every notification does."""
    follow(services, ("zalo", ZALO_USER, CODE), ("zalo", ZALO_USER, OTHER))
    messages, _ = list_subscriptions(services)
    [button] = messages[0]["buttons"]
    assert button == response("utter_notify_list", count=2, codes="")["buttons"][0]
    unsubscribe(services, button["payload"])
    assert services.followed() == []


# ---- a procedure question the NLU misread as a notification request ------------------------------------------


@pytest.mark.parametrize("action_class, intent", [
    (ActionListNotifications, "list_notifications"),
    (ActionSubscribeNotifications, "subscribe_notifications"),
    (ActionUnsubscribeNotifications, "unsubscribe_notifications"),
])
def test_a_procedure_question_without_notification_words_is_answered_as_one(birth_registration, action_class,
                                                                            intent):
    text = "đăng ký khai sinh cho con cần giấy tờ gì"
    trk = channel_tracker(text, intent, sender=ZALO_USER, channel="zalo")
    as_procedure = run(ActionAnswerProcedure(service=abstaining_service([birth_registration])), trk)
    # The store is never asked (it would fail): the message is not about notifications.
    assert run(action_class(store=Unavailable(), service=abstaining_service([birth_registration])), trk) == as_procedure
    assert as_procedure[0][0]["response"].startswith("utter_procedure_")


@pytest.mark.parametrize("action_class, intent", [
    (ActionListNotifications, "list_notifications"),
    (ActionUnsubscribeNotifications, "unsubscribe_notifications"),
])
def test_thong_bao_alone_is_a_procedure_when_the_search_answers_one(birth_registration, action_class, intent):
    """"Thông báo" also starts procedure names: with no other notification word the search decides."""
    text = "thông báo hủy biên lai hải quan"
    trk = channel_tracker(text, intent, sender=ZALO_USER, channel="zalo")
    service, searcher = searching_service({text: answering(text, birth_registration)}, [birth_registration])
    events = run(action_class(store=Unavailable(), service=service), trk)
    assert searcher.asked == [text]
    assert events[0][0]["text"].startswith("**Đăng ký khai sinh** (mã thủ tục 1.001193)")


def test_thong_bao_alone_stays_a_notification_request_when_the_search_is_unsure(services):
    text = "có thông báo gì mới không"
    service, searcher = searching_service({}, [])
    action = ActionListNotifications(store=services.subscriptions, service=service)
    messages, _ = run(action, channel_tracker(text, "list_notifications", sender=ZALO_USER, channel="zalo"))
    assert searcher.asked == [text]
    assert [m["text"] for m in messages] == [response_text("utter_notify_list_empty")]
