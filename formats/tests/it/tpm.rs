//! TPM structures against real vTPM evidence: Confidential Containers quotes signed by the Azure AK
//! (HCLAkPub of the HCL report of the same VM), the kinvolk quotes with their AK PEMs, the complete
//! AzureGuest request of MAA's REST API example, and a Windows GCP vTPM dump (SHA-1).
//! Expected values come from the fixtures README and `verify/verify_tpm.py`, `verify_restspec.py`.

use std::collections::BTreeMap;

use crate::common::byte_mutations;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cvm_attest_formats::ParseError;
use cvm_attest_formats::tpm::{
    AlgorithmId, Attest, Attested, CocoQuote, HashAlg, ObjectAttributes, PcrSelection, Public, RsaScheme,
    Signature, SignatureError, SymmetricDefinition, TPM_ST_ATTEST_CERTIFY, TPM_ST_ATTEST_QUOTE, pcr_digest,
    verify_rsassa, verify_rsassa_sha256,
};
use proptest::prelude::*;
use rsa::pkcs8::DecodePublicKey;
use rsa::{BigUint, RsaPublicKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

const KINVOLK_QUOTE: &[u8] = include_bytes!("../../testdata/tpm/kinvolk-quote.bin");
const KINVOLK_AKPUB: &str = include_str!("../../testdata/tpm/kinvolk-akpub.pem");
const KINVOLK_2023_MSG: &[u8] = include_bytes!("../../testdata/tpm/kinvolk-2023-quote_msg");
const KINVOLK_2023_SIG: &[u8] = include_bytes!("../../testdata/tpm/kinvolk-2023-quote_sig");
const KINVOLK_2023_AKPUB: &str = include_str!("../../testdata/tpm/kinvolk-2023-akpub.pem");
const TRUSTEE_SNP_QUOTE: &[u8] = include_bytes!("../../testdata/tpm/trustee-snp-quote.bin");
const TRUSTEE_SNP_QUOTE_JSON: &str = include_str!("../../testdata/tpm/trustee-snp-tpm-quote-v1.json");
const TRUSTEE_SNP_HCL: &[u8] = include_bytes!("../../testdata/tpm/trustee-milan-hcl-report.bin");
const TRUSTEE_TDX_QUOTE: &[u8] = include_bytes!("../../testdata/tpm/trustee-tdx-quote.bin");
const TRUSTEE_TDX_HCL: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-hcl-report-tdx.bin");
const AZURE_GUEST: &str = include_str!("../../testdata/maa-rest-spec/AttestAzureGuestVm.json");
const GCP_DUMP: &str = include_str!("../../testdata/eventlog/go-eventlog-windows_gcp_shielded_vm.json");

/// An RSA key from PEM SubjectPublicKeyInfo (decoded by hand: the rsa crate's `pem` feature is off).
fn pem_key(pem: &str) -> RsaPublicKey {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(body).expect("PEM body is base64");
    RsaPublicKey::from_public_key_der(&der).expect("an RSA SubjectPublicKeyInfo")
}

fn b64url(value: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(value.as_str().expect("a base64url string")).expect("valid base64url")
}

/// HCLAkPub from an HCL report's runtime JSON (length u32 LE at 0x4D0, JSON at 0x4D4). Done here
/// by hand so these tests do not depend on the `hcl` module.
fn hcl_ak_pub(hcl: &[u8]) -> RsaPublicKey {
    let len = u32::from_le_bytes(hcl[0x4D0..0x4D4].try_into().expect("4 bytes")) as usize;
    let json: Value = serde_json::from_slice(&hcl[0x4D4..0x4D4 + len]).expect("runtime claims are JSON");
    let keys = json["keys"].as_array().expect("a key list");
    let key = keys.iter().find(|k| k["kid"] == "HCLAkPub").expect("HCLAkPub");
    let (n, e) = (b64url(&key["n"]), b64url(&key["e"]));
    RsaPublicKey::new(BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&e)).expect("a valid RSA key")
}

fn flip(bytes: &[u8], index: usize, mask: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[index] ^= mask;
    out
}

