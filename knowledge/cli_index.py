"""``python -m knowledge build`` and ``python -m knowledge search`` (the index side of the CLI)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from knowledge.cli import Runner, add_command


def _settings():
    from settings import get_settings

    return get_settings()


@add_command("build", help="encode the knowledge base and write the index folder")
def _register_build(p: argparse.ArgumentParser) -> Runner:
    p.add_argument("--out", type=Path, default=None, help="index folder (default models/kb-index, $KB_INDEX_DIR)")
    p.add_argument("--encoder", default=None, help="encoder spec (default $KB_ENCODER or e5-small)")
    p.add_argument("--if-stale", action="store_true", help="do nothing when the index matches sources and encoder")
    p.add_argument("--no-ranker", action="store_true",
                   help="skip training the ranker (the searcher then uses the linear fusion; tests with fake vectors)")

    def run(args: argparse.Namespace) -> int:
        from knowledge.encoder import encoder_from_config
        from knowledge.index import build_index, entries_from_store, index_problem, is_stale, source_hash

        settings = _settings()
        out = args.out or settings.index_dir
        encoder = encoder_from_config(args.encoder or settings.encoder)
        src = source_hash()
        ensure_accents(Path(out), src)
        if args.if_stale and not is_stale(out, src, encoder.name):
            print(f"Knowledge index is up to date ({out}).")
            return 0 if args.no_ranker else train_ranker(Path(out), args.encoder or settings.encoder, if_stale=True)
        problem = index_problem(out) if Path(out).exists() else None
        if problem:  # a damaged index is rebuilt; say why
            print(f"{problem.split(';')[0]}: rebuilding.", flush=True)
        from knowledge.bank import load_bank
        from knowledge.search import bank_text_function

        entries = entries_from_store()
        bank = load_bank()
        print(f"Building the knowledge index: {len(entries)} entries and {len(bank)} bank questions, encoder "
              f"{encoder.name} -> {out}", flush=True)
        config = build_index(entries, encoder, out, src, progress=_progress, bank=bank,
                             bank_text=bank_text_function(Path(out)))
        print(json.dumps(config, ensure_ascii=False))
        return 0 if args.no_ranker else train_ranker(Path(out), args.encoder or settings.encoder)

    return run


@add_command("train-ranker", help="train the learned ranker and the calibrated decision of an index")
def _register_train_ranker(p: argparse.ArgumentParser) -> Runner:
    p.add_argument("--index", type=Path, default=None, help="index folder (default models/kb-index)")
    p.add_argument("--encoder", default=None, help="encoder spec (default $KB_ENCODER or e5-small)")
    p.add_argument("--if-stale", action="store_true", help="do nothing when the ranker matches the index")
    p.add_argument("--commit", action="store_true",
                   help="then copy it to knowledge/data/ranker/, which builds of the same sources install")

    def run(args: argparse.Namespace) -> int:
        from knowledge import ranker

        settings = _settings()
        index_dir = Path(args.index or settings.index_dir)
        if args.commit and index_dir.resolve() != Path(settings.index_dir).resolve():
            # Builds install the committed ranker into the default index only (same sources, same encoder).
            print(f"--commit chỉ dùng cho chỉ mục mặc định ({settings.index_dir}).", file=sys.stderr)
            return 2
        status = train_ranker(index_dir, args.encoder or settings.encoder, args.if_stale, use_committed=False)
        if status == 0 and args.commit:
            print(f"Committed ranker: {ranker.commit(index_dir)}")
        return status

    return run


def train_ranker(index_dir: Path, encoder_spec: str, if_stale: bool = False, use_committed: bool = True) -> int:
    """Train the ranker of ``index_dir`` from the bank's train split (knowledge/ranker.py), unless it is up to date
    (``if_stale``) or the committed one was trained on the same sources and encoder (``use_committed``)."""
    from knowledge import ranker

    if if_stale and not ranker.is_stale(index_dir):
        print(f"Ranker is up to date ({index_dir}).")
        return 0
    if use_committed and ranker.install_committed(index_dir):
        print(f"Ranker installed from {ranker.committed_dir()} (trained on the same sources and encoder).")
        return 0
    report = ranker.train_for_index(index_dir, encoder_spec, log=lambda m: print(m, flush=True))
    print(json.dumps(report.get("summary", {}), ensure_ascii=False))
    return 0


def ensure_accents(index_dir: Path, src: str) -> None:
    """Build the diacritic restorer (knowledge/accents.py) beside the index when it is missing or stale."""
    from knowledge import accents

    path = accents.model_path(index_dir)
    key = accents.corpus_hash(src)
    if accents.is_stale(path, key):
        path.parent.mkdir(parents=True, exist_ok=True)
        restorer = accents.build(path, key)
        print(f"Accent model: {len(restorer.unigrams)} syllables, {len(restorer.bigrams)} pairs -> {path}", flush=True)


def _progress(iterable):
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm comes with sentence-transformers; plain iteration otherwise
        return iterable
    return tqdm(iterable, desc="encoding", unit="batch", file=sys.stderr)


@add_command("search", help="search the knowledge index")
def _register_search(p: argparse.ArgumentParser) -> Runner:
    p.add_argument("query", nargs="?", help="the question")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--batch", type=Path, help='JSONL file of {"id":..., "question":...} lines')
    p.add_argument("--json", action="store_true", help="print the stable JSON contract")
    p.add_argument("--debug", action="store_true", help="print score parts too")

    def run(args: argparse.Namespace) -> int:
        if not args.query and not args.batch:
            print("Cần một câu hỏi hoặc --batch FILE.", file=sys.stderr)
            return 2
        from knowledge.search import get_searcher

        try:
            searcher = get_searcher()
        except (FileNotFoundError, ValueError) as exc:
            print(str(exc), file=sys.stderr)
            return 2
        if args.batch:
            with open(args.batch, encoding="utf-8") as handle:
                for number, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    try:
                        item = json.loads(line)
                        question = item["question"]
                    except (ValueError, KeyError, TypeError):
                        print(f"line {number}: expected {{\"id\":..., \"question\":...}}", file=sys.stderr)
                        return 2
                    data = searcher.search(question, top_k=args.top_k).to_json(args.top_k)
                    print(json.dumps({"id": item.get("id"), **data}, ensure_ascii=False), flush=True)
            return 0
        response = searcher.search(args.query, top_k=args.top_k)
        if args.json or args.debug:
            data = response.debug() if args.debug else response.to_json(args.top_k)
            print(json.dumps(data, ensure_ascii=False, indent=None if args.json else 2))
            return 0
        flag = "ABSTAIN" if response.abstain else ("AMBIGUOUS" if response.ambiguous else "OK")
        print(f"{flag}  {response.query}")
        for hit in response.results[: args.top_k]:
            print(f"  {hit.score:.3f}  {hit.code:12s} {hit.name}")
        return 0

    return run
