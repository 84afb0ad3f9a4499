"""Shared fixtures: small real procedures built with the knowledge schema (trackers: tests/fakes/trackers.py) and
the services database of both dialects."""

from __future__ import annotations

import pytest

from knowledge.schema import Agencies, Channel, Document, Duration, Fee, LegalBasis, Procedure
from tests.fakes.databases import make_database


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    """A migrated, empty services database: the test runs once on SQLite and once on PostgreSQL."""
    yield from make_database(request.param, tmp_path)


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


# -- notification tests (test_notify_*, test_zalo_token_refresh) --------------------------------------------------


@pytest.fixture
def clock():
    """A movable clock at a weekday's 10:00, outside quiet hours (a module may define its own ``clock``)."""
    from tests.fakes.notifications import DAYTIME, Clock

    return Clock(DAYTIME)


@pytest.fixture
def fake():
    """A fake Zalo OA server on loopback, on the real clock (a module may define its own ``fake``)."""
    from tests.fakes.zalo_api_server import FakeZaloServer

    server = FakeZaloServer().start()
    yield server
    server.stop()
