"""``python -m knowledge import NEW_DUMP --diff``: a small knowledge base imported from real portal records
(tests/unit/fixtures/tthc_*.json) is refreshed from a modified dump with one procedure removed, one added and one
with a changed fee and name: the report, the records written, the incremental index, the ranker carry-over, the
data date in the answer and the flags for the removed procedure's bank question and alias."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest

from core.answers import format_answer
from knowledge import ranker, store
from knowledge.bank import load_bank
from knowledge.cli import main
from knowledge.encoder import HashingEncoder
from knowledge.importer import import_source
from knowledge.index import build_index, entries_from_store, is_stale, read_config, source_hash
from knowledge.search import FusionParams, Searcher

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHIPPED = Path(__file__).resolve().parents[2] / "knowledge" / "data"
TABLES = ("synonyms.yml", "glossary_en.yml", "acronyms.yml", "contrasts.yml")  # what the searcher reads from KB_DIR
KEPT, CHANGED, REMOVED, ADDED = "1.000178", "1.002010", "3.000347", "1.000005"
NEW_NAME = "Đăng ký hoạt động của công ty luật trách nhiệm hữu hạn một thành viên"
ALIASES = """\
- codes: ["3.000347"]
  phrases: [đổi bằng lái xe, đổi giấy phép lái xe]
- codes: ["1.000178"]
  phrases: [khiếu nại công an]
"""


def raw(code: str) -> dict:
    return json.loads((FIXTURES / f"tthc_{code}.json").read_text(encoding="utf-8"))


def write_dump(path: Path, records: list) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


@pytest.fixture
def kb(tmp_path, settings_env):
    """A knowledge base of three procedures with a bank and aliases, its index built on hashing vectors, and the
    modified dump."""
    root = tmp_path / "kb"
    (root / "questions" / "bank").mkdir(parents=True)
    (root / "aliases.yml").write_text(ALIASES, encoding="utf-8")
    for name in TABLES:
        shutil.copy(SHIPPED / name, root / name)
    bank = [{"code": REMOVED, "style": "story", "q": "Bằng lái xe của tôi sắp hết hạn, đổi ở đâu?"},
            {"code": KEPT, "style": "formal", "q": "Tôi muốn khiếu nại quyết định của công an thì làm thế nào?"},
            {"code": CHANGED, "style": "short", "q": "văn phòng luật sư đăng ký hoạt động ở đâu"}]
    (root / "questions" / "bank" / "t.jsonl").write_text(
        "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in bank), encoding="utf-8")
    (root / "questions" / "split.jsonl").write_text("".join(
        json.dumps({"code": c, "family": c, "split": "train"}) + "\n" for c in (KEPT, CHANGED, REMOVED)),
        encoding="utf-8")
    settings_env(KB_DIR=str(root), KB_INDEX_DIR=str(tmp_path / "kb-index"), KB_ENCODER="hashing:64")
    from knowledge.enrich import curated_aliases

    curated_aliases.cache_clear()
    import_source(write_dump(tmp_path / "old.jsonl.gz", [raw(KEPT), raw(CHANGED), raw(REMOVED)]))
    store.clear_cache()
    build_index(entries_from_store(), HashingEncoder(64), tmp_path / "kb-index", source_hash(), bank=load_bank())
    changed = raw(CHANGED)
    changed["ten_thu_tuc"] = NEW_NAME
    changed["cach_thuc_thuc_hien"] = changed["cach_thuc_thuc_hien"].replace("50 VNĐ(", "100.000 VNĐ(")
    dump = write_dump(tmp_path / "new.jsonl.gz", [raw(KEPT), changed, raw(ADDED)])
    yield root, tmp_path / "kb-index", dump
    curated_aliases.cache_clear()
    store.clear_cache()


REPORT = f"""\
added 1, removed 1, changed 1, unchanged 1
+ 1.000005  Thủ tục hải quan đối với khí, nguyên liệu xuất khẩu, nhập khẩu bằng đường ống chuyên dụng
- 3.000347  Đổi giấy phép lái xe
~ 1.002010  {NEW_NAME}  [name, channels, description, aliases]
    was: Đăng ký hoạt động của tổ chức hành nghề luật sư  (renamed)
