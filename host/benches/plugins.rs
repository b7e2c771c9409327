//! Plugin runtime costs: cold load (compile), warm load (compiled-code cache), and a claim check
//! on a real MAA claim set, in the sandbox and natively.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use cvm_attest::plugins::{Origin, Policy, Runtime};
use serde_json::Value;

#[allow(dead_code)]
#[path = "../tests/all/support.rs"]
mod support;

use support::{PluginDir, ctx};

/// The same eight-rule check as the claim-equals plugin, written directly in Rust.
fn native_claim_equals(config: &str, claims: &str) -> bool {
    let Ok(Value::Object(rules)) = serde_json::from_str::<Value>(config) else { return false };
    let Ok(claims) = serde_json::from_str::<Value>(claims) else { return false };
    rules.iter().all(|(path, expected)| claims.pointer(path) == Some(expected))
}

fn bench(c: &mut Criterion) {
    let dir = PluginDir::with(&["claim-equals"]);
    let located = dir.install("claim-equals");
    let claims = support::maa_claims();
    let config = support::baseline_config();
    let policy = Policy::default();

    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    let uncached = Runtime::new(None).expect("runtime");
    group.bench_function("cold (compile)", |b| {
        b.iter(|| uncached.load(&located, &policy, false).expect("loads"))
    });
    let cache = tempfile::tempdir().expect("tempdir");
    let cached = Runtime::new(Some(cache.path().join("c"))).expect("runtime");
    cached.load(&located, &policy, false).expect("fills the cache");
    let hit = cached.load(&located, &policy, false).expect("loads");
    assert_eq!(hit.inspection().origin, Origin::Cached);
    group
        .bench_function("warm (cache)", |b| b.iter(|| cached.load(&located, &policy, false).expect("loads")));
    group.finish();

    let plugin = cached.load(&located, &policy, false).expect("loads");
    let ctx = ctx(&config);
    assert!(native_claim_equals(&config, &claims), "the real token passes the baseline");
    let mut group = c.benchmark_group("claim-check (8 rules, real MAA claims)");
    group.bench_function("wasm: instantiate + check", |b| {
        b.iter(|| plugin.check(black_box(&ctx), black_box(&claims)))
    });
    // The floor under any evaluation: a fresh store and instance, and a call that does nothing.
    group.bench_function("wasm: instantiate + describe", |b| b.iter(|| plugin.describe()));
    group
        .bench_function("native", |b| b.iter(|| native_claim_equals(black_box(&config), black_box(&claims))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
