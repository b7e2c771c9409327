//! The evidence bundle v1, the Confidential Containers evidence readers and `detect`.

use std::collections::BTreeMap;

use cvm_attest_formats::bundle::{
    self, EphemeralKey, Error, EvidenceBundle, EvidenceKind, OsInfo, PcrBank, Pcrs, Platform, Timestamp,
    TpmEvidence,
};
use cvm_attest_formats::hcl::{HclReport, ReportType};
use proptest::prelude::*;
use sha2::Digest;

const COCO_SNP_V0: &[u8] = include_bytes!("../../testdata/azure-snp/trustee-evidence-v0.json");
const COCO_SNP_V1: &[u8] = include_bytes!("../../testdata/azure-snp/trustee-evidence-v1.json");
const COCO_TDX_V0: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-evidence-tdx-v0.json");
const COCO_TDX_V1: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-evidence-tdx-v1.json");
const TDX_HCL: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-hcl-report-tdx.bin");
const TDX_QUOTE: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-td-quote.bin");
const CVMTOOLS_TD_QUOTE: &[u8] = include_bytes!("../../testdata/azure-tdx/cvmtools-td_quote_v4.dat");
/// The vTPM quote of the same TD, as az-cvm-vtpm's bincode `Quote`.
const TDX_TPM_QUOTE: &[u8] = include_bytes!("../../testdata/tpm/trustee-tdx-quote.bin");
/// A different SNP VM than the evidence files.
const MILAN_HCL: &[u8] = include_bytes!("../../testdata/tpm/trustee-milan-hcl-report.bin");
const KINVOLK_HCL: &[u8] = include_bytes!("../../testdata/azure-snp/kinvolk-hcl-report-snp.bin");
const SIDECAR_SNP: &[u8] = include_bytes!("../../testdata/thim/sidecar-snp_report.bin");
const TPM_QUOTE_JSON: &[u8] = include_bytes!("../../testdata/tpm/trustee-snp-tpm-quote-v1.json");

