"""Fuzzing the help-desk console's JSON API and the staff API with hostile input (hypothesis, reproducible).

Both run as real processes (the fixtures of test_console_api.py / test_staff_api.py: temporary SQLite, fake
Rasa); hypothesis drives the routes described in docs/openapi/console.yaml with empty, whitespace, huge,
control-character, invalid-UTF-8, NFD, emoji, mixed-script, HTML/JS and SQL-looking values, wrong JSON types,
nested JSON and wrong content types. Every answer must be < 500, carry no Python exception text, be JSON
under /api/ with nosniff and CSP headers (console), and leave the stores intact. Cases tried per route are
printed (pytest -s) and merged into reports/fuzz/summary.json.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.fuzzing import (
    CONTENT_TYPES,
    HTML_PAYLOADS,
    RAW_BODIES,
    SQL_PAYLOADS,
    CaseCounter,
    fuzz_settings,
    hostile_text,
    json_values,
)
from tests.fakes.staff_servers import STAFF_TOKEN, console_server, logged_in, staff_api_server

ROOT = Path(__file__).resolve().parents[2]
COUNTER = CaseCounter()
# A path segment: hostile text, SQL-looking codes and things that look like other routes.
SEGMENTS = st.one_of(hostile_text(long_sizes=(3000,)), st.sampled_from(SQL_PAYLOADS + HTML_PAYLOADS),
                     st.sampled_from(["..", "%2e%2e", "H07.99-251120-0012", "PA-251127-0001", "HT-251127-0001",
                                      "1.014064", "%00", "%ff%fe", "a/b", "?x=1", "#"]))


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The console process (tests/fakes/staff_servers.py: its own temporary database, index and fake Rasa)."""
    yield from console_server(tmp_path_factory.mktemp("console"))


@pytest.fixture(scope="module")
def staff_env(tmp_path_factory):
    """The staff API process (tests/fakes/staff_servers.py)."""
    yield from staff_api_server(tmp_path_factory.mktemp("staff"))


@pytest.fixture(scope="module")
def supervisor(env):
    """A logged-in supervisor (reaches every console route)."""
    return logged_in(env, "minh")


@pytest.fixture(scope="module", autouse=True)
def summary():
    """Print and record the case counts once the module is done."""
    yield
    COUNTER.write()


def _segment(value: str) -> str:
    # Keep some raw (already-escaped) segments as they are so "%ff" reaches the router undecoded.
    return value if re.fullmatch(r"(%[0-9a-fA-F]{2})+", value) else quote(value, safe="")


def _console_checks(response: requests.Response, path: str) -> None:
    if response.request.path_url.startswith("/api/") or path.startswith("/api/"):
        assert response.headers.get("Content-Type", "").startswith(("application/json", "text/csv")), (
            path, response.status_code, response.headers.get("Content-Type"), response.text[:200])
    assert response.headers.get("X-Content-Type-Options") == "nosniff", path
    assert "default-src 'self'" in response.headers.get("Content-Security-Policy", ""), path


def _send(client, method: str, path: str, target: str, *, sent: str = "", **kwargs) -> requests.Response:
    response = COUNTER.send(target, method, client.base + path, sent=sent, where=f"console {path}", http=client.http,
                            timeout=60, **kwargs)
    _console_checks(response, path)
    return response


# ---- console ------------------------------------------------------------------------------------------------

GET_ROUTES = ["/api/procedures/{}", "/api/status/{}", "/api/feedback/{}", "/api/handoffs/{}"]


@fuzz_settings(120)
@given(route=st.sampled_from(GET_ROUTES), value=SEGMENTS)
def test_console_path_parameters(supervisor, route, value):
    path = route.format(_segment(value))
    response = _send(supervisor, "GET", path, "console GET path params", sent=value)
    assert response.status_code in (200, 400, 404, 413, 414), (path, response.status_code, response.text[:200])


@fuzz_settings(100)
@given(q=hostile_text(long_sizes=(201, 5000)), field=st.none() | hostile_text(long_sizes=(300,)),
       level=st.none() | st.sampled_from(["Cấp xã", "' OR 1=1 --", "<b>x</b>", ""]))
def test_console_search_query(supervisor, q, field, level):
    params = {"q": q, **({"field": field} if field is not None else {}), **({"level": level} if level else {})}
    # Lone surrogates cannot be URL-encoded by a real browser either; send them as replacement characters.
    params = {k: v.encode("utf-8", "replace").decode("utf-8") for k, v in params.items()}
    response = _send(supervisor, "GET", "/api/search", "console GET /api/search", sent=q, params=params)
    assert response.status_code in (200, 400, 413, 414, 503), (response.status_code, response.text[:200])
    if response.status_code == 400:
        assert response.json()["message"], response.text  # a Vietnamese explanation, not an empty error


