# One-command entry points. Every target creates .venv from requirements.txt when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config/config.yaml
CORES  ?= all
SNAKE  := $(BIN)/snakemake --configfile $(CONFIG) --cores $(CORES)

MUSICNN_CACHE := .cache/musicnn
MUSICNN_WHEEL := $(MUSICNN_CACHE)/musicnn-0.1.0-py3-none-any.whl
MUSICNN       := resources/musicnn/manifest.json

.PHONY: run test test-unit report bench lint format clean setup

$(BIN)/snakemake: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# musicnn's weights (the judge): fetched and converted once, here and never at run time. The wheel's
# sha256 is pinned in fmagenre/judge/weights.py; manifest.json is written last, so a killed setup reruns.
setup: $(MUSICNN)              ## fetch musicnn's wheel (pip download), check it, convert its weights

$(MUSICNN): | $(BIN)/snakemake
	$(BIN)/python -m pip download --quiet --no-deps musicnn==0.1.0 -d $(MUSICNN_CACHE)
	PYTHONPATH=workflow/scripts $(BIN)/python -m fmagenre.judge.weights \
		--wheel $(MUSICNN_WHEEL) --out resources/musicnn

run: $(BIN)/snakemake $(MUSICNN)  ## run the whole workflow (default: embedded synthetic FMA)
	$(SNAKE)

report: $(BIN)/snakemake       ## self-contained HTML report of the last run
	$(SNAKE) --report results/report.html

test: $(BIN)/snakemake $(MUSICNN)  ## the test suite (unit, end-to-end, SLURM)
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

test-unit: $(BIN)/snakemake $(MUSICNN)  ## the fast unit layer, in parallel
	$(BIN)/python -m pytest -m unit -n 2 $(PYTEST_ARGS)

bench: $(BIN)/snakemake $(MUSICNN)  ## benchmarks: features, judge, training throughput, fma_full DAG
	$(BIN)/python bench/run_all.py

lint: $(BIN)/snakemake $(MUSICNN)  ## ruff (lint + format check), snakefmt --check, snakemake --lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check .
	$(BIN)/snakemake --lint --cores 1

format: $(BIN)/snakemake       ## ruff format and snakefmt, in place
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/snakefmt .

clean:
	rm -rf results logs benchmarks .snakemake
