"""Replay of the review queue (issue 16): does one approved example help its unseen neighbours, and how soon is an
approval answered?

Reads pairs of similar citizen wordings (``tests/retrieval/review_replay.jsonl``, written for this project, never
taken from a public dataset): for each pair the *seen* wording goes through the help-desk console's review queue as
an unanswered question (a Rasa tracker store where the bot abstained on it; a real ``python -m console`` on a
temporary services database lists it, an officer links it to the procedure, a supervisor approves), the *unseen*
one is only asked. One in-process searcher on the real index and encoder, with the live bank
(knowledge/live_bank.py) watching the approved-questions file the console writes, answers before and after.

Reports (``reports/review/replay.md`` and ``.json``): answer rate and right-answer rate of the unseen neighbours and of
the seen wordings before and after; the time from each approval's HTTP answer to the first search answering the
approved wording with its procedure (p50 / max); the dev set as deployed before and after (the approved questions
must not hurt other questions); and the search latency of 200 dev questions before and after.

Run with ``make replay-review`` (action venv; ~5 min on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.percentiles import latency_summary, percentile  # noqa: E402 - after the path set-up (run as a script)

PAIRS = ROOT / "tests" / "retrieval" / "review_replay.jsonl"
DEVSET = ROOT / "tests" / "retrieval" / "devset.jsonl"
OUT = ROOT / "reports" / "review" / "replay.md"
PASSWORD = "mat-khau-phat-lai-2026"
LIVE_DEADLINE_S = 90.0


def log(message: str) -> None:
    print(f"[replay_review] {message}", file=sys.stderr, flush=True)


def load_pairs(path: Path) -> List[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip() and not line.startswith("#")]


def accepted_codes(searcher, code: str) -> set:
    """``code`` and its level variants (the same name once the level phrase is removed), as the dev set counts."""
    from knowledge.bank import level_free_key

    name = level_free_key(searcher.entries[searcher.by_code[code]]["name"])
    return {e["code"] for e in searcher.entries if level_free_key(e["name"]) == name}


def outcome(searcher, question: str, accept: set) -> dict:
    response = searcher.search(question)
    top = response.results[0].code if response.results else None
    answered = response.decision == "answer"
    return {"decision": response.decision, "top": top, "answered": answered,
            "right": answered and top in accept, "top3": any(h.code in accept for h in response.results[:3])}


def rates(outcomes: List[dict]) -> Dict[str, float]:
    n = max(len(outcomes), 1)
    return {"n": len(outcomes), "answered": sum(o["answered"] for o in outcomes) / n,
            "answered_right": sum(o["right"] for o in outcomes) / n,
            "answered_wrong": sum(o["answered"] and not o["right"] for o in outcomes) / n,
            "clarify": sum(o["decision"] == "clarify" for o in outcomes) / n,
            "top3": sum(o["top3"] for o in outcomes) / n}


def dev_outcomes(searcher, questions: List[dict]) -> Dict[str, float]:
    """Dev set as deployed: answered-right and wrong-confident over the answerable questions, and answered over
    the unanswerable ones."""
    right = wrong = unanswerable_answered = answerable = 0
    for q in questions:
        response = searcher.search(q["question"])
        answered = response.decision == "answer"
        if q["expected"]:
            answerable += 1
            top = response.results[0].code if response.results else None
            right += answered and top in q["expected"]
            wrong += answered and top not in q["expected"]
        else:
            unanswerable_answered += answered
    unanswerable = len(questions) - answerable
    return {"answerable": answerable, "answered_right": right / max(answerable, 1),
            "wrong_confident": wrong / max(answerable, 1),
            "unanswerable_answered": unanswerable_answered / max(unanswerable, 1)}


def latency(searchers: Dict[str, object], questions: List[str]) -> Dict[str, Dict[str, float]]:
    """Milliseconds of ``Searcher.search`` per question and searcher, one question at a time, the searchers taking
    turns on each question (the machine's load falls on both alike), the rewrite cache cleared before each."""
    times: Dict[str, List[float]] = {name: [] for name in searchers}
    for question in questions:
        for name, searcher in searchers.items():
            searcher.clear_caches()
            started = time.perf_counter()
            searcher.search(question)
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: latency_summary(values, 1) for name, values in times.items()}


