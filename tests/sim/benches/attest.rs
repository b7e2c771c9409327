//! One attestation against the simulated SEV-SNP CVM, phase by phase, so that the host's own time is
//! seen apart from the TPM's and the network's: what `cvm-attest attest` does, with the library calls
//! it makes (`host/src/cli/attest/`).
//!
//! * `tpm+imds: collect` — evidence collection: user data, HCL report, quote, ephemeral key (swtpm
//!   behind the paravisor proxy) and THIM (loopback IMDS);
//! * `host: request` — the AzureGuest document from the bundle;
//! * `maa: round trip` — HTTPS to the simulated MAA, which appraises and seals its answer;
//! * `tpm: unwrap` — the inner key, through the PCR-bound ephemeral key;
//! * `host: open + verify` — AES-GCM, then the token's checks with the instance's keys cached.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use cvm_attest::evidence::collect::{self, Request};
use cvm_attest::evidence::imds::{Imds, Retry};
use cvm_attest::evidence::vtpm::Vtpm;
use cvm_attest::maa::client::{Client, ClientOptions};
use cvm_attest::maa::endpoint::Endpoint;
use cvm_attest::maa::envelope::Envelope;
use cvm_attest::maa::{Api, request};
use cvm_attest::token::{Expected, HttpOptions, Issuer, KeySource, Verifier};
use cvm_attest_sim::cvm::Tee;
use cvm_attest_sim::environment::{Environment, EnvironmentOptions};

fn bench(c: &mut Criterion) {
    let environment = Environment::start(EnvironmentOptions {
        tee: Tee::Snp,
        dir: None,
        location: None,
        secure_boot_off: false,
    })
    .expect("simulator");
    let variables: std::collections::HashMap<_, _> = environment.variables().into_iter().collect();
    let ca_file = std::path::PathBuf::from(&variables["CVM_ATTEST_CA_FILE"]);
    let imds = Imds::new(&environment.imds().url(), Retry::default()).expect("IMDS");
    let mut vtpm = Vtpm::open(&environment.cvm().tcti()).expect("vTPM");
    let nonce = b"bench-nonce".to_vec();
    let collect_request = Request {
        nonce: Some(nonce.clone()),
        pcrs: (0..8).collect(),
        event_log: environment.dir().join("no-event-log"),
        os_release: collect::OS_RELEASE_PATH.into(),
    };
    let endpoint = Endpoint::parse(environment.maa().base_url()).expect("endpoint");
    let timeout = Duration::from_secs(30);
    let client =
        Client::new(ClientOptions { timeout, ca_file: Some(ca_file.clone()), retry: Default::default() })
            .expect("client");
    let roots = std::fs::read(&ca_file).expect("CA");
    let verifier = Verifier::new(KeySource::Discover, &HttpOptions { timeout, extra_roots_pem: Some(roots) })
        .expect("verifier");
    let expected = Expected {
        nonce: Some(nonce.clone()),
        ..Expected::new(Issuer::of_endpoint(&endpoint).expect("issuer"))
    };

    // One attestation first: its parts are what the phases below repeat.
    let (bundle, _) = collect::collect(&mut vtpm, &imds, &collect_request).expect("collected");
    let body = request::body(Api::AzureGuest, &bundle, None).expect("request");
    let answer = client.attest(&endpoint, Api::AzureGuest, &body).expect("MAA answered");
    let envelope = Envelope::parse(&answer).expect("envelope");
    let tpm = bundle.tpm.as_ref().expect("vTPM evidence");
    let pcrs: Vec<(u8, Vec<u8>)> = tpm.pcrs.values().iter().map(|(i, v)| (*i, v.clone())).collect();
    let inner = vtpm.decrypt_with_ephemeral_key(&pcrs, envelope.encrypted_inner_key()).expect("unwrapped");
    let token = envelope.open(&inner).expect("opened");
    verifier.verify(&token, &expected).expect("the token verifies (and its keys are now cached)");

    let mut group = c.benchmark_group("attest");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("tpm+imds: collect", |b| {
        b.iter(|| collect::collect(&mut vtpm, &imds, black_box(&collect_request)).expect("collected"))
    });
    group.bench_function("host: request", |b| {
        b.iter(|| request::body(Api::AzureGuest, black_box(&bundle), None).expect("request"))
    });
    group.bench_function("maa: round trip", |b| {
        b.iter(|| client.attest(&endpoint, Api::AzureGuest, black_box(&body)).expect("answer"))
    });
    group.bench_function("tpm: unwrap", |b| {
        b.iter(|| vtpm.decrypt_with_ephemeral_key(&pcrs, envelope.encrypted_inner_key()).expect("unwrapped"))
    });
    group.bench_function("host: open + verify", |b| {
        b.iter(|| {
            let envelope = Envelope::parse(black_box(&answer)).expect("envelope");
            let token = envelope.open(&inner).expect("opened");
            verifier.verify(&token, &expected).expect("verifies")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
