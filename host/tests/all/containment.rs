//! Hostile plugins, built from source: each is stopped with the right error, and the host then
//! evaluates a good plugin normally on the same runtime.

use cvm_attest::plugins::{Error, Plugin, Policy, Runtime, types};

use crate::support::{self, PluginDir, ctx};

/// A good plugin still works after whatever the hostile one did.
fn good_plugin_still_works(runtime: &Runtime) {
    let dir = PluginDir::with(&["claim-equals"]);
    let plugin = support::load(runtime, &dir.install("claim-equals")).expect("good plugin loads");
    let verdict =
        plugin.check(&ctx(&support::baseline_config()), &support::maa_claims()).expect("good plugin runs");
    assert_eq!(verdict, types::Verdict::Pass);
}

fn load_hostile(runtime: &Runtime, dir: &PluginDir, name: &str, policy: Policy) -> Plugin {
    runtime
        .load(&dir.install(name), &policy, false)
        .expect("hostile plugin loads (it only misbehaves when run)")
}

fn claims() -> String {
    support::maa_claims()
}

#[test]
fn infinite_loop_times_out() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let policy = Policy { timeout_ms: Some(100), ..Policy::default() };
    let plugin = load_hostile(&runtime, &dir, "spin-forever", policy);
    let err = plugin.check(&ctx(""), &claims()).unwrap_err();
    assert!(matches!(err, Error::Timeout { ref plugin, .. } if plugin == "spin-forever"), "{err}");
    good_plugin_still_works(&runtime);
}

#[test]
fn memory_bomb_hits_the_memory_cap() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let policy = Policy { memory_mib: Some(16), ..Policy::default() };
    let plugin = load_hostile(&runtime, &dir, "memory-bomb", policy);
    let err = plugin.check(&ctx(""), &claims()).unwrap_err();
    assert!(matches!(err, Error::MemoryLimit { limit_mib: 16, .. }), "{err}");
    good_plugin_still_works(&runtime);
}

#[test]
fn deep_recursion_is_a_stack_overflow_crash_with_backtrace() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin = load_hostile(&runtime, &dir, "deep-recursion", Policy::default());
    let err = plugin.check(&ctx(""), &claims()).unwrap_err();
    let Error::Crash { reason, backtrace, .. } = &err else { panic!("expected a crash, got {err}") };
    assert!(reason.contains("stack overflow"), "{reason}");
    assert!(backtrace.contains("deep_recursion"), "backtrace names guest functions: {backtrace}");
    good_plugin_still_works(&runtime);
}

#[test]
fn panic_is_a_crash_carrying_the_panic_message() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin = load_hostile(&runtime, &dir, "panics", Policy::default());
    let err = plugin.check(&ctx(""), &claims()).unwrap_err();
    let Error::Crash { stderr, .. } = &err else { panic!("expected a crash, got {err}") };
    assert!(stderr.contains("deliberate panic"), "{stderr}");
    assert!(err.to_string().contains("deliberate panic"), "the message shows the plugin's stderr: {err}");
    good_plugin_still_works(&runtime);
}

#[test]
fn endless_stdout_hits_the_output_limit() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin = load_hostile(&runtime, &dir, "huge-output", Policy::default());
    let outcome =
        types::AttestationResult { claims: claims(), token: None, verifier: "test".into(), checks: vec![] };
    let err = plugin.format(&ctx("stdout"), &outcome).unwrap_err();
    assert!(matches!(err, Error::OutputLimit { stream: "stdout", .. }), "{err}");
    good_plugin_still_works(&runtime);
}

#[test]
fn oversized_result_hits_the_output_limit() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin = load_hostile(&runtime, &dir, "huge-output", Policy::default());
    let outcome =
        types::AttestationResult { claims: claims(), token: None, verifier: "test".into(), checks: vec![] };
    let err = plugin.format(&ctx("body"), &outcome).unwrap_err();
    assert!(matches!(err, Error::OutputLimit { stream: "its result", .. }), "{err}");
    good_plugin_still_works(&runtime);
}

#[test]
fn log_flood_is_dropped_not_fatal() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin = load_hostile(&runtime, &dir, "huge-output", Policy::default());
    let outcome =
        types::AttestationResult { claims: claims(), token: None, verifier: "test".into(), checks: vec![] };
    let rendered = plugin.format(&ctx("log"), &outcome).expect("a chatty plugin still completes");
    assert_eq!(rendered.body, b"ok");
}

#[test]
fn filesystem_import_is_refused_at_load() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let err = support::load(&runtime, &dir.install("reads-files")).unwrap_err();
    assert!(
        matches!(err, Error::ForbiddenImport { ref import, .. } if import.starts_with("wasi:filesystem/")),
        "{err}"
    );
    good_plugin_still_works(&runtime);
}

