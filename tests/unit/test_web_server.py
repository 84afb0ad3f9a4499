"""The chat page's server (web/server.py): its configuration comes from settings.py, its own code is not served."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer

import pytest

from web.server import DEFAULT_WEB_ROOT, make_handler, parse_args


@pytest.fixture
def serve():
    servers = []

    def start(**kwargs) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(DEFAULT_WEB_ROOT, quiet=True, **kwargs))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _config(base: str) -> dict:
    body = urllib.request.urlopen(base + "/config.js", timeout=10).read().decode()
    prefix = "window.TTHC_CHAT_CONFIG = "
    assert body.startswith(prefix) and body.endswith(";\n"), body
    return json.loads(body[len(prefix):-2])


def test_config_js_carries_the_support_hotline_of_the_settings(serve, settings_env):
    settings_env(SUPPORT_HOTLINE="19009999")
    assert _config(serve(rasa_url="http://rasa.example:5005/")) == {
        "rasaUrl": "http://rasa.example:5005", "hotline": "19009999"}
    settings_env(SUPPORT_HOTLINE=None)
    assert _config(serve(rasa_url="http://localhost:5005"))["hotline"] == "18001096"


def test_the_page_and_widget_carry_no_hotline_of_their_own():
    for name in ("index.html", "widget.js", "portal.js"):
        assert "18001096" not in (DEFAULT_WEB_ROOT / name).read_text(encoding="utf-8"), name


def test_the_servers_own_python_files_are_not_served(serve):
    base = serve(rasa_url="http://localhost:5005")
    assert urllib.request.urlopen(base + "/widget.js", timeout=10).status == 200
    for path in ("/server.py", "/__init__.py", "/__main__.py", "/__pycache__/server.cpython-311.pyc"):
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(base + path, timeout=10)
        assert error.value.code == 404, path


def test_cli_defaults_come_from_the_settings(settings_env):
    settings_env(WEB_HOST="0.0.0.0", WEB_PORT="8099", RASA_URL="http://rasa.example:5005")
    args = parse_args([])
    assert (args.host, args.port, args.rasa_url) == ("0.0.0.0", 8099, "http://rasa.example:5005")
    assert parse_args(["--port", "8100"]).port == 8100
