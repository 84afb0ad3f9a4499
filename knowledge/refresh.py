"""Refreshing the knowledge base from a new portal dump (``python -m knowledge import NEW_DUMP --diff``).

The new dump is parsed like a full import (knowledge/importer.py) and compared with the records under
``<KB_DIR>/procedures``: procedures added, removed, and changed (with the fields that changed). Applying the diff
writes only those records, each changed or added one stamped with the date of the dump's data (``updated``), and
records the dump in ``SOURCE.json``. The index is then updated incrementally (only new passages are encoded, see
:func:`update_index`), and bank questions and curated aliases that pointed at a removed or renamed procedure are
listed for a person to review (never deleted).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Dict, List, Optional

from knowledge.schema import Procedure
from knowledge.text import fold

# Fields compared between the current and the new record: all but the date the record's data is from.
COMPARED_FIELDS = tuple(name for name in Procedure.model_fields if name != "updated")
# Below this similarity of the folded names a name change is a rename (bank questions and aliases may no longer
# fit); above it the name was only touched up ("Đăng ký khai sinh" -> "Đăng ký khai sinh (cấp xã)" is 0.8).
RENAME_SIMILARITY = 0.75


@dataclass
class Change:
    """One procedure whose record differs between the current knowledge base and the new dump."""

    old: Procedure
    new: Procedure
    fields: List[str]

    @property
    def renamed(self) -> bool:
        return "name" in self.fields and name_similarity(self.old.name, self.new.name) < RENAME_SIMILARITY


@dataclass
class Diff:
    """What a new dump changes: procedures added, removed and changed, by code."""

    added: List[Procedure] = field(default_factory=list)
    removed: List[Procedure] = field(default_factory=list)
    changed: List[Change] = field(default_factory=list)
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_json(self) -> dict:
        return {
            "added": [{"code": p.code, "name": p.name} for p in self.added],
            "removed": [{"code": p.code, "name": p.name} for p in self.removed],
            "changed": [{"code": c.new.code, "name": c.new.name, "fields": c.fields, "renamed": c.renamed,
                         **({"old_name": c.old.name} if "name" in c.fields else {})} for c in self.changed],
            "unchanged": self.unchanged,
        }


def name_similarity(a: str, b: str) -> float:
    """Similarity (0..1) of two procedure names, ignoring case and diacritics."""
    return SequenceMatcher(None, fold(a), fold(b)).ratio()


def changed_fields(old: Procedure, new: Procedure) -> List[str]:
    """The record fields whose values differ (``updated`` aside), in schema order."""
    return [name for name in COMPARED_FIELDS if getattr(old, name) != getattr(new, name)]


def parse_dump(source: Path) -> Dict[str, Procedure]:
    """The new dump parsed and enriched exactly as a full import would write it, by code."""
    from knowledge.enrich import curated_aliases
    from knowledge.importer import iter_raw, parse_all

    curated_aliases.cache_clear()  # the aliases.yml of the knowledge base being refreshed (KB_DIR)
    return {p.code: p for p in parse_all(iter_raw(Path(source)))}


def current_records(root: Path) -> Dict[str, Procedure]:
    """The records as stored under ``root/procedures`` (read afresh, without the store's cache or date fill-in)."""
    return {p.code: p for p in (Procedure.model_validate(json.loads(f.read_text(encoding="utf-8")))
                                for f in sorted((Path(root) / "procedures").glob("*.json")))}


def compute_diff(current: Dict[str, Procedure], new: Dict[str, Procedure]) -> Diff:
    """Compare two sets of records by procedure code."""
    diff = Diff()
    for code in sorted(set(current) | set(new)):
        if code not in current:
            diff.added.append(new[code])
        elif code not in new:
            diff.removed.append(current[code])
        else:
            fields = changed_fields(current[code], new[code])
            if fields:
                diff.changed.append(Change(current[code], new[code], fields))
            else:
                diff.unchanged += 1
    return diff


def dump_date(source: Path, date: Optional[str] = None) -> str:
    """The date (YYYY-MM-DD) of the dump's data: ``date`` when given (checked), else the file's modification
    day (UTC)."""
    if date:
        return dt.date.fromisoformat(date).isoformat()
    mtime = Path(source).stat().st_mtime
    return dt.datetime.fromtimestamp(mtime, tz=dt.timezone.utc).date().isoformat()


def apply_diff(diff: Diff, current: Dict[str, Procedure], root: Path, source: Path, date: str, records: int) -> dict:
    """Write the added and changed records (stamped ``updated=date``), delete the removed ones and record the dump
    in ``SOURCE.json``; returns the new SOURCE.json content with ``dated``, how many records were dated.

    An unchanged record that no refresh has dated yet (the first refresh of a knowledge base imported before
    records had dates) gets this dump's date too: its data is that of this dump. Later refreshes leave unchanged
    records alone, so a record's date is that of the dump it last changed in.
    """
    from knowledge import store
    from knowledge.importer import dump_procedure, sha256_of

    out = Path(root) / "procedures"
    out.mkdir(parents=True, exist_ok=True)
    touched = {p.code for p in diff.removed} | {c.new.code for c in diff.changed}
    undated = [p for code, p in current.items() if code not in touched and p.updated is None]
    for proc in [*diff.added, *(c.new for c in diff.changed), *undated]:
        write_atomic(out / f"{proc.code}.json", dump_procedure(proc.model_copy(update={"updated": date})))
    for proc in diff.removed:
        (out / f"{proc.code}.json").unlink()
    meta = {"source": Path(source).name, "sha256": sha256_of(Path(source)), "records": records, "date": date}
    write_atomic(Path(root) / "SOURCE.json", json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    store.clear_cache()
    return {**meta, "dated": len(diff.added) + len(diff.changed) + len(undated)}


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` beside ``path`` and rename it into place (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# -- flags: bank questions and curated aliases of removed or renamed procedures --------------------------------------
def flags(diff: Diff, root: Path) -> List[dict]:
    """Bank questions (``questions/bank/*.jsonl``) and ``aliases.yml`` entries that name a removed procedure or a
    renamed one (name similarity below :data:`RENAME_SIMILARITY`): listed for review, not changed."""
    import yaml

    from knowledge.bank import read_raw

    reasons = {p.code: ("removed", p.name, None) for p in diff.removed}
    reasons.update({c.new.code: ("renamed", c.old.name, c.new.name) for c in diff.changed if c.renamed})
    out: List[dict] = []
    for source, line, record in read_raw(root):
        if isinstance(record, dict) and record.get("code") in reasons:
            reason, _, _ = reasons[record["code"]]
            out.append({"kind": "bank", "where": f"questions/bank/{source}:{line}", "code": record["code"],
                        "reason": reason, "text": record.get("q", "")})
    path = Path(root) / "aliases.yml"
    entries = (yaml.safe_load(path.read_text(encoding="utf-8")) or []) if path.exists() else []
    for number, entry in enumerate(entries, 1):
        codes = [str(c) for c in entry.get("codes", []) or []]
        patterns = entry.get("name_patterns", []) or []
        for code, (reason, old_name, new_name) in reasons.items():
            by_pattern = any(re.search(p, old_name, flags=re.IGNORECASE) for p in patterns) and not (
                new_name and any(re.search(p, new_name, flags=re.IGNORECASE) for p in patterns))
            if code in codes or by_pattern:
                out.append({"kind": "alias", "where": f"aliases.yml entry {number}", "code": code, "reason": reason,
                            "text": ", ".join(entry.get("phrases", []) or [])})
    return out


def format_report(diff: Diff, flagged: List[dict]) -> str:
    """The diff and the flags as text for the person running the import."""
    lines = [f"added {len(diff.added)}, removed {len(diff.removed)}, changed {len(diff.changed)}, "
             f"unchanged {diff.unchanged}"]
    lines += [f"+ {p.code}  {p.name}" for p in diff.added]
    lines += [f"- {p.code}  {p.name}" for p in diff.removed]
    for change in diff.changed:
        lines.append(f"~ {change.new.code}  {change.new.name}  [{', '.join(change.fields)}]")
        if "name" in change.fields:
            lines.append(f"    was: {change.old.name}" + ("  (renamed)" if change.renamed else ""))
    if flagged:
        lines.append(f"to review ({len(flagged)}): bank questions and aliases of removed or renamed procedures")
        lines += [f"! {f['where']}  {f['code']} {f['reason']}: {f['text']}" for f in flagged]
    return "\n".join(lines)


# -- incremental index update ----------------------------------------------------------------------------------------
def update_index(index_dir: Path, encoder, progress=None) -> dict:
    """Rewrite the index of the refreshed knowledge base, encoding only passages the current index lacks (added
    and changed procedures); the bank part and the ranker files are carried over. The result carries the source
    hash a full build would write, so ``python -m knowledge build --if-stale`` finds it up to date."""
    from knowledge.index import build_index, entries_from_store, known_vectors, source_hash

    return build_index(entries_from_store(), encoder, Path(index_dir), source_hash(), progress=progress,
                       known=known_vectors(Path(index_dir)), keep_from=Path(index_dir))
