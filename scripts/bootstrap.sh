#!/usr/bin/env bash
# Prepare this checkout for `make demo` or `make test`.
#
#   scripts/bootstrap.sh demo     venv with the project + sockjs-client from npm
#   scripts/bootstrap.sh test     the same, plus system packages, the extras and
#                                 the test tools (newest versions: the main lane)
#   scripts/bootstrap.sh oldest   a second venv, .venv-oldest: every runtime
#                                 dependency and extra pinned to its lower bound
#                                 in pyproject.toml (scripts/constraints.py), and
#                                 the test tools (the oldest lane of make test)
#
# Idempotent and quick when everything is present: each part keeps a stamp
# (a hash of the files it was built from) and is redone only when that hash
# changes or the stamp is missing.  Nothing is installed by hand: a fresh
# clone on a fresh machine gets everything from here.
#
# Environment:
#   VENV=.venv                 where the virtualenv lives (relative to the repo)
#   OLDEST_VENV=.venv-oldest   where the oldest profile's virtualenv lives
#   PYTHON=python3             interpreter that creates the venv (>= 3.11)
#   SKIP_SYSTEM_PACKAGES=1     do not touch apt (browser tests then skip or fail)
#   NO_VENV=1                  install into the current interpreter instead
#                              (used by tox, which brings its own env)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

profile="${1:-test}"
case "$profile" in
    demo | test | oldest) ;;
    *)
        echo "usage: $0 demo|test|oldest" >&2
        exit 2
        ;;
esac

VENV="${VENV:-.venv}"
if [ "$profile" = oldest ]; then
    VENV="${OLDEST_VENV:-.venv-oldest}"
fi
PYTHON="${PYTHON:-python3}"

# --------------------------------------------------------------------------
# System packages (Debian).  Only for `test`: the demo needs none.
#   chromium      Debian's browser at /usr/bin/chromium, driven by Playwright
#                 in tests/e2e (Playwright never downloads a browser here).
#   redis-server  the shared pub/sub broker of the cluster tests (tests/cluster
#                 start their own on a free port; the system service is unused)
#   haproxy       the sticky load balancer of the cluster tests
# --------------------------------------------------------------------------
APT_PACKAGES_TEST=(chromium redis-server haproxy)

log() { printf '[bootstrap] %s\n' "$*"; }

sha() { cat "$@" | sha256sum | cut -d' ' -f1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "[bootstrap] need root to run: $*" >&2
        echo "[bootstrap] (or set SKIP_SYSTEM_PACKAGES=1 and install them yourself)" >&2
        exit 1
    fi
}

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

ensure_apt_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        is_installed "$pkg" || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ "${SKIP_SYSTEM_PACKAGES:-}" = 1 ]; then
        log "SKIP_SYSTEM_PACKAGES=1: not installing ${missing[*]}"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        log "no apt-get here; please install: ${missing[*]}"
        return 0
    fi
    log "apt-get install ${missing[*]}"
    # The package lists are refreshed once, and only because something is missing.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_node_modules() {
    if ! command -v npm >/dev/null 2>&1; then
        ensure_apt_packages nodejs npm
    fi
    local stamp=node_modules/.bootstrap-stamp want
    want="$(sha package.json package-lock.json)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
        && [ -f node_modules/sockjs-client/dist/sockjs.min.js ]; then
        return 0
    fi
    log "npm ci (sockjs-client for the pages)"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" >"$stamp"
}

# Runtime dependencies come from pyproject.toml, the single place they are
# listed; with a second argument "extras", every extra's dependencies too.
runtime_requirements() {
    "$1" - "${2:-}" <<'PY'
import sys
import tomllib

with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)["project"]
requirements = list(project["dependencies"])
if sys.argv[1] == "extras":
    for group in project.get("optional-dependencies", {}).values():
        requirements.extend(group)
print("\n".join(requirements))
PY
}

ensure_python_env() {
    local py
    if [ "${NO_VENV:-}" = 1 ]; then
        py="$(command -v python)"
    else
        py="$VENV/bin/python"
        # A venv whose interpreter has gone (base Python moved) is rebuilt.
        if [ -e "$VENV" ] && ! "$py" -c 'import sys' >/dev/null 2>&1; then
            log "$VENV is broken; recreating it"
            rm -rf -- "$VENV"
        fi
        if [ ! -x "$py" ]; then
            "$PYTHON" - <<'PY' || { echo "[bootstrap] Python >= 3.11 needed (set PYTHON=...)" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY
            log "creating $VENV"
            "$PYTHON" -m venv "$VENV"
        fi
    fi

    local prefix stamp want
    prefix="$("$py" -c 'import sys; print(sys.prefix)')"
    stamp="$prefix/.bootstrap-$profile"
    want="$( (sha pyproject.toml setup.py requirements-test.txt scripts/bootstrap.sh scripts/constraints.py; "$py" -V) | sha256sum | cut -d' ' -f1)"
    # A test env is a superset of a demo env, so either stamp will do for demo.
    local ok_stamps=("$stamp")
    [ "$profile" = demo ] && ok_stamps+=("$prefix/.bootstrap-test")
    local s
    for s in "${ok_stamps[@]}"; do
        if [ -f "$s" ] && [ "$(cat "$s")" = "$want" ]; then
            return 0
        fi
    done

    local pip=("$py" -m pip --disable-pip-version-check -q)
    local reqs=()
    if [ "$profile" = demo ]; then
        mapfile -t reqs < <(runtime_requirements "$py")
        log "pip install: runtime dependencies"
    else
        mapfile -t reqs < <(runtime_requirements "$py" extras)
        reqs+=(-r requirements-test.txt)
        if [ "$profile" = oldest ]; then
            # The oldest versions pyproject.toml allows: every ">=X" as "==X".
            "$py" scripts/constraints.py "$prefix/constraints.txt"
            reqs+=(-c "$prefix/constraints.txt")
            log "pip install: runtime + extras at their lower bounds, test dependencies ($VENV)"
        else
            log "pip install: runtime + extras + test dependencies"
        fi
    fi
    # setuptools is needed in the env because the editable install below
    # does not use build isolation (saves building a throwaway env each time).
    reqs+=("setuptools>=77")
    quietly "${pip[@]}" install "${reqs[@]}"
    # cyclone 1.3's metadata pins twisted==19.2.1 (no build on 3.11): install
    # it without its dependencies, next to the modern Twisted installed above.
    quietly "${pip[@]}" install --no-deps "cyclone==1.3"
    quietly "${pip[@]}" install --no-deps --no-build-isolation -e .
    echo "$want" >"$stamp"
}

# Run a command with its output kept aside, shown only if it fails (pip and
# setuptools print warnings that are noise on success).
quietly() {
    local out status=0
    out="$(mktemp)"
    "$@" >"$out" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        echo "[bootstrap] failed ($status): $*" >&2
        cat "$out" >&2
    fi
    rm -f -- "$out"
    return "$status"
}

if [ "$profile" = test ]; then
    ensure_apt_packages "${APT_PACKAGES_TEST[@]}"
fi
# The oldest lane runs tests/protocol, tests/cyclone and tests/integration,
# which need neither the browser nor the pages' npm modules.
if [ "$profile" != oldest ]; then
    ensure_node_modules
fi
ensure_python_env
