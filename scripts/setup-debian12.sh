#!/usr/bin/env bash
# Prepare a fresh Debian 12 machine for building and testing cvm-attest (idempotent).
# Needs Rust 1.95 via rustup; runs apt-get as root, or through sudo.
set -euo pipefail
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# tpm2-tss for tss-esapi, swtpm as the test vTPM, tpm2-tools and jq for poking at a TPM and JSON by hand.
$sudo apt-get install -y -qq --no-install-recommends pkg-config libtss2-dev swtpm swtpm-tools tpm2-tools jq >/dev/null
# Plugins are WebAssembly components built with plain cargo.
rustup target add wasm32-wasip2