@fuzz_settings(60)
@given(days=st.one_of(st.text(max_size=12), st.integers().map(str), st.sampled_from(["1e9", "-0", "٣", "", "NaN"])),
       fmt=st.sampled_from([None, "csv", "json", "<script>"]), action=st.none() | hostile_text(long_sizes=(500,)))
def test_console_supervisor_query_strings(supervisor, days, fmt, action):
    params = {"days": days.encode("utf-8", "replace").decode("utf-8"), **({"format": fmt} if fmt else {})}
    response = _send(supervisor, "GET", "/api/analytics", "console GET /api/analytics & /api/audit",
                     sent=days, params=params)
    assert response.status_code in (200, 400), (days, response.status_code, response.text[:200])
    audit_params = {"action": action.encode("utf-8", "replace").decode("utf-8")} if action is not None else {}
    response = _send(supervisor, "GET", "/api/audit", "console GET /api/analytics & /api/audit",
                     sent=action or "", params=audit_params)
    assert response.status_code == 200


POST_ROUTES = {
    "/api/handoffs/{ticket}/reply": ("text",),
    "/api/feedback/{feedback}/status": ("status", "note"),
    "/api/password": ("current_password", "new_password"),
    "/api/login": ("name", "password"),
}


@fuzz_settings(200)
@given(route=st.sampled_from(sorted(POST_ROUTES)), data=st.data())
def test_console_json_bodies(env, supervisor, route, data):
    """Well-formed JSON with hostile or wrongly typed field values, missing fields and extra fields."""
    fields = POST_ROUTES[route]
    body = data.draw(st.one_of(
        st.fixed_dictionaries({}, optional={f: json_values() for f in fields}),
        st.fixed_dictionaries({f: hostile_text() for f in fields}),
        json_values(),
    ), label="body")
    path = route.format(ticket=env["ticket"], feedback=env["feedback"])
    response = _send(supervisor, "POST", path, "console POST JSON bodies", sent=str(body), json=body,
                     headers={"X-CSRF-Token": supervisor.csrf})
    assert response.status_code in (200, 201, 202, 400, 401, 404, 409, 429), (
        route, response.status_code, response.text[:300])
    assert isinstance(response.json().get("message", ""), str)


@fuzz_settings(120)
@given(route=st.sampled_from(sorted(POST_ROUTES)), raw=RAW_BODIES, content_type=st.sampled_from(CONTENT_TYPES))
def test_console_raw_bodies_and_content_types(env, supervisor, route, raw, content_type):
    """Bodies that are not JSON objects: invalid UTF-8, truncated, nested 5,000 deep, 1 MB, wrong content type."""
    headers = {"X-CSRF-Token": supervisor.csrf, **({"Content-Type": content_type} if content_type else {})}
    path = route.format(ticket=env["ticket"], feedback=env["feedback"])
    response = _send(supervisor, "POST", path, "console POST raw bodies", sent=raw.decode("utf-8", "replace")[:2000],
                     data=raw, headers=headers)
    assert response.status_code in (200, 201, 202, 400, 401, 404, 409, 413, 429), (
        route, response.status_code, response.text[:300])


def test_console_still_works_and_data_intact_after_fuzzing(env, supervisor):
    """After the fuzz tests: the session, the ticket and the feedback report are still served correctly."""
    me = supervisor.get("/api/me")
    assert me.status_code == 200 and me.json()["user"]["name"] == "minh"
    ticket = supervisor.get(f"/api/handoffs/{env['ticket']}")
    assert ticket.status_code == 200 and ticket.json()["transcript"][0]["text"] == "Tôi muốn gặp cán bộ"
    report = supervisor.get(f"/api/feedback/{env['feedback']}")
    assert report.status_code == 200 and report.json()["content"] == "Đèn đường hỏng ở ngõ 5"
    status = supervisor.get("/api/status/H07.99-251120-0012")
    assert status.status_code == 200 and status.json()["application"]["applicant_name"] == "Nguyễn Văn A"
    log = Path(env["log"]).read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log, log[-3000:]


def test_console_answers_with_input_are_json_and_never_html(supervisor):
    """A browser-free XSS check: an answer that repeats user input is JSON (never HTML) with nosniff and CSP."""
    payload = "<script>alert(1)</script>"
    for path in (f"/api/handoffs/{quote(payload, safe='')}", f"/api/feedback/{quote(payload, safe='')}",
                 f"/api/procedures/{quote(payload, safe='')}"):
        response = supervisor.get(path)
        assert response.status_code == 404
        assert response.headers["Content-Type"].startswith("application/json")
        message = response.json()["message"]  # repeats the input, as JSON data the page renders with textContent
        assert payload in message or quote(payload, safe="") in message, message
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'self' covers it
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]


