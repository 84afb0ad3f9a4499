"""Routing evaluation: which route each message takes through the real NLU model, the rules and the routing actions.

Messages: procedure questions of the question bank's test split (``--per-style`` per style, all styles; never
trained on by the NLU) and the status / feedback / handoff / FAQ / other phrasings of
``tests/routing/phrasings.yml``. Expected route = where the message should go; predicted route = where it goes.

Two steps in the two venvs (Rasa cannot import the knowledge search, the action venv cannot import Rasa):

1. ``parse`` (Rasa venv): the trained model's NLU output (intent after the fallback classifier, entities,
   response selector) for every message, to a JSONL file.
2. ``route`` (action venv): the first rule of the deployed rules (``data/rules/*.yml``, or those of a git ref with
   ``--baseline-ref``) that the intent triggers, and the custom actions it runs, executed for real
   (``action_route_status_request``, ``action_route_feedback_request``, ``action_route_faq``,
   ``action_route_out_of_scope``, ``action_answer_procedure``: the real knowledge search)
   with a tracker and a CollectingDispatcher; the ``request_route`` slot they set picks the rule's branch. Writes
   the confusion tables to ``--out`` (``reports/routing/`` under ``make eval-routing``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PHRASINGS = ROOT / "tests" / "routing" / "phrasings.yml"
ROUTES = ["procedure", "status", "feedback", "handoff", "faq", "other"]

# The route a conversation takes once the rules reach one of these actions.
ACTION_ROUTES = {
    "application_status_form": "status",
    "action_check_status": "status",
    "utter_faq": "faq",
    "feedback_form": "feedback",
    "action_file_feedback": "feedback",
    "action_feedback_status": "feedback",
    "action_offer_handoff": "handoff",
    "action_handoff": "handoff",
    "action_answer_procedure": "procedure",
    "action_route_status_request": "procedure",  # a router that answered itself answered a procedure question
    "action_route_feedback_request": "procedure",
    "action_route_faq": "procedure",
    "action_route_out_of_scope": "procedure",
    "action_route_bot_challenge": "procedure",
}


# Actions that may answer a procedure question themselves (they set ``procedure_code`` / ``narrowing_pending``).
ANSWERING_ACTIONS = frozenset({"action_handle_fallback", "action_subscribe_notifications",
                               "action_unsubscribe_notifications", "action_list_notifications",
                               "action_ask_rating", "action_store_rating"})


class _DiscardedRatings:
    """The rating store of the measured ``action_store_rating``: a rating phrasing is measured, never recorded."""

    def record(self, *args) -> None:
        return None


# ---- messages -----------------------------------------------------------------------------------------------


def _stable(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def load_messages(per_style: int) -> List[dict]:
    """Bank test-split procedure questions (``per_style`` of each style, a stable pseudo-random choice) and the
    written phrasings."""
    import yaml

    from knowledge.bank import load_bank

    by_style: Dict[str, list] = defaultdict(list)
    for q in load_bank(splits=("test",)):
        if q.answerable:
            by_style[q.style].append(q)
    messages = []
    for style in sorted(by_style):
        chosen = sorted(by_style[style], key=lambda q: _stable(q.q))[:per_style]
        messages += [{"text": q.q, "expected": "procedure", "style": style, "code": q.code} for q in chosen]
    phrasings = yaml.safe_load(PHRASINGS.read_text(encoding="utf-8"))
    for route, texts in phrasings.items():
        if route not in ROUTES:
            raise SystemExit(f"{PHRASINGS}: unknown route {route!r} (expected one of {ROUTES})")
        messages += [{"text": t, "expected": route, "style": "phrasing"} for t in texts]
    return messages


# ---- step 1: NLU (Rasa venv) -----------------------------------------------------------------------------------


def parse(args) -> int:
    from rasa.core.agent import Agent

    messages = load_messages(args.per_style)
    agent = Agent.load(args.model)
    started = time.monotonic()

    async def run_all():
        out = []
        for m in messages:
            result = await agent.parse_message(m["text"])
            out.append({**m, "nlu": {"intent": result.get("intent") or {}, "entities": result.get("entities") or [],
                                     "response_selector": result.get("response_selector") or {}}})
        return out

    parsed = asyncio.run(run_all())
    Path(args.out).write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in parsed), encoding="utf-8")
    print(f"parsed {len(parsed)} messages in {time.monotonic() - started:.0f} s with {args.model}")
    return 0


# ---- step 2: rules + actions (action venv) ---------------------------------------------------------------------


def load_rules(ref: Optional[str]) -> List[dict]:
    """The rules of ``data/rules/*.yml`` in the working tree, or at git ``ref``."""
    import yaml

    if ref is None:
        texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "data" / "rules").glob("*.yml"))]
    else:
        names = subprocess.run(["git", "ls-tree", "--name-only", f"{ref}:data/rules"], cwd=ROOT, check=True,
                               capture_output=True, text=True).stdout.split()
        texts = [subprocess.run(["git", "show", f"{ref}:data/rules/{n}"], cwd=ROOT, check=True, capture_output=True,
                                text=True).stdout for n in names if n.endswith(".yml")]
    rules = []
    for text in texts:
        rules += (yaml.safe_load(text) or {}).get("rules") or []
    return rules


class RuleTable:
    """What the rules do for the first message of a conversation: rules without a condition whose first step is
    the intent; after a routing action, the branch whose ``slot_was_set`` matches the slot it set."""

    def __init__(self, rules: List[dict]) -> None:
        self.by_intent: Dict[str, List[list]] = defaultdict(list)
        for rule in rules:
            steps = rule.get("steps") or []
            if rule.get("condition") or rule.get("conversation_start") or not steps or "intent" not in steps[0]:
                continue
            self.by_intent[steps[0]["intent"]].append(steps[1:])

    def first_action(self, intent: str) -> Optional[str]:
        for steps in self.by_intent.get(intent, []):
            if steps and "action" in steps[0]:
                return steps[0]["action"]
        return None

    def after_slot(self, intent: str, action: str, slot: str, value) -> Optional[str]:
        """The action the rule runs after ``action`` set ``slot`` to ``value`` (None: the rule waits for the user)."""
        for steps in self.by_intent.get(intent, []):
            if not steps or steps[0].get("action") != action or len(steps) < 2:
                continue
            for set_slots in steps[1].get("slot_was_set") or []:
                if isinstance(set_slots, dict) and set_slots.get(slot) == value:
                    return steps[2].get("action") if len(steps) > 2 else None
        return None


def custom_actions() -> Dict[str, object]:
    """The action server's custom actions by name (the same classes rasa_sdk registers)."""
    from rasa_sdk import Action

    import actions.actions_dialogue  # noqa: F401 - registers the classes
    import actions.actions_notifications  # noqa: F401
    import actions.actions_procedure  # noqa: F401
    import actions.actions_rating  # noqa: F401
    import actions.actions_routing  # noqa: F401

    found, todo = {}, list(Action.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        try:
            found[cls().name()] = cls
        except Exception:  # noqa: BLE001 - abstract helpers without a name
            continue
    return found


def route_one(item: dict, table: RuleTable, classes: Dict[str, object], faq_answers: List[str]) -> dict:
    """Run the rules and custom actions for one parsed message; return the route and what was run."""
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    nlu = item["nlu"]
    intent = (nlu["intent"].get("name") or "").split("/")[0]
    action = table.first_action(intent)
    trail = [action] if action else []
    if action is None or action not in classes:
        return {"route": ACTION_ROUTES.get(action, "other"), "intent": intent, "actions": trail}
    latest = {"text": item["text"], "intent": nlu["intent"], "entities": nlu["entities"],
              "response_selector": nlu["response_selector"]}
    tracker = Tracker(sender_id="eval-routing", slots={}, latest_message=latest,
                      events=[{"event": "user", "text": item["text"], "parse_data": latest}], paused=False,
                      followup_action=None, active_loop={}, latest_action_name="action_listen")
    dispatcher = CollectingDispatcher()
    instance = classes[action](store=_DiscardedRatings()) if action == "action_store_rating" else classes[action]()
    events = asyncio.run(instance.run(dispatcher, tracker, {}))
    route = ACTION_ROUTES.get(action, "other")
    if action in ANSWERING_ACTIONS and any(
            e.get("event") == "slot" and e.get("name") in ("procedure_code", "narrowing_pending") and e.get("value")
            for e in events):
        # The fallback answered (or narrowed) a procedure the search was sure of; a notification action answered a
        # message without notification words as a procedure question.
        route = "procedure"
    for event in events:
        if event.get("event") == "followup":  # the action handed the message on (a procedure question with
            trail.append(event.get("name"))  # clear status words starts the status form)
            route = ACTION_ROUTES.get(event.get("name"), "other")
        if event.get("event") == "slot" and event.get("name") == "request_route":
            follow = table.after_slot(intent, action, "request_route", event.get("value"))
            if follow:
                trail.append(follow)
                route = ACTION_ROUTES.get(follow, "other")
    if route == "procedure" and dispatcher.messages:
        reply = dispatcher.messages[0].get("text") or ""
        if any(reply.startswith(answer) for answer in faq_answers):  # the search answered a knowledge-base FAQ
            route = "faq"
    return {"route": route, "intent": intent, "actions": trail}


def confusion(rows: List[dict], key: str) -> dict:
    matrix = {e: Counter() for e in ROUTES}
    for row in rows:
        matrix[row["expected"]][row[key]] += 1
    per_row = {e: (matrix[e][e] / sum(matrix[e].values()) if sum(matrix[e].values()) else None) for e in ROUTES}
    total = sum(sum(c.values()) for c in matrix.values())
    correct = sum(matrix[e][e] for e in ROUTES)
    return {"matrix": {e: dict(matrix[e]) for e in ROUTES}, "row_accuracy": per_row,
            "accuracy": correct / total if total else 0.0, "n": total}


def table_md(result: dict) -> List[str]:
    lines = ["| expected \\ predicted | " + " | ".join(ROUTES) + " | n | accuracy |",
             "| --- | " + " | ".join("---:" for _ in ROUTES) + " | ---: | ---: |"]
    for e in ROUTES:
        row = result["matrix"][e]
        n = sum(row.values())
        acc = result["row_accuracy"][e]
        cells = [f"**{row.get(p, 0)}**" if p == e else str(row.get(p, 0)) for p in ROUTES]
        lines.append(f"| {e} | " + " | ".join(cells) + f" | {n} | {'' if acc is None else f'{acc:.3f}'} |")
    lines.append(f"\nOverall accuracy: **{result['accuracy']:.3f}** (n={result['n']})")
    return lines


def route(args) -> int:
    from core.routing import is_status_request  # noqa: F401 - fail early outside the action venv
    from knowledge.store import load_faq

    parsed = [json.loads(line) for line in Path(args.parsed).read_text(encoding="utf-8").splitlines() if line]
    classes = custom_actions()
    faq_answers = [f.answer for f in load_faq()]
    variants = [("after", None, "this branch's rules and routing actions (data/rules/)")]
    if args.baseline_ref:
        variants.insert(0, ("before", args.baseline_ref, f"the rules of `{args.baseline_ref}`"))
    started = time.monotonic()
    results, rows = {}, [dict(item) for item in parsed]
    for label, ref, _ in variants:
        table = RuleTable(load_rules(ref))
        t0 = time.monotonic()
        for row, item in zip(rows, parsed):
            row[label] = route_one(item, table, classes, faq_answers)
        results[label] = confusion([{"expected": r["expected"], label: r[label]["route"]} for r in rows], label)
        results[label]["ms_per_message"] = round(1000 * (time.monotonic() - t0) / max(len(rows), 1), 1)
    by_style = {}
    for label, _, _ in variants:
        styles = defaultdict(Counter)
        for r in rows:
            if r["expected"] == "procedure":
                styles[r["style"]]["n"] += 1
                styles[r["style"]]["ok"] += r[label]["route"] == "procedure"
        by_style[label] = {s: round(c["ok"] / c["n"], 3) for s, c in sorted(styles.items())}

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    counts = Counter(r["expected"] for r in rows)
    lines = ["# Routing evaluation", "",
             "Where each message goes through the real NLU model (`" + Path(args.model_name).name + "`), the rules and "
             "the routing actions (`make eval-routing`, `scripts/eval_routing.py`). Procedure questions: the question "
             f"bank's test split, {args.per_style} per style ({counts['procedure']}); the other rows: the phrasings of "
             "`tests/routing/phrasings.yml` (" + ", ".join(f"{k} {counts[k]}" for k in ROUTES[1:]) + "). "
             "`procedure` = answered by the knowledge search (an answer, a choice between procedures or suggestions); "
             "`faq` = an FAQ answer (response selector or knowledge-base FAQ entry); `other` = greeting, thanks, "
             "out of scope, fallback.", ""]
    for label, ref, what in variants:
        lines += [f"## {label.capitalize()}: {what}", ""]
        lines += table_md(results[label])
        lines += ["", "Procedure questions routed to a procedure answer, by style: "
                  + ", ".join(f"{s} {v:.3f}" for s, v in by_style[label].items()), ""]
    last = variants[-1][0]
    wrong = [r for r in rows if r[last]["route"] != r["expected"]]
    lines += [f"## Misrouted ({last}): {len(wrong)}", "", "| expected | predicted | intent | message |",
              "| --- | --- | --- | --- |"]
    for r in sorted(wrong, key=lambda r: (r["expected"], r[last]["route"], r["text"])):
        text = r["text"].replace("|", "/").replace("\n", " ")
        lines.append(f"| {r['expected']} | {r[last]['route']} | {r[last]['intent']} | {text[:160]} |")
    (out / "routing.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "routing.json").write_text(json.dumps({"results": results, "procedure_by_style": by_style,
                                                  "per_style": args.per_style, "counts": dict(counts)},
                                                 ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for label, _, what in variants:
        print(f"\n{label.upper()} ({what})")
        print("\n".join(table_md(results[label])))
    print(f"\n{len(rows)} messages routed in {time.monotonic() - started:.0f} s; report in {out / 'routing.md'}")
    failed = []
    if args.min_accuracy is not None and results[last]["accuracy"] < args.min_accuracy:
        failed.append(f"overall accuracy {results[last]['accuracy']:.3f} < {args.min_accuracy}")
    for spec in args.min_row or []:
        name, _, value = spec.partition("=")
        got = results[last]["row_accuracy"].get(name)
        if got is None or got < float(value):
            failed.append(f"{name} row accuracy {got} < {value}")
    for message in failed:
        print(f"FAILED: {message}")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("parse", help="NLU output of every message (Rasa venv)")
    p.add_argument("--model", default=str(ROOT / "models" / "tthc.tar.gz"))
    p.add_argument("--per-style", type=int, default=50)
    p.add_argument("--out", required=True)
    r = sub.add_parser("route", help="rules + routing actions, confusion tables (action venv)")
    r.add_argument("--parsed", required=True)
    r.add_argument("--per-style", type=int, default=50, help="as given to parse (for the report's text)")
    r.add_argument("--model-name", default="models/tthc.tar.gz", help="the model parse used (for the report)")
    r.add_argument("--baseline-ref", help="also route with the rules of this git ref (e.g. main) as 'before'")
    r.add_argument("--out", default=str(ROOT / "reports" / "routing"))
    r.add_argument("--min-accuracy", type=float, help="exit 1 when the overall accuracy is below this")
    r.add_argument("--min-row", action="append", metavar="ROUTE=VALUE",
                   help="exit 1 when the accuracy of a row (expected route) is below VALUE; repeatable")
    args = parser.parse_args()
    return parse(args) if args.step == "parse" else route(args)


if __name__ == "__main__":
    sys.exit(main())
