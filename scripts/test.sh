#!/usr/bin/env bash
# README command 2 (and what .ci/run runs): install what the suite needs, then
# run every gate: ruff check, ruff format --check, mypy, pytest.
#
#   bash scripts/test.sh                 # the whole suite (slow soak tests deselected)
#   bash scripts/test.sh --soak          # also the soak tests (marked slow)
#   bash scripts/test.sh tests/unit -x   # arguments go to pytest
#
# Exits non-zero if any gate fails; pytest collecting no test is a failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/dev.sh
source scripts/dev.sh

# Debian packages the suite needs beyond Python and Go (scripts/build-ferretdb.sh
# installs Go itself when it is missing). Installed when missing, as root or via sudo.
APT_PACKAGES=(prometheus)
# The console's and the JavaScript client's browser tests drive Debian's headless Chromium.
APT_PACKAGES+=(chromium)
# The gateway's compatibility test drives a Node.js client (tests/node).
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)

install_apt_packages() {
    local missing=() package
    for package in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$package")
    done
    if (( ${#missing[@]} == 0 )); then
        return 0
    fi
    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            log "missing Debian packages: ${missing[*]} (not root and no sudo: install them yourself)"
            return 0
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        log "missing Debian packages: ${missing[*]} (no apt-get: install them yourself)"
        return 0
    fi
    log "installing Debian packages: ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

failed=()

gate() {
    local name="$1"
    shift
    printf '\n==> %s\n' "$name"
    if "$@"; then
        return 0
    fi
    failed+=("$name")
}

run_pytest() {
    local status=0
    uv run --no-sync pytest "$@" || status=$?
    if (( status == 5 )); then
        log "pytest collected no tests"
    fi
    return "$status"
}

install_apt_packages
ensure_uv
uv sync --frozen --all-packages
ferretdb_bin="$(bash scripts/build-ferretdb.sh)"
export PROMETHEAN_FERRETDB_BIN="${PROMETHEAN_FERRETDB_BIN:-$ferretdb_bin}"

gate "ruff check" uv run --no-sync ruff check .
gate "ruff format --check" uv run --no-sync ruff format --check .
gate "mypy" uv run --no-sync mypy
# Every npm package the suite drives, each from its committed package-lock:
# the JavaScript client (built first: tests/node installs it from its folder),
# the console's sources, the AsyncAPI parser, the browser and Node test drivers.
NPM_PACKAGES=(clients/js services/broker/console tests/asyncapi tests/console tests/node)
install_npm_packages() {
    local dir
    for dir in "${NPM_PACKAGES[@]}"; do
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || return 1
        if [[ "$dir" == clients/js ]]; then
            (cd "$dir" && npm run --silent build) || return 1
        fi
    done
}
gate "npm packages" install_npm_packages
gate "pytest" run_pytest "$@"

if (( ${#failed[@]} > 0 )); then
    log "failed: ${failed[*]}"
    exit 1
fi
