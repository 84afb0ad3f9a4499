"""In-memory stand-ins for the knowledge search and the procedure store, for action and service tests."""

from __future__ import annotations

from knowledge.search import SearchResponse


class FakeSearcher:
    """Returns a canned response per query (an abstention for any other); records what it was asked."""

    def __init__(self, responses):
        self.responses = responses
        self.asked = []

    def search(self, text, top_k=5):
        self.asked.append(text)
        return self.responses.get(text) or SearchResponse(query=text, abstain=True)


class FakeStore:
    """The procedures given, by code; no FAQ entries."""

    def __init__(self, procedures):
        self.procedures = {p.code: p for p in procedures}

    def get_procedure(self, code):
        return self.procedures.get(code)

    def load_procedures(self):
        return list(self.procedures.values())

    def load_faq(self):
        return []


def abstaining_service(procedures=()):
    """A knowledge service whose search places nothing (every message abstains), over ``procedures``."""
    from core.knowledge_service import KnowledgeService

    return KnowledgeService(searcher_factory=lambda: FakeSearcher({}), store=FakeStore(list(procedures)))
