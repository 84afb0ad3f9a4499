"""A minimal socket.io (protocol 5, engine.io 4) client over a raw WebSocket, for talking to Rasa's socket.io
channel like the widget or an attacker would: connect, emit events, wait for the events the server sends."""

from __future__ import annotations

import json
import time
from typing import Any, List, Optional, Tuple
from urllib.parse import urlsplit

from websockets.sync.client import connect


class SocketIOClient:
    """One socket on the default namespace; ``received`` holds every (event, data) that came in, in order."""

    def __init__(self, base_url: str, path: str = "/socket.io", query: str = "") -> None:
        parts = urlsplit(base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        url = f"{scheme}://{parts.netloc}{path}/?EIO=4&transport=websocket" + (f"&{query}" if query else "")
        self.ws = connect(url, open_timeout=10)
        self.received: List[Tuple[str, Any]] = []
        opening = self.ws.recv(timeout=10)
        assert opening.startswith("0"), opening  # engine.io open packet
        self.ws.send("40")  # socket.io CONNECT to "/"
        self._wait_raw(lambda packet: packet.startswith("40"), 10)

    def _handle(self, packet: str) -> None:
        if packet == "2":  # engine.io ping
            self.ws.send("3")
        elif packet.startswith("42"):
            event, *args = json.loads(packet[2:])
            self.received.append((event, args[0] if args else None))

    def _wait_raw(self, predicate, seconds: float) -> Optional[str]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                packet = self.ws.recv(timeout=max(0.05, deadline - time.monotonic()))
            except TimeoutError:
                break
            self._handle(packet)
            if predicate(packet):
                return packet
        return None

    def emit(self, event: str, data: Any) -> None:
        """Send one event with one argument."""
        self.ws.send("42" + json.dumps([event, data], ensure_ascii=False))

    def wait_for(self, event: str, seconds: float = 30.0) -> Any:
        """The data of the first ``event`` received (now or within ``seconds``); AssertionError otherwise."""
        deadline = time.monotonic() + seconds
        while True:
            for name, data in self.received:
                if name == event:
                    return data
            if time.monotonic() >= deadline:
                raise AssertionError(f"no {event!r} within {seconds} s; received {self.received}")
            self._wait_raw(lambda packet: packet.startswith("42"), deadline - time.monotonic())

    def drain(self) -> List[Tuple[str, Any]]:
        """Read whatever has already arrived, without waiting for more; every event received so far."""
        self._wait_raw(lambda packet: False, 0.05)
        return list(self.received)

    def close(self) -> None:
        self.ws.close()
