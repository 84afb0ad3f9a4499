"""The action server's view of the knowledge index: checked at startup and on ``GET /health/knowledge``.

A missing or damaged index must never look like "no procedure found": the procedure action apologises with
the hotline (actions/actions_procedure.py) and this module says in the log and on the health route which file
is at fault and how to rebuild it. The action server does not rebuild the index itself: building needs the
torch encoder the action server never loads, and in the scaled profile the index is shared read-only;
``make run`` / ``make build-index`` rebuild a damaged index (``knowledge.index.is_stale``).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

from knowledge.index import REBUILD_HINT, KnowledgeIndexError, load_parts

logger = logging.getLogger(__name__)

HEALTH_ROUTE = "/health/knowledge"


def _default_index_dir() -> Path:
    from settings import get_settings

    return Path(get_settings().index_dir)


def _bank_splits() -> list:
    from settings import BANK_SPLITS, get_settings

    return list(get_settings().kb_bank_splits or BANK_SPLITS)


class IndexHealth:
    """Checks the index folder; the result is reused until a file of the folder changes (e.g. a rebuild)."""

    def __init__(self, index_dir: Optional[Callable[[], Path]] = None) -> None:
        """``index_dir`` returns the folder to check (default: the settings' ``KB_INDEX_DIR``)."""
        self._index_dir = index_dir or _default_index_dir
        self._lock = threading.Lock()
        self._cached: Optional[Tuple[tuple, Dict[str, Any]]] = None

    @staticmethod
    def _fingerprint(root: Path) -> tuple:
        """Names, sizes and modification times of the folder's files (cheap: no file is read)."""
        try:
            return tuple(sorted(
                (str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
                for p in root.rglob("*") if p.is_file()
            )) + ((root.stat().st_ino,) if root.exists() else ())
        except OSError:
            return ("unreadable",)

    def check(self) -> Dict[str, Any]:
        """``{"status": "ok", ...}`` or ``{"status": "error", "problem": ..., "fix": ...}`` for the index."""
        root = Path(self._index_dir())
        key = (str(root), self._fingerprint(root))
        with self._lock:
            if self._cached and self._cached[0] == key:
                return self._cached[1]
            try:
                config = load_parts(root)[0]
                result: Dict[str, Any] = {
                    "status": "ok", "index_dir": str(root), "entries": config.get("entries"),
                    "vectors": config.get("vectors"), "model": config.get("model"),
                    "built_at": config.get("built_at"), "checksums": isinstance(config.get("files"), dict),
                    "bank_questions": config.get("bank_questions"),
                    # Which question-bank splits vote in the search (KB_BANK_SPLITS; `make eval-dialogue` checks
                    # that its stack hides the test split).
                    "bank_splits": _bank_splits(),
                }
            except KnowledgeIndexError as exc:
                result = {"status": "error", "index_dir": str(root), "problem": str(exc),
                          "file": str(exc.path) if exc.path else None, "fix": REBUILD_HINT}
            self._cached = (key, result)
            return result


_health = IndexHealth()


def index_health() -> IndexHealth:
    """The process-wide checker."""
    return _health


def log_startup_check(health: Optional[IndexHealth] = None) -> Dict[str, Any]:
    """Check the index once at startup and log the outcome (an ERROR naming the file when it is unusable)."""
    result = (health or _health).check()
    if result["status"] == "ok":
        logger.info("Knowledge index OK at %s: %s entries, %s vectors (%s).", result["index_dir"], result["entries"],
                    result["vectors"], result["model"])
    else:
        logger.error("%s Until then procedure questions get an apology with the hotline (see GET %s).",
                     result["problem"], HEALTH_ROUTE)
    return result


def attach(app) -> None:
    """Add the startup check and ``GET /health/knowledge`` (200 when usable, 503 with the problem) to ``app``."""
    from sanic import response

    async def knowledge_health(request) -> Any:
        import asyncio

        result = await asyncio.get_running_loop().run_in_executor(None, _health.check)
        return response.json(result, status=200 if result["status"] == "ok" else 503)

    async def startup_check(app_, loop) -> None:
        # In a thread: loading the index takes a moment and must not hold the server's start.
        threading.Thread(target=log_startup_check, name="kb-index-check", daemon=True).start()

    app.add_route(knowledge_health, HEALTH_ROUTE, methods=["GET"], name="knowledge_health")
    app.register_listener(startup_check, "after_server_start")
