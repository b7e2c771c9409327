#!/usr/bin/env bash
# Side by side, in one run on one machine (issue 15, item 5).
#
# 1. Whole processes (hyperfine): `cvm-attest verify` of the real Azure SEV-SNP evidence
#    (examples/evidence/azure-sev-snp.json: AMD chain, report signature, HCL binding, vTPM quote,
#    nonce, claims, in the sandboxed `offline` plugin, compiled-code cache warm) against snpguest doing
#    less on the same SNP report (`verify certs` + `verify attestation`: the AMD chain, TCB fields and
#    the report's signature, no vTPM), plus `cvm-attest --version` (start-up) and the TDX evidence.
# 2. The claim check (criterion): the sandboxed claim-equals check of host/benches/plugins.rs against
#    the same eight rules natively (serde_json) and in Rego with regorus, Trustee's engine
#    (bench/baselines/: a new engine per request as Trustee does, a prepared engine cloned per request,
#    a compiled policy).
#
# Timing one tool against another only means something when both run now, here, under the same load:
# the README's numbers come from different days. This prints the medians and their ratios with the
# machine stated, and writes the same table to bench/results.md.
#
# Usage: bench/side-by-side.sh            (from any directory; see bench/README.md)
# Environment: HYPERFINE_RUNS (default 100), HYPERFINE_WARMUP (10), CRITERION_SECONDS (5, per case).
set -euo pipefail

SNPGUEST_VERSION=0.11.0   # builds with Rust 1.95 (its MSRV is 1.86) and accepts Azure's report
HYPERFINE_RUNS=${HYPERFINE_RUNS:-100}
HYPERFINE_WARMUP=${HYPERFINE_WARMUP:-10}
CRITERION_SECONDS=${CRITERION_SECONDS:-5}

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
STARTED=$(date +%s)

say() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'side-by-side.sh: %s\n' "$*" >&2; exit 1; }

# Debian packages, installed when missing (sudo only when not root).
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || die "needs the Debian packages ${missing[*]}, and there is no apt-get to install them"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    say "installing ${missing[*]} (apt-get)"
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# ---------------------------------------------------------------------------------------------------
say "prerequisites"
for tool in cargo python3 git; do
    command -v "$tool" >/dev/null || die "$tool not found (scripts/setup-debian12.sh sets up the machine)"
done
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
    die "the Rust target wasm32-wasip2 is missing: rustup target add wasm32-wasip2"
fi
command -v hyperfine >/dev/null || apt_install hyperfine

if command -v snpguest >/dev/null; then
    SNPGUEST=$(command -v snpguest)
else
    SNPGUEST=$BENCH/.tools/bin/snpguest
    if [ "$("$SNPGUEST" --version 2>/dev/null)" != "snpguest $SNPGUEST_VERSION" ]; then
        # snpguest builds OpenSSL from source (openssl's `vendored` feature): a C compiler, make, perl.
        apt_install gcc make perl pkg-config libssl-dev
        say "building snpguest $SNPGUEST_VERSION into bench/.tools (several minutes on two cores)"
        (cd /tmp && cargo install snpguest --version "$SNPGUEST_VERSION" --locked --root "$BENCH/.tools")
    fi
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------------------------------------------
say "building cvm-attest, the plugins and both benches"
cd "$ROOT"
cargo build --release -p cvm-attest
cargo build --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml
cargo bench --no-run -p cvm-attest --bench plugins
cargo bench --no-run --locked --manifest-path bench/baselines/Cargo.toml --bench claim_check
MAIN_TARGET=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
BASE_TARGET=$(cargo metadata --format-version 1 --no-deps --manifest-path bench/baselines/Cargo.toml |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

# Private copies of the binaries and the offline plugin (a build elsewhere in the checkout can't change
# them mid-run), found through --plugin-dir, with the compiled-code cache in $WORK: the user's cache
# (~/.cache/cvm-attest, /var/cache/cvm-attest as root) is not touched.
mkdir -p "$WORK/plugins" "$WORK/cache"
chmod 700 "$WORK/cache"
cp "$MAIN_TARGET/release/cvm-attest" "$WORK/cvm-attest"
cp "$SNPGUEST" "$WORK/snpguest"
cp plugins/target/wasm32-wasip2/release/offline.wasm plugins/offline-verifier/offline.toml "$WORK/plugins/"
cp examples/evidence/azure-sev-snp.json examples/evidence/azure-tdx.json "$WORK/"
printf 'cache_dir = "%s"\n' "$WORK/cache" >"$WORK/config.toml"
CVM="$WORK/cvm-attest --config $WORK/config.toml --plugin-dir $WORK/plugins"
unset CVM_ATTEST_PLUGIN_PATH CVM_ATTEST_CONFIG RUST_LOG
export XDG_CACHE_HOME=$WORK/cache

# ---------------------------------------------------------------------------------------------------
say "inputs: the SNP report and AMD certificates for snpguest, from the same evidence"
python3 "$BENCH/snp-inputs.py" "$WORK/azure-sev-snp.json" formats/anchors "$WORK/snp"
SNP_CERTS="$WORK/snpguest verify certs $WORK/snp/certs"
SNP_ATTEST="$WORK/snpguest verify attestation $WORK/snp/certs $WORK/snp/report.bin"

say "every command must succeed before it is timed"
for cmd in "$SNP_CERTS" "$SNP_ATTEST" \
    "$CVM verify --evidence $WORK/azure-sev-snp.json --nonce challenge" \
    "$CVM verify --evidence $WORK/azure-tdx.json --nonce challenge"; do
    # The first verify compiles the plugin into the cache: the timed runs find it warm.
    out=$($cmd 2>&1) || die "refused (exit $?): $cmd"$'\n'"$out"
    printf '%s\n  ok: %s\n' "$cmd" "$(tail -n 1 <<<"$out")" >&2
done
[ -n "$(ls -A "$WORK/cache")" ] || die "cvm-attest left no compiled code in $WORK/cache: the timed runs would compile"

# ---------------------------------------------------------------------------------------------------
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)   # when the measurements start, after the builds
say "whole processes: hyperfine, $HYPERFINE_WARMUP warm-up runs and $HYPERFINE_RUNS timed runs each"
hyperfine -N --warmup "$HYPERFINE_WARMUP" --runs "$HYPERFINE_RUNS" --export-json "$WORK/hyperfine.json" \
    -n "cvm-attest --version" "$WORK/cvm-attest --version" \
    -n "cvm-attest verify, SEV-SNP" "$CVM verify --evidence $WORK/azure-sev-snp.json --nonce challenge" \
    -n "cvm-attest verify, TDX" "$CVM verify --evidence $WORK/azure-tdx.json --nonce challenge" \
    -n "snpguest verify certs" "$SNP_CERTS" \
    -n "snpguest verify attestation" "$SNP_ATTEST"

