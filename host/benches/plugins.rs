//! Plugin runtime costs: cold load (compile), warm load (compiled-code cache), and a claim check
//! on a real MAA claim set, in the sandbox and natively; and one claim check (secure boot) written in
//! Rust and in Python (componentize-py).

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use cvm_attest::plugins::{Located, Origin, Policy, Runtime};
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

    // The README's secure-boot check, and the same check in Python (plugins/python/secure-boot),
    // both loaded through the compiled-code cache.
    let rust = dir.install("secure-boot");
    cached.load(&rust, &policy, false).expect("fills the cache");
    let python = python_secure_boot(&dir, &cached);
    let mut group = c.benchmark_group("load from the cache (secure boot)");
    group.sample_size(20);
    group.bench_function("Rust", |b| b.iter(|| cached.load(&rust, &policy, false).expect("loads")));
    if let Some(python) = &python {
        group.bench_function("Python", |b| b.iter(|| cached.load(python, &policy, false).expect("loads")));
    }
    group.finish();

    let mut group = c.benchmark_group("claim-check (secure boot, real MAA claims)");
    let no_config = support::ctx("");
    let rust = cached.load(&rust, &policy, false).expect("loads");
    group.bench_function("wasm, Rust: instantiate + check", |b| {
        b.iter(|| rust.check(black_box(&no_config), black_box(&claims)))
    });
    if let Some(python) = &python {
        let python = cached.load(python, &policy, false).expect("loads");
        group.bench_function("wasm, Python: instantiate + check", |b| {
            b.iter(|| python.check(black_box(&no_config), black_box(&claims)))
        });
    }
    group.finish();
}

/// The Python secure-boot check, built, installed in `dir` and compiled into `runtime`'s cache;
/// `None`, with the reason printed, when it cannot be built or loaded. A bench does not fail for it.
fn python_secure_boot(dir: &PluginDir, runtime: &Runtime) -> Option<Located> {
    let built = match support::python_plugin_dir() {
        Ok(built) => built,
        Err(why) => {
            println!("py-secure-boot: skipped: {why}");
            return None;
        }
    };
    for file in ["py-secure-boot.wasm", "py-secure-boot.toml"] {
        std::fs::copy(built.join(file), dir.path().join(file)).expect("install py-secure-boot");
    }
    let located = Located::from_wasm(&dir.path().join("py-secure-boot.wasm")).expect("manifest loads");
    let size = std::fs::metadata(&located.wasm_path).map(|m| m.len()).unwrap_or(0);
    let started = Instant::now();
    match runtime.load(&located, &Policy::default(), false) {
        Ok(_) => {
            println!("py-secure-boot: {size} bytes, compiled in {:.2?}", started.elapsed());
            Some(located)
        }
        Err(e) => {
            println!("py-secure-boot: skipped: the host refuses it ({size} bytes): {e}");
            None
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
