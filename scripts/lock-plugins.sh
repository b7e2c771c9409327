#!/usr/bin/env bash
# Rewrite plugins/plugins.lock: build the guest plugins with the documented command (reproducible:
# see scripts/reproducible-rustc) and record the SHA-256 of each shipped plugin's component and
# manifest. Run it after changing a shipped plugin or anything it is built from (the SDK, `formats/`,
# wit/, plugins/Cargo.lock, the toolchain), then commit the lock; cvm-attest is built with it and
# trusts exactly these builds as pinned. The test `shipped::plugins_lock_matches_the_build` fails,
# naming this script, while the lock is stale.
#
# Shipped plugins are those the checkout's discovery offers: a manifest NAME.toml beside the
# Cargo.toml of a crate directly in plugins/ (not plugins/tests/), built to NAME.wasm.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml

out=plugins/target/wasm32-wasip2/release
lock=plugins/plugins.lock
sha256() { sha256sum "$1" | cut -d' ' -f1; }

{
    echo "# The plugins this repository ships, as the documented (reproducible) build makes them:"
    echo "#   cargo build --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml"
    echo "# cvm-attest is compiled with this file and treats a plugin whose component and manifest hash"
    echo "# to an entry here as pinned. Written by scripts/lock-plugins.sh: run it after changing a"
    echo "# shipped plugin or anything it is built from, and commit the result."
    echo
    echo "toolchain = \"$(rustc -V)\""
    for manifest in plugins/*/*.toml; do
        crate=$(basename "$(dirname "$manifest")")
        name=$(basename "$manifest" .toml)
        case "$crate/$name" in
        tests/* | target/* | */Cargo) continue ;;
        esac
        wasm=$out/${name//-/_}.wasm
        if [ ! -f "$wasm" ]; then
            echo "lock-plugins: $manifest has no component $wasm" >&2
            exit 1
        fi
        version=$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$manifest" | head -n 1)
        echo
        echo "[plugins.$name]"
        echo "version = \"$version\""
        echo "sha256 = \"$(sha256 "$wasm")\""
        echo "manifest_sha256 = \"$(sha256 "$manifest")\""
    done
} >"$lock.tmp"
mv "$lock.tmp" "$lock"
echo "wrote $lock:"
grep -E '^\[|sha256' "$lock"
