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
# The Python plugin (plugins/python) is built with componentize-py, a self-contained wheel, pinned
# (scripts/build-python-plugin.sh refuses any other version). Into the pip of `python3`: pyenv's here;
# Debian's own python3 needs python3-pip and is "externally managed" (PEP 668), hence the variable.
python3 -m pip --version >/dev/null 2>&1 || $sudo apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore componentize-py==0.25.1