fn at() -> Timestamp {
    Timestamp::parse("2026-11-27T21:31:00Z").expect("valid timestamp")
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// az-cvm-vtpm `Quote` in bincode: u64 length + signature, u64 length + message, u64 count + PCRs.
fn bincode_quote(bytes: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<Vec<u8>>) {
    let mut at = 0;
    let u64_at = |at: &mut usize| {
        let n = u64::from_le_bytes(bytes[*at..*at + 8].try_into().expect("8 bytes")) as usize;
        *at += 8;
        n
    };
    let n = u64_at(&mut at);
    let signature = bytes[at..at + n].to_vec();
    at += n;
    let n = u64_at(&mut at);
    let message = bytes[at..at + n].to_vec();
    at += n;
    let n = u64_at(&mut at);
    let pcrs = (0..n).map(|i| bytes[at + 32 * i..at + 32 * (i + 1)].to_vec()).collect();
    assert_eq!(at + 32 * n, bytes.len());
    (signature, message, pcrs)
}

#[test]
fn converts_coco_snp_evidence() {
    let v0 = EvidenceBundle::from_coco_json(COCO_SNP_V0, at()).unwrap();
    let v1 = EvidenceBundle::from_coco_json(COCO_SNP_V1, at()).unwrap();
    for (bundle, hcl_sha256, quote_sha256) in [
        (
            &v0,
            "ee08a5e44a28fafd7432b93f294b7dc4e66a7581f1dba5184945f1c68450d761",
            "e50f46063b20c45dafde4caf5da7408c2b477eadf7e6a6baed4bcc2e8d8588b1",
        ),
        (
            &v1,
            "ca270376a82e1c266959019cc296bf3cb563bc1f5861e6eef4b6dd8aa2f8439a",
            "b6a4263ce0ef2b5eb588f682d4a6b5681e8085ac47ec9dc5f3e212af349f6b95",
        ),
    ] {
        assert_eq!(bundle.platform, Platform::AzureSevSnp);
        assert_eq!(bundle.collected_at, at());
        assert_eq!(bundle.nonce, None);
        assert_eq!(sha256(&bundle.hcl_report), hcl_sha256);
        assert_eq!(bundle.td_quote, None);
        let tpm = bundle.tpm.as_ref().expect("vTPM evidence");
        assert!(tpm.ak_public.is_empty() && tpm.ak_cert.is_none() && tpm.ephemeral_key.is_none());
        assert_eq!(sha256(&tpm.quote), quote_sha256);
        assert_eq!(&tpm.quote[..4], &[0xFF, 0x54, 0x43, 0x47]);
        assert_eq!(tpm.quote_signature.len(), 256);
        assert_eq!(tpm.pcrs.bank(), PcrBank::Sha256);
        assert_eq!(tpm.pcrs.values().len(), 24);
        assert_eq!(
            hex::encode(tpm.pcrs.get(0).unwrap()),
            "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced"
        );
        assert_eq!(tpm.pcrs.get(23), Some(&[0u8; 32][..]));
        assert!(bundle.event_log.is_none() && bundle.os.is_none());

        let hcl = HclReport::parse(&bundle.hcl_report).unwrap();
        assert_eq!(hcl.report_type(), ReportType::Snp);
        hcl.verify_binding().unwrap();
        assert_eq!(
            hcl.runtime_claims().unwrap().vm_configuration.vm_unique_id,
            "26F8BC30-774E-4290-8E7A-535F3B672AEE"
        );
    }
    // v0 holds the VCEK as PEM, v1 as base64url DER: the conversion gives the same PEM text.
    let v0_json: serde_json::Value = serde_json::from_slice(COCO_SNP_V0).unwrap();
    assert_eq!(v0.vcek_chain.as_deref(), v0_json["vcek"].as_str());
    assert_eq!(v1.vcek_chain, v0.vcek_chain);
    assert_eq!(v1.vcek_chain.as_deref().unwrap().matches("BEGIN CERTIFICATE").count(), 1);
    // The two files hold two reports of the same VM: identical outside the SNP signature
    // (HCL offsets 0x2C0..0x350), which ECDSA makes different each time.
    assert_ne!(v0.hcl_report, v1.hcl_report);
    assert_eq!(v0.hcl_report[..0x2C0], v1.hcl_report[..0x2C0]);
    assert_eq!(v0.hcl_report[0x350..], v1.hcl_report[0x350..]);
    // ... and not the VM of trustee-milan-hcl-report.bin.
    assert_ne!(v0.hcl_report[0x20 + 0x1A0..0x20 + 0x1E0], MILAN_HCL[0x20 + 0x1A0..0x20 + 0x1E0]);
}

#[test]
fn converts_coco_tdx_evidence_to_the_raw_files() {
    let (signature, message, pcrs) = bincode_quote(TDX_TPM_QUOTE);
    for json in [COCO_TDX_V0, COCO_TDX_V1] {
        let bundle = EvidenceBundle::from_coco_json(json, at()).unwrap();
        assert_eq!(bundle.platform, Platform::AzureTdx);
        assert_eq!(bundle.hcl_report, TDX_HCL);
        assert_eq!(bundle.td_quote.as_deref(), Some(TDX_QUOTE));
        assert_eq!(bundle.vcek_chain, None);
        assert_eq!(bundle.tpm.as_ref().unwrap().quote, message);
        assert_eq!(bundle.tpm.as_ref().unwrap().quote_signature, signature);
        let values: Vec<Vec<u8>> = bundle.tpm.as_ref().unwrap().pcrs.values().values().cloned().collect();
        assert_eq!(values, pcrs);
        assert_eq!(
            bundle.tpm.as_ref().unwrap().pcrs.values().keys().copied().collect::<Vec<_>>(),
            (0..24).collect::<Vec<u8>>()
        );
    }
}

#[test]
fn converted_bundles_round_trip_through_json() {
    for json in [COCO_SNP_V0, COCO_SNP_V1, COCO_TDX_V0, COCO_TDX_V1] {
        let bundle = EvidenceBundle::from_coco_json(json, at()).unwrap();
        let text = bundle.to_json();
        assert_eq!(EvidenceBundle::from_json(text.as_bytes()).unwrap(), bundle);
        assert_eq!(EvidenceBundle::from_json(text.as_bytes()).unwrap().to_json(), text);
        assert_eq!(bundle::detect(text.as_bytes()), EvidenceKind::Bundle);
    }
}

#[test]
fn writes_keys_in_schema_order() {
    let bundle = EvidenceBundle::from_coco_json(COCO_SNP_V1, at()).unwrap();
    let text = bundle.to_json();
    assert!(text.starts_with("{\n  \"format\": \"cvm-attest-evidence\",\n  \"version\": 1,\n"), "{text:.80}");
    let order = [
        "\"format\"",
        "\"version\"",
        "\"platform\": \"azure-sev-snp\"",
        "\"collected_at\": \"2026-11-27T21:31:00Z\"",
        "\"nonce\": null",
        "\"hcl_report\": \"SENMQQ",
        "\"vcek_chain\": \"-----BEGIN CERTIFICATE-----\\n",
        "\"td_quote\": null",
        "\"tpm\"",
        "\"ak_public\": \"\"",
        "\"ak_cert\": null",
        "\"quote\": \"/1RDR4AY",
        "\"quote_signature\"",
        "\"pcr_bank\": \"sha256\"",
        "\"pcrs\"",
        "\"0\": \"e15c4479",
        "\"9\"",
        "\"10\"",
        "\"23\": \"0000",
        "\"ephemeral_key\": null",
        "\"event_log\": null",
        "\"os\": null",
    ];
    let positions: Vec<usize> =
        order.iter().map(|key| text.find(key).unwrap_or_else(|| panic!("{key}"))).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
}

fn with(json: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut value: serde_json::Value = serde_json::from_str(json).expect("JSON");
    edit(&mut value);
    value.to_string().into_bytes()
}

fn field_error(json: &[u8]) -> (String, String) {
    match EvidenceBundle::from_json(json).expect_err("must be refused") {
        Error::Field { document, field, reason } => {
            assert_eq!(document, "evidence bundle");
            (field, reason)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn refuses_other_formats_and_versions() {
    let good = EvidenceBundle::from_coco_json(COCO_TDX_V1, at()).unwrap().to_json();

    let err = EvidenceBundle::from_json(&with(&good, |v| v["version"] = 2.into())).unwrap_err();
    assert!(matches!(err, Error::UnsupportedVersion { .. }), "{err:?}");
    assert_eq!(err.to_string(), "evidence bundle: unknown version 2, supported 1");

    let err = EvidenceBundle::from_json(&with(&good, |v| v["version"] = "1".into())).unwrap_err();
    assert_eq!(err.to_string(), "evidence bundle: unknown version \"1\", supported 1");

    let err = EvidenceBundle::from_json(&with(&good, |v| {
        v.as_object_mut().unwrap().remove("version");
    }))
    .unwrap_err();
    assert_eq!(err.to_string(), "evidence bundle: unknown version missing, supported 1");

    let err = EvidenceBundle::from_json(&with(&good, |v| v["format"] = "other".into())).unwrap_err();
    assert_eq!(
        err.to_string(),
        "not a cvm-attest evidence bundle: \"format\" is \"other\" \
         (expected a JSON object with \"format\": \"cvm-attest-evidence\")"
    );
    let err = EvidenceBundle::from_json(COCO_SNP_V1).unwrap_err();
    assert!(err.to_string().starts_with("not a cvm-attest evidence bundle: no \"format\" key"), "{err}");
    let err = EvidenceBundle::from_json(b" [1]").unwrap_err();
    assert!(
        err.to_string().starts_with("not a cvm-attest evidence bundle: the JSON is not an object"),
        "{err}"
    );
    assert!(matches!(EvidenceBundle::from_json(b"not json"), Err(Error::Json { .. })));
    assert!(matches!(EvidenceBundle::from_json(b"{\"format\": "), Err(Error::Json { .. })));

    let err = EvidenceBundle::from_json(&with(&good, |v| v["platform"] = "azure-sgx".into())).unwrap_err();
    assert!(err.to_string().contains("unknown variant `azure-sgx`"), "{err}");
}

#[test]
fn refuses_impossible_fields() {
    let good = EvidenceBundle::from_coco_json(COCO_SNP_V0, at()).unwrap().to_json();

    let (field, reason) = field_error(&with(&good, |v| v["hcl_report"] = "SENMQQ-_".into()));
    assert_eq!(field, "hcl_report");
    assert!(reason.contains("invalid base64"), "{reason}");

    // Unpadded base64 is not the bundle's encoding.
    let (field, _) = field_error(&with(&good, |v| v["tpm"]["quote"] = "/1RDRw".into()));
    assert_eq!(field, "tpm.quote");

    let (field, reason) = field_error(&with(&good, |v| v["tpm"]["pcrs"]["24"] = "00".repeat(32).into()));
    assert_eq!((field.as_str(), reason.as_str()), ("tpm.pcrs.24", "PCR index out of range 0..=23"));

    let (field, reason) = field_error(&with(&good, |v| v["tpm"]["pcrs"]["3"] = "00".repeat(31).into()));
    assert_eq!((field.as_str(), reason.as_str()), ("tpm.pcrs.3", "a sha256 PCR is 32 bytes, found 31"));

    let (field, _) = field_error(&with(&good, |v| v["tpm"]["pcrs"]["3"] = "zz".into()));
    assert_eq!(field, "tpm.pcrs.3");

    let (field, _) = field_error(&with(&good, |v| v["tpm"]["pcr_bank"] = "sha1".into()));
    assert_eq!(field, "tpm.pcr_bank");

    let (field, reason) = field_error(&with(&good, |v| v["collected_at"] = "yesterday".into()));
    assert_eq!(field, "collected_at");
    assert!(reason.contains("RFC 3339"), "{reason}");

    let (field, _) = field_error(&with(&good, |v| v["vcek_chain"] = "not PEM".into()));
    assert_eq!(field, "vcek_chain");

    let err = EvidenceBundle::from_json(&with(&good, |v| v["tpm"]["pcrs"]["x"] = "00".into())).unwrap_err();
    assert!(matches!(err, Error::Json { .. }), "{err:?}");
}

#[test]
fn tolerates_unknown_keys_and_missing_optional_ones() {
    let bundle = EvidenceBundle::from_coco_json(COCO_TDX_V0, at()).unwrap();
    let json = with(&bundle.to_json(), |v| {
        v["added_in_a_later_v1"] = true.into();
        let object = v.as_object_mut().unwrap();
        object.remove("nonce");
        object.remove("event_log");
        object.remove("os");
    });
    assert_eq!(EvidenceBundle::from_json(&json).unwrap(), bundle);
}

#[test]
fn carries_collateral_by_known_names_only() {
    let mut bundle = EvidenceBundle::from_coco_json(COCO_TDX_V0, at()).unwrap();
    assert!(bundle.to_json().contains("\"collateral\": null"), "written as null when there is none");
    bundle.collateral.insert("amd-crl".to_owned(), vec![0x30, 0x82]);
    let json = bundle.to_json();
    assert!(json.contains("\"amd-crl\": \"MII=\""), "{json}");
    assert_eq!(EvidenceBundle::from_json(json.as_bytes()).unwrap(), bundle);

    let misspelt = with(&json, |v| v["collateral"] = serde_json::json!({"amd-crls": "MII="}));
    let err = EvidenceBundle::from_json(&misspelt).unwrap_err();
    assert!(matches!(&err, Error::Field { field, .. } if field == "collateral.amd-crls"), "{err:?}");
    assert!(err.to_string().contains("expected one of tdx-tcb-info"), "{err}");
    let not_base64 = with(&json, |v| v["collateral"]["amd-crl"] = "***".into());
    let err = EvidenceBundle::from_json(&not_base64).unwrap_err();
    assert!(matches!(&err, Error::Field { field, .. } if field == "collateral.amd-crl"), "{err:?}");
}

#[test]
fn refuses_malformed_coco_evidence() {
    let err = EvidenceBundle::from_coco_json(&with_str(COCO_SNP_V1, |v| v["version"] = 3.into()), at())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Confidential Containers az-snp-vtpm evidence: unknown version 3, supported 0 (no version key), 1, 2"
    );
    let err = EvidenceBundle::from_coco_json(&with_str(COCO_TDX_V1, |v| v["td_quote"] = "***".into()), at())
        .unwrap_err();
    assert!(matches!(&err, Error::Field { field, .. } if field == "td_quote"), "{err:?}");
    let err = EvidenceBundle::from_coco_json(
        &with_str(COCO_SNP_V1, |v| v["tpm_quote"]["pcrs"][5] = "00".into()),
        at(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Confidential Containers az-snp-vtpm evidence: invalid tpm_quote.pcrs[5]: a sha256 PCR is 32 bytes, found 1"
    );
    let err = EvidenceBundle::from_coco_json(TPM_QUOTE_JSON, at()).unwrap_err();
    assert!(err.to_string().contains("az-tdx-vtpm"), "{err}");
}

fn with_str(json: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    with(std::str::from_utf8(json).expect("UTF-8"), edit)
}

#[test]
fn detects_every_accepted_encoding() {
    let cases: [(&[u8], EvidenceKind); 11] = [
        (COCO_SNP_V0, EvidenceKind::CocoSnp),
        (COCO_SNP_V1, EvidenceKind::CocoSnp),
        (COCO_TDX_V0, EvidenceKind::CocoTdx),
        (COCO_TDX_V1, EvidenceKind::CocoTdx),
        (TDX_HCL, EvidenceKind::HclReport),
        (MILAN_HCL, EvidenceKind::HclReport),
        (KINVOLK_HCL, EvidenceKind::HclReport),
        (SIDECAR_SNP, EvidenceKind::SnpReport),
        (&MILAN_HCL[0x20..0x20 + 1184], EvidenceKind::SnpReport),
        (TDX_QUOTE, EvidenceKind::TdQuote),
        (CVMTOOLS_TD_QUOTE, EvidenceKind::TdQuote),
    ];
    for (bytes, kind) in cases {
        assert_eq!(bundle::detect(bytes), kind);
    }
}

#[test]
fn unknown_evidence_says_what_is_accepted() {
    for (bytes, seen) in [
        (&b"hello"[..], "5 bytes that are neither JSON nor a known binary encoding"),
        (b"[]", "JSON that is an array, not an object"),
        (b"null", "JSON that is null, not an object"),
        (b"\xEF\xBB\xBF{\"format\": \"cvm-attest-evidence\"}", "a UTF-8 byte-order mark"),
        (TPM_QUOTE_JSON, "a JSON object that is neither"),
        (br#"{"format": "other", "version": 1}"#, "JSON whose \"format\" is \"other\""),
        (b"{ not json", "JSON that does not parse"),
        (&SIDECAR_SNP[..1000], "1000 bytes"),
    ] {
        match bundle::detect(bytes) {
            EvidenceKind::Unknown { reason } => {
                assert!(reason.contains(seen), "{reason}");
                assert!(reason.contains("accepted: a cvm-attest evidence bundle"), "{reason}");
                assert!(reason.contains("TD quote (version 4 or 5, TEE type 0x81)"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (
        1970u32..2200,
        1u32..=12,
        1u32..=28,
        0u32..24,
        0u32..60,
        0u32..60,
        prop::option::of(0u32..1_000_000),
        any::<bool>(),
    )
        .prop_map(|(y, mo, d, h, mi, s, frac, utc)| {
            let frac = frac.map(|f| format!(".{f:06}")).unwrap_or_default();
            let zone = if utc { "Z".to_owned() } else { format!("+{:02}:{:02}", h % 15, mi) };
            Timestamp::parse(&format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{zone}"))
                .expect("valid timestamp")
        })
}

fn pem_chain() -> impl Strategy<Value = String> {
    use base64::Engine;
    prop::collection::vec(bytes(200), 1..4).prop_map(|certs| {
        certs
            .iter()
            .map(|der| {
                let body = base64::engine::general_purpose::STANDARD.encode(der);
                format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
            })
            .collect()
    })
}

fn pcrs() -> impl Strategy<Value = Pcrs> {
    prop::collection::btree_map(0u8..=23, prop::collection::vec(any::<u8>(), 32), 0..24)
        .prop_map(|values: BTreeMap<u8, Vec<u8>>| Pcrs::new(PcrBank::Sha256, values).expect("valid PCRs"))
}

fn tpm() -> impl Strategy<Value = TpmEvidence> {
    (
        bytes(300),
        prop::option::of(bytes(300)),
        bytes(200),
        bytes(300),
        pcrs(),
        prop::option::of((bytes(300), bytes(200), bytes(300))),
    )
        .prop_map(|(ak_public, ak_cert, quote, quote_signature, pcrs, ephemeral)| TpmEvidence {
            ak_public,
            ak_cert,
            quote,
            quote_signature,
            pcrs,
            ephemeral_key: ephemeral.map(|(public, certify_info, certify_signature)| EphemeralKey {
                public,
                certify_info,
                certify_signature,
            }),
        })
}

fn bundles() -> impl Strategy<Value = EvidenceBundle> {
    let platform =
        prop::sample::select(vec![Platform::AzureSevSnp, Platform::AzureTdx, Platform::AzureTrustedLaunch]);
    let os = prop::option::of((".*", ".*", any::<u32>(), any::<u32>()).prop_map(
        |(os_type, distro, major, minor)| OsInfo {
            os_type,
            distro,
            version_major: major,
            version_minor: minor,
        },
    ));
    (
        platform,
        timestamp(),
        prop::option::of(bytes(100)),
        bytes(3000),
        prop::option::of(pem_chain()),
        prop::option::of(bytes(600)),
        prop::option::of(tpm()),
        prop::option::of(bytes(600)),
        os,
        prop::collection::btree_map(
            prop::sample::select(&cvm_attest_formats::appraise::collateral::NAMES[..])
                .prop_map(str::to_owned),
            bytes(300),
            0..3,
        ),
    )
        .prop_map(
            |(
                platform,
                collected_at,
                nonce,
                hcl_report,
                vcek_chain,
                td_quote,
                tpm,
                event_log,
                os,
                collateral,
            )| {
                EvidenceBundle {
                    platform,
                    collected_at,
                    nonce,
                    hcl_report,
                    vcek_chain,
                    td_quote,
                    tpm,
                    event_log,
                    os,
                    collateral,
                }
            },
        )
}

proptest! {
    #[test]
    fn to_json_then_from_json_is_identity(bundle in bundles()) {
        let text = bundle.to_json();
        let back = EvidenceBundle::from_json(text.as_bytes()).unwrap();
        prop_assert_eq!(&back, &bundle);
        prop_assert_eq!(back.to_json(), text);
    }

    #[test]
    fn random_bytes_never_panic(bytes in bytes(4000)) {
        let _ = EvidenceBundle::from_json(&bytes);
        let _ = EvidenceBundle::from_coco_json(&bytes, at());
        let _ = bundle::detect(&bytes);
    }

    #[test]
    fn mutated_json_never_panics(
        source in prop::sample::select(vec![COCO_SNP_V1, COCO_TDX_V1, COCO_SNP_V0]),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let bundle_json = EvidenceBundle::from_coco_json(source, at()).unwrap().to_json().into_bytes();
        for original in [source.to_vec(), bundle_json] {
            let mut mutated = original;
            for (at, value) in &edits {
                let i = at.index(mutated.len());
                mutated[i] = *value;
            }
            for input in [&mutated[..], &mutated[..cut.index(mutated.len())]] {
                let _ = EvidenceBundle::from_json(input);
                let _ = EvidenceBundle::from_coco_json(input, at());
                let _ = bundle::detect(input);
            }
        }
    }

    #[test]
    fn short_binary_prefixes_never_panic(prefix in bytes(16), len in 0usize..1300) {
        let mut input = prefix;
        input.resize(len.max(input.len()), 0);
        let _ = bundle::detect(&input);
    }
}
