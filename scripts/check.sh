#!/usr/bin/env bash
# Every check that `make test` (and so CI) runs, stopping at the first
# failure.  The main lane's environment must already be prepared by
# scripts/bootstrap.sh test (make does that) or by tox; the oldest lane
# prepares its own (scripts/bootstrap.sh oldest, quick once done).
#
#   scripts/check.sh            all steps; the last line printed is pytest's summary
#   scripts/check.sh STEP...    only these: oldest lint format types docs cov-protocol pytest
#
# Two lanes.  The main lane (lint ... pytest) runs at the newest versions of
# the dependencies.  The oldest lane (step `oldest`) runs tests/protocol,
# tests/cyclone and tests/integration in .venv-oldest, where every dependency
# and extra of pyproject.toml is pinned to its lower bound.  Given with other
# steps, the oldest lane runs in the background while they do (the main lane
# keeps about one of the two cores busy); its output is kept aside and shown
# once they are done, in full if it failed, just before the main lane's
# summary, which stays the last line.
#
# PY selects the main lane's interpreter (default .venv/bin/python), OLDEST_PY
# the oldest lane's (default .venv-oldest/bin/python); extra arguments for the
# final pytest run can be given in PYTEST_ARGS (make pytest PYTEST_ARGS=...).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY="${PY:-.venv/bin/python}"
OLDEST_PY="${OLDEST_PY:-${OLDEST_VENV:-.venv-oldest}/bin/python}"

# What to remove and stop on exit, whatever the exit.
coverage_dir=""
oldest_pid=""
oldest_log=""
held_summary=""
cleanup() {
    if [ -n "$oldest_pid" ]; then
        # The oldest lane runs in a process group of its own (setsid below):
        # signalling the group reaches the test servers its pytest started
        # too.  The servers stop on SIGTERM; pytest (whose reactor takes
        # SIGTERM as "stop the reactor") may not, hence SIGKILL after a moment.
        local tries=0
        kill -TERM -- "-$oldest_pid" 2>/dev/null || true
        while kill -0 -- "-$oldest_pid" 2>/dev/null && [ "$tries" -lt 30 ]; do
            sleep 0.1
            tries=$((tries + 1))
        done
        kill -KILL -- "-$oldest_pid" 2>/dev/null || true
        wait "$oldest_pid" 2>/dev/null || true
    fi
    rm -rf -- ${coverage_dir:+"$coverage_dir"} ${oldest_log:+"$oldest_log" "$oldest_log.end"} \
        ${held_summary:+"$held_summary"}
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Coverage data goes to a directory of this run's own, so that two runs in
# one checkout (or a plain `pytest --cov` beside a `make test`) cannot combine
# or erase each other's per-process files.  Set COVERAGE_FILE to keep the data
# (e.g. COVERAGE_FILE=.coverage make pytest, then coverage html).
if [ -z "${COVERAGE_FILE:-}" ]; then
    coverage_dir="$(mktemp -d)"
    export COVERAGE_FILE="$coverage_dir/.coverage"
fi
# bootstrap.sh installs Chromium, Node and Playwright, so a missing tool is a
# set-up bug: the browser tests must fail rather than skip.
export SOCKJS_E2E_REQUIRE="${SOCKJS_E2E_REQUIRE:-1}"

ALL_STEPS=(oldest lint format types docs cov-protocol pytest)
steps=("$@")
[ "${#steps[@]}" -eq 0 ] && steps=("${ALL_STEPS[@]}")

# Two workers (pytest-xdist): the suite mostly waits on sockets and timers,
# and every server it starts takes a free port.  PYTEST_ARGS=-n0 runs it in
# one process (for -s or pdb).
main_pytest() {
    # shellcheck disable=SC2086  # PYTEST_ARGS is a list of words
    "$PY" -m pytest -n 2 --cov=sockjs --cov-branch --cov-report=term-missing:skip-covered \
        --cov-fail-under=90 ${PYTEST_ARGS:-} "$@"
}

run_step() {
    case "$1" in
        # The unit and integration suites at the lowest versions pyproject.toml
        # allows.  No coverage: the gates are the main lane's.
        oldest)
            bash scripts/bootstrap.sh oldest &&
                "$OLDEST_PY" -m pytest tests/protocol tests/cyclone tests/integration -q --no-header
            ;;
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
            if [ -z "$oldest_pid" ]; then
                main_pytest
                return
            fi
            # The oldest lane reports after this; pytest's last line (its
            # summary) is held back until then.  Unbuffered, so that the rest
            # still appears as it comes.
            local color=()
            [ -t 1 ] && color=(--color=yes)
            held_summary="$(mktemp)"
            PYTHONUNBUFFERED=1 main_pytest "${color[@]}" 2>&1 | hold_last_line "$held_summary"
            ;;
        *)
            echo "unknown step: $1 (known: ${ALL_STEPS[*]})" >&2
            return 2
            ;;
    esac
}