to review (3): bank questions and aliases of removed or renamed procedures
! questions/bank/t.jsonl:1  3.000347 removed: Bằng lái xe của tôi sắp hết hạn, đổi ở đâu?
! questions/bank/t.jsonl:3  1.002010 renamed: văn phòng luật sư đăng ký hoạt động ở đâu
! aliases.yml entry 1  3.000347 removed: đổi bằng lái xe, đổi giấy phép lái xe
"""


def test_dry_run_reports_without_writing(kb, capsys):
    root, index_dir, dump = kb
    before = {p.name: p.read_text(encoding="utf-8") for p in (root / "procedures").glob("*.json")}
    assert main(["import", str(dump), "--diff", "--dry-run", "--date", "2026-12-01"]) == 0
    out = capsys.readouterr().out
    assert out == REPORT + "data date: 2026-12-01  (dry run: nothing written)\n"
    assert before == {p.name: p.read_text(encoding="utf-8") for p in (root / "procedures").glob("*.json")}
    assert not is_stale(index_dir, source_hash(), "hashing-v1-64")


def test_json_report(kb, capsys):
    _, _, dump = kb
    assert main(["import", str(dump), "--diff", "--dry-run", "--json", "--date", "2026-12-01"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["added"] == [{"code": ADDED, "name": raw(ADDED)["ten_thu_tuc"]}]
    assert report["removed"] == [{"code": REMOVED, "name": "Đổi giấy phép lái xe"}]
    assert report["changed"] == [{"code": CHANGED, "name": NEW_NAME, "renamed": True,
                                  "old_name": "Đăng ký hoạt động của tổ chức hành nghề luật sư",
                                  "fields": ["name", "channels", "description", "aliases"]}]
    assert [(f["kind"], f["code"], f["reason"]) for f in report["flags"]] == [
        ("bank", REMOVED, "removed"), ("bank", CHANGED, "renamed"), ("alias", REMOVED, "removed")]
    assert report["applied"] is False


def test_apply_updates_records_index_and_answers(kb, capsys):
    root, index_dir, dump = kb
    old_config = read_config(index_dir)
    # A ranker trained for the old index: carried over, re-stamped for the updated one.
    (index_dir / "ranker.pkl").write_bytes(b"ranker trained for the old index")
    (index_dir / "ranker.json").write_text(json.dumps({"stamp": ranker.stamp(index_dir)}), encoding="utf-8")

    assert main(["import", str(dump), "--diff", "--date", "2026-12-01"]) == 0
    accents, out = capsys.readouterr().out.split("\n", 1)
    assert accents.startswith("Accent model: ") and accents.endswith(f"-> {index_dir.parent / 'kb-accents.json'}")
    # The added and the renamed procedure: their name, its folded copy and the description, 3 passages each.
    assert out == REPORT + "data date: 2026-12-01\nindex: updated, 6 passages encoded, ranker carried over\n"

    assert sorted(p.stem for p in (root / "procedures").glob("*.json")) == [ADDED, KEPT, CHANGED]
    meta = json.loads((root / "SOURCE.json").read_text(encoding="utf-8"))
    assert (meta["source"], meta["records"], meta["date"], len(meta["sha256"])) == ("new.jsonl.gz", 3, "2026-12-01", 64)
    procs = {p.code: p for p in store.load_procedures()}
    assert {code: p.updated for code, p in procs.items()} == {ADDED: "2026-12-01", KEPT: "2026-12-01",
                                                              CHANGED: "2026-12-01"}
    assert [c.fee.amount_vnd for c in procs[CHANGED].channels] == [100000, 100000, 100000]

    # The index carries the stamp a full build would write: `build --if-stale` keeps it.
    config = read_config(index_dir)
    assert config["source_hash"] == source_hash() != old_config["source_hash"]
    assert not is_stale(index_dir, source_hash(), "hashing-v1-64")
    assert (config["entries"], config["vectors"], config["bank_questions"]) == (3, 9, 3)  # 3 passages an entry
    assert not ranker.is_stale(index_dir)
    # What the update wrote is what a full build of the refreshed knowledge base writes.
    full = build_index(entries_from_store(), HashingEncoder(64), index_dir.with_name("full"), source_hash(),
                       bank=load_bank())
    assert {k: full[k] for k in ("source_hash", "entries", "vectors", "bank_questions")} == {
        k: config[k] for k in ("source_hash", "entries", "vectors", "bank_questions")}
    for name in ("entries.jsonl", "vectors.json", "bank.jsonl"):
        assert (index_dir / name).read_bytes() == (index_dir.with_name("full") / name).read_bytes(), name
    updated, rebuilt = (faiss.read_index(str(d / "dense.faiss")) for d in (index_dir, index_dir.with_name("full")))
    assert np.allclose(updated.reconstruct_n(0, 6), rebuilt.reconstruct_n(0, 6), atol=1e-6)
    carried = json.loads((index_dir / "ranker.json").read_text(encoding="utf-8"))["carried_over"]
    assert [c["reason"] for c in carried] == ["import --diff"]
    assert main(["build", "--if-stale", "--no-ranker"]) == 0
    assert capsys.readouterr().out.endswith("Knowledge index is up to date.\n".replace(".\n", f" ({index_dir}).\n"))

    searcher = Searcher(index_dir, HashingEncoder(64), FusionParams(dense_floor=0.0, dense_span=1.0,
                                                                     abstain_below=0.3), use_ranker=False)
    assert searcher.search(raw(ADDED)["ten_thu_tuc"]).results[0].code == ADDED
    assert searcher.search(NEW_NAME).results[0].code == CHANGED
    assert REMOVED not in searcher.by_code
    assert all(hit.code != REMOVED for hit in searcher.search("đổi giấy phép lái xe").results)

    answer = format_answer(procs[CHANGED], "fee")
    assert answer.endswith("Nguồn: Cổng Dịch vụ công quốc gia — " + procs[CHANGED].url
                           + "\nThông tin cập nhật ngày 01/12/2026.")
    assert "100.000 đồng" in answer
    assert format_answer(procs[CHANGED], "fee", lang="en").endswith("\nInformation as of 01/12/2026.")


def test_a_second_refresh_dates_only_what_changed(kb, capsys):
    root, _, dump = kb
    assert main(["import", str(dump), "--diff", "--date", "2026-12-01", "--no-index"]) == 0
    again = raw(KEPT)
    again["dia_chi_tiep_nhan"] = "Bộ phận Một cửa Công an tỉnh"
    changed = json.loads((root / "procedures" / f"{CHANGED}.json").read_text(encoding="utf-8"))
    second = write_dump(dump.with_name("second.jsonl.gz"), [again, raw(ADDED)])
    capsys.readouterr()
    assert main(["import", str(second), "--diff", "--date", "2026-12-15", "--no-index"]) == 0
    assert capsys.readouterr().out.startswith(
        f"added 0, removed 1, changed 1, unchanged 1\n- {CHANGED}  {changed['name']}\n"
        f"~ {KEPT}  {raw(KEPT)['ten_thu_tuc']}  [submit_address]\n")
    assert {p.code: p.updated for p in store.load_procedures()} == {ADDED: "2026-12-01", KEPT: "2026-12-15"}


def test_a_bad_date_or_missing_dump_is_refused(kb, capsys):
    _, _, dump = kb
    assert main(["import", str(dump), "--diff", "--date", "01/12/2026"]) == 2
    assert "Invalid isoformat string" in capsys.readouterr().err
    assert main(["import", str(dump.with_name("missing.jsonl.gz")), "--diff"]) == 2
    assert capsys.readouterr().err == f"{dump.with_name('missing.jsonl.gz')}: no such file\n"