def bank_neighbour_precision(searcher, threshold: float = 0.9) -> Dict[str, float]:
    """On the index's own bank (train split, answerable): how often a question's nearest *other* question at cosine
    ``threshold`` or more names the same procedure, and how many questions have one (would a near-match shortcut
    to an approved question be safe?)."""
    import numpy as np

    vectors, rows, _ = searcher.bank  # approved rows are left out with the test split (usable: train only)
    codes = np.array([r["code"] or "" for r in rows])
    usable = np.array([r["code"] is not None and r["split"] == "train" for r in rows])
    chosen = np.flatnonzero(usable)
    best, same = [], []
    for start in range(0, len(chosen), 2000):
        chunk = chosen[start:start + 2000]
        sims = vectors[chunk] @ vectors.T
        sims[:, ~usable] = -1.0
        sims[np.arange(len(chunk)), chunk] = -1.0
        nearest = sims.argmax(axis=1)
        best.append(sims[np.arange(len(chunk)), nearest])
        same.append(codes[nearest] == codes[chunk])
    best, same = np.concatenate(best), np.concatenate(same)
    covered = best >= threshold
    return {"threshold": threshold, "coverage": round(float(covered.mean()), 3),
            "precision": round(float(same[covered].mean()), 3) if covered.any() else None}


def neighbour_similarity(searcher, pairs: List[dict]) -> Dict[str, float]:
    """How near each unseen wording is to the approved ones, as the encoder sees it (bank questions are embedded
    as a citizen's question is): cosine to its own pair's approved wording, the share whose nearest approved
    wording names its procedure, and the share for which an approved wording is nearer than every bank question."""
    import numpy as np

    encode = searcher.encoder.encode_queries
    unseen = encode([searcher.dense_text(p["unseen"]) for p in pairs])
    seen = encode([searcher.dense_text(p["seen"]) for p in pairs])
    vectors, rows, _ = searcher.bank
    index_rows = np.array([r["split"] != "approved" and r["code"] is not None for r in rows])
    bank_best = (unseen @ vectors[index_rows].T).max(axis=1)
    to_seen = unseen @ seen.T
    nearest = to_seen.argmax(axis=1)
    own = (unseen * seen).sum(axis=1)
    return {"pair_cosine_p50": round(float(np.median(own)), 3), "pair_cosine_max": round(float(own.max()), 3),
            "nearest_approved_right": round(float(np.mean([pairs[j]["code"] == p["code"]
                                                           for p, j in zip(pairs, nearest)])), 3),
            "approved_nearer_than_bank": round(float(np.mean(to_seen.max(axis=1) > bank_best)), 3),
            "bank_best_cosine_p50": round(float(np.median(bank_best)), 3)}


def write_tracker(path: Path, questions: List[str]) -> None:
    """A Rasa tracker store where the bot abstained on each question, one conversation each, in the last hours."""
    from tests.fakes.rasa_tracker_store import Tracker

    tracker = Tracker(path)
    now = datetime.now().astimezone()
    for number, question in enumerate(questions):
        tracker.abstain(f"replay-{number:03d}", now - timedelta(minutes=5 + number), question)
    tracker.close()


