"""KB_DIR (settings.py) names the knowledge base every reader loads: a copy with changed records is what the
knowledge service, the bank, the search's tables and the narrowing questions see."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from core.knowledge_service import KnowledgeService
from core.narrowing import Narrowing
from knowledge import bank, index, store
from knowledge.contrast import ContrastTable
from knowledge.rewrite import QueryRewriter

CODE = "1.001193"  # Đăng ký khai sinh
TABLES = ("synonyms.yml", "glossary_en.yml", "acronyms.yml", "contrasts.yml", "aliases.yml", "narrowing.yml")


def _copy(shipped, root):
    """A small knowledge base: one procedure renamed, one FAQ entry, the shipped tables (the narrowing question
    of one group reworded), a bank of one question."""
    (root / "procedures").mkdir(parents=True)
    record = json.loads((shipped / "procedures" / f"{CODE}.json").read_text(encoding="utf-8"))
    record["name"] = "Đăng ký khai sinh (bản thử của KB_DIR)"
    (root / "procedures" / f"{CODE}.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    faq = [{"id": "kb_dir_only", "topic": "thử", "questions": ["KB_DIR là gì?"], "answer": "Thư mục tri thức.",
            "source": "https://dichvucong.gov.vn/"}]
    (root / "faq.yml").write_text(yaml.safe_dump(faq, allow_unicode=True), encoding="utf-8")
    for name in TABLES:
        shutil.copy(shipped / name, root / name)
    narrowing = yaml.safe_load((root / "narrowing.yml").read_text(encoding="utf-8"))
    group = next(iter(narrowing["groups"]))
    narrowing["groups"][group]["question"] = "Câu hỏi của bản thử?"
    (root / "narrowing.yml").write_text(yaml.safe_dump(narrowing, allow_unicode=True), encoding="utf-8")
    questions = root / "questions" / "bank"
    questions.mkdir(parents=True)
    (questions / "kb_dir.jsonl").write_text(json.dumps(
        {"code": CODE, "style": "formal", "q": "Con tôi mới sinh thì đăng ký khai sinh ở đâu?"},
        ensure_ascii=False) + "\n", encoding="utf-8")
    (root / "questions" / "split.jsonl").write_text(json.dumps(
        {"code": CODE, "family": CODE, "split": "train"}) + "\n", encoding="utf-8")
    return group


def test_the_knowledge_service_loads_the_kb_dir_copy(tmp_path, settings_env):
    shipped = store.data_dir()
    shipped_hash = index.source_hash()
    group = _copy(shipped, tmp_path / "kb")
    settings_env(KB_DIR=str(tmp_path / "kb"))
    assert store.data_dir() == tmp_path / "kb"

    service = KnowledgeService(searcher_factory=lambda: None)
    assert service.procedure(CODE).name == "Đăng ký khai sinh (bản thử của KB_DIR)"
    assert [p.code for p in store.load_procedures()] == [CODE]
    assert service.faq("faq:kb_dir_only").answer == "Thư mục tri thức."
    assert service.faq("faq:vneid_login") is None  # the shipped FAQ is not read
    assert [q.code for q in bank.load_bank()] == [CODE]
    assert index.source_hash() != shipped_hash
    assert Narrowing.from_file().groups[group]["question"] == "Câu hỏi của bản thử?"

    # The tables are read from KB_DIR too: without them there, loading fails instead of using the shipped ones.
    for name in TABLES:
        (tmp_path / "kb" / name).unlink()
    for load in (QueryRewriter.from_files, ContrastTable.from_file, Narrowing.from_file):
        try:
            load()
        except FileNotFoundError:
            continue
        raise AssertionError(f"{load.__qualname__} did not read KB_DIR")


def test_without_kb_dir_the_shipped_knowledge_base_is_read(settings_env):
    settings_env(KB_DIR=None)
    shipped = Path(__file__).resolve().parents[2] / "knowledge" / "data"
    assert store.data_dir() == shipped
    record = json.loads((shipped / "procedures" / f"{CODE}.json").read_text(encoding="utf-8"))
    assert store.get_procedure(CODE).name == record["name"]
    assert len(store.load_procedures()) > 2000
