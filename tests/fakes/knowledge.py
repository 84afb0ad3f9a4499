"""In-memory stand-ins for the knowledge search and the procedure store, for action and service tests, and a
five-entry index for tests that build a real one on fake (hashing) vectors."""

from __future__ import annotations

from knowledge.index import IndexEntry
from knowledge.search import Hit, SearchResponse

# Four procedures and one FAQ entry: index build, search and fault tests build their small index from these.
ENTRIES = [
    IndexEntry("1.001193", "procedure", "1.001193", "Đăng ký khai sinh", aliases=["làm giấy khai sinh"]),
    IndexEntry("1.000894", "procedure", "1.000894", "Đăng ký kết hôn", aliases=["làm giấy đăng ký kết hôn"]),
    IndexEntry("2.001255", "procedure", "2.001255", "Cấp lại thẻ Căn cước", aliases=["cấp lại căn cước"]),
    IndexEntry("1.004222", "procedure", "1.004222", "Đăng ký thường trú", aliases=["nhập hộ khẩu"]),
    IndexEntry("faq:vneid_login", "faq", "faq:vneid_login", "Đăng nhập Cổng Dịch vụ công bằng VNeID",
               aliases=["đăng nhập bằng vneid thế nào"]),
]


class FakeSearcher:
    """Returns a canned response per query (an abstention for any other); records what it was asked."""

    def __init__(self, responses):
        self.responses = responses
        self.asked = []

    def search(self, text, top_k=5):
        self.asked.append(text)
        return self.responses.get(text) or SearchResponse(query=text, abstain=True)


class BrokenSearcher:
    """A search whose index is missing or corrupt: every query raises."""

    def search(self, text, top_k=5):
        raise RuntimeError("index missing")


class FakeStore:
    """The procedures given, by code, and the FAQ entries given (none by default)."""

    def __init__(self, procedures, faq=()):
        self.procedures = {p.code: p for p in procedures}
        self.faq = list(faq)

    def get_procedure(self, code):
        return self.procedures.get(code)

    def load_procedures(self):
        return list(self.procedures.values())

    def load_faq(self):
        return list(self.faq)


def abstaining_service(procedures=()):
    """A knowledge service whose search places nothing (every message abstains), over ``procedures``."""
    from core.knowledge_service import KnowledgeService

    return KnowledgeService(searcher_factory=lambda: FakeSearcher({}), store=FakeStore(list(procedures)))


def failing_service(procedures=()):
    """A knowledge service whose search fails on every message (:class:`BrokenSearcher`), over ``procedures``."""
    from core.knowledge_service import KnowledgeService

    return KnowledgeService(searcher_factory=BrokenSearcher, store=FakeStore(list(procedures)))


def answering(query, procedure, probability=0.9):
    """The search response of ``query`` that answers ``procedure`` with confidence."""
    hit = Hit(code=procedure.code, name=procedure.name, kind="procedure", url="", score=probability,
              probability=probability)
    return SearchResponse(query, False, decision="answer", confidence=probability, results=[hit])


def searching_service(responses, procedures):
    """A knowledge service whose search returns ``responses`` (query -> response, any other query abstains) over
    ``procedures``, and that search (its ``asked`` lists the queries)."""
    from core.knowledge_service import KnowledgeService

    searcher = FakeSearcher(responses)
    return KnowledgeService(searcher_factory=lambda: searcher, store=FakeStore(list(procedures))), searcher
