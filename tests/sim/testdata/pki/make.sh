#!/usr/bin/env bash
# The test PKI of the simulated Azure CVM (cvm-attest-sim, issue 13): an AMD-style SEV-SNP chain, an
# Intel-style TDX chain, an Azure-vTPM-style CA, MAA-style token signing keys and a TLS CA with a
# loopback server certificate. See README.md for what each file is.
#
# TEST ONLY. The private keys are committed next to their certificates on purpose so that the simulator
# can sign with them; none of these certificates is trusted unless given as `--trust-anchor` (or in a
# configuration's [trust_anchors]).
#
# Usage: make.sh [--force] [GROUP...]   (from any directory; writes next to this script; needs only
# openssl). GROUP is amd, intel, vtpm, maa or tls; without one, all of them. Makes only the groups
# named, so a group added later is made without replacing the others. Refuses to overwrite existing
# files unless --force. Keys and serials are fresh on every run; names, subjects, validity, extensions
# and the fixed values below are not.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage="usage: $0 [--force] [amd|intel|vtpm|maa|tls]..."
force=false groups=()
for arg in "$@"; do
  case $arg in
    --force) force=true ;;
    amd | intel | vtpm | maa | tls) groups+=("$arg") ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
[[ ${#groups[@]} -gt 0 ]] || groups=(amd intel vtpm maa tls)
want() { [[ " ${groups[*]} " == *" $1 "* ]]; }

outputs=()
add_outputs() { for base in "$@"; do outputs+=("$base.pem" "$base.key"); done; }
want amd && add_outputs amd-test-ark amd-test-ask amd-test-vcek
if want intel; then
  add_outputs intel-test-root intel-test-pck-platform-ca intel-test-pck intel-test-tcb-signing
  outputs+=(intel-test-tcb-signing-chain.pem)
fi
want vtpm && add_outputs vtpm-test-root vtpm-test-ca
want maa && add_outputs maa-test-signing maa-test-unknown-signing
want tls && add_outputs tls-test-ca tls-test-server
if ! $force; then
  for file in "${outputs[@]}"; do
    if [[ -e $here/$file ]]; then
      echo "$0: $here/$file exists; pass --force to replace the group(s) ${groups[*]}" >&2
      exit 1
    fi
  done
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# Validity of every certificate.
start=20250101000000Z end=20450101000000Z

# Fixed values the simulator must repeat in what it signs (README, "Fixed values").
hwid=$(printf '5a%.0s' {1..64})        # SNP chip_id = VCEK hwID: 64 bytes 0x5a
tcb_bl=4 tcb_tee=0 tcb_snp=24 tcb_ucode=219  # SNP reported_tcb = VCEK SPLs (tcbm DB18000000000004)
fmspc=00806f050000 pce_id=0000          # Sapphire Rapids, as the real TD quote's PCK
sgx_comps=(6 6 2 2 3 1 0 3 0 0 0 0 0 0 0 0) pcesvn=11
cpusvn=$(printf '%02x' "${sgx_comps[@]}")  # 06060202030100030000000000000000, as Intel's PCK has it
ppid=$(printf '11%.0s' {1..16})
platform_instance_id=$(printf '22%.0s' {1..16})

# One openssl configuration: the CA bookkeeping of `openssl ca` and every extension section.
{
  cat <<CNF
[req]
distinguished_name = dn
string_mask = utf8only
prompt = no
[dn]

[ca]
default_ca = test_ca
[test_ca]
database = index.txt
new_certs_dir = .
serial = serial
policy = any_name
unique_subject = no
email_in_dn = no
[any_name]
commonName = supplied
organizationalUnitName = optional
countryName = optional
localityName = optional
stateOrProvinceName = optional
organizationName = optional

# AMD, as KDS issues them: ARK (self-signed), ASK (issues VCEKs).
[amd_ark]
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
basicConstraints = critical, CA:TRUE
[amd_ask]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign

# VCEK: only AMD's own extensions, in KDS's order (AMD, "Versioned Chip Endorsement Key (VCEK)
# Certificate and KDS Interface Specification", 57230, "VCEK Certificate Extensions"; compared with a
# real Milan VCEK). Each extnValue holds one DER value: structVersion and the SPLs an INTEGER,
# productName an IA5String; hwID is the exception: the 64 raw chip_id bytes, no inner tag. Like
# KDS's VCEKs it has no key identifiers, key usage or basic constraints.
[amd_vcek]
subjectKeyIdentifier = none
authorityKeyIdentifier = none
1.3.6.1.4.1.3704.1.1 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.2 = ASN1:IA5STRING:Milan-B0
1.3.6.1.4.1.3704.1.3.1 = ASN1:INTEGER:$tcb_bl
1.3.6.1.4.1.3704.1.3.2 = ASN1:INTEGER:$tcb_tee
1.3.6.1.4.1.3704.1.3.4 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.5 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.6 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.7 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.3 = ASN1:INTEGER:$tcb_snp
1.3.6.1.4.1.3704.1.3.8 = ASN1:INTEGER:$tcb_ucode
1.3.6.1.4.1.3704.1.4 = DER:$hwid

# Intel SGX PKI, as Intel's PCS issues it.
[intel_root]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
keyUsage = critical, keyCertSign, cRLSign
basicConstraints = critical, CA:TRUE, pathlen:1
[intel_ca]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
keyUsage = critical, keyCertSign, cRLSign
basicConstraints = critical, CA:TRUE, pathlen:0
[intel_signer]
authorityKeyIdentifier = keyid:always
subjectKeyIdentifier = hash
keyUsage = critical, digitalSignature, nonRepudiation
basicConstraints = critical, CA:FALSE
[intel_pck]
authorityKeyIdentifier = keyid:always
subjectKeyIdentifier = hash
keyUsage = critical, digitalSignature, nonRepudiation
basicConstraints = critical, CA:FALSE
1.2.840.113741.1.13.1 = ASN1:SEQUENCE:sgx

# SGX extensions (Intel, "SGX PCK Certificate and CRL Profile", 1.2.840.113741.1.13.1; compared with
# a real Sapphire Rapids PCK issued by the Platform CA): SEQUENCE OF SEQUENCE { OID, value }.
#   .1 PPID OCTET STRING(16)   .2 TCB: SEQUENCE OF SEQUENCE { OID, value }: .2.1-.2.16 SGX TCB
#   component SVNs INTEGER, .2.17 PCESVN INTEGER, .2.18 CPUSVN OCTET STRING(16)   .3 PCE-ID OCTET
#   STRING(2)   .4 FMSPC OCTET STRING(6)   .5 SGX Type ENUMERATED (1 = Scalable, as on TDX platforms)
#   .6 PlatformInstanceID OCTET STRING(16) and .7 Configuration SEQUENCE OF SEQUENCE { OID, BOOLEAN }
#   (.7.1 dynamicPlatform, .7.2 cachedKeys, .7.3 SMTEnabled): present in Platform CA-issued PCKs.
[sgx]
ppid = SEQUENCE:sgx_ppid
tcb = SEQUENCE:sgx_tcb
pce_id = SEQUENCE:sgx_pce_id
fmspc = SEQUENCE:sgx_fmspc
type = SEQUENCE:sgx_type
platform_instance_id = SEQUENCE:sgx_platform_instance_id
configuration = SEQUENCE:sgx_configuration
[sgx_ppid]
oid = OID:1.2.840.113741.1.13.1.1
value = FORMAT:HEX,OCTETSTRING:$ppid
[sgx_tcb]
oid = OID:1.2.840.113741.1.13.1.2
value = SEQUENCE:sgx_tcb_members
[sgx_pce_id]
oid = OID:1.2.840.113741.1.13.1.3
value = FORMAT:HEX,OCTETSTRING:$pce_id
[sgx_fmspc]
oid = OID:1.2.840.113741.1.13.1.4
value = FORMAT:HEX,OCTETSTRING:$fmspc
[sgx_type]
oid = OID:1.2.840.113741.1.13.1.5
value = ENUMERATED:1
[sgx_platform_instance_id]
oid = OID:1.2.840.113741.1.13.1.6
value = FORMAT:HEX,OCTETSTRING:$platform_instance_id
[sgx_configuration]
oid = OID:1.2.840.113741.1.13.1.7
value = SEQUENCE:sgx_configuration_members
[sgx_configuration_members]
dynamic_platform = SEQUENCE:sgx_configuration_1
cached_keys = SEQUENCE:sgx_configuration_2
smt_enabled = SEQUENCE:sgx_configuration_3
[sgx_configuration_1]
oid = OID:1.2.840.113741.1.13.1.7.1
value = BOOLEAN:TRUE
[sgx_configuration_2]
oid = OID:1.2.840.113741.1.13.1.7.2
value = BOOLEAN:FALSE
[sgx_configuration_3]
oid = OID:1.2.840.113741.1.13.1.7.3
value = BOOLEAN:TRUE
[sgx_tcb_members]
CNF
  for i in $(seq 1 18); do echo "member$i = SEQUENCE:sgx_tcb_$i"; done
  for i in $(seq 1 16); do
    printf '[sgx_tcb_%d]\noid = OID:1.2.840.113741.1.13.1.2.%d\nvalue = INTEGER:%d\n' "$i" "$i" "${sgx_comps[i-1]}"
  done
  printf '[sgx_tcb_17]\noid = OID:1.2.840.113741.1.13.1.2.17\nvalue = INTEGER:%d\n' "$pcesvn"
  printf '[sgx_tcb_18]\noid = OID:1.2.840.113741.1.13.1.2.18\nvalue = FORMAT:HEX,OCTETSTRING:%s\n' "$cpusvn"
  cat <<CNF

# Azure vTPM PKI, as the Azure Virtual TPM Root CA 2023 and Global Virtual TPM CA - 01 are.
[vtpm_root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[vtpm_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign
extendedKeyUsage = 2.23.133.8.1, 2.23.133.8.3
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

# MAA token signing, as the self-signed certificate in a real shared instance's /certs (kid XxRc2v…
# of sharedwus: CN = the instance URL, basicConstraints CA:FALSE, SKI; the real one also carries an
# SGX quote of the MAA enclave, which this cannot).
[maa_signing]
basicConstraints = CA:FALSE
subjectKeyIdentifier = hash

# TLS: a CA and the server certificate of the simulator's loopback listeners (what webpki requires:
# SAN for the names used, serverAuth, a CA with keyCertSign).
[tls_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[tls_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
CNF
} > pki.cnf

# key NAME rsa4096|rsa2048|P-384|P-256: a fresh key, PKCS#8 PEM.
key() {
  case $2 in
    rsa*) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${2#rsa}" -out "$1.key" 2>/dev/null ;;
    P-*) openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$2" -pkeyopt ec_param_enc:named_curve \
      -out "$1.key" ;;
  esac
}

# cert NAME SUBJECT ISSUER EXTENSIONS OPENSSL-CA-OPTIONS...: NAME.pem for NAME.key, issued by ISSUER
# (ISSUER = NAME: self-signed), with the extensions of section EXTENSIONS and nothing else.
cert() {
  local name=$1 subject=$2 issuer=$3 extensions=$4
  shift 4
  local signer=(-cert "$issuer.pem")
  [[ $issuer == "$name" ]] && signer=(-selfsign)
  openssl req -config pki.cnf -new -key "$name.key" -subj "$subject" -out "$name.csr"
  : > index.txt
  openssl ca -config pki.cnf -batch -notext -rand_serial -preserveDN -startdate "$start" -enddate "$end" \
    -keyfile "$issuer.key" "${signer[@]}" -extensions "$extensions" -in "$name.csr" -out "$name.pem" "$@" \
    2>ca.log || { cat ca.log >&2; return 1; }
}

# RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48 bytes: how AMD signs ARK, ASK and VCEK.
amd_pss=(-md sha384 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:48 -sigopt rsa_mgf1_md:sha384)
amd_dn="/OU=Engineering/C=US/L=Santa Clara/ST=CA/O=cvm-attest test"
intel_dn="/O=cvm-attest test/L=Santa Clara/ST=CA/C=US"

if want amd; then
  echo "AMD-style test chain (RSA-4096 keys take a while)" >&2
  key amd-test-ark rsa4096
  key amd-test-ask rsa4096
  key amd-test-vcek P-384
  cert amd-test-ark "$amd_dn/CN=ARK-Milan" amd-test-ark amd_ark "${amd_pss[@]}"
  cert amd-test-ask "$amd_dn/CN=SEV-Milan" amd-test-ark amd_ask "${amd_pss[@]}"
  cert amd-test-vcek "$amd_dn/CN=SEV-VCEK" amd-test-ask amd_vcek "${amd_pss[@]}"
fi

if want intel; then
  echo "Intel-style test chain" >&2
  for name in intel-test-root intel-test-pck-platform-ca intel-test-pck intel-test-tcb-signing; do
    key "$name" P-256
  done
  cert intel-test-root "/CN=Intel SGX Root CA$intel_dn" intel-test-root intel_root -md sha256
  cert intel-test-pck-platform-ca "/CN=Intel SGX PCK Platform CA$intel_dn" intel-test-root intel_ca -md sha256
  cert intel-test-pck "/CN=Intel SGX PCK Certificate$intel_dn" intel-test-pck-platform-ca intel_pck -md sha256
  cert intel-test-tcb-signing "/CN=Intel SGX TCB Signing$intel_dn" intel-test-root intel_signer -md sha256
  cat intel-test-tcb-signing.pem intel-test-root.pem > intel-test-tcb-signing-chain.pem
fi

if want vtpm; then
  echo "Azure-vTPM-style test CA" >&2
  key vtpm-test-root rsa2048
  key vtpm-test-ca rsa2048
  cert vtpm-test-root "/CN=cvm-attest test Virtual TPM Root" vtpm-test-root vtpm_root -md sha256
  cert vtpm-test-ca "/CN=cvm-attest test Virtual TPM CA - 01" vtpm-test-root vtpm_ca -md sha256
fi

if want maa; then
  echo "MAA-style token signing keys" >&2
  key maa-test-signing rsa2048
  key maa-test-unknown-signing rsa2048
  cert maa-test-signing "/O=cvm-attest test/CN=https:\/\/cvm-attest-test.attest.invalid" maa-test-signing \
    maa_signing -md sha256
  cert maa-test-unknown-signing "/O=cvm-attest test/CN=https:\/\/unknown-signer.cvm-attest-test.invalid" \
    maa-test-unknown-signing maa_signing -md sha256
fi

if want tls; then
  echo "TLS test CA and loopback server certificate" >&2
  key tls-test-ca P-256
  key tls-test-server P-256
  cert tls-test-ca "/O=cvm-attest test/CN=cvm-attest test TLS CA" tls-test-ca tls_ca -md sha256
  cert tls-test-server "/O=cvm-attest test/CN=localhost" tls-test-ca tls_server -md sha256
fi

echo "Checking the chains" >&2
if want amd; then
  openssl verify -CAfile amd-test-ark.pem -untrusted amd-test-ask.pem amd-test-vcek.pem >&2
fi
if want intel; then
  openssl verify -x509_strict -CAfile intel-test-root.pem -untrusted intel-test-pck-platform-ca.pem \
    intel-test-pck.pem intel-test-tcb-signing.pem >&2
fi
if want vtpm; then
  openssl verify -x509_strict -CAfile vtpm-test-root.pem vtpm-test-ca.pem >&2
fi
if want maa; then
  openssl verify -CAfile maa-test-signing.pem maa-test-signing.pem >&2
  openssl verify -CAfile maa-test-unknown-signing.pem maa-test-unknown-signing.pem >&2
fi
if want tls; then
  openssl verify -x509_strict -purpose sslserver -verify_ip 127.0.0.1 -CAfile tls-test-ca.pem \
    tls-test-server.pem >&2
  openssl verify -x509_strict -purpose sslserver -verify_hostname localhost -CAfile tls-test-ca.pem \
    tls-test-server.pem >&2
fi

for file in "${outputs[@]}"; do
  cp "$file" "$here/$file"
done
echo "Wrote ${#outputs[@]} files to $here" >&2
