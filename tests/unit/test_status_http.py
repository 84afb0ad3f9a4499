"""The HTTP status backend against a local fake of the one-stop system speaking the OpenAPI contract."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.status.base import StatusBackendError
from core.status.http import CircuitBreaker, CircuitOpenError, HttpStatusBackend
from tests.fakes.one_stop_server import FakeOneStopServer, status_item
from tests.fakes.status import make_app

TOKEN = "mot-cua-bac-ninh-test"
CODE = "H07.02-251120-0003"
OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi" / "one-stop-status.yaml"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server():
    with FakeOneStopServer(token=TOKEN) as fake:
        fake.add(make_app("Chờ bổ sung hồ sơ"), phone="0912345678", id_number="027203004567")
        yield fake


def backend(server, **kwargs) -> HttpStatusBackend:
    kwargs.setdefault("token", TOKEN)
    kwargs.setdefault("timeout_s", 1.0)
    kwargs.setdefault("backoff_s", 0.01)
    return HttpStatusBackend(server.url, **kwargs)


def test_lookup_round_trip(server):
    found = backend(server).lookup("h07.02 251120 0003", "5678")
    assert found == make_app("Chờ bổ sung hồ sơ")
    request = server.requests[-1]
    assert request["path"] == "/api/v1/applications/H07.02-251120-0003"
    assert request["headers"]["X-Verification"] == "5678"  # the factor travels in a header, not the URL
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"


def test_wrong_factor_and_unknown_code(server):
    b = backend(server)
    assert b.lookup(CODE, "0000") is None
    assert b.lookup("H07.02-251120-0004", "5678") is None
    assert b.lookup("không có mã", "5678") is None
    assert b.lookup(CODE, "12") is None
    assert len(server.requests) == 2  # malformed input never leaves the process


def test_wrong_token_is_a_backend_error(server):
    with pytest.raises(StatusBackendError, match="HTTP 401"):
        backend(server, token="sai").lookup(CODE, "5678")


def test_retries_transient_errors(server):
    server.fail_next(2, 503)
    assert backend(server, retries=2).lookup(CODE, "4567") is not None
    assert len(server.requests) == 3


def test_gives_up_after_retries(server):
    server.fail_next(3, 502)
    with pytest.raises(StatusBackendError, match="HTTP 502"):
        backend(server, retries=2).lookup(CODE, "5678")
    assert len(server.requests) == 3


def test_no_retry_on_500(server):
    server.fail_next(1, 500)
    with pytest.raises(StatusBackendError, match="HTTP 500"):
        backend(server, retries=2).lookup(CODE, "5678")
    assert len(server.requests) == 1


def test_timeout_then_retry(server):
    server.delay_next(1, 0.6)
    b = backend(server, timeout_s=0.2, retries=1)
    assert b.lookup(CODE, "5678") is not None
    assert len(server.requests) == 2


def test_circuit_breaker_opens_and_recovers(server):
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=30, clock=clock)
    b = backend(server, retries=0, breaker=breaker)
    server.fail_next(2, 503)
    for _ in range(2):
        with pytest.raises(StatusBackendError):
            b.lookup(CODE, "5678")
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError):
        b.lookup(CODE, "5678")
    assert len(server.requests) == 2  # failing fast: no request while open
    assert b.health() is False
    clock.now += 31
    assert breaker.state == "half-open"
    server.fail_next(1, 503)
    with pytest.raises(StatusBackendError):
        b.lookup(CODE, "5678")  # the trial fails: open again
    assert breaker.state == "open"
    clock.now += 31
    assert b.lookup(CODE, "5678") is not None
    assert breaker.state == "closed"


def test_unreachable_server(server):
    url = server.url
    server.stop()
    b = HttpStatusBackend(url, timeout_s=0.3, retries=1, backoff_s=0.01)
    with pytest.raises(StatusBackendError, match="ConnectionError"):
        b.lookup(CODE, "5678")
    assert b.health() is False


def test_health(server):
    assert backend(server).health() is True


def test_fake_speaks_the_openapi_contract(server):
    spec = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    assert set(spec["paths"]) == {"/api/v1/health", "/api/v1/applications/{code}", "/api/v1/applications/statuses"}
    assert set(status_item(make_app("Đã có kết quả"))) == set(spec["components"]["schemas"]["StatusItem"]["properties"])
    schema = spec["components"]["schemas"]["Application"]
    body = make_app("Đã có kết quả").to_dict()
    assert set(body) == set(schema["properties"])
    assert set(schema["required"]) <= set(body)
    assert set(spec["components"]["schemas"]["Status"]["enum"]) == {
        "Đã tiếp nhận", "Đang xử lý", "Chờ bổ sung hồ sơ", "Đã có kết quả", "Đã trả kết quả", "Quá hạn", "Từ chối"}
    assert "applicant_phone" not in body and "applicant_id_number" not in body
