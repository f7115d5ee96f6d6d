#!/usr/bin/env bash
# Run the performance targets of docs/performance.rst, and print the table.
#
#   bench/run.sh [--rounds N] [--out DIR] [--warmup S] [--duration S] [TARGET...]
#   bench/run.sh --baseline REF [--tolerance PCT] [--rounds N] [...] [TARGET...]
#   bench/run.sh                          # every target against its peer, 3 rounds (~25 min)
#   bench/run.sh --rounds 5 ws-echo-100-aiohttp connect-xhr
#   bench/run.sh --baseline main~5        # every target, REF against this checkout
#   bench/run.sh --list                   # the targets
#
# Peer mode (the default): each target runs the shared harness's compare.sh
# (peer, then us, N rounds, a fresh server per run) and bench/report.py says
# whether the target of docs/performance.rst is met.
#
# Baseline mode (--baseline REF): each target's scenario runs with A = REF
# (a detached git worktree with its own venv, both kept in $SOCKJS_BENCH_DIR
# and reused) and B = this checkout as it is on disk, N rounds A B A B, and
# bench/report_ab.py says, per target, whether B is more than PCT % (default 5)
# worse than A. Exit status 1 if any target regressed or gave no numbers.
#
# Both use a copy of the harness ($SOCKJS_BENCH_DIR, set up on first use;
# nothing of it is committed). The raw JSON lines and the table go to DIR
# (default bench/results/<timestamp>/, not committed).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

rounds=3
out=""
baseline=""
tolerance=5
warmup=2
duration=5
list=0
selected=()
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) rounds=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --baseline) baseline=$2; shift 2 ;;
        --tolerance) tolerance=$2; shift 2 ;;
        # Shorter windows are for trying the tooling out, not for numbers to keep.
        --warmup) warmup=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --list) list=1; shift ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
        *) selected+=("$1"); shift ;;
    esac
done
T="--warmup $warmup --duration $duration"

# name | peer | scenario and options | target (read by report.py: ratio>=X on
# throughput, cpu<=X on server CPU per unit, ours<=X on our own KB per session)
# (the idle scenarios have no measuring window: they open, settle, read RSS)
TARGETS=(
    "ws-echo-100-aiohttp|aiohttp-sockjs|ws-echo --conns 100 $T|ratio>=2.0"
    "ws-echo-100-node|sockjs-node|ws-echo --conns 100 $T|cpu<=1.0"
    "ws-echo-1000-aiohttp|aiohttp-sockjs|ws-echo --conns 1000 $T|ratio>=1.5"
    "ws-echo-1000-node|sockjs-node|ws-echo --conns 1000 $T|ratio>=0.5"
    "xhr-echo-aiohttp|aiohttp-sockjs|xhr-echo --sessions 50 $T|ratio>=2.0"
    "xhr-stream-node|sockjs-node|xhr-stream --sessions 100 --window 10 $T|cpu<=1.0"
    "connect-ws-aiohttp|aiohttp-sockjs|connect-ws --concurrency 20 $T|ratio>=1.5"
    "connect-xhr|cyclone-http|connect-xhr --concurrency 20 $T|ratio>=1.3"
    "idle-ws|sockjs-node|idle-ws --sessions 10000 --settle 3|ours<=6"
    "idle-xhr-stream|sockjs-node|idle-xhr-stream --sessions 5000 --settle 3|ours<=6"
    "broadcast-node|sockjs-node|broadcast --conns 1000 --rounds 300 $T|cpu<=1.0"
)
if [ $list = 1 ]; then
    for t in "${TARGETS[@]}"; do echo "${t%%|*}"; done
    exit 0
fi
for name in "${selected[@]}"; do
    known=0
    for t in "${TARGETS[@]}"; do if [ "${t%%|*}" = "$name" ]; then known=1; fi; done
    [ $known = 1 ] || { echo "no target $name (see --list)" >&2; exit 2; }
done

[ -x "$repo/.venv/bin/python" ] || { echo "run 'make test' or 'make demo' first (.venv missing)" >&2; exit 2; }
# The harness: copied once out of the repository (as bench/compare.sh does), set up there.
src="${SOCKJS_BENCH_SRC:-$repo/../shared/bench}"
dest="${SOCKJS_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sockjs-cyclone-bench}"
if [ ! -f "$dest/compare.sh" ]; then
    [ -f "$src/compare.sh" ] || { echo "no load harness at $src (set SOCKJS_BENCH_SRC)" >&2; exit 2; }
    mkdir -p "$dest"
    cp -r "$src/." "$dest/"
    chmod -R u+w "$dest"