# ---------------------------------------------------------------------------------------------------
CRITERION=(--warm-up-time 1 --measurement-time "$CRITERION_SECONDS")
say "claim check in the sandbox and natively: criterion (host/benches/plugins.rs)"
CRITERION_START=$(date +%s)
cargo bench -p cvm-attest --bench plugins -- "${CRITERION[@]}" 'claim-check'
say "claim check in Rego: criterion (bench/baselines, regorus)"
cargo bench --locked --manifest-path bench/baselines/Cargo.toml --bench claim_check -- "${CRITERION[@]}"

# ---------------------------------------------------------------------------------------------------
say "results"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
CHANGED=$(git status --porcelain --untracked-files=no -- . ':!bench' | wc -l)
export ROOT BENCH WORK MAIN_TARGET BASE_TARGET LOAD_START LOAD_END CHANGED STARTED CRITERION_START \
    HYPERFINE_RUNS HYPERFINE_WARMUP CRITERION_SECONDS SNPGUEST
export COMMIT=$(git rev-parse --short=12 HEAD)
export CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
export CORES=$(nproc) KERNEL=$(uname -r) DATE=$(date -u +%Y-%m-%dT%H:%MZ)
export MEM=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
export V_CVM=$("$WORK/cvm-attest" --version) V_SNPGUEST=$("$SNPGUEST" --version)
export V_HYPERFINE=$(hyperfine --version) V_RUSTC=$(rustc --version | cut -d' ' -f1-2)
export V_REGORUS=$(grep -A1 '^name = "regorus"' bench/baselines/Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
python3 - <<'EOF'
import json, os, time
from pathlib import Path

e = os.environ

def criterion(target, group, name):
    """Median (ns) of one criterion case, which must have been written by this run."""
    path = Path(target, "criterion", group, name, "new", "estimates.json")
    if not path.exists() or path.stat().st_mtime < int(e["CRITERION_START"]):
        raise SystemExit(f"side-by-side.sh: no result of this run at {path}")
    return json.loads(path.read_text())["median"]["point_estimate"]

runs = {r["command"]: r for r in json.load(open(Path(e["WORK"], "hyperfine.json")))["results"]}
proc = {name: r["median"] * 1e3 for name, r in runs.items()}  # ms
snpguest_both = proc["snpguest verify certs"] + proc["snpguest verify attestation"]

main = (e["MAIN_TARGET"], "claim-check (8 rules, real MAA claims)")
base = (e["BASE_TARGET"], "claim-check in Rego (8 rules, real MAA claims)")
check = {  # µs
    "sandboxed": criterion(*main, "wasm_ instantiate + check") / 1e3,
    "native": criterion(*main, "native") / 1e3,
    "native (baselines run)": criterion(*base, "native") / 1e3,
    "regorus new": criterion(*base, "regorus_ new engine per request") / 1e3,
    "regorus prepared": criterion(*base, "regorus_ prepared engine, cloned per request") / 1e3,
    "regorus compiled": criterion(*base, "regorus_ compiled policy") / 1e3,
}

def ms(name):
    r = runs[name]
    return f"{r['median'] * 1e3:.2f} ms | {r['mean'] * 1e3:.2f} ± {r['stddev'] * 1e3:.2f} ms"

minutes = (time.time() - int(e["STARTED"])) / 60
tree = "clean" if e["CHANGED"].strip() == "0" else f"{e['CHANGED'].strip()} tracked files changed outside bench/"
lines = f"""# Side by side: results

Written by `bench/side-by-side.sh` ({minutes:.0f} min end to end, builds included). Everything below
was measured in that one run on this one machine.

| machine | |
|---|---|
| CPU | {e['CPU']}, `nproc` {e['CORES']}, {e['MEM']} |
| kernel | {e['KERNEL']} |
| date | {e['DATE']} |
| load average (1, 5, 15 min) | {e['LOAD_START']} when the measurements started, {e['LOAD_END']} at the end |
| measured | {e['V_CVM']} at {e['COMMIT']} (working tree: {tree}); {e['V_SNPGUEST']}; regorus {e['V_REGORUS']}; {e['V_RUSTC']}; {e['V_HYPERFINE']} |

The machine is a shared 2-core VM on which other builds and tests run at the same time: absolute
numbers move between runs (a load average above 2 means the benchmarks waited for a core). The
ratios, taken within one run, are what counts.

## Whole processes

hyperfine, {e['HYPERFINE_WARMUP']} warm-up runs and {e['HYPERFINE_RUNS']} timed runs per command, no shell
(`-N`); cvm-attest's compiled-code cache warm.

| command | median | mean ± σ |
|---|---|---|
| `cvm-attest --version` (start-up) | {ms('cvm-attest --version')} |
| `cvm-attest verify --evidence azure-sev-snp.json --nonce challenge` | {ms('cvm-attest verify, SEV-SNP')} |
| `cvm-attest verify --evidence azure-tdx.json --nonce challenge` | {ms('cvm-attest verify, TDX')} |
| `snpguest verify certs DIR` | {ms('snpguest verify certs')} |
| `snpguest verify attestation DIR report.bin` | {ms('snpguest verify attestation')} |
| snpguest, both commands (sum of the two medians) | {snpguest_both:.2f} ms | |

The two sides do not do the same work. `cvm-attest verify` (SEV-SNP) checks the VCEK → ASK → ARK
chain against pinned AMD roots with validity dates, chip ID, TCB, the report's signature and policy,
the HCL binding of the runtime claims, the vTPM quote's signature, nonce and PCR digest, and builds
the claim set, with the appraisal running in the wasm sandbox. snpguest checks that the ARK signs
itself, the ASK and the VCEK (three RSA-4096 signatures, the ARK not pinned), the VCEK's TCB fields
against the report's and the report's ECDSA P-384 signature; nothing Azure-specific. (snpguest
0.11.0, the version pinned here, also skips its chip-ID comparison for AMD's VCEKs: it takes the
certificate's common name `SEV-VCEK` for an ASK's, because it contains "sev".)

## Claim check

criterion medians, `--warm-up-time 1 --measurement-time {e['CRITERION_SECONDS']}`. The eight rules of
`examples/checks/azure-cvm-baseline.json` on the 3,469-byte claim set of a real MAA token; every case
parses the claims JSON per request. The Rego policy is `bench/azure-cvm-baseline.rego`; the bench
checks, before timing, that it is true on the real claims and false when any one of the eight
claims is changed or removed, as the native check is.

| case | median |
|---|---|
| sandboxed: `claim-equals` plugin, fresh instance + check (host/benches/plugins.rs) | {check['sandboxed']:.1f} µs |
| native: serde_json, same run | {check['native']:.1f} µs |
| native: the same function in the baselines run (how much the two runs differ) | {check['native (baselines run)']:.1f} µs |
| regorus, new engine per request (what Trustee does: add policy, set input, eval) | {check['regorus new']:.1f} µs |
| regorus, prepared engine cloned per request (set input, eval) | {check['regorus prepared']:.1f} µs |
| regorus, compiled policy (`eval_with_input`) | {check['regorus compiled']:.1f} µs |

## Ratios

| | ratio |
|---|---|
| cvm-attest verify (SEV-SNP) / snpguest (both commands) | **{proc['cvm-attest verify, SEV-SNP'] / snpguest_both:.2f}×** |
| cvm-attest verify (SEV-SNP) / cvm-attest --version | {proc['cvm-attest verify, SEV-SNP'] / proc['cvm-attest --version']:.1f}× |
| sandboxed check / native | **{check['sandboxed'] / check['native']:.2f}×** |
| sandboxed check / regorus, new engine per request | **{check['sandboxed'] / check['regorus new']:.2f}×** |
| sandboxed check / regorus, prepared engine | **{check['sandboxed'] / check['regorus prepared']:.2f}×** |
| sandboxed check / regorus, compiled policy | {check['sandboxed'] / check['regorus compiled']:.2f}× |
"""
print(lines)
Path(e["BENCH"], "results.md").write_text(lines)
print(f"written to {Path(e['BENCH'], 'results.md')}")
EOF
