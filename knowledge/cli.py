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

    def run(args: argparse.Namespace) -> int:
        from knowledge.importer import import_source

        summary = import_source(args.source, args.out)
        print(json.dumps(summary, ensure_ascii=False))
        return 0

    return run


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
