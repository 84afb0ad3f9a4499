"""The ``settings_env`` fixture: environment variables for settings.py, re-read at once and after the test."""

from __future__ import annotations

from typing import Callable, Iterator, Optional

import pytest

from settings import get_settings


@pytest.fixture
def settings_env(monkeypatch) -> Iterator[Callable[..., None]]:
    """``settings_env(KB_DIR="/tmp/kb", WEB_PORT=None)`` sets (None: unsets) the variables and makes
    ``get_settings()`` read them again; after the test the environment and the settings are restored."""

    def apply(**values: Optional[str]) -> None:
        for name, value in values.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, str(value))
        get_settings.cache_clear()

    get_settings.cache_clear()
    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()
