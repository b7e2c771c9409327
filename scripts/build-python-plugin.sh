#!/usr/bin/env bash
# Build the Python claim check plugins/python/secure-boot into OUT_DIR as an installable plugin:
# OUT_DIR/py-secure-boot.wasm and its manifest OUT_DIR/py-secure-boot.toml.
#
#   scripts/build-python-plugin.sh OUT_DIR
#
# Needs componentize-py at exactly the version pinned below, in the pip of `python3` (or $PYTHON):
# scripts/setup-debian12.sh installs it. The toolchain is pinned, but the bytes are not reproducible:
# componentize-py runs CPython once at build time and snapshots its heap, and that run takes its
# random numbers (CPython's hash seed among them) from the build machine. See the plugin's README.
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1
python=${PYTHON:-python3}

[ $# -eq 1 ] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
out=$1
root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/plugins/python/secure-boot
name=py-secure-boot
# The plugin's world: wit/plugin@0.1's claim-check without the imports it does not use.
wit=(-d "$root/wit/plugin@0.1" -d "$src/wit" -w cvm-attest-python:secure-boot/claim-check)

install="pip install componentize-py==$COMPONENTIZE_PY_VERSION (scripts/setup-debian12.sh does)"
found=$("$python" -c 'import importlib.metadata as m; print(m.version("componentize-py"))' 2>/dev/null) || {
    echo "$0: componentize-py is not installed for $python: $install" >&2
    exit 3
}
[ "$found" = "$COMPONENTIZE_PY_VERSION" ] || {
    echo "$0: componentize-py $found is installed, this build is pinned to $COMPONENTIZE_PY_VERSION: $install" >&2
    exit 3
}
# The package's own entry point, through the same interpreter that reported the version (a console
# script on PATH could belong to another Python).
componentize_py() {
    "$python" -c 'import sys, componentize_py; sys.argv[0] = "componentize-py"; componentize_py.script()' "$@"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The sources are built from a copy, so that nothing (__pycache__) is written into the checkout.
mkdir "$work/src"
cp "$src/app.py" "$work/src/"

# Bindings: the Python modules generated from the WIT (wit_world.*). componentize-py generates them
# again inside the component; here they let the build machine's CPython import the app first, so a
# mistake against the generated API fails in a second with a Python traceback.
componentize_py "${wit[@]}" bindings "$work/bindings" >/dev/null
(cd "$work" && PYTHONPATH="$work/bindings:$work/src" PYTHONDONTWRITEBYTECODE=1 "$python" -c 'import app') || {
    echo "$0: $src/app.py does not import against the generated bindings" >&2
    exit 1
}

# --stub-wasi: every WASI import becomes a trap inside the component, so it imports nothing but the
# plugin contract (without it, CPython's filesystem and socket imports are refused at load).
mkdir -p "$out"
componentize_py -q "${wit[@]}" componentize --stub-wasi -p "$work/src" app -o "$out/$name.wasm"
cp "$src/$name.toml" "$out/$name.toml"
