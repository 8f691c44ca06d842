#!/usr/bin/env bash
# README command 1: run the local stack (broker on ws://127.0.0.1:7070/ws,
# store in ./.promethean/bus.db) in the foreground; Ctrl-C stops it.
#
# Needs only Python >= 3.11: installs uv when it is missing (into a bootstrap
# venv under ${PROMETHEAN_CACHE:-$HOME/.cache/promethean}, else with
# `pip install --user`), syncs the locked environment, then runs
# `promethean dev` with this script's arguments.
#
# scripts/test.sh sources this file for ensure_uv; sourcing runs nothing.
set -euo pipefail

UV_VERSION="0.13.9"
MIN_PYTHON="3.11"

log() { printf '%s: %s\n' "$(basename "${BASH_SOURCE[-1]}")" "$*" >&2; }

# The first python on PATH that is >= MIN_PYTHON.
find_python() {
    local candidate
    for candidate in python3 python3.14 python3.13 python3.12 python3.11 python; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c "import sys; sys.exit(sys.version_info < (${MIN_PYTHON/./, }))" 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    log "Python >= $MIN_PYTHON not found on PATH; install it first"
    return 1
}

install_uv_in_venv() {
    local python="$1" venv="$2"
    "$python" -m venv "$venv" >/dev/null 2>&1 &&
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
}

# Puts a uv on PATH, installing uv==UV_VERSION if none is there.
ensure_uv() {
    if command -v uv >/dev/null 2>&1; then
        return 0
    fi
    local cache="${PROMETHEAN_CACHE:-$HOME/.cache/promethean}"
    local venv="$cache/uv-$UV_VERSION"
    if [[ ! -x "$venv/bin/uv" ]]; then
        local python
        python="$(find_python)"
        mkdir -p "$cache"
        log "uv not found; installing uv $UV_VERSION into $venv"
        if ! install_uv_in_venv "$python" "$venv"; then
            rm -rf "$venv"
            if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
                log "python -m venv failed; installing Debian's python3-venv"
                DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
                install_uv_in_venv "$python" "$venv" || rm -rf "$venv"
            fi
        fi
        if [[ ! -x "$venv/bin/uv" ]]; then
            log "python -m venv unavailable; trying pip install --user uv==$UV_VERSION"
            if "$python" -m pip install --quiet --user "uv==$UV_VERSION"; then
                PATH="$("$python" -m site --user-base)/bin:$PATH"
                export PATH
                command -v uv >/dev/null 2>&1 && return 0
            fi
            log "cannot install uv: install python3-venv or pip for $python, then run this again"
            return 1
        fi
    fi
    PATH="$venv/bin:$PATH"
    export PATH
}

main() {
    cd "$(dirname "${BASH_SOURCE[0]}")/.."
    ensure_uv
    uv sync --frozen
    exec uv run --frozen promethean dev "$@"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