class Staff:
    """A logged-in console user (session cookie + CSRF token)."""

    def __init__(self, base: str, name: str) -> None:
        import requests

        self.base, self.http = base, requests.Session()
        answer = self.http.post(base + "/api/login", json={"name": name, "password": PASSWORD}, timeout=10)
        answer.raise_for_status()
        self.csrf = answer.json()["csrf_token"]

    def get(self, path: str):
        answer = self.http.get(self.base + path, timeout=60)
        answer.raise_for_status()
        return answer.json()

    def post(self, path: str, body: dict | None = None):
        answer = self.http.post(self.base + path, json=body or {}, headers={"X-CSRF-Token": self.csrf}, timeout=60)
        answer.raise_for_status()
        return answer.json()


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--poll", type=float, default=None, help="live bank poll interval (default REVIEW_LIVE_POLL_S)")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from console.auth import AccountStore
    from core.db import Database
    from knowledge.encoder import encoder_from_config
    from knowledge.live_bank import LiveBank
    from knowledge.search import Searcher
    from settings import get_settings
    from tests.fakes.processes import serving

    settings = get_settings()
    poll_s = args.poll if args.poll is not None else settings.review_live_poll_s
    pairs = load_pairs(args.pairs)
    dev = [json.loads(line) for line in open(DEVSET, encoding="utf-8") if line.strip()]
    with tempfile.TemporaryDirectory(prefix="replay-review-") as tmp_name:
        tmp = Path(tmp_name)
        approved_file = tmp / "approved_questions.jsonl"
        live = LiveBank(approved_file, tmp / "live_bank", poll_s=poll_s)
        log(f"loading the searcher ({settings.index_dir}, {settings.encoder}) ...")
        searcher = Searcher(settings.index_dir, encoder_from_config(settings.encoder), live=live)
        for pair in pairs:
            pair["accept"] = accepted_codes(searcher, pair["code"]) | set(pair.get("also", []))
        searcher.search("làm giấy khai sinh")  # the encoder loads on first use
        before = {"seen": [outcome(searcher, p["seen"], p["accept"]) for p in pairs],
                  "unseen": [outcome(searcher, p["unseen"], p["accept"]) for p in pairs]}
        log("dev set before ...")
        dev_before = dev_outcomes(searcher, dev)

        # The help desk: the seen wordings as unanswered questions in Rasa's tracker store, read by the console.
        write_tracker(tmp / "tracker.db", [p["seen"] for p in pairs])
        db = Database(str(tmp / "services.db"))
        db.ensure_schema()
        accounts = AccountStore(db)
        accounts.add_user("lan", PASSWORD, "officer", must_change_password=False)
        accounts.add_user("minh", PASSWORD, "supervisor", must_change_password=False)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SERVICES_DB": str(tmp / "services.db"), "DATABASE_URL": "",
               "STATUS_BACKEND": "sqlite", "TRACKER_DB": str(tmp / "tracker.db"), "TRACKER_DB_URL": "",
               "REVIEW_APPROVED_FILE": str(approved_file), "REVIEW_LIVE_POLL_S": "0",
               "RASA_URL": "http://127.0.0.1:9", "RASA_API_TOKEN": "replay-unused"}
        latencies: List[float] = []
        not_live: List[str] = []
        merges: List[float] = []
        with serving("console", env, tmp / "console.log", start_timeout_s=120) as base:
            officer, supervisor = Staff(base, "lan"), Staff(base, "minh")
            groups = officer.get("/api/review")["groups"]
            by_text = {g["question"]: g for g in groups}
            log(f"{len(groups)} groups in the review queue for {len(pairs)} seen wordings")
            for number, pair in enumerate(pairs, 1):
                group = by_text.get(pair["seen"])
                if group is None:
                    raise SystemExit(f"no review group for {pair['seen']!r} (masked or grouped differently?)")
                officer.post(f"/api/review/{group['id']}/link", {"code": pair["code"]})
                decided = supervisor.post(f"/api/review/{group['id']}/approve")
                assert decided["status"] == "approved", decided
                approved_at = time.perf_counter()
                deadline = approved_at + LIVE_DEADLINE_S
                key = (pair["code"], pair["seen"])
                # Ask as citizens do until the searcher's bank holds the approved wording; from then on its answer
                # no longer changes: either its procedure (live) or not.
                while key not in live.merged and time.perf_counter() < deadline:
                    searcher.search(pair["seen"])
                    time.sleep(0.05)
                merged_s = time.perf_counter() - approved_at
                if key in live.merged and outcome(searcher, pair["seen"], pair["accept"])["right"]:
                    latencies.append(time.perf_counter() - approved_at)
                else:
                    not_live.append(pair["seen"])
                merges.append(merged_s)
                log(f"{number}/{len(pairs)} approved; in the bank after {merged_s:.2f} s, "
                    f"{'answered' if pair['seen'] not in not_live else 'NOT answered'} with its procedure")
        live.wait(60)
        after = {"seen": [outcome(searcher, p["seen"], p["accept"]) for p in pairs],
                 "unseen": [outcome(searcher, p["unseen"], p["accept"]) for p in pairs]}
        log("dev set after, latency ...")
        dev_after = dev_outcomes(searcher, dev)
        live_rows = len(live.merged)
        similarity = neighbour_similarity(searcher, pairs)
        similarity["bank_neighbours"] = bank_neighbour_precision(searcher)
        # The same index without the live bank beside the one holding the approved questions, taking turns.
        baseline = Searcher(settings.index_dir, searcher.encoder)
        timed = latency({"before": baseline, "after": searcher}, [q["question"] for q in dev][:200])

    result = {
        "pairs": len(pairs), "procedures": len({p["code"] for p in pairs}), "poll_s": poll_s,
        "approved_rows_live": live_rows,
        "before": {k: rates(v) for k, v in before.items()}, "after": {k: rates(v) for k, v in after.items()},
        "approval_to_live_s": {"n": len(latencies), "p50": round(percentile(latencies, 50), 2),
                               "max": round(max(latencies), 2) if latencies else None,
                               "not_live_within_s": LIVE_DEADLINE_S, "not_live": not_live,
                               "in_bank_p50": round(percentile(merges, 50), 2),
                               "in_bank_max": round(max(merges), 2) if merges else None},
        "dev_before": dev_before, "dev_after": dev_after,
        "latency_ms_before": timed["before"], "latency_ms_after": timed["after"], "similarity": similarity,
        "unseen_changes": [
            {"unseen": p["unseen"], "code": p["code"], "before": b["decision"] + ":" + str(b["top"]),
             "after": a["decision"] + ":" + str(a["top"]), "right_after": a["right"]}
            for p, b, a in zip(pairs, before["unseen"], after["unseen"])],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n",
                                             encoding="utf-8")
    args.out.write_text(report(result, args.pairs), encoding="utf-8")
    log(f"wrote {args.out}")
    return 0


