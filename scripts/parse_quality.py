"""Print per-field parse quality of the procedure importer.

Usage: python scripts/parse_quality.py [../shared/data/tthc/procedures.jsonl.gz] [--json]
(also: python -m knowledge quality ...)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tthc" / "procedures.jsonl.gz"


def main(source: Path | None = None, as_json: bool = False) -> int:
    """Compute and print the quality report; returns an exit code."""
    from knowledge.importer import quality_report

    report = quality_report(Path(source or DEFAULT_SOURCE))
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True))
        return 0
    print(f"records: {report['records']}")
    print(f"{'field':16s} {'clean':>6s} / {'applicable':>10s}  rate")
    for name, slot in report["fields"].items():
        print(f"{name:16s} {slot['clean']:6d} / {slot['applicable']:10d}  {slot['rate']:.2%}")
    print(f"suspect fees: {report['suspect_fees']} of {report['channels']} channels")
    return 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--json"]
    sys.exit(main(Path(args[0]) if args else None, as_json="--json" in sys.argv[1:]))