/// pcrDigest == SHA-256 of the quote's PCR values in selection order.
fn assert_pcr_digest_matches(quote: &CocoQuote) {
    let info = quote.message.quote().expect("a quote");
    assert_eq!(info.pcr_select.len(), 1);
    let sel = &info.pcr_select[0];
    assert_eq!(sel.hash_alg(), Some(HashAlg::Sha256));
    assert_eq!(sel.indices(), (0..24).collect::<Vec<u32>>());
    let values = sel.indices().into_iter().map(|i| &quote.pcr(i).expect("the PCR is in the quote")[..]);
    assert_eq!(pcr_digest(HashAlg::Sha256, values), info.pcr_digest);
}

#[test]
fn kinvolk_quote_verifies_with_its_ak_and_pcr_digest_matches() {
    let quote = CocoQuote::parse(KINVOLK_QUOTE).unwrap();
    assert_eq!(quote.signature.len(), 256);
    assert_eq!(quote.pcrs.len(), 24);
    assert_eq!(quote.message.attest_type(), TPM_ST_ATTEST_QUOTE);
    assert_eq!(quote.message.extra_data(), b"challenge");
    assert_eq!(quote.message.bytes().len(), 122);
    let ak = pem_key(KINVOLK_AKPUB);
    quote.verify_signature(&ak).unwrap();
    assert_pcr_digest_matches(&quote);
    assert!(
        hex::encode(&quote.message.quote().unwrap().pcr_digest)
            .starts_with("04fabd988106412e438c1b93ad3b4b04")
    );
}

#[test]
fn kinvolk_2023_quote_selects_pcrs_15_16_22_with_nonce_010203() {
    let attest = Attest::parse(KINVOLK_2023_MSG).unwrap();
    assert_eq!(attest.extra_data(), [1, 2, 3]);
    let info = attest.quote().unwrap();
    assert_eq!(info.pcr_select.len(), 1);
    assert_eq!(info.pcr_select[0].hash, AlgorithmId::SHA256);
    assert_eq!(info.pcr_select[0].indices(), vec![15, 16, 22]);
    assert_eq!(attest.bytes(), KINVOLK_2023_MSG);
    let ak = pem_key(KINVOLK_2023_AKPUB);
    verify_rsassa(&ak, HashAlg::Sha256, attest.bytes(), KINVOLK_2023_SIG).unwrap();
    Signature::rsassa_sha256(KINVOLK_2023_SIG.to_vec()).verify(&ak, attest.bytes()).unwrap();
    // The other kinvolk AK did not sign it.
    assert_eq!(
        verify_rsassa(&pem_key(KINVOLK_AKPUB), HashAlg::Sha256, attest.bytes(), KINVOLK_2023_SIG),
        Err(SignatureError::Mismatch { hash: HashAlg::Sha256 })
    );
}

#[test]
fn trustee_snp_quote_verifies_with_hcl_ak_pub() {
    let quote = CocoQuote::parse(TRUSTEE_SNP_QUOTE).unwrap();
    assert_eq!(quote.message.extra_data(), b"challenge");
    quote.verify_signature(&hcl_ak_pub(TRUSTEE_SNP_HCL)).unwrap();
    assert_pcr_digest_matches(&quote);
    assert!(
        hex::encode(&quote.message.quote().unwrap().pcr_digest)
            .starts_with("0daff74c2fca14910b1e9b54a3847074")
    );
    // The TDX VM's AK did not sign it.
    assert!(matches!(
        quote.verify_signature(&hcl_ak_pub(TRUSTEE_TDX_HCL)),
        Err(SignatureError::Mismatch { .. })
    ));
}

#[test]
fn trustee_snp_hex_json_is_the_same_quote() {
    let from_json = CocoQuote::parse_hex_json(TRUSTEE_SNP_QUOTE_JSON).unwrap();
    assert_eq!(from_json, CocoQuote::parse(TRUSTEE_SNP_QUOTE).unwrap());
    from_json.verify_signature(&hcl_ak_pub(TRUSTEE_SNP_HCL)).unwrap();
}

#[test]
fn trustee_tdx_quote_verifies_with_hcl_ak_pub() {
    let quote = CocoQuote::parse(TRUSTEE_TDX_QUOTE).unwrap();
    assert_eq!(quote.message.extra_data(), b"challenge");
    quote.verify_signature(&hcl_ak_pub(TRUSTEE_TDX_HCL)).unwrap();
    assert_pcr_digest_matches(&quote);
    assert!(
        hex::encode(&quote.message.quote().unwrap().pcr_digest)
            .starts_with("6c0e21d918212d57872a752bcf358355")
    );
}