def report(r: dict, pairs_path: Path) -> str:
    def pct(x: float) -> str:
        return f"{100 * x:.1f} %"

    def row(label: str, b: dict, a: dict) -> str:
        return (f"| {label} | {b['n']} | {pct(b['answered'])} → {pct(a['answered'])} | "
                f"{pct(b['answered_right'])} → **{pct(a['answered_right'])}** | "
                f"{pct(b['answered_wrong'])} → {pct(a['answered_wrong'])} | {pct(b['top3'])} → {pct(a['top3'])} |")

    live = r["approval_to_live_s"]
    sim = r["similarity"]
    lines = [
        "# Review queue replay (issue 16)",
        "",
        f"Generated by `make replay-review` (`scripts/replay_review.py`) on "
        f"{datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}.",
        "",
        f"{r['pairs']} pairs of similar citizen wordings for {r['procedures']} procedures "
        f"(`{pairs_path.relative_to(ROOT) if pairs_path.is_relative_to(ROOT) else pairs_path}`, synthetic, written "
        "for this project; each seen wording was abstained on or answered wrongly by the bot when written). The seen "
        "wording of each pair went through the console's review queue (abstention in a Rasa tracker store → "
        "`GET /api/review` → officer `POST /link` → supervisor `POST /approve`, a real `python -m console`); the "
        "unseen neighbour was never shown to the queue. One searcher (real index and encoder, deployed bank splits) "
        f"with the live bank polling every {r['poll_s']:g} s answered before and after, without a reload.",
        "",
        "| questions | n | answered | answered right | answered wrong | right in top 3 |",
        "| --- | --- | --- | --- | --- | --- |",
        row("unseen neighbours", r["before"]["unseen"], r["after"]["unseen"]),
        row("approved (seen) wordings", r["before"]["seen"], r["after"]["seen"]),
        "",
        "An approved wording is answered through its approved link itself (`SearchResponse.approved`: the same "
        "topic words as an approved question, `knowledge.text.wording_key`), so its row is 100 % by design once "
        "live; the unseen neighbours are the measure of whether one approved example helps similar questions "
        "(through the question bank's features of the learned ranker).",
        "",
        f"Approval to live answer (from the approve call's HTTP answer to the first search answering the approved "
        f"wording with its procedure, searches every ~50 ms): **p50 {live['p50']} s, max {live['max']} s** over "
        f"{live['n']} approvals; {len(live['not_live'])} approved wordings not answered with their procedure even "
        f"once in the bank. In the searcher's bank after p50 {live['in_bank_p50']} s, max {live['in_bank_max']} s "
        f"(the poll interval, the embedding, the BM25 rebuild; with an index built before it shipped "
        f"`bank_tokens.json`, the first approval also tokenises the bank's questions once, cached in "
        f"`REVIEW_LIVE_DIR`: that one is the max)."
        f" {r['approved_rows_live']} approved questions in the bank at the end.",
        "",
        "Dev set as deployed (the approved questions must not hurt others):",
        "",
        "| | answered right | wrong-confident | unanswerable answered |",
        "| --- | --- | --- | --- |",
        f"| before | {pct(r['dev_before']['answered_right'])} | {pct(r['dev_before']['wrong_confident'])} | "
        f"{pct(r['dev_before']['unanswerable_answered'])} |",
        f"| after | {pct(r['dev_after']['answered_right'])} | {pct(r['dev_after']['wrong_confident'])} | "
        f"{pct(r['dev_after']['unanswerable_answered'])} |",
        "",
        "Search latency (`Searcher.search`, 200 dev questions one at a time, ms; \"before\" is a searcher on the same "
        "index without the live bank, \"after\" the one holding the approved questions, taking turns on each "
        "question so the machine's load falls on both alike):",
        "",
        "| | p50 | p95 | mean | max |",
        "| --- | --- | --- | --- | --- |",
        *(f"| {label} | {lat['p50']} | {lat['p95']} | {lat['mean']} | {lat['max']} |"
          for label, lat in (("before", r["latency_ms_before"]), ("after", r["latency_ms_after"]))),
        "",
        "Why the neighbours gain so little, as the encoder sees them: the cosine between an unseen wording and its "
        f"own pair's approved wording has median {sim['pair_cosine_p50']} (max {sim['pair_cosine_max']}), below "
        f"its best bank question's ({sim['bank_best_cosine_p50']}); an approved wording is nearer than every bank "
        f"question for {pct(sim['approved_nearer_than_bank'])} of them, and the nearest approved wording names the "
        f"right procedure for {pct(sim['nearest_approved_right'])}. The pairs say the same need in other everyday "
        "words, which is exactly what the encoder and the ranker miss; one example of one wording does not move "
        "them. No near-match shortcut (answer the procedure of an approved wording the question is very close to) "
        "was added: on the bank itself (train split) a question's nearest other question at cosine ≥ "
        f"{sim['bank_neighbours']['threshold']} names another procedure for "
        f"{pct(1 - sim['bank_neighbours']['precision'])} of the {pct(sim['bank_neighbours']['coverage'])} that "
        "have one, against the decision's 2.5 % wrong-answer budget.",
        "",
        "Unseen neighbours (decision:top code before → after):",
        "",
        "| unseen wording | procedure | before | after | right after |",
        "| --- | --- | --- | --- | --- |",
        *(f"| {c['unseen']} | {c['code']} | {c['before']} | {c['after']} | {'yes' if c['right_after'] else 'no'} |"
          for c in r["unseen_changes"]),
        "",
    ]
    if live["not_live"]:
        lines += ["Approved wordings not answered with their procedure within the deadline:", "",
                  *(f"- {q}" for q in live["not_live"]), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
