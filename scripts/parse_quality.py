"""Print per-field parse quality of the procedure importer: a command-line entry point of ``python -m knowledge
quality`` (knowledge/cli.py).

Usage: python scripts/parse_quality.py [../shared/data/tthc/procedures.jsonl.gz] [--json]
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from knowledge.cli import main

    sys.exit(main(["quality", *sys.argv[1:]]))