# Copy standard input to standard output, all but its last line, which goes to file $1.
hold_last_line() {
    local line previous="" seen=0
    while IFS= read -r line || [ -n "$line" ]; do
        [ "$seen" = 1 ] && printf '%s\n' "$previous"
        previous="$line"
        seen=1
    done
    if [ "$seen" = 1 ]; then
        printf '%s\n' "$previous" >"$1"
    fi
}

# Seconds from $1 to $2 (default: now), both in nanoseconds.
elapsed() {
    local ms=$(((${2:-$(date +%s%N)} - $1) / 1000000))
    printf '%d.%01ds' $((ms / 1000)) $((ms % 1000 / 100))
}

# Wait for the oldest lane in the background and say how it went.
report_oldest() {
    local status=0 pins took
    wait "$oldest_pid" || status=$?
    oldest_pid=""
    took="$(elapsed "$oldest_start" "$(cat "$oldest_log.end" 2>/dev/null || date +%s%N)")"
    pins="$("$OLDEST_PY" scripts/constraints.py 2>/dev/null | grep -v '^#' | tr '\n' ' ' || true)"
    if [ "$status" -eq 0 ]; then
        printf '==> oldest lane ok in %s (%s): %s\n' "$took" "${pins% }" \
            "$(tail -n 1 "$oldest_log")"
    else
        printf '==> oldest lane FAILED (exit %d) in %s (%s); its output:\n' "$status" "$took" \
            "${pins% }"
        cat "$oldest_log"
    fi
    return "$status"
}

n=${#steps[@]}
i=0
for step in "${steps[@]}"; do
    i=$((i + 1))
    if [ "$step" = oldest ] && [ "$n" -gt 1 ]; then
        echo "==> [$i/$n] oldest (in the background; reported at the end)"
        oldest_log="$(mktemp)"
        oldest_start=$(date +%s%N)
        # The lane notes when it ended (in "$oldest_log.end"): it is reported later.
        setsid bash -c 'bash scripts/check.sh oldest; s=$?; date +%s%N >"$0.end"; exit "$s"' \
            "$oldest_log" </dev/null >"$oldest_log" 2>&1 &
        oldest_pid=$!
        continue
    fi
    echo "==> [$i/$n] $step"
    start=$(date +%s%N)
    status=0
    run_step "$step" || status=$?
    if [ "$status" -ne 0 ]; then
        # A failed main pytest still gets the oldest lane's report and its summary last.
        if [ -n "$oldest_pid" ] && [ -n "$held_summary" ]; then
            report_oldest || true
            cat "$held_summary"
        fi
        exit "$status"
    fi
    # Timings go before the next step, never after the last one: CI reads
    # pytest's summary as the final line.
    if [ "$i" -lt "$n" ]; then
        printf '    %s ok in %s\n' "$step" "$(elapsed "$start")"
    fi
done
status=0
if [ -n "$oldest_pid" ]; then
    report_oldest || status=$?
fi
if [ -n "$held_summary" ]; then
    cat "$held_summary"
fi
exit "$status"
