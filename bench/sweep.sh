#!/usr/bin/env bash
# Throughput against number of connections: ws-echo at several C for us and the
# peers, peers interleaved within each round (a fresh server per run), then the
# plot of docs/performance.rst.
#
#   bench/sweep.sh [--rounds N] [--conns "1 10 100 300 1000"] [--peers "..."] [--png FILE]
#
# Uses the same copy of the shared harness as bench/run.sh ($SOCKJS_BENCH_DIR).
# Raw lines: bench/results/sweep-<timestamp>.jsonl. The plot needs matplotlib
# (``.venv/bin/pip install matplotlib``; it is not a test dependency): without
# it the lines are kept and bench/plot.py can be run later.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
rounds=3
conns="1 10 100 300 1000"
peers="cyclone-sockjs sockjs-node aiohttp-sockjs sockjs-tornado twisted-autobahn"
png="$repo/docs/performance.png"
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) rounds=$2; shift 2 ;;
        --conns) conns=$2; shift 2 ;;
        --peers) peers=$2; shift 2 ;;
        --png) png=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
src="${SOCKJS_BENCH_SRC:-$repo/../shared/bench}"
dest="${SOCKJS_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sockjs-cyclone-bench}"
if [ ! -f "$dest/compare.sh" ]; then
    [ -f "$src/compare.sh" ] || { echo "no load harness at $src (set SOCKJS_BENCH_SRC)" >&2; exit 2; }
    mkdir -p "$dest" && cp -r "$src/." "$dest/" && chmod -R u+w "$dest"
fi
"$dest/setup.sh" >/dev/null
# shellcheck source=/dev/null
. "$dest/peers/lib.sh"
mkdir -p "$here/results"
out="$here/results/sweep-$(date +%Y%m%d-%H%M%S).jsonl"
port=${PORT:-9352}
cur=""
trap '[ -n "$cur" ] && peer_stop "$cur"' EXIT
export SOCKJS_CYCLONE_DIR="$repo"
for r in $(seq 1 "$rounds"); do
    for c in $conns; do
        for p in $peers; do
            pid=$(peer_start "$p" "$port") || continue
            cur=$pid
            # shellcheck disable=SC2046  # peer_flags prints zero or one word
            line=$(timeout 300 "$dest/run.sh" ws-echo "http://127.0.0.1:$port" --pid "$pid" \
                $(peer_flags "$p") --conns "$c" --warmup 2 --duration 5 2>/dev/null || true)
            peer_stop "$pid"; cur=""
            [ -n "$line" ] || line='{"error":"no output"}'
            python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(peer=sys.argv[2], round=int(sys.argv[3]), conns=int(sys.argv[4])); print(json.dumps(d))' \
                "$line" "$p" "$r" "$c" | tee -a "$out" | cut -c1-160 >&2
            sleep 1
        done
    done
done
echo "raw lines: $out" >&2
"$repo/.venv/bin/python" "$here/plot.py" --png "$png" "$out" || echo "plot skipped (matplotlib missing?)" >&2
