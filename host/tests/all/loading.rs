//! Load-time checks: pinning, manifests, capabilities, and the compiled-code cache.

use cvm_attest::plugins::{Capability, Error, Located, Origin, Policy, Runtime, types};

use crate::support::{self, PluginDir, ctx};

fn manifest_text(crate_name: &str) -> String {
    std::fs::read_to_string(support::manifest_of(crate_name)).expect("manifest")
}

#[test]
fn pinned_digest_loads_and_unpinned_is_refused_when_pinning_is_required() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    // Not a shipped plugin: plugins/plugins.lock pins those (shipped.rs).
    let located = dir.install("secure-boot");
    let err = runtime.load(&located, &Policy::default(), true).unwrap_err();
    let Error::Unpinned { actual, manifest_actual, .. } = &err else {
        panic!("expected unpinned, got {err}")
    };
    assert!(err.to_string().contains(actual.as_str()), "the message gives the digest to pin: {err}");

    let pinned = Policy {
        sha256: Some(format!("sha256:{}", actual.to_uppercase())),
        manifest_sha256: Some(manifest_actual.clone()),
        ..Policy::default()
    };
    let plugin = runtime.load(&located, &pinned, true).expect("pinned plugin loads");
    assert_eq!(&plugin.inspection().digest, actual);
}

#[test]
fn malformed_manifest_is_refused() {
    let dir = PluginDir::new();
    dir.install("claim-equals");
    let manifest = dir.path().join("claim-equals.toml");
    std::fs::write(&manifest, "name = \"claim-equals\"\nkind = \"policy\"\n").expect("write");
    let err = Located::from_wasm(&dir.path().join("claim-equals.wasm")).unwrap_err();
    assert!(matches!(err, Error::MalformedManifest { .. }), "{err}");
    assert!(err.to_string().contains("policy"), "names the bad value: {err}");
}

#[test]
fn manifest_must_match_what_the_component_says() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let manifest = manifest_text("claim-equals").replace("version = \"0.1.0\"", "version = \"9.9.9\"");
    let err =
        support::load(&runtime, &dir.install_as("claim-equals", "claim-equals", &manifest)).unwrap_err();
    assert!(
        matches!(err, Error::ManifestMismatch { ref expected, .. } if expected.contains("9.9.9")),
        "{err}"
    );
}

#[test]
fn requested_capability_must_be_granted() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let located = dir.install("logs-a-line");
    let nothing = Policy { grant: Some(vec![]), ..Policy::default() };
    let err = runtime.load(&located, &nothing, false).unwrap_err();
    assert!(matches!(err, Error::CapabilityDenied { ref capability, .. } if capability == "log"), "{err}");

    let granted = Policy { grant: Some(vec![Capability::Log]), ..Policy::default() };
    let plugin = runtime.load(&located, &granted, false).expect("granted");
    assert_eq!(plugin.capabilities(), [Capability::Log]);
    assert_eq!(plugin.check(&ctx(""), "{}").expect("runs"), types::Verdict::Pass);
}

/// The offline verifier imports `crypto` (the host's signature verification): granted by default,
/// it can be withheld like any capability, and a manifest that does not declare it is refused.
#[test]
fn crypto_is_a_capability_granted_by_default_and_withheld_on_request() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let manifest =
        std::fs::read_to_string(support::repo_root().join("plugins/offline-verifier/offline.toml"))
            .expect("offline verifier manifest");
    assert!(manifest.contains("capabilities = [\"crypto\"]"), "the offline verifier asks for crypto");
    let located = dir.install_as("offline", "offline", &manifest);
    let plugin = runtime.load(&located, &Policy::default(), false).expect("crypto is granted by default");
    assert_eq!(plugin.capabilities(), [Capability::Crypto]);
    assert!(plugin.inspection().imports.iter().any(|i| i.starts_with("cvm-attest:plugin/crypto@")));

    let log_only = Policy { grant: Some(vec![Capability::Log]), ..Policy::default() };
    let err = runtime.load(&located, &log_only, false).unwrap_err();
    assert!(matches!(err, Error::CapabilityDenied { ref capability, .. } if capability == "crypto"), "{err}");

    let undeclared = manifest.replace("capabilities = [\"crypto\"]", "capabilities = []");
    let err = support::load(&runtime, &dir.install_as("offline", "offline", &undeclared)).unwrap_err();
    assert!(
        matches!(err, Error::UndeclaredCapability { ref import, ref capability, .. }
            if import.contains("/crypto@") && capability == "crypto"),
        "{err}"
    );
}

