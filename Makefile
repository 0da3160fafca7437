# Two commands on a fresh machine: `make run` (install + run the embedded default) and `make test`.
# Each creates the virtual environment when it is missing.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.hybench-installed
ARGS ?=

.PHONY: install run test lint perf gate gate-baseline results clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/hybench run $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

perf: $(STAMP)
	$(BIN)/python -m pytest tests/perf --benchmark-only $(ARGS)

gate: $(STAMP)
	.ci/gate $(VENV) compare

gate-baseline: $(STAMP)
	.ci/gate $(VENV) baseline

# The committed PneumoniaMNIST leaderboard (standard profile, official split): about 30 min on 2 cores.
results: $(STAMP)
	rm -rf results/pneumoniamnist
	.ci/with-shared-keras $(BIN)/hybench run --profile standard --dataset pneumoniamnist \
		--data-dir ../shared/data --seeds 0 --out results/pneumoniamnist
	$(BIN)/hybench report results/pneumoniamnist -o results/pneumoniamnist/report.html

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