#[test]
fn tampered_quotes_are_rejected() {
    let ak = hcl_ak_pub(TRUSTEE_SNP_HCL);
    let quote = CocoQuote::parse(TRUSTEE_SNP_QUOTE).unwrap();
    let message = quote.message.bytes();
    let mismatch = Err(SignatureError::Mismatch { hash: HashAlg::Sha256 });

    // One bit of the nonce (extraData starts after magic, type and the 34-byte qualifiedSigner).
    let nonce_at = 4 + 2 + 2 + 34 + 2;
    assert_eq!(message[nonce_at..nonce_at + 9], *b"challenge");
    let tampered = Attest::parse(&flip(message, nonce_at, 0x01)).unwrap();
    assert_eq!(tampered.extra_data(), b"bhallenge");
    assert_eq!(verify_rsassa(&ak, HashAlg::Sha256, tampered.bytes(), &quote.signature), mismatch);

    // One bit of the pcrDigest (the message's last byte).
    let last = message.len() - 1;
    assert_eq!(verify_rsassa(&ak, HashAlg::Sha256, &flip(message, last, 0x80), &quote.signature), mismatch);

    // One bit of the signature.
    assert_eq!(verify_rsassa(&ak, HashAlg::Sha256, message, &flip(&quote.signature, 100, 0x04)), mismatch);

    // A truncated signature is refused before any arithmetic.
    assert_eq!(
        verify_rsassa(&ak, HashAlg::Sha256, message, &quote.signature[..255]),
        Err(SignatureError::Length { expected: 256, found: 255 })
    );

    // One bit of a PCR value: the signature still holds, the PCR digest no longer does.
    let mut pcrs = quote.pcrs.clone();
    pcrs[7][0] ^= 0x01;
    let info = quote.message.quote().unwrap();
    let values = info.pcr_select[0].indices().into_iter().map(|i| &pcrs[i as usize][..]).collect::<Vec<_>>();
    assert_ne!(pcr_digest(HashAlg::Sha256, values), info.pcr_digest);
}

