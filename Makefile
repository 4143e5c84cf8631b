# Pipeline: seeds -> data check -> evaluate (CV) -> train (store) -> serve / report.
# Every target creates what it needs; `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch as a CPU wheel: 2.13.0 lies on this machine's disk; override TORCH_SPEC elsewhere.
TORCH_SPEC ?= torch==2.13.0
export BENTOML_HOME ?= $(CURDIR)/.bentoml
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

SEEDS   := seeds/schema.yaml seeds/annotations.jsonl seeds/sources.csv $(wildcard seeds/articles/*.txt) $(wildcard seeds/synthetic/*.jsonl)
CORPUS  := seeds/corpus/annotations.jsonl seeds/corpus/articles.csv $(wildcard seeds/corpus/articles/*.txt)
METRICS := reports/eval/metrics.json

.PHONY: venv browser data evaluate voices articles train learning-curve report run serve bench bench-batch bench-inference soak labelstudio active-learning test test-fast lint format all clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

## browser: Debian's Chromium for the browser tests of the report and the web UI (apt, needs root or sudo)
browser:
	@command -v chromium >/dev/null || { SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver; }

## labelstudio: Label Studio in its own venv for the annotation round-trip test (tests/test_annotate.py); never in
## .venv: its SDK pins opencv and so numpy < 2.3, which would change the project's numerics (~70 s, from the index)
LS_VENV ?= .venv-labelstudio
LABEL_STUDIO_SPEC ?= label-studio==1.23.*
labelstudio:
	@test -x $(LS_VENV)/bin/label-studio || { test -x $(LS_VENV)/bin/python || $(PYTHON) -m venv $(LS_VENV); \
	  $(LS_VENV)/bin/pip install -q --upgrade pip && $(LS_VENV)/bin/pip install -q "$(LABEL_STUDIO_SPEC)"; }

## data: validate annotations and checksums, print label counts per source
data: venv
	$(BIN)/framing data

## evaluate: leave-one-source-out CV of the fine-tuned model and baselines -> reports/eval/
$(METRICS): $(SEEDS) | venv
	$(BIN)/framing evaluate --out reports/eval
evaluate: $(METRICS)

## voices: leave-one-voice-out on the synthetic voices, epochs from the source CV (~26 min on 2 cores)
VOICES := reports/eval/voices.json
$(VOICES): $(METRICS) | venv
	$(BIN)/framing evaluate --protocol voice --out reports/eval
voices: $(VOICES)

## articles: whole-article protocols (leave-one-camp-out, articles -> real seeds; sentence-only vs context;
## ~60 min on 2 cores, finished folds are cached and resume) -> reports/eval/articles.{json,md}
ARTICLES := reports/eval/articles.json
$(ARTICLES): $(SEEDS) $(CORPUS) eval/articles.py model/context.py model/text.py | venv
	$(BIN)/framing evaluate --protocol camp --epochs 2 --out reports/eval
articles: $(ARTICLES)

## train: train on all data (epochs from the whole-article evaluation, else the CV run) and register
## framing-classifier in the BentoML store
train: venv
	$(BIN)/framing train --cv-metrics $(METRICS)

## learning-curve: macro-F1 on held-out sources against the share of seed annotations (TF-IDF and frozen-MiniLM
## baselines, ~15 min on 2 cores) -> reports/eval/learning_curve.json
CURVE := reports/eval/learning_curve.json
$(CURVE): $(SEEDS) eval/learning_curve.py | venv
	$(BIN)/framing learning-curve --out $@
learning-curve: $(CURVE)

## active-learning: does labelling the least certain sentences first pay? Uncertainty vs random sampling, macro-F1 on
## held-out outlets (TF-IDF and frozen-MiniLM LR, 5 repeats) -> reports/eval/active_learning.{json,md}
AL_CURVE := reports/eval/active_learning.json
$(AL_CURVE): $(SEEDS) $(CORPUS) eval/active_learning.py training/labelstudio.py | venv
	$(BIN)/framing annotate curve --models tfidf_lr,minilm_lr --out $@
active-learning: $(AL_CURVE)

## report: self-contained HTML + Markdown report -> reports/html/ (make report SCORES=DIR adds a 'framing score' folder)
REPORT_INPUTS := $(METRICS) $(CURVE) $(wildcard $(VOICES)) $(wildcard $(ARTICLES)) $(wildcard $(AL_CURVE)) \
                 $(wildcard seeds/agreement/*.jsonl) $(wildcard eval/report/*.py) eval/agreement.py \
                 eval/templates/report.html.j2 $(if $(SCORES),$(SCORES)/sources.csv)
reports/html/index.html: $(REPORT_INPUTS) | venv
	$(BIN)/framing report --out reports/html $(if $(SCORES),--scores $(SCORES))
report: reports/html/index.html

## run: the main job -- venv, train the default model if the store has none, serve on localhost:3000
run: venv
	$(BIN)/framing serve --port 3000
serve: run

## bench: load benchmark of the real service against an in-process transformers pipeline
bench: venv
	$(BIN)/python -m eval.bench.service --out reports/bench/service.json

## bench-inference: CPU inference paths (pipeline, torch, ONNX fp32/int8/guarded): speed, latency, RSS, agreement, LOSO
bench-inference: venv
	$(BIN)/python -m eval.bench.inference --out reports/bench/inference.json

## bench-batch: framing score throughput vs a naive per-article transformers.pipeline loop (2,000 articles)
bench-batch: venv
	$(BIN)/python -m eval.bench.batch --out reports/bench/batch.json

## soak: the real service, 32 clients, good and bad requests mixed (SOAK_S seconds, default 600); prints a line
## a minute and the RSS growth; fails on any response >= 500 or RSS growth >= 10 percent -> reports/bench/soak.json
SOAK_S ?= 600
soak: venv
	$(BIN)/python -m eval.bench.soak --duration $(SOAK_S) --clients 32 --out reports/bench/soak.json

## test: the whole suite, slow tests included (this is what CI runs)
test: venv browser labelstudio
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

test-fast: venv
	$(BIN)/python -m pytest -m "not slow"

lint: venv
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

all: data evaluate voices articles train

clean:
	rm -rf reports .bentoml .pytest_cache
