#!/usr/bin/env bash
# Compare this checkout with other SockJS servers on 127.0.0.1, using the
# shared load harness (../shared/bench, or $SOCKJS_BENCH_SRC).
#
#   bench/compare.sh [--rounds N] PEER SCENARIO [options]
#   bench/compare.sh sockjs-node ws-echo --conns 100
#   bench/compare.sh --rounds 5 aiohttp-sockjs connect-ws
#
# The harness is copied once to $SOCKJS_BENCH_DIR (default: a cache folder
# outside the repository, nothing of it is committed) and set up there with
# its own setup.sh (npm modules, peer venvs). Our side is the `cyclone-sockjs`
# peer: examples/test_server.py run with this checkout's .venv.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="${SOCKJS_BENCH_SRC:-$repo/../shared/bench}"
dest="${SOCKJS_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sockjs-cyclone-bench}"
[ -f "$src/compare.sh" ] || { echo "no load harness at $src (set SOCKJS_BENCH_SRC)" >&2; exit 2; }
[ -x "$repo/.venv/bin/python" ] || { echo "run 'make test' or 'make demo' first (.venv missing)" >&2; exit 2; }
if [ ! -f "$dest/compare.sh" ]; then
    mkdir -p "$dest"
    cp -r "$src/." "$dest/"
    chmod -R u+w "$dest"
fi
"$dest/setup.sh" >/dev/null
rounds=()
if [ "${1:-}" = "--rounds" ]; then rounds=(--rounds "$2"); shift 2; fi
peer="$1"; scenario="$2"; shift 2
cd "$dest"
SOCKJS_CYCLONE_DIR="$repo" exec ./compare.sh "${rounds[@]}" "$peer" cyclone-sockjs "$scenario" "$@"
