# Trợ lý ảo Dịch vụ công — developer entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
RASA_PY := .venv-rasa/bin/python
ACT_PY := .venv-actions/bin/python
export PYTHONPATH := $(CURDIR)

.PHONY: help setup run train validate test eval-nlu eval-routing eval-dialogue eval bench bench-full build-index lint clean seed-demo
.PHONY: console-demo run-scaled test-scaled
.PHONY: load load-notifications tune-encoder train-ranker nlu-from-bank replay-review eval-dialogue-strangers

help: ## One line per target
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-12s %s\n", $$1, $$2}'

setup: ## Create both venvs, the embedding model and the knowledge index (idempotent)
	@bash scripts/setup.sh

run: setup train seed-demo console-demo ## Start action server, Rasa server and the chat page on http://localhost:8080
	@bash scripts/run.sh

run-scaled: setup train ## Scaled profile: nginx + 2 Rasa + 2 action servers, PostgreSQL tracker/services, Redis locks
	@bash scripts/run_scaled.sh

train: ## Train the Rasa model only when data/config/components changed
	@$(RASA_PY) scripts/train_if_changed.py

validate: ## rasa data validate --fail-on-warnings
	@.venv-rasa/bin/rasa data validate --fail-on-warnings

seed-demo: ## Seed var/services.db with ~3000 synthetic applications (no-op when already seeded; RESET=1 redoes it)
	@$(ACT_PY) scripts/seed_demo.py $(if $(RESET),--reset,)

console-demo: ## Create the console's demo account once (password printed once; no-op when accounts exist)
	@$(ACT_PY) -m console ensure-demo

build-index: ## Build the knowledge index (only when stale)
	@$(ACT_PY) -m knowledge build --if-stale

lint: ## ruff over the project's Python code
	@$(ACT_PY) -m ruff check actions core channels console deploy knowledge nlu_components notifier scripts staff_api tests web settings.py conftest.py rasa_sdk_plugins

test: setup train ## Everything: lint, unit tests, Rasa validate/story tests, NLU eval, end-to-end and browser tests
	@bash scripts/test.sh

test-scaled: setup train ## Scaled-profile integration test (needs PostgreSQL + Redis; restarts both once)
	@HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(ACT_PY) -m pytest -q -p no:cacheprovider tests/scaled

eval-nlu: train ## NLU evaluation on the held-out split (intent F1 overall and without diacritics)
	@$(RASA_PY) scripts/eval_nlu.py --out reports/nlu

# The Rasa model evaluated by eval-routing; RASA_MODEL=<path> uses another one (then `make train` is not run).
RASA_MODEL ?=
ROUTING_BASELINE ?=
eval-routing: setup $(if $(RASA_MODEL),,train) ## Routing confusion table (procedure/status/feedback/handoff/faq/other) -> reports/routing/; ROUTING_BASELINE=<git ref> adds a "before" table
	@tmp=$$(mktemp -d) && model=$${RASA_MODEL:-models/tthc.tar.gz} && \
	  HF_HUB_OFFLINE=1 $(RASA_PY) scripts/eval_routing.py parse --model $$model --out $$tmp/parsed.jsonl && \
	  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(ACT_PY) scripts/eval_routing.py route --parsed $$tmp/parsed.jsonl \
	    --model-name $$model $(if $(ROUTING_BASELINE),--baseline-ref $(ROUTING_BASELINE),) --out reports/routing; \
	  rc=$$?; rm -rf $$tmp; exit $$rc

# RASA_MODEL=<path> evaluates another model (then `make train` is not run); DIALOGUE_ARGS e.g. "--n 80 --check FILE".
DIALOGUE_ARGS ?=
eval-dialogue: setup $(if $(RASA_MODEL),,train) ## End-to-end dialogue evaluation over the REST channel of a started stack (bank test split hidden from the search) -> reports/dialogue/
	@HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(ACT_PY) scripts/eval_dialogue.py --out reports/dialogue \
	  $(if $(RASA_MODEL),--model $(RASA_MODEL),) $(DIALOGUE_ARGS)

