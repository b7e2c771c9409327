#!/usr/bin/env bash
# Every check CI runs: formatting, lints, the guest plugins, `formats` for wasm32-wasip2, all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
(cd plugins && cargo fmt --all --check)
cargo build --locked --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml
(cd plugins && cargo clippy --locked --release --target wasm32-wasip2 -- -D warnings)
# The SDK's own tests run natively (its claim reader against serde_json's).
cargo test --locked --manifest-path plugins/Cargo.toml -p cvm-attest-plugin-sdk
cargo clippy --locked --workspace --all-targets -- -D warnings
# `formats` is shared with the plugins: it must keep building for them.
cargo check --locked -p cvm-attest-formats --target wasm32-wasip2
cargo test --locked --workspace
