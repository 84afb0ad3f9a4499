"""Command line interface: ``python -m knowledge {import,stats,quality,acronyms,...} ...``.

Subcommands are registered through :data:`COMMANDS`: each entry is the command's help and a
``register(parser)`` function that adds the command's arguments and returns the function run with the parsed
args (returns an exit code). Other modules add commands with :func:`add_command`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from settings import ROOT

# The national portal's crawl the knowledge base is imported from (``../shared/data/tthc`` beside the repository).
CRAWL_SOURCE = ROOT.parent / "shared" / "data" / "tthc" / "procedures.jsonl.gz"

Runner = Callable[[argparse.Namespace], int]
Register = Callable[[argparse.ArgumentParser], Runner]
COMMANDS: dict[str, tuple[str, Register]] = {}


def add_command(name: str, help: str) -> Callable[[Register], Register]:
    """Decorator registering a subcommand (its ``help`` and ``register(parser)`` function)."""

    def deco(fn: Register) -> Register:
        COMMANDS[name] = (help, fn)
        return fn

    return deco


@add_command("import", help="parse the portal crawl into <KB_DIR>/procedures/*.json")
def _register_import(p: argparse.ArgumentParser) -> Runner:
    p.add_argument("source", type=Path, help="procedures.jsonl(.gz)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default <KB_DIR>/procedures)")
    p.add_argument("--diff", action="store_true",
                   help="refresh <KB_DIR>: report added / removed / changed procedures, apply them, update the index")
    p.add_argument("--dry-run", action="store_true", help="with --diff: only report")
    p.add_argument("--json", action="store_true", help="with --diff: print the report as JSON")
    p.add_argument("--date", default=None, help="with --diff: date of the dump's data, YYYY-MM-DD (default: its mtime)")
    p.add_argument("--index", type=Path, default=None, help="with --diff: index folder (default $KB_INDEX_DIR)")
    p.add_argument("--no-index", action="store_true", help="with --diff: leave the index alone")
    p.add_argument("--retrain-ranker", action="store_true",
                   help="with --diff: retrain the ranker after the index update (default: carry it over)")

    def run(args: argparse.Namespace) -> int:
        if args.diff:
            return refresh(args)
        from knowledge.importer import import_source

        summary = import_source(args.source, args.out)
        print(json.dumps(summary, ensure_ascii=False))
        return 0

    return run


def refresh(args: argparse.Namespace) -> int:
    """``import --diff``: compare the dump with <KB_DIR>, print the report, apply it and update the index."""
    from knowledge import refresh as kb_refresh
    from knowledge.index import is_stale, source_hash
    from knowledge.store import data_dir
    from settings import get_settings

    if args.out is not None:
        print("--diff refreshes <KB_DIR> (set KB_DIR); --out is for a full import.", file=sys.stderr)
        return 2
    if not args.source.is_file():
        print(f"{args.source}: no such file", file=sys.stderr)
        return 2
    try:
        date = kb_refresh.dump_date(args.source, args.date)
    except (OSError, ValueError) as exc:
        print(f"{args.source}: {exc}", file=sys.stderr)
        return 2
    root = data_dir()
    new = kb_refresh.parse_dump(args.source)
    current = kb_refresh.current_records(root)
    diff = kb_refresh.compute_diff(current, new)
    flagged = kb_refresh.flags(diff, root)
    report = {**diff.to_json(), "flags": flagged, "date": date, "applied": False}
    if args.dry_run:
        _print_refresh(report, diff, flagged, args.json)
        return 0
    settings = get_settings()
    index_dir = Path(args.index or settings.index_dir)
    from knowledge.encoder import encoder_from_config

    encoder = encoder_from_config(settings.encoder)
    # The index is updated only when it was built from the knowledge base as it was before this import.
    index_current = not args.no_index and not is_stale(index_dir, source_hash(root), encoder.name)
    report["source"] = kb_refresh.apply_diff(diff, current, root, args.source, date, len(new))
    report["applied"] = True
    report["index"] = _refresh_index(index_dir, encoder, settings.encoder, args, index_current)
    _print_refresh(report, diff, flagged, args.json)
    return 0


def _refresh_index(index_dir: Path, encoder, encoder_spec: str, args: argparse.Namespace,
                   index_current: bool) -> dict:
    """Update the index after an applied refresh; what was done, for the report."""
    if args.no_index:
        return {"updated": False, "why": "--no-index"}
    if not index_current:
        return {"updated": False, "why": f"{index_dir} was not built from this knowledge base: "
                                         "run `make build-index` (python -m knowledge build)"}
    from knowledge import ranker
    from knowledge import refresh as kb_refresh
    from knowledge.cli_index import ensure_accents, train_ranker
    from knowledge.index import source_hash

    ensure_accents(index_dir, source_hash())
    config = kb_refresh.update_index(index_dir, encoder)
    done = {"updated": True, "entries": config["entries"], "encoded": config["encoded"],
            "source_hash": config["source_hash"]}
    if args.retrain_ranker:
        train_ranker(index_dir, encoder_spec, use_committed=False)
        done["ranker"] = "retrained"
    else:
        done["ranker"] = "carried over" if ranker.carry_over(index_dir, "import --diff") else "none"
    return done


def _print_refresh(report: dict, diff, flagged: list, as_json: bool) -> None:
    from knowledge.refresh import format_report

    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return
    print(format_report(diff, flagged))
    print(f"data date: {report['date']}" + ("" if report["applied"] else "  (dry run: nothing written)"))
    if report["applied"]:
        index = report["index"]
        print("index: " + (f"updated, {index['encoded']} passages encoded, ranker {index['ranker']}"
                           if index["updated"] else f"not updated ({index['why']})"))


def field_counts(procs: list) -> dict[str, int]:
    """How many procedures have a non-empty value for each top-level field."""
    from knowledge.schema import Procedure

    counts: dict[str, int] = {}
    for name in Procedure.model_fields:
        n = 0
        for proc in procs:
            value = getattr(proc, name)
            if name == "agencies":
                value = any(value.model_dump().values())
            if value not in (None, "", [], {}):
                n += 1
        counts[name] = n
    return counts


@add_command("stats", help="counts of procedures, FAQ entries and parsed fields")
def _register_stats(p: argparse.ArgumentParser) -> Runner:
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--root", type=Path, default=None, help="data folder (default KB_DIR, knowledge/data)")

    def run(args: argparse.Namespace) -> int:
        from knowledge.store import load_faq, load_procedures

        procs = load_procedures(args.root)
        stats = {"procedures": len(procs), "faq": len(load_faq(args.root)),
                 "fields": dict(sorted(field_counts(procs).items()))}
        if args.json:
            print(json.dumps(stats, ensure_ascii=False))
        else:
            print(f"procedures: {stats['procedures']}  faq: {stats['faq']}")
            for name, n in stats["fields"].items():
                print(f"  {name:15s} {n}")
        return 0

    return run


@add_command("quality", help="per-field parse quality against the raw source")
def _register_quality(p: argparse.ArgumentParser) -> Runner:
    p.add_argument("source", type=Path, nargs="?", default=None, help="procedures.jsonl(.gz)")
    p.add_argument("--json", action="store_true", help="print JSON")

    def run(args: argparse.Namespace) -> int:
        return print_quality(args.source, as_json=args.json)

    return run


def print_quality(source: Path | None = None, as_json: bool = False) -> int:
    """Print the importer's per-field parse quality of ``source`` (default: the portal crawl beside the
    repository, :data:`CRAWL_SOURCE`); returns an exit code."""
    from knowledge.importer import quality_report

    report = quality_report(Path(source or CRAWL_SOURCE))
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True))
        return 0
    print(f"records: {report['records']}")
    print(f"{'field':16s} {'clean':>6s} / {'applicable':>10s}  rate")
    for name, slot in report["fields"].items():
        print(f"{name:16s} {slot['clean']:6d} / {slot['applicable']:10d}  {slot['rate']:.2%}")
    print(f"suspect fees: {report['suspect_fees']} of {report['channels']} channels")
    return 0


@add_command("acronyms", help="mine abbreviations (GCN, HKD, NHNN...) from the records into acronyms.yml")
def _register_acronyms(p: argparse.ArgumentParser) -> Runner:

    def run(args: argparse.Namespace) -> int:
        from knowledge import acronyms, store

        table = acronyms.mine(list(acronyms.record_texts(p)) for p in store.load_procedures())
        path = acronyms.write(table)
        print(f"{path}: {len(table)} abbreviations")
        return 0

    return run


@add_command("bank", help="the question bank: validate it, or (re)write its train/test split")
def _register_bank(p: argparse.ArgumentParser) -> Runner:
    p.add_argument("action", choices=["validate", "split"])
    p.add_argument("--json", action="store_true", help="print JSON")

    def run(args: argparse.Namespace) -> int:
        from knowledge import bank, store

        if args.action == "split":
            rows = bank.compute_split([(p.code, p.name) for p in store.load_procedures()])
            path = bank.questions_dir() / "split.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
            print(f"{path}: {len(rows)} procedures, {sum(r['split'] == 'test' for r in rows)} in test families")
            return 0
        result = bank.validate()
        if args.json:
            print(json.dumps(result, ensure_ascii=False, indent=1))
        else:
            print(json.dumps(result["stats"], ensure_ascii=False))
            for problem in result["problems"]:
                print("PROBLEM:", problem)
            print("Question bank: " + ("valid." if not result["problems"] else f"{len(result['problems'])} problems."))
        return 1 if result["problems"] else 0

    return run


@add_command("names-en", help="the procedures' English names (names_en.jsonl): validate them")
def _register_names_en(p: argparse.ArgumentParser) -> Runner:
    p.add_argument("action", choices=["validate"])

    def run(args: argparse.Namespace) -> int:
        from knowledge import names_en

        found = names_en.problems()
        for problem in found:
            print("PROBLEM:", problem)
        print(f"English names: {len(names_en.load_names())} procedures, "
              + ("valid." if not found else f"{len(found)} problems."))
        return 1 if found else 0

    return run


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="python -m knowledge", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    import knowledge.cli_index  # noqa: F401 - registers build/search

    for name, (help_text, register) in COMMANDS.items():
        parser_of_command = sub.add_parser(name, help=help_text)
        parser_of_command.set_defaults(func=register(parser_of_command))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
