#!/usr/bin/env bash
# `make test`: every check; exits non-zero if any fails (all still run). The last lines give the time taken.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$(pwd)" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# Reports of the checks below go to a temporary folder, removed at the end: only `make eval-*`, `make bench` and
# `make load` write the tracked reports/, so the tree stays clean after `make test`.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
started=$SECONDS
run() {  # run <name> <command...>; a failure is written to $scratch/failed (the lanes below are subshells)
  local name=$1; shift
  printf '\n\033[1m=== %s ===\033[0m\n' "$name"
  local t0=$SECONDS
  if "$@"; then echo "--- $name: OK ($((SECONDS - t0)) s)"; else echo "--- $name: FAILED ($((SECONDS - t0)) s)"; echo "$name" >> "$scratch/failed"; fi
}

run "ruff" .venv-actions/bin/python -m ruff check actions core channels console deploy knowledge nlu_components scripts staff_api tests web settings.py conftest.py rasa_sdk_plugins
routing_check() {
  local tmp="$scratch/routing" rc; mkdir -p "$tmp"
  .venv-rasa/bin/python scripts/eval_routing.py parse --model "${RASA_MODEL:-models/tthc.tar.gz}" --out "$tmp/parsed.jsonl" \
    && .venv-actions/bin/python scripts/eval_routing.py route --parsed "$tmp/parsed.jsonl" --out "$tmp" \
      --min-accuracy 0.96 --min-row procedure=0.96 --min-row status=0.925 --min-row feedback=0.90 \
      --min-row faq=0.90
  rc=$?; return $rc
}
# Two lanes side by side on the 2 cores: the action venv's checks (mostly one Python thread each) beside the Rasa
# venv's (TensorFlow); the first lane's output is printed when it ends, the second's as it goes. The end-to-end
# tests then run alone (they time turns).
action_lane() {
  run "unit tests (action venv)" .venv-actions/bin/python -m pytest -q tests/unit
  # The question bank's validator runs in tests/unit (test_bank.py); this checks retrieval quality against floors a
  # little below the last measurement (tests/retrieval/regression.json); its report goes to the scratch folder.
  run "retrieval regression (bank test split, dev, held-out, strangers)" .venv-actions/bin/python scripts/eval_retrieval.py \
    --ranker-only --check --out "$scratch/retrieval"
}
rasa_lane() {
  run "unit tests (Rasa venv)" .venv-rasa/bin/python -m pytest -q tests/rasa
  run "rasa data validate" .venv-rasa/bin/rasa data validate --fail-on-warnings
  run "rasa test (conversation stories)" .venv-rasa/bin/rasa test core --stories tests/test_stories.yml \
    --model "${RASA_MODEL:-models/tthc.tar.gz}" --out results/stories --fail-on-prediction-errors
  # The NLU report (reports/nlu/) is written by `make eval-nlu` only; here it goes to the scratch folder. DIET's result
  # moves between trainings of the same data (overall F1 0.952 and 0.940 in two; 0.949 after stop 28's feedback
  # examples), so the floor here sits a little below that spread; the report still prints the 0.95 target.
  run "NLU held-out evaluation" .venv-rasa/bin/python scripts/eval_nlu.py --out "$scratch/nlu" --min-overall 0.93
  # Routing through the real NLU model, the rules and the routing actions (bank test split + tests/routing/phrasings.yml)
  # against floors a little below the last measurement (reports/routing/routing.md, written only by `make eval-routing`);
  # the 40-message rows move between trainings of the same NLU data (feedback 0.975 and 0.825; 0.950 after stop 28's
  # feedback examples). FAQ 0.925 -> 1.000 since stop 31 (an FAQ entry above every procedure is answered on both paths).
  run "routing regression (procedure/status/feedback/handoff/faq/other)" routing_check
}
action_lane > "$scratch/action-lane.log" 2>&1 &
action_pid=$!
rasa_lane
wait "$action_pid"
cat "$scratch/action-lane.log"
run "end-to-end and browser tests" .venv-actions/bin/python -m pytest -q tests/e2e

echo
if [ -s "$scratch/failed" ]; then
  sed 's/^/FAILED: /' "$scratch/failed"
  echo "($((SECONDS - started)) s)"
  exit 1
fi
echo "All checks passed ($((SECONDS - started)) s)."
