#!/usr/bin/env bash
# Build the plugins this repository ships and install them where an installed cvm-attest finds them.
#
#   scripts/install-plugins.sh [DIR]
#
# DIR defaults to the directory beside the cvm-attest on PATH: PREFIX/lib/cvm-attest/plugins for
# PREFIX/bin/cvm-attest, so after `cargo install --locked --path host` it is
# ~/.cargo/lib/cvm-attest/plugins, and for /usr/local/bin/cvm-attest it is the system directory
# /usr/local/lib/cvm-attest/plugins. Both are on cvm-attest's search path.
#
# The plugins are those plugins/plugins.lock lists, built with the documented reproducible command;
# each build must hash to its entry in the lock, so that cvm-attest treats the installed copies as
# pinned (exit 1 otherwise, naming the toolchain the lock was made with). Files are installed with
# sudo when DIR is not writable; the build never runs as root.
set -euo pipefail

usage="usage: $0 [DIR]"
case $# in
0)
    exe=$(command -v cvm-attest) || {
        echo "$0: no cvm-attest on PATH: install it first (cargo install --locked --path host), or name the directory. $usage" >&2
        exit 2
    }
    bin=$(dirname "$(readlink -f "$exe")")
    [ "$(basename "$bin")" = bin ] || {
        echo "$0: $exe is not in a bin directory, so it finds no plugins beside it; name the directory. $usage" >&2
        exit 2
    }
    dir=$(dirname "$bin")/lib/cvm-attest/plugins
    ;;
1) dir=$(realpath -m "$1") ;; # before the cd below
*)
    echo "$usage" >&2
    exit 2
    ;;
esac

cd "$(dirname "$0")/.."
lock=plugins/plugins.lock
out=plugins/target/wasm32-wasip2/release
cargo build --quiet --locked --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml --target-dir plugins/target

# FILE must hash to the value of KEY in the lock's [plugins.NAME].
check() { # FILE NAME KEY
    local want have
    want=$(sed -n "/^\[plugins\.$2\]$/,/^\[/s/^$3 = \"\(.*\)\"$/\1/p" "$lock")
    have=$(sha256sum "$1" | cut -d' ' -f1)
    [ "$have" = "$want" ] || {
        echo "$0: $1 (sha256 $have) is not the build $lock pins ($want)." >&2
        echo "  Build with the toolchain the lock names ($(sed -n 's/^toolchain = //p' "$lock")), or after changing a shipped plugin run scripts/lock-plugins.sh first." >&2
        exit 1
    }
}

# name component manifest, for every plugin the lock lists.
names=$(sed -n 's/^\[plugins\.\(.*\)\]$/\1/p' "$lock")
plan=()
for name in $names; do
    manifest=$(ls plugins/*/"$name.toml")
    wasm=$out/${name//-/_}.wasm
    check "$wasm" "$name" sha256
    check "$manifest" "$name" manifest_sha256
    plan+=("$name" "$wasm" "$manifest")
done

sudo=""
if ! { mkdir -p "$dir" 2>/dev/null && [ -w "$dir" ]; }; then
    [ "$(id -u)" -eq 0 ] || sudo=sudo
fi
$sudo install -d -m 0755 "$dir"
set -- "${plan[@]}"
while [ $# -gt 0 ]; do
    $sudo install -m 0644 "$2" "$dir/$1.wasm"
    $sudo install -m 0644 "$3" "$dir/$1.toml"
    shift 3
done
echo "installed" $names "into $dir" # unquoted: one line, the names separated by spaces
