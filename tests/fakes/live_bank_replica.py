"""One action-server replica's searcher as its own process, for the live bank's cross-process test.

``python -m tests.fakes.live_bank_replica INDEX APPROVED LIVE_DIR GO`` builds a searcher over INDEX (hashing
vectors) whose live bank reads APPROVED and persists to LIVE_DIR, prints ``ready``, waits for the file GO, merges
the approved questions (``LiveBank.refresh``) and prints one JSON line: the approved questions this process embedded
and the approved rows its bank now holds.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from knowledge.encoder import HashingEncoder
from knowledge.live_bank import LiveBank
from knowledge.search import FusionParams, Searcher


class CountingEncoder(HashingEncoder):
    """The hashing encoder, recording the texts it encodes."""

    def __init__(self) -> None:
        super().__init__(64)
        self.encoded: list = []

    def encode_queries(self, texts):
        self.encoded += list(texts)
        return super().encode_queries(texts)


def main(index: str, approved: str, live_dir: str, go: str) -> int:
    encoder = CountingEncoder()
    live = LiveBank(Path(approved), Path(live_dir), poll_s=0.0)
    searcher = Searcher(Path(index), encoder, FusionParams(dense_floor=0.0, dense_span=1.0, abstain_below=0.3),
                        live=live)
    live.wait(30)
    encoder.encoded.clear()
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while not Path(go).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    live.refresh(searcher)
    rows = [(r["code"], r["q"]) for r in searcher.bank[1] if r["split"] == "approved"]
    print(json.dumps({"embedded": len(encoder.encoded), "approved_rows": rows}, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
