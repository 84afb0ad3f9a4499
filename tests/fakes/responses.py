"""What the citizen sees of an action's messages: domain.yml's responses filled as the Rasa server fills them.

Actions send fixed phrases as ``dispatcher.utter_message(response="utter_…", **values)``; the Rasa server then
picks the response in domain.yml, fills its ``{placeholders}`` from the values and the slots, and puts the
response's own buttons before the ones the action added (``rasa.core.actions.action.RemoteAction``). These helpers
do the same for a ``CollectingDispatcher``'s messages, so tests assert the real Vietnamese text. Unlike Rasa, a
placeholder without a value is an error here (Rasa would send the raw template).
"""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import yaml

ROOT = Path(__file__).resolve().parents[2]
_PLACEHOLDER = re.compile(r"{([^\n{}]+?)}")


@lru_cache(maxsize=1)
def domain_responses() -> Dict[str, List[Dict[str, Any]]]:
    """domain.yml's responses (name -> variations)."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    return domain["responses"]


def fill(template: str, values: Dict[str, Any]) -> str:
    """``template`` with its ``{placeholders}`` filled from ``values``, as Rasa's interpolator does (doubled braces
    stay literal braces); a placeholder without a value raises ``KeyError``."""
    text = _PLACEHOLDER.sub(r"{0[\1]}", template).format(values)
    return template.format({}) if "0[" in text else text


def response(name: str, variation: int = 0, **values: Any) -> Dict[str, Any]:
    """Response ``name`` (its ``variation``-th text) filled with ``values``: {"text", "buttons"}."""
    picked = copy.deepcopy(domain_responses()[name][variation])
    return {
        "text": fill(picked["text"], values) if picked.get("text") else None,
        "buttons": [{key: fill(value, values) if isinstance(value, str) else value for key, value in button.items()}
                    for button in picked.get("buttons") or []],
    }


def response_text(name: str, **values: Any) -> str:
    """The text of response ``name`` filled with ``values``."""
    return response(name, **values)["text"]


_DISPATCHER_KEYS = {"text", "buttons", "elements", "custom", "template", "response", "image", "attachment"}


def render(message: Dict[str, Any], slots: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """One collected message as the citizen gets it; the response name stays under ``"response"``."""
    name = message.get("response")
    if not name:
        return dict(message)
    values = {**(slots or {}), **{k: v for k, v in message.items() if k not in _DISPATCHER_KEYS}}
    filled = response(name, **values)
    return {**message, "text": filled["text"], "buttons": filled["buttons"] + list(message.get("buttons") or [])}


def rendered(messages: Iterable[Dict[str, Any]], slots: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    """Every collected message as the citizen gets it."""
    return [render(message, slots) for message in messages]


def texts(messages: Iterable[Dict[str, Any]], slots: Optional[Dict[str, Any]] = None) -> List[str]:
    """The texts the citizen reads."""
    return [message["text"] for message in rendered(messages, slots)]
