"""Shared fixtures: small real procedures built with the knowledge schema, trackers for actions."""

from __future__ import annotations

import pytest
from rasa_sdk import Tracker

from knowledge.schema import Agencies, Channel, Document, Duration, Fee, LegalBasis, Procedure


@pytest.fixture
def birth_registration() -> Procedure:
    """Đăng ký khai sinh as the portal publishes it (abridged to the fields the answers use)."""
    return Procedure(
        code="1.001193",
        name="Đăng ký khai sinh",
        field="Hộ tịch",
        levels=["Cấp xã"],
        agencies=Agencies(implementing=["Ủy ban nhân dân cấp xã"]),
        channels=[
            Channel(kind="in_person", duration=Duration(value=1, unit="Ngày làm việc", text="1 Ngày làm việc"),
                    fee=Fee(free=True, text="Miễn phí")),
            Channel(kind="online", duration=Duration(value=1, unit="Ngày làm việc", text="1 Ngày làm việc"),
                    fee=Fee(free=True, text="Miễn phí")),
        ],
        documents=[
            Document(name="Tờ khai đăng ký khai sinh theo mẫu", form="Tờ khai đăng ký khai sinh.docx", originals=1,
                     section="submit"),
            Document(name="Bản chính Giấy chứng sinh", originals=1, section="submit"),
            Document(name="Giấy tờ tùy thân của người đi đăng ký khai sinh", originals=1, section="show"),
        ],
        steps=["Bước 1: Người yêu cầu nộp hồ sơ.", "Bước 2: Công chức tư pháp - hộ tịch kiểm tra hồ sơ."],
        legal_basis=[LegalBasis(title="Luật Hộ tịch 2014", code="60/2014/QH13")],
        url="https://dichvucong.gov.vn/thu-tuc-hanh-chinh/example",
        description="Thủ tục cấp xã, lĩnh vực Hộ tịch: đăng ký khai sinh cho trẻ em.",
        aliases=["làm giấy khai sinh"],
    )


def make_tracker(text: str, intent: str, entities=None, slots=None, events=None) -> Tracker:
    """A tracker whose latest user message is ``text`` classified as ``intent``."""
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []}
    return Tracker(
        sender_id="test-user",
        slots=slots or {},
        latest_message=latest,
        events=events or [{"event": "user", "text": text, "parse_data": latest}],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )
