//! What is pinned decides what runs: the component, its manifest, and the compiled code cached for
//! them; and a manifest cannot give its own plugin more than the host's defaults.

use std::time::Duration;

use cvm_attest::plugins::{self, Error, Origin, Policy, Runtime, types};

use crate::support::{self, PluginDir, ctx};

/// Both pins of an installed plugin, as `cvm-attest plugin pin` prints them.
fn pins_of(located: &plugins::Located) -> Policy {
    let digests = plugins::digests(located).expect("digests");
    Policy { sha256: Some(digests.component), manifest_sha256: Some(digests.manifest), ..Policy::default() }
}

#[test]
fn editing_a_pinned_plugins_manifest_is_refused() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let located = dir.install("claim-equals");
    let pinned = pins_of(&located);
    runtime.load(&located, &pinned, true).expect("pinned plugin loads");

    // Only the manifest changes: a default configuration that makes every check pass.
    let manifest = std::fs::read_to_string(&located.manifest_path).expect("manifest");
    let edited = format!("{manifest}default_config = \"{{}}\"\n");
    let located = dir.install_as("claim-equals", "claim-equals", &edited);
    let err = runtime.load(&located, &pinned, true).unwrap_err();
    let Error::DigestMismatch { file, key, .. } = &err else {
        panic!("expected a digest mismatch, got {err}")
    };
    assert_eq!((*file, *key), ("manifest", "manifest_sha256"));
    assert!(err.to_string().contains("manifest_sha256"), "{err}");
    // Unpinned but required: refused too, and told both digests to pin.
    let component_only = Policy { manifest_sha256: None, ..pinned.clone() };
    let err = runtime.load(&located, &component_only, true).unwrap_err();
    let Error::Unpinned { actual, manifest_actual, .. } = &err else {
        panic!("expected unpinned, got {err}")
    };
    assert!(err.to_string().contains(actual.as_str()) && err.to_string().contains(manifest_actual.as_str()));
    assert_eq!(manifest_actual, &plugins::digests(&located).expect("digests").manifest);
}

#[test]
fn a_manifest_that_changes_between_discovery_and_load_is_refused() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let located = dir.install("claim-equals");
    let manifest = std::fs::read_to_string(&located.manifest_path).expect("manifest");
    std::fs::write(&located.manifest_path, format!("{manifest}default_config = \"{{}}\"\n")).expect("write");
    let err = support::load(&runtime, &located).unwrap_err();
    assert!(matches!(err, Error::MalformedManifest { .. }), "{err}");
}

#[test]
fn a_manifest_may_lower_its_limits_but_only_the_operator_may_raise_them() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let manifest = std::fs::read_to_string(support::manifest_of("claim-equals")).expect("manifest");
    let greedy = format!("{manifest}\n[limits]\ntimeout_ms = 120000\nmemory_mib = 4096\n");
    let located = dir.install_as("claim-equals", "claim-equals", &greedy);
    let plugin = support::load(&runtime, &located).expect("loads");
    assert_eq!((plugin.limits().timeout, plugin.limits().memory_mib), (Duration::from_secs(1), 64));

    let modest = format!("{manifest}\n[limits]\ntimeout_ms = 200\nmemory_mib = 32\n");
    let located = dir.install_as("claim-equals", "claim-equals", &modest);
    let plugin = support::load(&runtime, &located).expect("loads");
    assert_eq!((plugin.limits().timeout, plugin.limits().memory_mib), (Duration::from_millis(200), 32));

    let operator = Policy { timeout_ms: Some(5000), memory_mib: Some(256), ..Policy::default() };
    let plugin = runtime.load(&located, &operator, false).expect("loads");
    assert_eq!((plugin.limits().timeout, plugin.limits().memory_mib), (Duration::from_secs(5), 256));
}

#[test]
fn a_swapped_cache_entry_is_a_miss_not_the_other_plugins_code() {
    let cache = tempfile::tempdir().expect("tempdir");
    let cache_dir = cache.path().join("cvm-attest");
    let dir = PluginDir::new();
    let good = dir.install("claim-equals");
    let other = dir.install("rejects-config");
    let runtime = Runtime::new(Some(cache_dir.clone())).expect("runtime");
    let good_digest = support::load(&runtime, &good).expect("loads").inspection().digest.clone();
    let other_digest = support::load(&runtime, &other).expect("loads").inspection().digest.clone();
    let entry_of = |digest: &str| {
        std::fs::read_dir(&cache_dir)
            .expect("cache dir")
            .map(|e| e.expect("entry").path())
            .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(digest)))
            .expect("an entry for the digest")
    };
    // The other plugin's compiled code, under the good plugin's entry name.
    std::fs::copy(entry_of(&other_digest), entry_of(&good_digest)).expect("swap");

    let runtime = Runtime::new(Some(cache_dir.clone())).expect("runtime");
    let plugin = runtime.load(&good, &pins_of(&good), true).expect("loads");
    assert_eq!(plugin.inspection().origin, Origin::Compiled, "the swapped entry is not used");
    let verdict =
        plugin.check(&ctx(&support::baseline_config()), &support::maa_claims()).expect("its own code runs");
    assert_eq!(verdict, types::Verdict::Pass);
    let runtime = Runtime::new(Some(cache_dir)).expect("runtime");
    assert_eq!(
        support::load(&runtime, &good).expect("loads").inspection().origin,
        Origin::Cached,
        "rewritten"
    );
}
