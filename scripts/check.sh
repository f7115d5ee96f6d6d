#!/usr/bin/env bash
# Every check that `make test` (and so CI) runs, in order, stopping at the
# first failure.  The environment must already be prepared by
# scripts/bootstrap.sh test (make does that) or by tox.
#
#   scripts/check.sh            all steps; the last line printed is pytest's summary
#   scripts/check.sh STEP...    only these: lint format types docs cov-protocol pytest
#
# PY selects the interpreter (default .venv/bin/python); extra arguments for
# the final pytest run can be given in PYTEST_ARGS (make pytest PYTEST_ARGS=...).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY="${PY:-.venv/bin/python}"

# Coverage data goes to a directory of this run's own, so that two runs in
# one checkout (or a plain `pytest --cov` beside a `make test`) cannot combine
# or erase each other's per-process files.  Set COVERAGE_FILE to keep the data
# (e.g. COVERAGE_FILE=.coverage make pytest, then coverage html).
if [ -z "${COVERAGE_FILE:-}" ]; then
    coverage_dir="$(mktemp -d)"
    trap 'rm -rf -- "$coverage_dir"' EXIT
    export COVERAGE_FILE="$coverage_dir/.coverage"
fi
# bootstrap.sh installs Chromium, Node and Playwright, so a missing tool is a
# set-up bug: the browser tests must fail rather than skip.
export SOCKJS_E2E_REQUIRE="${SOCKJS_E2E_REQUIRE:-1}"

ALL_STEPS=(lint format types docs cov-protocol pytest)
steps=("$@")
[ "${#steps[@]}" -eq 0 ] && steps=("${ALL_STEPS[@]}")

run_step() {
    case "$1" in
        lint) "$PY" -m ruff check . ;;
        format) "$PY" -m ruff format --check . ;;
        # files = ["sockjs"] and strict = true come from pyproject.toml.
        types) "$PY" -m mypy --strict ;;
        # -W: warnings are errors; -n: every cross-reference must resolve;
        # -E: fresh environment, so a stale pickle cannot hide a warning.
        docs) "$PY" -m sphinx -W --keep-going -n -E -q -b html docs docs/_build/html ;;
        # The sans-I/O core is held to 100% branch coverage by its own tests.
        cov-protocol)
            "$PY" -m pytest tests/protocol -q --no-header \
                --cov=sockjs/protocol --cov-branch --cov-report=term-missing:skip-covered \
                --cov-fail-under=100
            ;;
        # The whole suite, last, so that its summary is the final line of output.
        pytest)
            # shellcheck disable=SC2086  # PYTEST_ARGS is a list of words
            "$PY" -m pytest --cov=sockjs --cov-branch --cov-report=term-missing:skip-covered \
                --cov-fail-under=90 ${PYTEST_ARGS:-}
            ;;
        *)
            echo "unknown step: $1 (known: ${ALL_STEPS[*]})" >&2
            return 2
            ;;
    esac
}

n=${#steps[@]}
i=0
for step in "${steps[@]}"; do
    i=$((i + 1))
    echo "==> [$i/$n] $step"
    start=$(date +%s%N)
    run_step "$step"
    # Timings go before the next step, never after the last one: CI reads
    # pytest's summary as the final line.
    if [ "$i" -lt "$n" ]; then
        ms=$((($(date +%s%N) - start) / 1000000))
        printf '    %s ok in %d.%01ds\n' "$step" $((ms / 1000)) $((ms % 1000 / 100))
    fi
done