eval-dialogue-strangers: setup $(if $(RASA_MODEL),,train) ## The same through the bot as deployed, on the strangers' test set (questions written apart from the bank) -> reports/dialogue-strangers/
	@HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(ACT_PY) scripts/eval_dialogue.py --set strangers \
	  --out reports/dialogue-strangers $(if $(RASA_MODEL),--model $(RASA_MODEL),) $(DIALOGUE_ARGS)

nlu-from-bank: ## Regenerate data/nlu/procedures_bank.yml (ask_procedure examples) from the question bank's train split
	@$(ACT_PY) scripts/nlu_from_bank.py

eval: setup ## Retrieval evaluation: dev, bank test split, held-out, strangers' sets; ranker vs linear, BM25, dense, untuned encoder, ablations
	@# The untuned-encoder comparison needs its own index and ranker (built once, ~12 min; then only when stale).
	@HF_HUB_OFFLINE=1 $(ACT_PY) -m knowledge build --if-stale --encoder e5-small --out models/kb-index-untuned
	@HF_HUB_OFFLINE=1 $(ACT_PY) scripts/eval_retrieval.py --compare-index models/kb-index-untuned
	@$(ACT_PY) scripts/eval_accents.py --out reports/retrieval/accents.json

# Two stages: question -> name pairs from the untuned encoder, then a second pass from that adapter with negatives
# re-mined by it and a question -> question term (knowledge/data/encoder/README.md).
tune-encoder: setup ## Retrain the encoder adapter (knowledge/data/encoder/, ~90 min on 2 cores), rebuild model and index
	@HF_HUB_OFFLINE=1 $(ACT_PY) scripts/tune_encoder.py --out var/encoder-stage1
	@HF_HUB_OFFLINE=1 $(ACT_PY) scripts/tune_encoder.py --init var/encoder-stage1 --epochs 0.6 --lr 1.5e-4 --q2q-weight 0.5
	@HF_HUB_OFFLINE=1 $(ACT_PY) scripts/build_e5_model.py
	@HF_HUB_OFFLINE=1 $(ACT_PY) -m knowledge build --if-stale

# Setup installs the committed ranker when it was trained on the same sources and encoder, else trains one (~15-30
# min on 2 cores); after changing the bank, the knowledge records, the tables or knowledge/ranker.py, run this
# (after `make setup`; it rebuilds the index first when stale, without training a ranker twice).
train-ranker: ## Retrain the learned ranker on the default index and commit it (knowledge/data/ranker/)
	@HF_HUB_OFFLINE=1 $(ACT_PY) -m knowledge build --if-stale --no-ranker
	@HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(ACT_PY) -m knowledge train-ranker --commit

replay-review: setup ## Review queue replay: approve half of tests/retrieval/review_replay.jsonl through the console, unseen neighbours before/after, approval-to-live time -> reports/review/ (~5 min)
	@HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=1 $(ACT_PY) scripts/replay_review.py

bench: setup ## Search benchmark: build time/size, query latency, memory, scale curve to 10k entries
	@HF_HUB_OFFLINE=1 $(ACT_PY) scripts/bench_search.py --quick

bench-full: setup ## The benchmark including the 100k-entry scale point (first run ~17 min)
	@HF_HUB_OFFLINE=1 $(ACT_PY) scripts/bench_search.py

clean: ## Remove trained models, indexes and runtime data (keeps the venvs)
	rm -rf models/*.tar.gz models/kb-index models/kb-index-untuned var/*.db .rasa results

load: setup train ## Load test: 1/10/20/50 concurrent citizens, embedded + scaled profile (reports/load/, ~15 min)
	@# Closed loop (think time 0: the saturation test), then citizens at a chat pace (10 s mean think time:
	@# the p95 <= 150 ms target at 20 chats), then the scaled profile closed loop.
	@$(RASA_PY) scripts/load.py --profile embedded $(LOAD_ARGS)
	@$(RASA_PY) scripts/load.py --profile embedded --think 10 --no-breakdown $(LOAD_ARGS)
	@$(RASA_PY) scripts/load.py --profile scaled $(LOAD_ARGS)

load-notifications: setup ## Notification delivery: 10,000 status changes, 2 workers, one killed (PostgreSQL db `test`; reports/notifications/, ~5 min)
	@$(ACT_PY) scripts/load_notifications.py $(LOAD_NOTIFY_ARGS)