#[test]
fn sockets_import_is_refused_at_load() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let err = support::load(&runtime, &dir.install("opens-sockets")).unwrap_err();
    assert!(
        matches!(err, Error::ForbiddenImport { ref import, .. } if import.starts_with("wasi:sockets/")),
        "{err}"
    );
    good_plugin_still_works(&runtime);
}

#[test]
fn old_api_version_is_incompatible() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let err = support::load(&runtime, &dir.install("old-api")).unwrap_err();
    assert!(matches!(err, Error::IncompatibleApi { ref found, .. } if found == "0.0.9"), "{err}");
    good_plugin_still_works(&runtime);
}

#[test]
fn newer_api_line_is_incompatible() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let err = support::load(&runtime, &dir.install("future-api")).unwrap_err();
    assert!(matches!(err, Error::IncompatibleApi { ref found, .. } if found == "0.2.0"), "{err}");
    good_plugin_still_works(&runtime);
}

#[test]
fn wrong_world_is_refused() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    // The summary output format, installed with a manifest claiming it is a claim check.
    let manifest = "name = \"summary\"\nkind = \"claim-check\"\nversion = \"0.1.0\"\napi = \"0.1\"\n";
    let err = support::load(&runtime, &dir.install_as("summary", "summary", manifest)).unwrap_err();
    assert!(matches!(err, Error::WrongKind { ref expected, .. } if expected == "claim-check"), "{err}");
    good_plugin_still_works(&runtime);
}

#[test]
fn tampered_bytes_are_refused() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let located = dir.install("claim-equals");
    let pinned = support::load(&runtime, &located).expect("loads").inspection().digest.clone();
    let mut bytes = std::fs::read(&located.wasm_path).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&located.wasm_path, &bytes).expect("write");

    let policy = Policy { sha256: Some(pinned), ..Policy::default() };
    let err = runtime.load(&located, &policy, true).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "pinned: {err}");

    // Unpinned, the tampered bytes still never run: they fail validation (or, if the flip happened
    // to keep the module valid, the load checks); either way nothing is evaluated.
    let mut header = std::fs::read(&located.wasm_path).expect("read");
    header[9] ^= 0xff;
    std::fs::write(&located.wasm_path, &header).expect("write");
    let err = support::load(&runtime, &located).unwrap_err();
    assert!(matches!(err, Error::InvalidComponent { .. }), "unpinned: {err}");
    good_plugin_still_works(&runtime);
}

#[test]
fn rejected_config_is_reported_as_such() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin = support::load(&runtime, &dir.install("rejects-config")).expect("loads");
    let err = plugin.validate_config("anything").unwrap_err();
    assert!(
        matches!(err, Error::ConfigRejected { ref reason, .. } if reason.contains("rejects every")),
        "{err}"
    );
    let err = plugin.check(&ctx("anything"), &claims()).unwrap_err();
    assert!(matches!(err, Error::ConfigRejected { .. }), "{err}");
    good_plugin_still_works(&runtime);
}

#[test]
fn evaluations_do_not_share_an_instance() {
    // After a trap the next evaluation of the same plugin gets a fresh instance and runs normally.
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin = load_hostile(&runtime, &dir, "huge-output", Policy::default());
    let outcome =
        types::AttestationResult { claims: claims(), token: None, verifier: "test".into(), checks: vec![] };
    assert!(plugin.format(&ctx("stdout"), &outcome).is_err());
    assert_eq!(plugin.format(&ctx("log"), &outcome).expect("fresh instance").body, b"ok");
}

#[test]
fn a_later_patch_of_the_current_line_still_loads() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin =
        support::load(&runtime, &dir.install("newer-patch-api")).expect("0.1.1 plugin loads on a 0.1.0 host");
    assert_eq!(plugin.inspection().api_version.as_deref(), Some("0.1.1"));
    assert_eq!(plugin.check(&ctx(""), &claims()).expect("runs"), types::Verdict::Pass);
}

#[test]
fn a_plugin_needing_a_newer_host_function_is_refused_at_load() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let err = support::load(&runtime, &dir.install("needs-newer-host")).unwrap_err();
    assert!(matches!(err, Error::Link { ref reason, .. } if reason.contains("log-kv")), "{err}");
    good_plugin_still_works(&runtime);
}

#[test]
fn nothing_survives_from_one_evaluation_to_the_next() {
    // Slots are reused (pooling allocator, pages reset in place): each evaluation must still start
    // from the component's initial memory, zero-initialised, initialised and heap alike.
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin = support::load(&runtime, &dir.install("remembers")).expect("loads");
    for _ in 0..3 {
        let verdict = plugin.check(&ctx(""), &claims()).expect("evaluates");
        assert_eq!(
            verdict,
            types::Verdict::Indeterminate("calls 1, initial 0xc0ffee, heap mark seen false".into())
        );
    }
    good_plugin_still_works(&runtime);
}
