#!/usr/bin/env bash
# The main job, against the simulated CVM that `cvm-attest-sim run` started: its variables
# (CVM_ATTEST_TCTI, _IMDS_URL, _MAA_URL, _CA_FILE, _EVENT_LOG) point cvm-attest at a simulated vTPM,
# IMDS and MAA. SIMULATED evidence, signed by TEST roots: nothing here is trusted outside it.
#
#   target/release/cvm-attest-sim run -- scripts/attest-simulated.sh
set -euo pipefail

# The relying party's challenge: fresh for each attestation.
nonce="challenge-$(date +%s%N)"

echo "== cvm-attest attest -o token -n $nonce   (collect, MAA, decrypt in the vTPM, verify)"
token="$(cvm-attest attest -o token -n "$nonce")"
echo "${token:0:60}…"

echo "== cvm-attest token verify   (as a relying party would, from the token alone)"
cvm-attest token verify "$token" --nonce "$nonce"

echo "== cvm-attest token decode   (the claims; decoding is not verifying, the step above did that)"
cvm-attest token decode "$token" 2>/dev/null

# The production policy of the platform the token names.
case "$(cvm-attest token decode "$token" 2>/dev/null)" in
    *'"sevsnpvm"'*) policy=examples/policies/production-snp.json ;;
    *) policy=examples/policies/production-tdx.json ;;
esac
echo "== cvm-attest attest --check policy=$policy -o summary   (the production policy, summarised)"
cvm-attest attest -n "$nonce-policy" --check "policy=$policy" -o summary

echo "== cvm-attest attest -o explain   (every claim and what it means, in English and Korean; three of them)"
cvm-attest attest -o explain \
    | grep -A2 -E '^(secureboot|x-ms-isolation-tee/x-ms-compliance-status|x-ms-isolation-tee/(x-ms-sevsnpvm-is-debuggable|tdx_td_attributes_debug)) ='


echo "== cvm-attest attest -o bool   (the C++ sample's verdict: a compliant SEV-SNP or TDX CVM)"
cvm-attest attest -o bool
