# OneSource: `make demo` and `make test` set themselves up on a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: demo test lint setup bytecode browser clean schema bench

# reinstall only when the project's declared dependencies change
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip uv >/dev/null
	$(BIN)/uv pip install --python $(BIN)/python -q --compile-bytecode -e '.[dev]'
	@touch $(STAMP)

# bytecode up front: imports (Airflow's above all: DAG parsing, every task process) stay
# fast even where PYTHONDONTWRITEBYTECODE is set; compileall skips what is up to date
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q -j 0 schemas connectors onesource dags >/dev/null

setup: $(STAMP)

# headless Chromium from Debian for the portal's browser tests (once per machine)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "note: could not install chromium; browser tests will skip"; \
	  else echo "note: chromium missing and cannot apt-get; browser tests will skip"; fi; }

test: $(STAMP) bytecode browser
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy schemas connectors

schema: $(STAMP)
	$(BIN)/onesource catalog schema --write

demo: $(STAMP) bytecode
	$(BIN)/onesource demo run

bench: $(STAMP)
	@echo "see bench/README.md: each bench script prints the command it was run with"

clean:
	rm -rf $(VENV) var .pytest_cache build *.egg-info
