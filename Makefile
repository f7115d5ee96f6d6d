# Two entry points for a fresh machine (see README.rst):
#   make demo   the chat example on http://127.0.0.1:8888
#   make test   everything CI checks (CI runs exactly this, via .ci/run)
# Both prepare what they need through scripts/bootstrap.sh first.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8888

export VENV

.PHONY: help bench bench-all bench-ab bench-micro bench-sweep demo test bootstrap-demo bootstrap-test \
        bootstrap-oldest lint format-check typecheck docs cov-protocol pytest oldest format wheel clean

help:
	@echo "make demo          run the chat example on http://$(HOST):$(PORT)"
	@echo "make test          lint, format check, mypy, docs, coverage gates, full test suite,"
	@echo "                   and the unit + integration suites at the oldest dependencies"
	@echo "make lint | format-check | typecheck | docs | cov-protocol | pytest | oldest   one step"
	@echo "make format        apply ruff format and ruff's safe fixes"
	@echo "make wheel         build sdist + wheel into dist/"
	@echo "make clean         remove build, docs and coverage output (keeps the venvs, node_modules)"

demo: bootstrap-demo
	@$(PY) examples/chat/server.py --host $(HOST) --port $(PORT)

test: bootstrap-test
	@PY=$(PY) bash scripts/check.sh

bootstrap-demo:
	@bash scripts/bootstrap.sh demo

bootstrap-test:
	@bash scripts/bootstrap.sh test

bootstrap-oldest:
	@bash scripts/bootstrap.sh oldest

lint: bootstrap-test
	@PY=$(PY) bash scripts/check.sh lint
format-check: bootstrap-test
	@PY=$(PY) bash scripts/check.sh format
typecheck: bootstrap-test
	@PY=$(PY) bash scripts/check.sh types
docs: bootstrap-test
	@PY=$(PY) bash scripts/check.sh docs
cov-protocol: bootstrap-test
	@PY=$(PY) bash scripts/check.sh cov-protocol
pytest: bootstrap-test
	@PY=$(PY) bash scripts/check.sh pytest
# The oldest lane alone: tests/protocol, tests/cyclone and tests/integration in
# .venv-oldest, every dependency at pyproject.toml's lower bound.
oldest: bootstrap-oldest
	@bash scripts/check.sh oldest

format: bootstrap-test
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

wheel: bootstrap-test
	$(PY) -m build --outdir dist .

clean:
	rm -rf build dist docs/_build .coverage .coverage.* htmlcov .mypy_cache .ruff_cache .hypothesis
	find . -path ./.venv -prune -o -path ./.venv-oldest -prune -o -path ./node_modules -prune -o \
	    \( -name __pycache__ -o -name '*.egg-info' \) -type d -print0 | xargs -0 rm -rf

# Same-run comparison with sockjs-node (see bench/README.rst); not part of make test.
bench: bootstrap-test
	bench/compare.sh --rounds 3 sockjs-node ws-echo --conns 100

# Every performance target against its peer, then the table (bench/README.rst; about 25 min).
bench-all: bootstrap-test
	bench/run.sh --rounds 3

# This checkout against an earlier commit, every target in the same run; fails
# when one is more than 5 % worse (bench/README.rst; about 20 min).
#   make bench-ab REF=main~5
bench-ab: bootstrap-test
	@test -n "$(REF)" || { echo "usage: make bench-ab REF=<git ref>" >&2; exit 2; }
	bench/run.sh --baseline '$(REF)' --rounds 3

# The protocol core's encode/decode cost per frame, no I/O (seconds).
bench-micro: bootstrap-test
	$(PY) bench/micro.py

# ws-echo throughput against connections, us and the peers, and the plot
# docs/performance.png (bench/README.rst; about 10 min).
bench-sweep: bootstrap-test
	$(PY) -m pip install -q -r requirements-bench.txt
	bench/sweep.sh --rounds 3