# ---- the pages' scripts render text as text ----------------------------------------------------------------

_SINKS = re.compile(r"\.(?:innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML\s*\(|document\.write|\beval\s*\(|"
                    r"new\s+Function\s*\(|setTimeout\s*\(\s*['\"]|\.setAttribute\s*\(\s*['\"](?:on\w+|href|src)")


def _code_only(script: str) -> str:
    """The script without comments (the widget's comments name innerHTML to forbid it)."""
    script = re.sub(r"/\*.*?\*/", "", script, flags=re.DOTALL)
    return re.sub(r"(?m)^\s*//.*$|(?<=[;{}])\s*//.*$", "", script)


REVIEWED_HREFS = {"href", 'new URL("chat.css", src).href', 'link.hidden ? "#" : url',
                  '"/api/analytics?days=" + encodeURIComponent(days) + "&format=csv"'}


@pytest.mark.parametrize("script", ["web/widget.js", "console/static/console.js", "web/portal.js"])
def test_scripts_render_text_with_textcontent(script):
    code = _code_only((ROOT / script).read_text(encoding="utf-8"))
    sink = _SINKS.search(code)
    assert sink is None, f"{script}: HTML sink {sink.group(0)!r}"
    # Every link target set by the scripts was reviewed: bot/API text reaches .href only through an http(s) check
    # (safeHref in the widget, the /^https?:/ test in the console). A new assignment fails here until reviewed.
    for assignment in re.findall(r"\.href\s*=\s*([^;]+);", code):
        assert assignment.strip() in REVIEWED_HREFS, f"{script}: unreviewed link target {assignment!r}"
    assert "textContent" in code or script == "web/portal.js"


def test_openapi_description_lists_every_console_route():
    """docs/openapi/console.yaml (which the fuzz tests follow) covers every /api route the console mounts."""
    from console.app import ROUTES

    spec = yaml.safe_load((ROOT / "docs" / "openapi" / "console.yaml").read_text(encoding="utf-8"))
    described = {re.sub(r"\{[^}]+\}", "<>", path) for path in spec["paths"]}
    routes = {re.sub(r"<[^>]+>", "<>", route.uri) for route in ROUTES if route.uri.startswith("/api/")}
    assert len(routes) == 25 and routes <= described, routes - described


# ---- staff API --------------------------------------------------------------------------------------------

STAFF_ROUTES = ["/api/handoffs/{}", "/api/handoffs/{}/reply", "/api/handoffs/{}/close", "/api/handoffs/{}/deliver",
                "/api/feedback/{}", "/api/feedback/{}/status"]


@fuzz_settings(150)
@given(route=st.sampled_from(STAFF_ROUTES), segment=SEGMENTS,
       body=st.one_of(st.fixed_dictionaries({}, optional={"text": json_values(), "status": json_values(),
                                                          "note": json_values(), "staff": json_values()}),
                      json_values()),
       staff_header=st.none() | st.sampled_from(["c%C3%A1n%20b%E1%BB%99%20Lan", "%ff%fe", "%", "<script>", "a" * 300]))
def test_staff_api_routes(staff_env, route, segment, body, staff_header):
    headers = {"Authorization": f"Bearer {STAFF_TOKEN}", **({"X-Staff": staff_header} if staff_header else {})}
    path = route.format(_segment(segment))
    method = "GET" if route.endswith("}") else "POST"
    response = COUNTER.send("staff API routes", method, staff_env["base"] + path, sent=segment,
                            where=f"staff {method} {path}", json_answer=True, json=body, headers=headers, timeout=60)
    assert response.status_code in (200, 201, 202, 400, 404, 409, 413, 414, 502), (
        path, response.status_code, response.text[:300])


@fuzz_settings(80)
@given(route=st.sampled_from(["/api/handoffs/HT-251127-0001/reply", "/api/feedback/PA-251127-0001/status",
                              "/api/handoffs/HT-251127-0001/close"]),
       raw=RAW_BODIES, content_type=st.sampled_from(CONTENT_TYPES))
def test_staff_api_raw_bodies(staff_env, route, raw, content_type):
    headers = {"Authorization": f"Bearer {STAFF_TOKEN}",
               **({"Content-Type": content_type} if content_type else {})}
    response = COUNTER.send("staff API raw bodies", "POST", staff_env["base"] + route,
                            sent=raw.decode("utf-8", "replace")[:2000], where=f"staff POST {route}", json_answer=True,
                            data=raw, headers=headers, timeout=60)
    assert response.status_code in (400, 404, 409), (route, response.status_code, response.text[:300])


def test_staff_api_log_has_no_traceback_after_fuzzing(staff_env):
    log = Path(staff_env["log"]).read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log, log[-3000:]
