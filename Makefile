# eventqa developer tasks. `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/eventqa: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

install: $(BIN)/eventqa ## Create .venv with eventqa and the test tools

test: install ## Run every test (the CI command)
	$(BIN)/python -m pytest

lint: install ## ruff, mypy --strict (the package and bench/), import contracts
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/mypy bench
	$(BIN)/lint-imports

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

generate: install ## Regenerate expectations/ from contracts/ and checks.yaml
	$(BIN)/eventqa generate

golden: install ## Regenerate the golden suites and Slack messages (review the diff)
	$(BIN)/eventqa --config tests/suites/golden/checks.yaml generate
	EVENTQA_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/alerting/test_blocks.py

bench: install ## Time eventqa against hand-written scans, print issue #10 targets (1M, 20M rows)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

backtest: install ## Backtest the volume detector against an Elementary-style z-score (issue #11 targets)
	$(BIN)/python bench/backtest.py $(BACKTEST_ARGS)

keywords: install ## Regenerate the SQL keywords that eventqa always quotes
	$(BIN)/python scripts/generate_keywords.py

clean: ## Remove .venv, caches and the demo warehouse
	rm -rf $(VENV) .eventqa .pytest_cache .mypy_cache .ruff_cache src/*.egg-info

.PHONY: help install test lint format generate golden bench backtest keywords clean
