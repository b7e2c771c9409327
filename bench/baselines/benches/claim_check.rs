//! The claim check of `host/benches/plugins.rs` ("claim-check (8 rules, real MAA claims)") done by
//! regorus, the Rego engine Trustee's policy engine uses: the eight rules of
//! `examples/checks/azure-cvm-baseline.json` written as `bench/azure-cvm-baseline.rego`, on the same
//! claims (the payload of the real sharedweu MAA token, decoded as `host/tests/all/support.rs` does).
//!
//! - "regorus: new engine per request": what Trustee does for every evaluation
//!   (`deps/policy-engine/src/policy/rego.rs`): `Engine::new`, `add_policy`, `set_input_json`,
//!   `eval_rule`. (Trustee also parses and adds a reference-data document; there is none here.)
//! - "regorus: prepared engine, cloned per request": the policy parsed and analysed once, then a
//!   clone of that engine per request with its own input (regorus's documented way to reuse one).
//! - "regorus: compiled policy": `compile_with_entrypoint` once, `eval_with_input` per request.
//! - "native": the same eight rules in Rust with serde_json, the very function of
//!   `host/benches/plugins.rs`; run here too so the two criterion runs can be compared.
//!
//! Every case parses the claims JSON per request, as the sandboxed check does. The group has its own
//! name so that, with a shared CARGO_TARGET_DIR, its "native" does not overwrite the main bench's.

use std::hint::black_box;
use std::path::Path;

use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use regorus::{Engine, Value as RegoValue};
use serde_json::Value;

const RULE: &str = "data.cvm.allow";

fn repo(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The claims `support::maa_claims()` gives the main bench: the token's payload, base64url-decoded.
fn maa_claims() -> String {
    let token = repo("formats/testdata/maa/cvm-clientlibtests-sharedweu-azurevm-sevsnpvm-2023-03-30.jwt");
    let payload = token.trim().split('.').nth(1).expect("JWS has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url payload");
    let claims = String::from_utf8(bytes).expect("UTF-8 claims");
    // examples/claims/ holds the same bytes plus a newline.
    assert_eq!(claims, repo("examples/claims/sharedweu-sevsnp-2023-03-30.json").trim_end());
    claims
}

/// Copied from host/benches/plugins.rs.
fn native_claim_equals(config: &str, claims: &str) -> bool {
    let Ok(Value::Object(rules)) = serde_json::from_str::<Value>(config) else { return false };
    let Ok(claims) = serde_json::from_str::<Value>(claims) else { return false };
    rules.iter().all(|(path, expected)| claims.pointer(path) == Some(expected))
}

/// What Trustee does per evaluation.
fn rego_new_engine(policy: &str, claims: &str) -> RegoValue {
    let mut engine = Engine::new();
    engine.add_policy("azure-cvm-baseline.rego".to_string(), policy.to_string()).expect("policy parses");
    engine.set_input_json(claims).expect("claims are JSON");
    engine.eval_rule(RULE.to_string()).expect("evaluates")
}

fn rego_prepared(prepared: &Engine, claims: &str) -> RegoValue {
    let mut engine = prepared.clone();
    engine.set_input_json(claims).expect("claims are JSON");
    engine.eval_rule(RULE.to_string()).expect("evaluates")
}

/// The policy is a working one: true on the real claims, false when any one of the eight claims
/// differs or is missing — and native agrees on every case.
fn check_policy(policy: &str, config: &str, claims: &str) {
    let verdict = |claims: &str| {
        let rego = rego_new_engine(policy, claims);
        assert_eq!(native_claim_equals(config, claims), rego == RegoValue::from(true), "on {claims}");
        rego
    };
    assert_eq!(verdict(claims), RegoValue::from(true), "the real claims pass the Rego policy");
    let Value::Object(rules) = serde_json::from_str(config).expect("config") else { panic!("config") };
    assert_eq!(rules.len(), 8);
    for pointer in rules.keys() {
        for change in [Some(Value::from("changed")), None] {
            let mut changed: Value = serde_json::from_str(claims).expect("claims");
            let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
            let object = changed.pointer_mut(parent).and_then(Value::as_object_mut).expect("parent");
            match &change {
                Some(value) => object.insert(key.to_string(), value.clone()),
                None => object.remove(key),
            };
            let changed = changed.to_string();
            assert_eq!(verdict(&changed), RegoValue::from(false), "{pointer} changed to {change:?}");
        }
    }
}

fn bench(c: &mut Criterion) {
    let policy = repo("bench/azure-cvm-baseline.rego");
    let config = repo("examples/checks/azure-cvm-baseline.json");
    let claims = maa_claims();
    check_policy(&policy, &config, &claims);

    let mut prepared = Engine::new();
    prepared.add_policy("azure-cvm-baseline.rego".to_string(), policy.clone()).expect("policy parses");
    prepared.set_input_json(&claims).expect("claims are JSON");
    assert_eq!(prepared.eval_rule(RULE.to_string()).expect("evaluates"), RegoValue::from(true));
    let compiled = prepared.compile_with_entrypoint(&RULE.into()).expect("compiles");
    let changed = claims.replace(r#""secureboot":true"#, r#""secureboot":false"#);
    assert_ne!(changed, claims);
    for (input, expected) in [(&claims, true), (&changed, false)] {
        assert_eq!(rego_prepared(&prepared, input), RegoValue::from(expected));
        let input = RegoValue::from_json_str(input).expect("claims are JSON");
        assert_eq!(compiled.eval_with_input(input).expect("evaluates"), RegoValue::from(expected));
    }

    let mut group = c.benchmark_group("claim-check in Rego (8 rules, real MAA claims)");
    group.bench_function("regorus: new engine per request", |b| {
        b.iter(|| rego_new_engine(black_box(&policy), black_box(&claims)))
    });
    group.bench_function("regorus: prepared engine, cloned per request", |b| {
        b.iter(|| rego_prepared(black_box(&prepared), black_box(&claims)))
    });
    group.bench_function("regorus: compiled policy", |b| {
        b.iter(|| {
            let input = RegoValue::from_json_str(black_box(&claims)).expect("claims are JSON");
            compiled.eval_with_input(input).expect("evaluates")
        })
    });
    group
        .bench_function("native", |b| b.iter(|| native_claim_equals(black_box(&config), black_box(&claims))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
