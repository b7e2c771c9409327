//! Full offline verification of real Azure evidence (one SEV-SNP bundle, one TDX bundle): the
//! appraisal compiled natively (with the pure-Rust signature provider, then with AWS-LC as the host
//! installs it), the same appraisal inside the sandboxed offline-verifier plugin (whose signatures
//! the host verifies with AWS-LC), and `cvm-attest verify` as a whole process.

use std::hint::black_box;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use cvm_attest::pipeline::evidence as verify;
use cvm_attest::plugins::{Policy, Runtime};
use cvm_attest_formats::appraise::{self, TrustAnchors};
use cvm_attest_formats::bundle::Timestamp;
use cvm_attest_formats::time::DateTime;

#[allow(dead_code)]
#[path = "../tests/all/support.rs"]
mod support;

use support::{PluginDir, ctx, repo_root};

const EVIDENCE: [(&str, &str); 2] = [
    ("sev-snp", "formats/testdata/azure-snp/trustee-evidence-v1.json"),
    ("tdx", "formats/testdata/azure-tdx/trustee-evidence-tdx-v1.json"),
];

fn bench(c: &mut Criterion) {
    let dir = PluginDir::new();
    let manifest =
        std::fs::read_to_string(repo_root().join("plugins/offline-verifier/offline.toml")).expect("manifest");
    let located = dir.install_as("offline", "offline", &manifest);
    let cache = tempfile::tempdir().expect("tempdir");
    let runtime = Runtime::new(Some(cache.path().join("c"))).expect("runtime");
    let plugin = runtime.load(&located, &Policy::default(), false).expect("loads");
    let anchors = TrustAnchors::builtin();
    let config = dir.path().join("config.toml.cfg");
    std::fs::write(&config, format!("cache_dir = {:?}\n", cache.path().join("c").display().to_string()))
        .expect("config");

    let cases: Vec<_> = EVIDENCE
        .iter()
        .map(|&(name, file)| {
            let path = repo_root().join(file);
            let at = Timestamp::parse("2026-11-28T00:00:00Z").expect("timestamp");
            let bundle =
                verify::read_evidence(&std::fs::read(&path).expect("fixture"), at).expect("evidence");
            (name, path, bundle)
        })
        .collect();
    let when = DateTime::parse("2026-12-01T00:00:00Z").expect("timestamp");
    let policy = appraise::Policy {
        expected_nonce: Some(b"challenge"),
        anchors: &anchors,
        collateral: appraise::Collateral::default(),
        at: &when,
    };

    // The signature provider is chosen once per process: pure Rust first, then AWS-LC.
    for (name, _, bundle) in &cases {
        assert!(appraise::appraise(bundle, &policy).claims.is_some(), "{name} verifies");
        c.bench_function(&format!("verify {name}/native (pure-Rust signatures)"), |b| {
            b.iter(|| appraise::appraise(black_box(bundle), black_box(&policy)))
        });
    }
    cvm_attest::crypto::install();

    for (name, path, bundle) in &cases {
        assert!(appraise::appraise(bundle, &policy).claims.is_some(), "{name} verifies");
        let request = verify::request(bundle, Some(b"challenge".to_vec()), Vec::new(), Vec::new());
        let ctx = ctx("");

        let mut group = c.benchmark_group(format!("verify {name}"));
        group.bench_function("native", |b| {
            b.iter(|| appraise::appraise(black_box(bundle), black_box(&policy)))
        });
        group.bench_function("wasm plugin", |b| {
            b.iter(|| plugin.verify(black_box(&ctx), black_box(&request)))
        });
        group.sample_size(20);
        group.bench_function("whole process", |b| {
            b.iter(|| {
                let status = Command::new(env!("CARGO_BIN_EXE_cvm-attest"))
                    .args(["verify", "--nonce", "challenge", "-o", "json", "--plugin-dir"])
                    .arg(dir.path())
                    .arg("--config")
                    .arg(&config)
                    .arg("--evidence")
                    .arg(path)
                    .stdout(std::process::Stdio::null())
                    .status()
                    .expect("runs");
                assert!(status.success());
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
