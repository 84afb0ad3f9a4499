"""Serve the chat page (web/) and hand it its configuration: the Rasa server URL and the support hotline.

Stdlib only. Routes:
  /healthz    -> {"status": "ok"} (JSON)
  /config.js  -> ``window.TTHC_CHAT_CONFIG = {rasaUrl, hotline}`` from the CLI / settings.py
  anything else -> a regular file under web/ (no directory listings, no path traversal, never this package's
                   Python files)

Usage:
  python -m web [--host 127.0.0.1] [--port 8080] [--rasa-url http://localhost:5005]
  (also ``python scripts/serve_web.py``)
Settings (settings.py): WEB_HOST, WEB_PORT, RASA_URL (CLI arguments win), SUPPORT_HOTLINE.

Rasa must be started with CORS enabled for the page's origin, e.g. ``rasa run --enable-api --cors "*"``.
"""

from __future__ import annotations

import argparse
import json
import posixpath
import signal
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

DEFAULT_WEB_ROOT = Path(__file__).resolve().parent
# The server's own code lives in the web root too: it is never served.
_HIDDEN_SUFFIXES = (".py", ".pyc")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".woff2": "font/woff2",
}


def rasa_origin(rasa_url: str) -> str:
    """Return the scheme://host[:port] origin of a Rasa URL (used in the Content-Security-Policy)."""
    parts = urlsplit(rasa_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"Rasa URL must be an absolute http(s) URL, got {rasa_url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def socket_origin(rasa_url: str) -> str:
    """The ws(s)://host[:port] origin of a Rasa URL (socket.io's websocket transport, for the CSP)."""
    origin = rasa_origin(rasa_url)
    return ("wss" if origin.startswith("https:") else "ws") + origin[origin.index(":"):]


def build_config_js(rasa_url: str, hotline: str) -> bytes:
    """Build the JavaScript that exposes the chat configuration to web/widget.js and web/portal.js."""
    payload = json.dumps({"rasaUrl": rasa_url.rstrip("/"), "hotline": hotline}, ensure_ascii=False)
    # Escape "<" so a crafted URL can never close a surrounding <script> element.
    payload = payload.replace("<", "\\u003c")
    return f"window.TTHC_CHAT_CONFIG = {payload};\n".encode()


def resolve_static(web_root: Path, url_path: str) -> Path | None:
    """Map a URL path to a regular file inside ``web_root``; return None if it is outside or missing."""
    path = unquote(url_path.split("?", 1)[0].split("#", 1)[0])
    if "\x00" in path or "\\" in path:
        return None
    path = posixpath.normpath("/" + path.lstrip("/"))
    if path == "/":
        path = "/index.html"
    candidate = (web_root / path.lstrip("/")).resolve()
    root = web_root.resolve()
    if candidate != root and root not in candidate.parents:
        return None
    if candidate.is_dir():
        candidate = candidate / "index.html"
    if not candidate.is_file() or candidate.suffix.lower() in _HIDDEN_SUFFIXES or "__pycache__" in candidate.parts:
        return None
    return candidate


def make_handler(web_root: Path, rasa_url: str, quiet: bool = False,
                 hotline: str | None = None) -> type[BaseHTTPRequestHandler]:
    """Create a request handler class bound to a web root, a Rasa URL and the hotline (default SUPPORT_HOTLINE)."""
    if hotline is None:
        from settings import get_settings

        hotline = get_settings().support_hotline
    config_js = build_config_js(rasa_url, hotline)
    csp = (
        "default-src 'self'; "
        # ws(s): the widget listens for officers' replies on Rasa's socket.io channel (websocket upgrade).
        f"connect-src 'self' {rasa_origin(rasa_url)} {socket_origin(rasa_url)}; "
        "img-src 'self' data: https: http:; "
        "style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'self'"
    )

    class WebHandler(BaseHTTPRequestHandler):
        server_version = "TTHCWeb/1.0"
        sys_version = ""

        def log_message(self, format: str, *args: object) -> None:
            if not quiet:
                super().log_message(format, *args)

        def _send(self, status: int, body: bytes, content_type: str, head_only: bool) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            if content_type.startswith("text/html"):
                self.send_header("Content-Security-Policy", csp)
            self.end_headers()
            if not head_only:
                self.wfile.write(body)

        def _not_found(self, head_only: bool) -> None:
            body = "Không tìm thấy trang.\n".encode()
            self._send(HTTPStatus.NOT_FOUND, body, "text/plain; charset=utf-8", head_only)

        def _handle(self, head_only: bool) -> None:
            path = urlsplit(self.path).path
            if path == "/healthz":
                self._send(HTTPStatus.OK, b'{"status": "ok"}', "application/json", head_only)
                return
            if path == "/config.js":
                self._send(HTTPStatus.OK, config_js, CONTENT_TYPES[".js"], head_only)
                return
            target = resolve_static(web_root, path)
            if target is None:
                self._not_found(head_only)
                return
            content_type = CONTENT_TYPES.get(target.suffix.lower(), "application/octet-stream")
            self._send(HTTPStatus.OK, target.read_bytes(), content_type, head_only)

        def do_GET(self) -> None:
            self._handle(head_only=False)

        def do_HEAD(self) -> None:
            self._handle(head_only=True)

        def _method_not_allowed(self) -> None:
            self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
            self.send_header("Allow", "GET, HEAD")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PUT = do_DELETE = do_PATCH = _method_not_allowed

    return WebHandler


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse CLI arguments; defaults come from settings.py (WEB_HOST / WEB_PORT / RASA_URL)."""
    from settings import get_settings

    settings = get_settings()
    parser = argparse.ArgumentParser(description="Serve the web chat demo page.")
    parser.add_argument("--host", default=settings.web_host)
    parser.add_argument("--port", type=int, default=settings.web_port)
    parser.add_argument("--rasa-url", default=settings.rasa_url)
    parser.add_argument("--web-root", type=Path, default=DEFAULT_WEB_ROOT)
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the server until Ctrl-C or SIGTERM."""
    args = parse_args(argv)
    try:
        rasa_origin(args.rasa_url)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not (args.web_root / "index.html").is_file():
        print(f"error: {args.web_root}/index.html not found", file=sys.stderr)
        return 2

    handler = make_handler(args.web_root, args.rasa_url, quiet=args.quiet)
    server = ThreadingHTTPServer((args.host, args.port), handler)
    server.daemon_threads = True

    def _stop(signum: int, _frame: object) -> None:
        # shutdown() blocks until serve_forever returns, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    # Handle SIGINT explicitly too: a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    host, port = server.server_address[:2]
    print(f"Serving {args.web_root} on http://{host}:{port}/ (Rasa: {args.rasa_url})", flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print("Web server stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
