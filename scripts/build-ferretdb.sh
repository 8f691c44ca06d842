#!/usr/bin/env bash
# Build FerretDB (MongoDB wire protocol over SQLite) for the `mongo` tests and
# the store bench. Idempotent: a working binary already in the cache is kept.
# Prints the binary path on stdout; progress goes to stderr.
#
# Why not a bare `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`:
# upstream generates build/version/version.txt with its own build task, and the
# module zip ships without it, so such a binary panics at start-up
# ("Invalid build/version/version.txt file content"). We fetch the same module
# from the Go module proxy, write that one file, and build it.
set -euo pipefail

FERRETDB_VERSION="v1.24.2"
FERRETDB_MODULE="github.com/FerretDB/FerretDB"
GO_MIN_MINOR=24                 # go.mod of FerretDB v1.24.2 says `go 1.24`
BOOTSTRAP_GO="go1.24.3"         # its `toolchain` line

cache_root="${PROMETHEAN_CACHE:-$HOME/.cache/promethean}"
dest_dir="$cache_root/ferretdb-$FERRETDB_VERSION"
binary="$dest_dir/ferretdb"

log() { printf 'build-ferretdb: %s\n' "$*" >&2; }

if [[ -x "$binary" ]] && "$binary" --version >/dev/null 2>&1; then
    echo "$binary"
    exit 0
fi
if [[ -e "$binary" ]]; then
    log "existing $binary does not start; rebuilding it"
fi

if ! command -v go >/dev/null 2>&1; then
    log "go not found; installing Debian's golang-go"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq golang-go >&2
fi

export GOTOOLCHAIN="${GOTOOLCHAIN_OVERRIDE:-auto}"
export GOFLAGS="-buildvcs=false"
go_bin="$(command -v go)"

go_minor() { "$1" env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/'; }

# Go older than 1.21 knows nothing of GOTOOLCHAIN; fetch the toolchain module
# (what GOTOOLCHAIN=auto would do) from the module proxy and use it instead.
if (( $(go_minor "$go_bin") < 21 )); then
    arch="$("$go_bin" env GOARCH)"
    os="$("$go_bin" env GOOS)"
    toolchain_mod="golang.org/toolchain@v0.0.1-$BOOTSTRAP_GO.$os-$arch"
    log "$("$go_bin" version) is too old; fetching $toolchain_mod"
    toolchain_dir="$(cd "$(mktemp -d)" && "$go_bin" mod download -json "$toolchain_mod" \
        | sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')"
    go_bin="$toolchain_dir/bin/go"
    chmod +x "$toolchain_dir/bin/"* "$toolchain_dir/pkg/tool/"*/* 2>/dev/null || true
elif (( $(go_minor "$go_bin") < GO_MIN_MINOR )); then
    log "$("$go_bin" version) is older than go1.$GO_MIN_MINOR; GOTOOLCHAIN=auto fetches a newer one"
fi

work_dir="$(mktemp -d)"
trap 'chmod -R u+w "$work_dir" 2>/dev/null; rm -rf "$work_dir"' EXIT

log "downloading $FERRETDB_MODULE@$FERRETDB_VERSION"
module_dir="$(cd "$work_dir" && "$go_bin" mod download -json "$FERRETDB_MODULE@$FERRETDB_VERSION" \
    | sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')"
if [[ -z "$module_dir" || ! -d "$module_dir" ]]; then
    log "could not download $FERRETDB_MODULE@$FERRETDB_VERSION"
    exit 1
fi

src="$work_dir/src"
cp -R "$module_dir" "$src"
chmod -R u+w "$src"
echo "$FERRETDB_VERSION" > "$src/build/version/version.txt"

log "building (takes a few minutes the first time)"
mkdir -p "$dest_dir"
(cd "$src" && "$go_bin" build -trimpath -o "$binary.tmp" ./cmd/ferretdb) >&2
mv -f "$binary.tmp" "$binary"

if ! "$binary" --version >/dev/null 2>&1; then
    log "built $binary but it does not start:"
    "$binary" --version >&2 || true
    exit 1
fi
echo "$binary"
