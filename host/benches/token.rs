//! Token verification as a relying party does it, with the instance's key set already in hand (a
//! cached JWKS): a real MAA TdxVm token of the shared West US instance with its published `/certs`.
//! Each iteration parses the token and checks header, issuer, RS256 signature and lifetime.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use cvm_attest::token::{Expected, HttpOptions, Issuer, KeySet, KeySource, Verifier};

const TOKEN: &str = include_str!("../../formats/testdata/maa/sharedwus-tdxvm-token-2026-10-08.jwt");
const JWKS: &[u8] = include_bytes!("../testdata/token/sharedwus-certs-2022-05-31.json");

fn bench(c: &mut Criterion) {
    let keys = KeySet::parse(JWKS).expect("the instance's JWKS");
    let source = KeySource::Static { keys, origin: "sharedwus /certs".to_owned() };
    let verifier = Verifier::new(source, &HttpOptions::default()).expect("verifier");
    let issuer = Issuer::parse("https://sharedwus.wus.attest.azure.net").expect("issuer");
    let token = TOKEN.trim();
    let payload = token.split('.').nth(1).expect("payload");
    let iat = serde_json::from_slice::<serde_json::Value>(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .expect("base64url"),
    )
    .expect("JSON")["iat"]
        .as_i64()
        .expect("iat");
    let expected = Expected { at: Some(iat + 60), ..Expected::new(issuer) };
    verifier.verify(token, &expected).expect("the real token verifies as of its day");

    let mut group = c.benchmark_group("token");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify-cached-jwks", |b| {
        b.iter(|| verifier.verify(black_box(token), black_box(&expected)).expect("verifies"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