#[test]
fn imports_must_be_declared_in_the_manifest() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let manifest = manifest_text("logs-a-line").replace("capabilities = [\"log\"]", "capabilities = []");
    assert_ne!(manifest, manifest_text("logs-a-line"), "the test manifest requests log");
    let err = support::load(&runtime, &dir.install_as("logs-a-line", "logs-a-line", &manifest)).unwrap_err();
    assert!(
        matches!(err, Error::UndeclaredCapability { ref import, .. } if import.contains("/log@")),
        "{err}"
    );
}

#[test]
fn compiled_code_is_cached_and_a_bad_entry_is_a_miss() {
    let cache = tempfile::tempdir().expect("tempdir");
    let cache_dir = cache.path().join("cvm-attest");
    let dir = PluginDir::new();
    let located = dir.install("claim-equals");
    let origin = |runtime: &Runtime| support::load(runtime, &located).expect("loads").inspection().origin;

    assert_eq!(origin(&Runtime::new(Some(cache_dir.clone())).expect("runtime")), Origin::Compiled);
    assert_eq!(origin(&Runtime::new(Some(cache_dir.clone())).expect("runtime")), Origin::Cached);

    let entries: Vec<_> =
        std::fs::read_dir(&cache_dir).expect("cache dir").map(|e| e.expect("entry").path()).collect();
    assert_eq!(entries.len(), 1, "one entry per digest and engine: {entries:?}");
    std::fs::write(&entries[0], b"not a compiled component").expect("corrupt the entry");
    let runtime = Runtime::new(Some(cache_dir.clone())).expect("runtime");
    assert_eq!(origin(&runtime), Origin::Compiled, "a corrupt entry is recompiled, not an error");
    assert_eq!(origin(&Runtime::new(Some(cache_dir)).expect("runtime")), Origin::Cached, "and rewritten");
}

#[test]
fn test_verifier_returns_its_fixed_claims_and_steps() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin = support::load(&runtime, &dir.install("fixed-claims")).expect("loads");
    let request = types::VerifyRequest {
        evidence: types::Evidence {
            platform: types::Platform::AzureSevSnp,
            collected_at: "2026-11-27T00:00:00Z".into(),
            nonce: Some(b"n0nce".to_vec()),
            hcl_report: vec![],
            vcek_chain: None,
            td_quote: None,
            tpm: None,
            event_log: None,
            os: None,
        },
        expected_nonce: Some(b"other".to_vec()),
        trust_anchors: vec![],
        collateral: vec![],
    };
    let verified = plugin.verify(&ctx(""), &request).expect("verifies");
    assert!(verified.claims.contains("azurevm"), "{}", verified.claims);
    let nonce = verified.steps.iter().find(|s| s.name == "nonce").expect("nonce step");
    assert_eq!(nonce.status, types::StepStatus::Failed, "the evidence carries another nonce");
}

/// The digest of a component is remembered for its identity (device, inode, size, mtime, ctime):
/// one rewritten in place, even to the same size, is hashed again, and refused under the old pin.
#[test]
fn a_component_changed_in_place_is_hashed_again_and_refused_under_its_old_pin() {
    let cache = tempfile::tempdir().expect("tempdir");
    let cache_dir = cache.path().join("cvm-attest");
    let records = cache.path().join("cvm-attest.digests");
    let dir = PluginDir::new();
    let located = dir.install("claim-equals");
    // A digest is remembered only once the file's ctime is a couple of seconds old.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let first =
        support::load(&Runtime::new(Some(cache_dir.clone())).expect("runtime"), &located).expect("loads");
    let old = first.inspection().digest.clone();
    let remembered = std::fs::read_dir(&records).expect("records").count();
    assert!(remembered >= 1, "the component's digest is remembered");
    let pinned = Policy { sha256: Some(old.clone()), ..Policy::default() };
    let runtime = Runtime::new(Some(cache_dir.clone())).expect("runtime");
    let second = runtime.load(&located, &pinned, false).expect("unchanged: loads under its pin");
    assert_eq!((second.inspection().origin, &second.inspection().digest), (Origin::Cached, &old));

    let mut wasm = std::fs::read(&located.wasm_path).expect("component");
    let size = wasm.len();
    *wasm.last_mut().expect("bytes") ^= 1;
    std::fs::write(&located.wasm_path, &wasm).expect("rewrite in place");
    assert_eq!(std::fs::metadata(&located.wasm_path).expect("metadata").len() as usize, size);
    let err = runtime.load(&located, &pinned, false).unwrap_err();
    let Error::DigestMismatch { file, expected, actual, .. } = &err else {
        panic!("expected a digest mismatch, got {err}")
    };
    assert_eq!((*file, expected), ("component", &old));
    assert_ne!(actual, &old);
}