#[test]
fn attest_errors_name_the_field() {
    let message = CocoQuote::parse(KINVOLK_QUOTE).unwrap().message.bytes().to_vec();

    let err = Attest::parse(&flip(&message, 0, 0x01)).unwrap_err();
    assert!(matches!(err, ParseError::InvalidField { field: "magic", offset: 0, .. }), "{err}");
    assert!(err.to_string().contains("0xfe544347"), "{err}");

    // TPM_ST_ATTEST_NV (0x8014) is not implemented.
    let mut nv = message.clone();
    nv[5] = 0x14;
    let err = Attest::parse(&nv).unwrap_err();
    assert!(matches!(err, ParseError::Unsupported { field: "type", offset: 4, .. }), "{err}");

    let mut longer = message.clone();
    longer.push(0);
    assert!(matches!(Attest::parse(&longer), Err(ParseError::TrailingBytes { count: 1, .. })));

    let err = Attest::parse(&message[..message.len() - 1]).unwrap_err();
    assert!(matches!(err, ParseError::Truncated { field: "attested.pcrDigest", .. }), "{err}");

    // The bincode wrapper refuses a PCR count larger than its input without allocating for it.
    let mut bincode = KINVOLK_QUOTE.to_vec();
    let count_at = 8 + 256 + 8 + message.len();
    bincode[count_at..count_at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(CocoQuote::parse(&bincode).is_err());
    bincode[count_at..count_at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(matches!(CocoQuote::parse(&bincode), Err(ParseError::Truncated { field: "pcrs", .. })));
}

#[test]
fn tpm2b_attest_wraps_the_same_structure() {
    let message = CocoQuote::parse(KINVOLK_QUOTE).unwrap().message;
    let mut tpm2b = u16::try_from(message.bytes().len()).unwrap().to_be_bytes().to_vec();
    tpm2b.extend(message.bytes());
    assert_eq!(Attest::parse_tpm2b(&tpm2b).unwrap(), message);
    tpm2b[1] ^= 1;
    assert!(Attest::parse_tpm2b(&tpm2b).is_err());
}

/// The AzureGuest request of MAA's REST API example, decoded.
struct AzureGuest {
    tpm_info: Value,
}

fn azure_guest() -> AzureGuest {
    let doc: Value = serde_json::from_str(AZURE_GUEST).expect("the example is JSON");
    let info = b64url(&doc["parameters"]["request"]["attestationInfo"]);
    let info: Value = serde_json::from_slice(&info).expect("attestationInfo is JSON");
    AzureGuest { tpm_info: info["TpmInfo"].clone() }
}

fn b64(value: &Value) -> Vec<u8> {
    STANDARD.decode(value.as_str().expect("a base64 string")).expect("valid base64")
}

impl AzureGuest {
    fn bytes(&self, field: &str) -> Vec<u8> {
        b64(&self.tpm_info[field])
    }
    fn pcrs(&self) -> BTreeMap<u32, Vec<u8>> {
        let list = self.tpm_info["PCRs"].as_array().expect("a PCR list");
        list.iter()
            .map(|p| {
                let index = p["Index"].as_u64().and_then(|i| u32::try_from(i).ok()).expect("a PCR index");
                (index, b64(&p["Digest"]))
            })
            .collect()
    }
}

#[test]
fn azure_guest_ak_pub_is_a_restricted_rsa_2048_signing_key() {
    let guest = azure_guest();
    let ak = Public::parse_tpm2b(&guest.bytes("AikPub")).unwrap();
    assert_eq!(ak.object_attributes(), ObjectAttributes(0x0005_0472));
    let attrs = ak.object_attributes();
    assert!(attrs.fixed_tpm() && attrs.fixed_parent() && attrs.sensitive_data_origin());
    assert!(attrs.user_with_auth() && attrs.no_da() && attrs.restricted() && attrs.sign());
    assert!(!attrs.decrypt());
    assert_eq!(ak.name_alg(), HashAlg::Sha256);
    assert_eq!(ak.key_bits(), 2048);
    assert_eq!(ak.modulus().len(), 256);
    assert_eq!(ak.effective_exponent(), 65537);
    assert_eq!(ak.symmetric(), SymmetricDefinition::Null);
    assert_eq!(ak.scheme(), RsaScheme::Rsassa(HashAlg::Sha256));
    assert_eq!(ak.tpmt_bytes(), &guest.bytes("AikPub")[2..]);
    assert_eq!(Public::parse_tpmt(ak.tpmt_bytes()).unwrap(), ak);
}

#[test]
fn azure_guest_quote_verifies_and_covers_the_listed_pcrs() {
    let guest = azure_guest();
    let ak = Public::parse_tpm2b(&guest.bytes("AikPub")).unwrap();
    let quote = Attest::parse(&guest.bytes("PcrQuote")).unwrap();
    assert_eq!(quote.bytes().len(), 113);
    assert_eq!(quote.extra_data(), b"");
    verify_rsassa_sha256(&ak, quote.bytes(), &guest.bytes("PcrSignature")).unwrap();

    let info = quote.quote().unwrap();
    assert_eq!(
        info.pcr_select,
        vec![PcrSelection::new(HashAlg::Sha256, &[0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 14])]
    );
    let selected = info.pcr_select[0].indices();
    let set: Vec<u32> = serde_json::from_value(guest.tpm_info["PcrSet"].clone()).unwrap();
    assert_eq!(selected, set);
    let pcrs = guest.pcrs();
    assert_eq!(pcrs.keys().copied().collect::<Vec<_>>(), selected);
    assert_eq!(pcr_digest(HashAlg::Sha256, selected.iter().map(|i| pcrs[i].as_slice())), info.pcr_digest);
    assert!(hex::encode(&info.pcr_digest).starts_with("aff9584cf88efa29c08cf1b349002435"));

    // Tampering: the quote's pcrDigest, or the signature.
    let mut tampered = guest.bytes("PcrQuote");
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(matches!(
        verify_rsassa_sha256(&ak, &tampered, &guest.bytes("PcrSignature")),
        Err(SignatureError::Mismatch { .. })
    ));
    assert!(matches!(
        verify_rsassa_sha256(&ak, quote.bytes(), &flip(&guest.bytes("PcrSignature"), 0, 0x10)),
        Err(SignatureError::Mismatch { .. })
    ));
}

#[test]
fn azure_guest_certify_binds_the_ephemeral_decrypt_key() {
    let guest = azure_guest();
    let ak = Public::parse_tpm2b(&guest.bytes("AikPub")).unwrap();
    let quote = Attest::parse(&guest.bytes("PcrQuote")).unwrap();
    let certify = Attest::parse(&guest.bytes("EncKeyCertifyInfo")).unwrap();
    assert_eq!(certify.attest_type(), TPM_ST_ATTEST_CERTIFY);
    assert_eq!(certify.qualified_signer(), quote.qualified_signer());
    assert_eq!(certify.clock_info().reset_count, quote.clock_info().reset_count);
    verify_rsassa_sha256(&ak, certify.bytes(), &guest.bytes("EncKeyCertifyInfoSignature")).unwrap();

    let enc_key = Public::parse_tpm2b(&guest.bytes("EncKeyPub")).unwrap();
    assert_eq!(enc_key.object_attributes(), ObjectAttributes(0x0002_0432));
    assert!(enc_key.object_attributes().decrypt() && !enc_key.object_attributes().sign());
    assert!(!enc_key.object_attributes().user_with_auth());
    assert_eq!(enc_key.key_bits(), 2048);

    let Attested::Certify(info) = certify.attested() else { panic!("not a certification") };
    let mut expected_name = vec![0x00, 0x0b];
    expected_name.extend(Sha256::digest(enc_key.tpmt_bytes()));
    assert_eq!(enc_key.name(), expected_name);
    assert_eq!(info.name, enc_key.name());
    assert!(hex::encode(&info.name).starts_with("000bc36e60176d3e0d8799cf"));

    // The key's authPolicy is PolicyPCR over the quoted PCRs: H(0^32 || TPM_CC_PolicyPCR ||
    // TPML_PCR_SELECTION || H(PCR values)).
    let sel = &quote.quote().unwrap().pcr_select;
    let mut tpml = 1u32.to_be_bytes().to_vec();
    tpml.extend(sel[0].marshal());
    let pcrs = guest.pcrs();
    let pcr_values = pcr_digest(HashAlg::Sha256, sel[0].indices().iter().map(|i| pcrs[i].as_slice()));
    let policy =
        HashAlg::Sha256.digest_parts(&[&[0u8; 32], &0x0000_017Fu32.to_be_bytes(), &tpml, &pcr_values]);
    assert_eq!(enc_key.auth_policy(), policy);

    // A certification by a different signer's name does not verify.
    let tampered = flip(certify.bytes(), certify.bytes().len() - 40, 0x01);
    assert!(verify_rsassa_sha256(&ak, &tampered, &guest.bytes("EncKeyCertifyInfoSignature")).is_err());
}

#[test]
fn gcp_vtpm_dump_tpmt_public_and_tpmt_signature() {
    let dump: Value = serde_json::from_str(GCP_DUMP).unwrap();
    let ak = Public::parse_tpmt(&b64(&dump["AK"]["Public"])).unwrap();
    assert_eq!(ak.object_attributes(), ObjectAttributes(0x0005_0472));
    assert_eq!(ak.scheme(), RsaScheme::Rsassa(HashAlg::Sha1));
    assert_eq!(ak.key_bits(), 2048);

    let signature = Signature::parse_tpmt(&b64(&dump["Quote"]["Signature"])).unwrap();
    assert_eq!(signature.hash(), HashAlg::Sha1);
    assert_eq!(signature.bytes().len(), 256);
    let quote = Attest::parse(&b64(&dump["Quote"]["Quote"])).unwrap();
    let key = ak.rsa_public_key().unwrap();
    signature.verify(&key, quote.bytes()).unwrap();
    assert!(signature.verify(&key, &flip(quote.bytes(), 20, 1)).is_err());

    // The quote covers the 24 SHA-1 PCRs the dump records.
    let pcrs: BTreeMap<u64, Vec<u8>> = dump["Log"]["PCRs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["Index"].as_u64().unwrap(), b64(&p["Digest"])))
        .collect();
    let sel = &quote.quote().unwrap().pcr_select[0];
    assert_eq!(sel.hash_alg(), Some(HashAlg::Sha1));
    assert_eq!(sel.indices(), (0..24).collect::<Vec<u32>>());
    let values = sel.indices().into_iter().map(|i| pcrs[&u64::from(i)].as_slice());
    assert_eq!(pcr_digest(HashAlg::Sha1, values), quote.quote().unwrap().pcr_digest);

    // The AK's creation attestation is TPM_ST_ATTEST_CREATION, which is not implemented.
    let err = Attest::parse(&b64(&dump["AK"]["CreateAttestation"])).unwrap_err();
    assert!(matches!(err, ParseError::Unsupported { field: "type", .. }), "{err}");
}

#[test]
fn public_errors_name_the_field() {
    let guest = azure_guest();
    let aik = guest.bytes("AikPub");

    // An ECC key (type 0x0023) is not implemented.
    let mut ecc = aik.clone();
    ecc[3] = 0x23;
    let err = Public::parse_tpm2b(&ecc).unwrap_err();
    assert!(matches!(err, ParseError::Unsupported { field: "type", offset: 2, .. }), "{err}");

    // The TPM2B size must match the TPMT_PUBLIC.
    let mut short = aik.clone();
    short[1] -= 1;
    assert!(matches!(Public::parse_tpm2b(&short), Err(ParseError::InvalidField { field: "size", .. })));

    // keyBits must agree with the modulus.
    let tpmt = &aik[2..];
    let key_bits_at = 2 + 2 + 4 + 2 + 32 + 2 + 2 + 2;
    assert_eq!(tpmt[key_bits_at..key_bits_at + 2], [0x08, 0x00]);
    let err = Public::parse_tpmt(&flip(tpmt, key_bits_at, 0x0C)).unwrap_err();
    assert!(matches!(err, ParseError::InvalidField { field: "unique", .. }), "{err}");

    assert!(matches!(
        Public::parse_tpmt(&aik),
        Err(ParseError::Unsupported { .. } | ParseError::InvalidField { .. })
    ));
    assert!(matches!(Public::parse_tpmt(&tpmt[..100]), Err(ParseError::Truncated { field: "unique", .. })));
}

#[test]
fn signature_parser_refuses_other_schemes() {
    // TPMT_SIGNATURE with sigAlg ECDSA.
    let ecdsa = [0x00, 0x18, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x00];
    let err = Signature::parse_tpmt(&ecdsa).unwrap_err();
    assert!(matches!(err, ParseError::Unsupported { field: "sigAlg", offset: 0, .. }), "{err}");
    // RSASSA with an unknown hash.
    let err = Signature::parse_tpmt(&[0x00, 0x14, 0x00, 0x12, 0x00, 0x00]).unwrap_err();
    assert!(matches!(err, ParseError::Unsupported { field: "signature.hash", offset: 2, .. }), "{err}");
}

proptest! {
    #[test]
    fn parsers_never_panic_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Public::parse_tpm2b(&bytes);
        let _ = Public::parse_tpmt(&bytes);
        let _ = Attest::parse(&bytes);
        let _ = Attest::parse_tpm2b(&bytes);
        let _ = Signature::parse_tpmt(&bytes);
        let _ = CocoQuote::parse(&bytes);
    }

    #[test]
    fn coco_quote_parser_never_panics_on_mutated_fixtures(bytes in byte_mutations(KINVOLK_QUOTE)) {
        let _ = CocoQuote::parse(&bytes);
    }

    #[test]
    fn attest_parser_never_panics_on_mutated_fixtures(bytes in byte_mutations(KINVOLK_2023_MSG)) {
        if let Ok(attest) = Attest::parse(&bytes) {
            prop_assert_eq!(attest.bytes(), &bytes[..]);
        }
    }

    #[test]
    fn hex_json_parser_never_panics(text in ".{0,64}") {
        let _ = CocoQuote::parse_hex_json(&text);
    }
}

#[test]
fn public_parser_never_panics_on_mutated_ak() {
    let aik = azure_guest().bytes("AikPub");
    proptest!(|(bytes in byte_mutations(aik))| {
        if let Ok(public) = Public::parse_tpm2b(&bytes) {
            prop_assert_eq!(public.tpmt_bytes(), &bytes[2..]);
        }
    });
}
