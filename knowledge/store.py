"""Load the generated knowledge base (procedures + FAQ) once per process."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from knowledge.schema import FaqEntry, Procedure

# A procedure code of the national portal ("1.001193"); the NLU's regex entity (data/nlu/entities.yml) is the same.
PROCEDURE_CODE_RE = re.compile(r"[1-6]\.\d{6}")


def data_dir() -> Path:
    """The knowledge base folder every reader uses: ``KB_DIR`` (settings.py), default ``knowledge/data``."""
    from settings import get_settings

    return get_settings().knowledge_dir


def is_procedure_code(value: object) -> bool:
    """Whether ``value`` has the shape of a procedure code (cheap; no data loaded)."""
    return isinstance(value, str) and PROCEDURE_CODE_RE.fullmatch(value) is not None


@lru_cache(maxsize=4)
def _load_procedures(root: Path) -> tuple[Procedure, ...]:
    files = sorted((root / "procedures").glob("*.json"))
    return tuple(Procedure.model_validate(json.loads(f.read_text(encoding="utf-8"))) for f in files)


def load_procedures(root: Path | None = None) -> list[Procedure]:
    """All procedures under ``root/procedures`` (default :func:`data_dir`), sorted by code; cached."""
    return list(_load_procedures(Path(root or data_dir()).resolve()))


@lru_cache(maxsize=4)
def _index(root: Path) -> dict[str, Procedure]:
    return {p.code: p for p in _load_procedures(root)}


def get_procedure(code: str, root: Path | None = None) -> Procedure | None:
    """The procedure with this code (e.g. "1.001193"), or None."""
    return _index(Path(root or data_dir()).resolve()).get(code.strip())


@lru_cache(maxsize=4)
def _load_faq(path: Path) -> tuple[FaqEntry, ...]:
    import yaml  # local: only needed when the FAQ is used

    if not path.exists():
        return ()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return tuple(FaqEntry.model_validate(item) for item in data)


def load_faq(root: Path | None = None) -> list[FaqEntry]:
    """Curated FAQ entries from ``root/faq.yml`` (default :func:`data_dir`); cached."""
    return list(_load_faq((Path(root or data_dir()) / "faq.yml").resolve()))


def clear_cache() -> None:
    """Forget loaded data (after re-importing)."""
    for fn in (_load_procedures, _index, _load_faq):
        fn.cache_clear()
