"""The knowledge service the procedure action talks to: search plus structured lookups.

Everything heavy (index, encoder, the 2,642 procedure files) is loaded on first use, once per process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional

from knowledge.search import Hit, SearchResponse
from knowledge.text import content_words

MAX_OPTIONS = 3
# A candidate far below the top one (0.003 beside 0.88) is not an option to ask the citizen about.
MIN_OPTION_SHARE = 0.05


def clarify_options(results: List[Hit]) -> List[Hit]:
    """The procedures to ask between when the search decided to clarify: the first :data:`MAX_OPTIONS` procedures
    whose score is at least :data:`MIN_OPTION_SHARE` of the top one's."""
    procedures = [h for h in results if h.kind == "procedure"][:MAX_OPTIONS]
    if not procedures:
        return []
    floor = procedures[0].score * MIN_OPTION_SHARE
    return [h for h in procedures if h.score >= floor]


@dataclass
class Resolution:
    """What the procedure action should do for one message."""

    kind: str  # "answer" | "faq" | "choose" | "several" | "ask_topic" | "unknown"
    procedure: object = None
    faq: object = None
    candidates: List[Hit] = field(default_factory=list)
    follow_up: bool = False
    # When the procedure exists at several levels and the question named none, the search picked the level a
    # resident of the province deals with; this says which ("cấp xã"), for the answer to state it.
    local_level: str = ""
    # The question asked about several procedures that one joined ("liên thông") procedure covers.
    joined: bool = False
    # The search's calibrated confidence in the entry answered with, when the answer is the search's own top entry
    # (not a follow-up about the current procedure, not a joined procedure); None otherwise.
    confidence: Optional[float] = None


class KnowledgeService:
    """Find the procedure (or FAQ) a message is about, keeping the conversation's current one in mind."""

    def __init__(self, searcher_factory: Optional[Callable] = None, store=None) -> None:
        """``searcher_factory`` returns a searcher with ``search(text, top_k)``; defaults to the real index."""
        if searcher_factory is None:
            from knowledge.search import get_searcher

            searcher_factory = get_searcher
        if store is None:
            from knowledge import store as default_store

            store = default_store
        self._searcher_factory = searcher_factory
        self._store = store
        self._joined = None

    def joined_procedures(self):
        """The store's joined ("liên thông") procedures (read from the names on first use)."""
        if self._joined is None:
            from core.joined import joined_procedures

            load = getattr(self._store, "load_procedures", None)
            self._joined = joined_procedures(load() if load else [])
        return self._joined

    def search(self, text: str, top_k: int = 5) -> SearchResponse:
        """Hybrid search (see ``knowledge.search``)."""
        return self._searcher_factory().search(text, top_k=top_k)

    def lexical(self, text: str) -> str:
        """``text`` as the search's synonym table rewrites it ("nhập hộ khẩu" -> "đăng ký thường trú")."""
        from knowledge.rewrite import get_rewriter

        return get_rewriter().rewrite(text).lexical

    def procedure(self, code: Optional[str]):
        """The structured procedure for ``code``, or None."""
        return self._store.get_procedure(code) if code else None

    def faq(self, code: str):
        """The FAQ entry for an index code ``faq:<id>``, or None."""
        wanted = code.split(":", 1)[-1]
        return next((f for f in self._store.load_faq() if f.id == wanted), None)

    def resolve(self, text: str, current_code: Optional[str], has_aspect: bool,
                response: Optional[SearchResponse] = None) -> Resolution:
        """Decide between answering, asking to choose, asking for the topic and admitting ignorance.

        A message that names no topic ("mất bao lâu?") or that the index cannot place while asking for an
        aspect ("thế còn phí?") is a follow-up about the conversation's current procedure. ``response`` is the
        search's response for ``text`` when the caller already has it (the routing actions searched first).
        """
        if response is None:
            response = self.search(text)
        current = self.procedure(current_code)
        # A short aspect question the index cannot place ("thế còn phí?") is about the current procedure; a longer
        # one ("how long does company registration take?") names a topic of its own and must not be answered
        # with the previous procedure.
        short = len(content_words(text)) <= 2
        if response.no_topic or (response.abstain and has_aspect and short and current is not None):
            if current is not None:
                return Resolution("answer", procedure=current, follow_up=True)
            return Resolution("ask_topic")
        from core.joined import best_joined

        joined = best_joined(self.joined_procedures(), [text, self.lexical(text)])
        if joined is not None:
            proc = self.procedure(joined.code)
            if proc is not None:
                return Resolution("answer", procedure=proc, joined=True)
        if response.decision != "answer":
            # Several procedures in one message ("kết hôn và làm hộ chiếu"): each piece answered on its own.
            from core.several import several_procedures

            several = several_procedures(text, self.search)
            if several:
                return Resolution("several", candidates=several)
        if response.abstain:
            suggestions = list(response.suggestions)
            first = response.results[0] if response.results else None
            entry = self.faq(first.code) if first is not None and first.kind == "faq" else None
            if entry is not None:
                # The FAQ entry beats every procedure candidate ("bộ phận một cửa ở đâu" read as a procedure
                # question): its answer, with the procedures the citizen may mean still one tap away.
                return Resolution("faq", faq=entry, candidates=suggestions)
            # Not an answer: procedures the citizen may mean, offered as buttons beside the human handoff.
            return Resolution("unknown", candidates=suggestions)
        top = response.results[0]
        if response.ambiguous:
            options = clarify_options(response.results)
            if len(options) > 1:
                return Resolution("choose", candidates=options)
            # The siblings beside the top one are negligible and the top one is not sure enough to answer.
            return Resolution("unknown",
                              candidates=[h for h in response.results if h.kind == "procedure"][:MAX_OPTIONS])
        confidence = float(response.confidence)
        if top.kind == "faq":
            entry = self.faq(top.code)
            if entry is not None:
                return Resolution("faq", faq=entry, confidence=confidence)
        proc = self.procedure(top.code)
        if proc is None:
            return Resolution("unknown")
        local = ""
        if response.local_variant:
            from knowledge.search import LEVEL_LABELS

            local = LEVEL_LABELS.get(top.level) or ", ".join(level.lower() for level in proc.levels or [])
        return Resolution("answer", procedure=proc, local_level=local, confidence=confidence)
