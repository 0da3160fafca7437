# Two commands on a fresh machine: `make run` (install + run the embedded default) and `make test`.
# Each creates the virtual environment when it is missing.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.hybench-installed
TEST_STAMP := $(VENV)/.hybench-test-extras
ARGS ?=

.PHONY: install run test lint perf gate gate-baseline results results-resume clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

# `make test` also installs the optional extras whose tests need them (Ray, MLflow)
$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,ray,mlflow]"
	@touch $(TEST_STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/hybench run $(ARGS)

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

perf: $(STAMP)
	$(BIN)/python -m pytest tests/perf --benchmark-only $(ARGS)

gate: $(STAMP)
	.ci/gate $(VENV) compare

gate-baseline: $(STAMP)
	.ci/gate $(VENV) baseline

# The committed PneumoniaMNIST leaderboard (standard profile, official split, seeds 0-2). If it is
# interrupted, continue it with `make results-resume`; never commit a partial matrix.
RESULTS_RUN = .ci/with-shared-keras $(BIN)/hybench run --profile standard --dataset pneumoniamnist \
	--data-dir ../shared/data --seeds 0,1,2 --jobs 2 --out results/pneumoniamnist

results: $(STAMP)
	rm -rf results/pneumoniamnist
	$(RESULTS_RUN)
	$(BIN)/hybench report results/pneumoniamnist -o results/pneumoniamnist/report.html

results-resume: $(STAMP)
	$(RESULTS_RUN) --resume
	$(BIN)/hybench report results/pneumoniamnist -o results/pneumoniamnist/report.html

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
