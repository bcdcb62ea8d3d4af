# OneSource: `make demo` and `make test` set themselves up on a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: demo test test-random lint setup lock bytecode browser clean schema bench

# install exactly what uv.lock pins (what the tests ran with); reinstall only when the
# declared dependencies or the lock change. `make lock` upgrades the lock deliberately.
$(STAMP): pyproject.toml uv.lock
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install -q --upgrade pip uv >/dev/null
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync -q --locked --inexact --extra dev --compile-bytecode --python $(BIN)/python
	@touch $(STAMP)

# re-resolve every dependency to its newest allowed version and rewrite uv.lock
lock: $(STAMP)
	$(BIN)/uv lock --upgrade

# bytecode up front: imports (Airflow's above all: DAG parsing, every task process) stay
# fast even where PYTHONDONTWRITEBYTECODE is set; compileall skips what is up to date
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q -j 0 schemas connectors onesource dags >/dev/null

setup: $(STAMP)

# headless Chromium from Debian for the browser tests, and CJK fonts so that screenshots of
# Chinese pages show text instead of empty boxes (once per machine)
browser:
	@{ command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q .; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
	      || echo "note: could not install chromium and fonts-noto-cjk; browser tests may skip"; \
	  else echo "note: chromium or a Chinese font is missing and cannot apt-get; browser tests may skip"; fi; }

# the suite on every logical CPU (pytest-xdist); a file's tests stay on one worker, so its
# module fixtures (the documented-commands scenario, a seeded hub) are built once.
# TEST_WORKERS=0 runs it in one process. TEST_ORDER=random (what .ci/run does) shuffles the
# files and the tests inside them (pytest-randomly; the seed is printed for `make test-random`).
TEST_WORKERS ?= logical
TEST_ORDER ?= fixed
ORDER_SEED := $(or $(SEED),$(shell od -An -N2 -tu2 /dev/urandom | tr -d ' '))
test: $(STAMP) bytecode browser
	$(if $(filter random,$(TEST_ORDER)),@echo "tests in random order with seed $(ORDER_SEED) (same order again: make test TEST_ORDER=random SEED=$(ORDER_SEED))",)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(if $(filter random,$(TEST_ORDER)),-p randomly --randomly-seed=$(ORDER_SEED),)

# the same tests in a random order (pytest-randomly, off in `make test`): finds tests that pass
# only after, or only before, another one. Replay an order with the seed it printed:
#   make test-random TESTS="tests/catalog tests/schemas" SEED=12345
TESTS ?= tests
SEED ?=
test-random: $(STAMP) bytecode
	$(BIN)/python -m pytest -q -p randomly $(if $(SEED),--randomly-seed=$(SEED),) $(TESTS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy schemas connectors onesource
	$(BIN)/deptry .
	$(BIN)/uv lock --check

schema: $(STAMP)
	$(BIN)/onesource catalog schema --write

# make demo PORT=8001 API_PORT=8766: the portal's and the demo departments' API ports
PORT ?= 8000
API_PORT ?= 8765
demo: $(STAMP) bytecode
	$(BIN)/onesource demo run --port $(PORT) --api-port $(API_PORT)

bench: $(STAMP)
	@echo "see bench/README.md: each bench script prints the command it was run with"

clean:
	rm -rf $(VENV) var .pytest_cache build *.egg-info
