"""Make the action server load its index and encoder now, not on a citizen's first question.

Sends one ordinary action call (what Rasa itself would send) for a procedure question.
Usage: python scripts/warmup_actions.py [http://localhost:5055]
The call carries ACTION_SERVER_TOKEN (the action server refuses calls without it).
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request

QUESTION = "đăng ký khai sinh cần giấy tờ gì"


def warm_up(base_url: str, timeout: float = 300.0, token: str | None = None) -> float:
    """Call action_answer_procedure once (with ``token``, default ACTION_SERVER_TOKEN); the seconds it took."""
    token = token if token is not None else os.environ.get("ACTION_SERVER_TOKEN", "")
    latest = {"text": QUESTION, "intent": {"name": "ask_procedure", "confidence": 1.0}, "entities": []}
    body = {
        "next_action": "action_answer_procedure",
        "sender_id": "warmup",
        "tracker": {
            "sender_id": "warmup",
            "slots": {},
            "latest_message": latest,
            "events": [{"event": "user", "text": QUESTION, "parse_data": latest}],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
        "domain": {},
        "version": "3.6.21",
    }
    request = urllib.request.Request(
        base_url.rstrip("/") + "/webhook",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()
    return time.monotonic() - started


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else "http://localhost:5055"
    try:
        print(f"Action server warmed up in {warm_up(url):.1f} s.")
    except OSError as exc:
        print(f"Warm-up failed: {exc}", file=sys.stderr)
        sys.exit(1)
