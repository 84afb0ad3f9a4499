"""Running a custom action in a test as the action server would: domain.yml, a ``CollectingDispatcher``, and what
the citizen reads of its messages (``tests.fakes.responses.rendered``)."""

from __future__ import annotations

import asyncio
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Tuple

import yaml
from rasa_sdk.executor import CollectingDispatcher

from tests.fakes.responses import rendered

ROOT = Path(__file__).resolve().parents[2]


@lru_cache(maxsize=1)
def domain() -> Dict[str, Any]:
    """domain.yml as the action server receives it."""
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def run_action(action, tracker) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Run ``action`` on ``tracker``: (its messages as the citizen gets them, its events)."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain()))
    return rendered(dispatcher.messages), events


def slots_of(events) -> Dict[str, Any]:
    """The slots the events set (the last value of each)."""
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
