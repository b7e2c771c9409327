//! Strict JSON: repeated object keys are refused at every depth of every JSON input, where
//! serde_json alone keeps the last one.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cvm_attest_formats::bundle::{self, Error as BundleError, EvidenceBundle, EvidenceKind, Timestamp};
use cvm_attest_formats::hcl::RuntimeClaims;
use cvm_attest_formats::json::{self, Error};
use cvm_attest_formats::thim::{self, ThimCertification};
use cvm_attest_formats::tpm::CocoQuote;
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::Value;

const COCO_SNP_V1: &[u8] = include_bytes!("../../testdata/azure-snp/trustee-evidence-v1.json");
const COCO_TDX_V0: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-evidence-tdx-v0.json");
const THIM: &[u8] = include_bytes!("../../testdata/thim/sidecar-uvm_host_amd_certificate.json");
const QUOTE_HEX_JSON: &str = include_str!("../../testdata/tpm/trustee-snp-tpm-quote-v1.json");

fn at() -> Timestamp {
    Timestamp::parse("2026-11-27T21:31:00Z").expect("a valid timestamp")
}

/// The duplicate's key and JSON Pointer.
fn duplicate(err: &Error) -> (&str, &str) {
    match err {
        Error::DuplicateKey { key, pointer, .. } => (key, pointer),
        other => panic!("not a duplicate key: {other:?}"),
    }
}

fn bundle_duplicate(err: BundleError) -> (String, String) {
    match err {
        BundleError::Json { source, .. } => {
            let (key, pointer) = duplicate(&source);
            (key.to_owned(), pointer.to_owned())
        }
        other => panic!("{other:?}"),
    }
}

/// The genuine evidence as a bundle, pretty-printed (one key per line).
fn genuine_bundle() -> String {
    EvidenceBundle::from_coco_json(COCO_SNP_V1, at()).expect("CoCo evidence").to_json()
}

