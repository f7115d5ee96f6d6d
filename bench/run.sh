#!/usr/bin/env bash
# Run the performance targets of docs/performance.rst against their peers and
# print the table of same-run ratios.
#
#   bench/run.sh [--rounds N] [--out DIR] [TARGET...]
#   bench/run.sh                          # every target, 3 rounds (about 25 minutes)
#   bench/run.sh --rounds 5 ws-echo-100-aiohttp connect-xhr
#   bench/run.sh --list                   # the targets
#
# Each target runs the shared harness's compare.sh (peer, then us, N rounds,
# a fresh server per run) through bench/compare.sh's copy of the harness
# ($SOCKJS_BENCH_DIR, set up on first use; nothing of it is committed). The
# raw JSON lines go to DIR (default bench/results/<timestamp>/, not
# committed); bench/report.py turns them into the table.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
T="--warmup 2 --duration 5"

# name | peer | scenario and options | target (read by report.py)
TARGETS=(
    "ws-echo-100-aiohttp|aiohttp-sockjs|ws-echo --conns 100 $T|ratio>=2.0"
    "ws-echo-100-node|sockjs-node|ws-echo --conns 100 $T|ratio>=0.7"
    "ws-echo-1000-aiohttp|aiohttp-sockjs|ws-echo --conns 1000 $T|ratio>=1.5"
    "ws-echo-1000-node|sockjs-node|ws-echo --conns 1000 $T|ratio>=0.5"
    "xhr-echo-aiohttp|aiohttp-sockjs|xhr-echo --sessions 50 $T|ratio>=1.5"
    "xhr-stream-node|sockjs-node|xhr-stream --sessions 100 --window 10 $T|ratio>=1.0"
    "connect-ws-aiohttp|aiohttp-sockjs|connect-ws --concurrency 20 $T|ratio>=1.5"
    "connect-xhr|cyclone-http|connect-xhr --concurrency 20 $T|ratio>=0.9"
    "idle-ws|sockjs-node|idle-ws --sessions 10000 --settle 3|ours<=8"
    "idle-xhr-stream|sockjs-node|idle-xhr-stream --sessions 5000 --settle 3|ours<=8"
    "broadcast-node|sockjs-node|broadcast --conns 1000 --rounds 300 $T|ratio>=1.0"
)

rounds=3
out=""
selected=()
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) rounds=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --list) for t in "${TARGETS[@]}"; do echo "${t%%|*}"; done; exit 0 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) selected+=("$1"); shift ;;
    esac
done
out="${out:-$here/results/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out"
# The harness: copied once out of the repository (as bench/compare.sh does), set up there.
src="${SOCKJS_BENCH_SRC:-$repo/../shared/bench}"
dest="${SOCKJS_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sockjs-cyclone-bench}"
[ -x "$repo/.venv/bin/python" ] || { echo "run 'make test' or 'make demo' first (.venv missing)" >&2; exit 2; }
if [ ! -f "$dest/compare.sh" ]; then
    [ -f "$src/compare.sh" ] || { echo "no load harness at $src (set SOCKJS_BENCH_SRC)" >&2; exit 2; }
    mkdir -p "$dest"
    cp -r "$src/." "$dest/"
    chmod -R u+w "$dest"
fi
"$dest/setup.sh" >/dev/null

for target in "${TARGETS[@]}"; do
    IFS='|' read -r name peer scenario goal <<<"$target"
    if [ ${#selected[@]} -gt 0 ] && [[ " ${selected[*]} " != *" $name "* ]]; then
        continue
    fi
    echo "== $name: $peer vs cyclone-sockjs, $scenario ($rounds rounds)" >&2
    before=$( (ls "$dest/results" 2>/dev/null || true) | wc -l)
    # shellcheck disable=SC2086  # $scenario holds the scenario and its options
    (cd "$dest" && SOCKJS_CYCLONE_DIR="$repo" ./compare.sh --rounds "$rounds" "$peer" cyclone-sockjs $scenario) \
        | tail -1 >&2 || echo "   (failed)" >&2
    # (|| true: head closing the pipe early is not an error)
    newest=$(ls -t "$dest/results"/compare-*.jsonl 2>/dev/null | head -1 || true)
    if [ -n "$newest" ] && [ "$( (ls "$dest/results" || true) | wc -l)" -gt "$before" ]; then
        python3 - "$newest" "$out/$name.jsonl" "$name" "$goal" <<'PY'
import json, sys
src, dst, name, goal = sys.argv[1:]
with open(src) as fin, open(dst, "w") as fout:
    for line in fin:
        if line.startswith("{"):
            row = json.loads(line)
            row.update(target=name, goal=goal)
            fout.write(json.dumps(row) + "\n")
PY
    fi
done
python3 "$here/report.py" "$out"/*.jsonl | tee "$out/report.md"
echo "raw lines and report: $out" >&2