fi
"$dest/setup.sh" >/dev/null
# Our extra peer (cyclone-sockjs-baseline) goes into the copy, never into the
# shared harness; copied every time so that edits to it take effect.
cp -r "$here/peers/." "$dest/peers/"

# pip's output only when it fails (it warns about the local indexes otherwise).
quietly() {
    local log status=0
    log=$(mktemp)
    "$@" >"$log" 2>&1 || status=$?
    [ $status = 0 ] || { echo "failed ($status): $*" >&2; cat "$log" >&2; }
    rm -f -- "$log"
    return $status
}

# A detached worktree of REF in $dest/baseline-<sha> and a venv in it, made the
# way scripts/bootstrap.sh makes .venv: runtime and build dependencies from that
# checkout's pyproject.toml, cyclone 1.3 without its (unbuildable) pins, the
# checkout itself editable. Also its optional extras: examples/test_server.py
# imports sockjs.cyclone.metrics (prometheus_client), which .venv has from
# requirements-test.txt. Both are kept and reused for the same sha.
# Sets $baseline_sha, $baseline_dir and $baseline_python.
prepare_baseline() {
    baseline_sha=$(git -C "$repo" rev-parse --verify --quiet "$baseline^{commit}") \
        || { echo "--baseline $baseline: not a commit of $repo" >&2; exit 2; }
    baseline_dir="$dest/baseline-${baseline_sha:0:12}"
    local venv="$baseline_dir/.venv"
    baseline_python="$venv/bin/python"
    # Reused only as it was made: at REF, with no edits (its .venv is git-ignored).
    if [ -e "$baseline_dir/.git" ] && [ "$(git -C "$baseline_dir" rev-parse HEAD)" = "$baseline_sha" ] \
        && [ -z "$(git -C "$baseline_dir" status --porcelain)" ]; then
        echo "baseline $baseline: reusing $baseline_dir" >&2
    elif [ -e "$baseline_dir" ]; then
        # Not ours to delete: it may hold someone's edits.
        echo "$baseline_dir exists but is not a clean checkout of $baseline_sha;" \
            "remove it (git -C $repo worktree remove --force $baseline_dir)" >&2
        exit 2
    else
        echo "baseline $baseline: git worktree at $baseline_dir" >&2
        # --force: a cache folder deleted by hand leaves its worktree registered
        # (missing but registered), which a plain add refuses.
        git -C "$repo" worktree add --force --detach "$baseline_dir" "$baseline_sha" >/dev/null
    fi
    # What the venv is made of: REF's requirements, pinned to the versions in
    # .venv so that only our own code differs between the two sides (not
    # Twisted or websockets), on .venv's interpreter (same Python both sides).
    # Its hash is the venv's stamp: a venv is reused only if that still holds,
    # and counts as made only once the stamp is written (a failed pip is redone).
    local reqs=() pins want
    mapfile -t reqs < <("$repo/.venv/bin/python" - "$baseline_dir/pyproject.toml" <<'PY'
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    meta = tomllib.load(f)
project = meta["project"]
extras = [req for reqs in project.get("optional-dependencies", {}).values() for req in reqs]
print("\n".join(project["dependencies"] + extras + meta["build-system"]["requires"]))
PY
    )
    pins=$("$repo/.venv/bin/python" -m pip freeze --exclude-editable \
        | grep -E '^[A-Za-z0-9][A-Za-z0-9._-]*==' | grep -viE '^sockjs[-_]cyclone==' || true)
    want=$(printf '%s\n' "${reqs[@]}" "$pins" "$("$repo/.venv/bin/python" -VV)" | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$venv/.bench-baseline" 2>/dev/null || true)" != "$want" ]; then
        echo "baseline $baseline: making its venv (a minute or two)" >&2
        rm -rf -- "$venv"
        "$repo/.venv/bin/python" -m venv "$venv"
        printf '%s\n' "$pins" >"$venv/constraints.txt"
        local pip=("$baseline_python" -m pip --disable-pip-version-check)
        quietly "${pip[@]}" install -c "$venv/constraints.txt" "${reqs[@]}"
        quietly "${pip[@]}" install --no-deps "cyclone==1.3"
        quietly "${pip[@]}" install --no-deps --no-build-isolation -e "$baseline_dir"
        echo "$want" >"$venv/.bench-baseline"
    fi
    # The server must import the baseline's sockjs, not this checkout's: run
    # from / so that no checkout is on sys.path by accident.
    local where
    where=$(cd / && "$baseline_python" -c 'import sockjs.cyclone as m; print(m.__file__)')
    case $where in
        "$baseline_dir"/*) ;;
        *) echo "the baseline venv imports sockjs from $where, not $baseline_dir" >&2; exit 2 ;;
    esac
}

# compare.sh's output (LOG) -> its per-run JSON lines, tagged with the
# target (and the baseline's ref), appended to FILE. compare.sh's own summary
# line has no "peer" and is left out. When a target gave no line at all, one
# error line stands in for it, so that the table shows it failed.
collect() { # LOG FILE NAME GOAL [BASELINE-REF BASELINE-SHA]
    # (LOG is an argument, not stdin: python3 reads this script from stdin)
    python3 - "$@" <<'PY'
import json
import sys

log, dst, name, goal, *ref = sys.argv[1:]
rows = []
with open(log) as lines:
    for line in lines:
        if line.startswith("{"):
            row = json.loads(line)
            if "peer" in row:
                rows.append(row)
if not rows:
    rows.append({"error": "compare.sh gave no result line"})
with open(dst, "a") as out:
    for row in rows:
        row.update(target=name, goal=goal)
        if ref:
            row.update(baseline_ref=ref[0], baseline_sha=ref[1])
        out.write(json.dumps(row) + "\n")
PY
}

if [ -n "$baseline" ]; then
    prepare_baseline
    export SOCKJS_BASELINE_DIR="$baseline_dir" SOCKJS_BASELINE_PYTHON="$baseline_python"
    stamp="$(date +%Y%m%d-%H%M%S)-vs-${baseline_sha:0:12}"
else
    stamp="$(date +%Y%m%d-%H%M%S)"
fi
out="${out:-$here/results/$stamp}"
mkdir -p "$out"

files=()
declare -A measured=()  # scenario -> the first target measured with it (baseline mode)
for target in "${TARGETS[@]}"; do
    IFS='|' read -r name peer scenario goal <<<"$target"
    if [ ${#selected[@]} -gt 0 ] && [[ " ${selected[*]} " != *" $name "* ]]; then
        continue
    fi
    file="$out/$name.jsonl"
    : >"$file"
    files+=("$file")
    log="$out/$name.log"
    if [ -n "$baseline" ]; then
        # Targets that differ only by their peer (ws-echo-100-aiohttp and
        # ws-echo-100-node...) are the same A/B measurement: run it once and
        # report it under each name.
        if [ -n "${measured[$scenario]:-}" ]; then
            echo "== $name: same scenario as ${measured[$scenario]}, not measured again" >&2
            collect "$out/${measured[$scenario]}.log" "$file" "$name" "$goal" "$baseline" "$baseline_sha"
            continue
        fi
        measured[$scenario]=$name
        a=cyclone-sockjs-baseline
        echo "== $name: $baseline (${baseline_sha:0:12}) vs this checkout, $scenario ($rounds rounds)" >&2
    else
        a=$peer
        echo "== $name: $peer vs cyclone-sockjs, $scenario ($rounds rounds)" >&2
    fi
    # compare.sh exits non-zero when a server does not start; the lines it
    # printed before that are kept, and the table shows what is missing.
    # shellcheck disable=SC2086  # $scenario holds the scenario and its options
    (cd "$dest" && SOCKJS_CYCLONE_DIR="$repo" ./compare.sh --rounds "$rounds" "$a" cyclone-sockjs $scenario) \
        >"$log" || echo "   (compare.sh failed, see $log)" >&2
    tail -1 "$log" >&2
    if [ -n "$baseline" ]; then
        collect "$log" "$file" "$name" "$goal" "$baseline" "$baseline_sha"
    else
        collect "$log" "$file" "$name" "$goal"
    fi
done

status=0
if [ -n "$baseline" ]; then
    python3 "$here/report_ab.py" --tolerance "$tolerance" "${files[@]}" | tee "$out/report.md" || status=$?
else
    python3 "$here/report.py" "${files[@]}" | tee "$out/report.md" || status=$?
fi
echo "raw lines and report: $out" >&2
exit "$status"