#[test]
fn a_repeated_top_level_key_is_refused_with_its_position() {
    let err = json::value_from_slice(br#"{"a": 1, "b": 2, "a": 3}"#).unwrap_err();
    assert_eq!(duplicate(&err), ("a", "/a"));
    assert_eq!((err.line(), err.column()), (1, 20));
    assert_eq!(
        err.to_string(),
        "duplicate key \"a\" at /a (line 1, column 20): a JSON object may not repeat a key"
    );

    let text = genuine_bundle().replacen("\"nonce\": null,", "\"nonce\": null,\n  \"nonce\": \"AAAA\",", 1);
    assert_eq!(
        bundle_duplicate(EvidenceBundle::from_json(text.as_bytes()).unwrap_err()),
        ("nonce".into(), "/nonce".into())
    );
}

/// Before, `"7": bogus, "7": genuine` in `tpm.pcrs` read as the genuine value, and the bundle
/// verified whatever the first value said.
#[test]
fn a_repeated_pcr_in_tpm_pcrs_is_refused() {
    let genuine = genuine_bundle();
    let line =
        genuine.lines().find(|line| line.trim_start().starts_with("\"7\": ")).expect("PCR 7").to_owned();
    let bogus = format!("      \"7\": \"{}\",", "00".repeat(32));
    let text = genuine.replacen(&line, &format!("{bogus}\n{line}"), 1);
    assert_ne!(text, genuine);
    // serde_json alone takes the genuine, last value.
    let lenient: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        lenient["tpm"]["pcrs"]["7"],
        serde_json::from_str::<Value>(&genuine).unwrap()["tpm"]["pcrs"]["7"]
    );

    let err = EvidenceBundle::from_json(text.as_bytes()).unwrap_err();
    assert!(
        err.to_string().starts_with("evidence bundle: duplicate key \"7\" at /tpm/pcrs/7 (line "),
        "{err}"
    );
    assert_eq!(bundle_duplicate(err), ("7".into(), "/tpm/pcrs/7".into()));
    // `evidence show` and `verify` first tell the encoding apart: the duplicate is named there too.
    match bundle::detect(text.as_bytes()) {
        EvidenceKind::Unknown { reason } => {
            assert!(reason.contains("duplicate key \"7\" at /tpm/pcrs/7"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn two_hundred_thousand_repeated_keys_are_refused_at_the_first_repeat() {
    let mut text =
        String::from("{\"format\": \"cvm-attest-evidence\", \"version\": 1, \"tpm\": {\"pcrs\": {");
    let member = format!("\"7\": \"{}\"", "00".repeat(32));
    text.push_str(&vec![member; 200_000].join(", "));
    text.push_str("}}}");
    let started = Instant::now();
    let err = EvidenceBundle::from_json(text.as_bytes()).unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(bundle_duplicate(err), ("7".into(), "/tpm/pcrs/7".into()));
    // It stops at the second member, 14 MB before the end: bounded by where the repeat is.
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    let err = json::value_from_slice(text.as_bytes()).unwrap_err();
    let second = text.match_indices("\"7\"").nth(1).expect("a second member").0;
    assert_eq!((err.line(), err.column()), (1, second + 3));
}

#[test]
fn repeats_are_found_at_every_depth_and_named_by_json_pointer() {
    for (text, key, pointer) in [
        (r#"{"x": [{}, {"k": 1, "k": 2}]}"#, "k", "/x/1/k"),
        (r#"[[1], [{"a": {"b": {"c": 0, "c": 0}}}]]"#, "c", "/1/0/a/b/c"),
        (r#"{"a/b~c": {"d": 1, "d": 1}}"#, "d", "/a~1b~0c/d"),
        // serde_json unescapes keys: these are one key.
        (r#"{"a": 1, "\u0061": 2}"#, "a", "/a"),
        (r#"{"": 1, "": 2}"#, "", "/"),
    ] {
        let err = json::value_from_slice(text.as_bytes()).unwrap_err();
        assert_eq!(duplicate(&err), (key, pointer), "{text}");
    }
    // The same key in different objects, or as a value, is not a repeat.
    let ok = r#"{"a": {"a": "a"}, "b": [{"a": 1}, {"a": 2}]}"#;
    assert_eq!(json::value_from_slice(ok.as_bytes()).unwrap(), serde_json::from_str::<Value>(ok).unwrap());
}

#[derive(Debug, Deserialize, PartialEq)]
struct Known {
    a: u8,
}

#[test]
fn typed_parses_refuse_repeats_in_fields_they_ignore() {
    assert_eq!(json::from_str::<Known>(r#"{"a": 1, "other": 2}"#).unwrap(), Known { a: 1 });
    let err = json::from_str::<Known>(r#"{"a": 1, "other": 2, "other": 3}"#).unwrap_err();
    assert_eq!(duplicate(&err), ("other", "/other"));
    assert!(matches!(json::from_str::<Known>(r#"{"a": 300}"#), Err(Error::Json(_))));
    assert!(matches!(json::from_str::<Known>(r#"{"a": 1} trailing"#), Err(Error::Json(_))));
}

#[test]
fn nesting_is_bounded_without_overflowing_the_stack() {
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(json::value_from_slice(nested(100).as_bytes()).is_ok());
    for depth in [129, 100_000] {
        let err = json::value_from_slice(nested(depth).as_bytes()).unwrap_err();
        assert!(err.to_string().contains("recursion limit exceeded"), "{err}");
    }
}

#[test]
fn coco_evidence_refuses_repeated_keys() {
    let text = std::str::from_utf8(COCO_SNP_V1).unwrap();
    let edited = text.replacen("\"signature\":", "\"signature\": \"00\", \"signature\":", 1);
    assert_ne!(edited, text);
    let err = EvidenceBundle::from_coco_json(edited.as_bytes(), at()).unwrap_err();
    assert_eq!(bundle_duplicate(err), ("signature".into(), "/tpm_quote/signature".into()));

    let text = std::str::from_utf8(COCO_TDX_V0).unwrap();
    let edited = text.replacen("{", "{\"td_quote\": [], ", 1);
    let err = EvidenceBundle::from_coco_json(edited.as_bytes(), at()).unwrap_err();
    assert_eq!(bundle_duplicate(err), ("td_quote".into(), "/td_quote".into()));
}

/// The runtime claims are bound as bytes, but read as JSON: a repeated key could read one way here
/// and another in the next parser.
#[test]
fn runtime_claims_refuse_repeated_keys() {
    let claims = r#"{"keys": [], "vm-configuration": {"secure-boot": false, "secure-boot": true,
        "tpm-enabled": true, "vmUniqueId": "00000000-0000-0000-0000-000000000000"}}"#;
    let err = RuntimeClaims::parse(claims.as_bytes()).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("duplicate key \"secure-boot\" at /vm-configuration/secure-boot"), "{message}");
    assert!(RuntimeClaims::parse(claims.replacen("\"secure-boot\": false, ", "", 1).as_bytes()).is_ok());
}

#[test]
fn thim_documents_and_hex_quotes_refuse_repeated_keys() {
    let text = std::str::from_utf8(THIM).unwrap();
    let edited = text.replacen("{", "{\"tcbm\": \"0000000000000000\", ", 1);
    match ThimCertification::parse(edited.as_bytes()) {
        Err(thim::Error::Json(err)) => assert_eq!(duplicate(&err), ("tcbm", "/tcbm")),
        other => panic!("{other:?}"),
    }
    assert!(ThimCertification::parse(THIM).is_ok());

    let edited = QUOTE_HEX_JSON.replacen("{", "{\"message\": \"00\", ", 1);
    let err = CocoQuote::parse_hex_json(&edited).unwrap_err();
    assert!(err.to_string().contains("duplicate key \"message\" at /message"), "{err}");
    assert!(CocoQuote::parse_hex_json(QUOTE_HEX_JSON).is_ok());
}

/// Any JSON value without repeated keys (serde_json's own maps cannot hold any).
fn values() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..8)
                .prop_map(|map: BTreeMap<String, Value>| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn agrees_with_serde_json_without_repeated_keys(value in values(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&value) } else { serde_json::to_string(&value) }.unwrap();
        let ours = json::value_from_slice(text.as_bytes()).unwrap();
        // Compared with serde_json's reading, not `value`: floats need not round-trip exactly.
        prop_assert_eq!(ours, serde_json::from_str::<Value>(&text).unwrap());
    }

    /// On any bytes: never a panic; where serde_json refuses, so does this; where this accepts,
    /// the value is serde_json's; and it refuses what serde_json accepts only for a repeated key.
    #[test]
    fn never_panics_and_refuses_only_what_serde_json_refuses_or_repeats(
        value in values(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(b"{}[],:\"a1 ".to_vec())), 0..4),
        noise in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = serde_json::to_vec(&value).unwrap();
        for (at, byte) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *byte;
        }
        for input in [&bytes[..], &noise[..]] {
            let theirs = serde_json::from_slice::<Value>(input);
            match (json::value_from_slice(input), theirs) {
                (Ok(ours), Ok(theirs)) => prop_assert_eq!(ours, theirs),
                // A repeat before a syntax error is reported as the repeat.
                (Err(Error::DuplicateKey { .. }), _) | (Err(Error::Json(_)), Err(_)) => {}
                (ours, theirs) => prop_assert!(false, "{:?} vs serde_json's {:?}", ours, theirs),
            }
        }
    }
}
