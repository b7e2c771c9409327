//! Hostile plugins, built from source: each is stopped with the right error, and the host then
//! evaluates a good plugin normally on the same runtime.

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use cvm_attest::plugins::{Error, Located, Plugin, Policy, Runtime, types};

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
    let plugin = support::load(&runtime, &dir.install("newer-patch-api"))
        .expect("a 0.1.2 plugin loads on a 0.1.1 host");
    assert_eq!(plugin.inspection().api_version.as_deref(), Some("0.1.2"));
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

/// Runs `f` on its own thread and fails the test if it has not finished within `limit`: a plugin
/// that could hang the host fails the test instead of hanging the suite. The limit is generous (it
/// is not a timing assertion): what is asserted is that the call returns at all, and how.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(f());
    });
    result.recv_timeout(limit).unwrap_or_else(|e| panic!("did not return within {limit:?} ({e})"))
}

const GENEROUS: Duration = Duration::from_secs(60);

#[test]
fn sleeping_in_describe_validate_config_or_check_cannot_outlast_the_deadline() {
    within(GENEROUS, || {
        let runtime = support::runtime();
        let dir = PluginDir::new();
        // describe() sleeps an hour, and load calls it.
        let plugin = support::load(&runtime, &dir.install("sleeps")).expect("loads although describe sleeps");
        assert_eq!(plugin.describe().expect("describes").name, "sleeps");
        plugin.validate_config("sleep").expect("validate-config returns although it sleeps");
        let Ok(types::Verdict::Indeterminate(report)) = plugin.check(&ctx("sleep"), &claims()) else {
            panic!("a sleeping check returns its verdict")
        };
        // The monotonic clock is virtual: the sleep returned at once and moved it an hour on; the
        // wall clock stays frozen at the evaluation time.
        assert!(report.contains("monotonic clock advanced 3600s"), "{report}");
        assert!(report.contains("wall clock 1680173374000 ms, advanced 0 ms"), "{report}");
        let Ok(types::Verdict::Indeterminate(report)) = plugin.check(&ctx("stdin"), &claims()) else {
            panic!("reading stdin returns")
        };
        assert!(report.contains("read stdin: Ok(0)"), "stdin is closed: {report}");
        good_plugin_still_works(&runtime);
    });
}

#[test]
fn a_sleeping_verifier_cannot_outlast_its_deadline() {
    within(GENEROUS, || {
        let runtime = support::runtime();
        let dir = PluginDir::new();
        let plugin = support::load(&runtime, &dir.install("hostile-verifier")).expect("loads");
        let verified = plugin.verify(&ctx("sleep"), &verify_request()).expect("returns");
        assert_eq!(verified.steps[0].name, "slept");
    });
}

fn verify_request() -> types::VerifyRequest {
    types::VerifyRequest {
        evidence: types::Evidence {
            platform: types::Platform::AzureSevSnp,
            collected_at: "2026-11-27T00:00:00Z".into(),
            nonce: None,
            hcl_report: vec![],
            vcek_chain: None,
            td_quote: None,
            tpm: None,
            event_log: None,
            os: None,
        },
        expected_nonce: None,
        trust_anchors: vec![],
        collateral: vec![],
    }
}

/// A claim check written by hand: `check` grows its own memory and a second core instance's
/// memory by `pages` 64 KiB pages each, then passes. Everything else is the least a plugin needs.
fn two_memories_wat(pages: u32) -> String {
    format!(
        r#"(component
  (core module $Extra
    (memory (export "memory") 1)
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))
  (core instance $extra (instantiate $Extra))
  (core module $Main
    (import "extra" "grow" (func $grow_extra (param i32) (result i32)))
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const 4096))
    ;; describe's answer: name, version, kind, api-version (record of 28 bytes at 256)
    (data (i32.const 256) "\00\04\00\00\0c\00\00\00\2c\01\00\00\05\00\00\00\00\00\00\00\34\01\00\00\05\00\00\00")
    (data (i32.const 300) "0.1.0")
    (data (i32.const 308) "0.1.0")
    (data (i32.const 1024) "two-memories")
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $ptr i32)
      (local.set $ptr (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
      (global.set $heap (i32.add (local.get $ptr) (local.get 3)))
      (local.get $ptr))
    (func (export "describe") (result i32) (i32.const 256))
    ;; result<_, plugin-error> and result<verdict, plugin-error>: all zero bytes at 512 are ok / ok(pass)
    (func (export "validate-config") (param i32 i32) (result i32) (i32.const 512))
    (func (export "check") (param i32 i32 i64 i32 i32 i32 i32) (result i32)
      (if (i32.lt_s (memory.grow (i32.const {pages})) (i32.const 0)) (then unreachable))
      (if (i32.lt_s (call $grow_extra (i32.const {pages})) (i32.const 0)) (then unreachable))
      (i32.const 512)))
  (core instance $main (instantiate $Main (with "extra" (instance $extra))))
  {API}
)"#,
        API = CLAIM_CHECK_API
    )
}

/// The exported `cvm-attest:plugin/claim-check-api@0.1.0` of a hand-written claim check whose core
/// instance `$main` exports `memory`, `realloc`, `describe`, `validate-config` and `check`: the
/// `types` interface imported, and the functions re-exported through a shim component so that the
/// types they use are named, as wit-component lays it out.
const CLAIM_CHECK_API: &str = r#"
  (type $types-ty (instance
    (type (;0;) (enum "claim-check" "output-format" "verifier"))
    (export (;1;) "plugin-kind" (type (eq 0)))
    (type (;2;) (record (field "name" string) (field "version" string) (field "kind" 1) (field "api-version" string)))
    (export (;3;) "plugin-info" (type (eq 2)))
    (type (;4;) (record (field "request-id" string) (field "now-unix-ms" u64) (field "config" string)))
    (export (;5;) "eval-context" (type (eq 4)))
    (type (;6;) (option string))
    (type (;7;) (record (field "code" string) (field "message" string) (field "claim-path" 6)))
    (export (;8;) "finding" (type (eq 7)))
    (type (;9;) (list 8))
    (type (;10;) (variant (case "pass") (case "fail" 9) (case "indeterminate" string)))
    (export (;11;) "verdict" (type (eq 10)))
    (type (;12;) (variant (case "invalid-config" string) (case "invalid-input" string) (case "unsupported" string) (case "internal" string)))
    (export (;13;) "plugin-error" (type (eq 12)))))
  (import "cvm-attest:plugin/types@0.1.0" (instance $types (type $types-ty)))
  (alias export $types "plugin-kind" (type $plugin-kind))
  (alias export $types "plugin-info" (type $plugin-info))
  (alias export $types "eval-context" (type $eval-context))
  (alias export $types "finding" (type $finding))
  (alias export $types "verdict" (type $verdict))
  (alias export $types "plugin-error" (type $plugin-error))
  (alias core export $main "memory" (core memory $memory))
  (alias core export $main "realloc" (core func $realloc))
  (func $describe (result $plugin-info)
    (canon lift (core func $main "describe") (memory $memory) (realloc $realloc)))
  (func $validate-config (param "config" string) (result (result (error $plugin-error)))
    (canon lift (core func $main "validate-config") (memory $memory) (realloc $realloc)))
  (func $check (param "ctx" $eval-context) (param "claims" string) (result (result $verdict (error $plugin-error)))
    (canon lift (core func $main "check") (memory $memory) (realloc $realloc)))
  (component $Shim
    (type (;0;) (enum "claim-check" "output-format" "verifier"))
    (import "import-type-plugin-kind" (type (;1;) (eq 0)))
    (type (;2;) (record (field "name" string) (field "version" string) (field "kind" 1) (field "api-version" string)))
    (import "import-type-plugin-info" (type (;3;) (eq 2)))
    (type (;4;) (record (field "request-id" string) (field "now-unix-ms" u64) (field "config" string)))
    (import "import-type-eval-context" (type (;5;) (eq 4)))
    (type (;6;) (option string))
    (type (;7;) (record (field "code" string) (field "message" string) (field "claim-path" 6)))
    (import "import-type-finding" (type (;8;) (eq 7)))
    (type (;9;) (list 8))
    (type (;10;) (variant (case "pass") (case "fail" 9) (case "indeterminate" string)))
    (import "import-type-verdict" (type (;11;) (eq 10)))
    (type (;12;) (variant (case "invalid-config" string) (case "invalid-input" string) (case "unsupported" string) (case "internal" string)))
    (import "import-type-plugin-error" (type (;13;) (eq 12)))
    (type (;14;) (func (result 3)))
    (import "import-func-describe" (func (;0;) (type 14)))
    (type (;15;) (result (error 13)))
    (type (;16;) (func (param "config" string) (result 15)))
    (import "import-func-validate-config" (func (;1;) (type 16)))
    (type (;17;) (result 11 (error 13)))
    (type (;18;) (func (param "ctx" 5) (param "claims" string) (result 17)))
    (import "import-func-check" (func (;2;) (type 18)))
    (export (;19;) "plugin-info" (type 3))
    (export (;20;) "eval-context" (type 5))
    (export (;21;) "verdict" (type 11))
    (export (;22;) "plugin-error" (type 13))
    (type (;23;) (func (result 19)))
    (export (;3;) "describe" (func 0) (func (type 23)))
    (type (;24;) (result (error 22)))
    (type (;25;) (func (param "config" string) (result 24)))
    (export (;4;) "validate-config" (func 1) (func (type 25)))
    (type (;26;) (result 21 (error 22)))
    (type (;27;) (func (param "ctx" 20) (param "claims" string) (result 26)))
    (export (;5;) "check" (func 2) (func (type 27))))
  (instance $api (instantiate $Shim
    (with "import-func-describe" (func $describe))
    (with "import-func-validate-config" (func $validate-config))
    (with "import-func-check" (func $check))
    (with "import-type-plugin-kind" (type $plugin-kind))
    (with "import-type-plugin-info" (type $plugin-info))
    (with "import-type-eval-context" (type $eval-context))
    (with "import-type-finding" (type $finding))
    (with "import-type-verdict" (type $verdict))
    (with "import-type-plugin-error" (type $plugin-error))))
  (export "cvm-attest:plugin/claim-check-api@0.1.0" (instance $api))
"#;

/// Install a hand-written component (WAT text) as plugin `name`, a claim check.
fn install_wat(dir: &PluginDir, name: &str, wat: &str) -> Located {
    let wasm = wat::parse_str(wat).unwrap_or_else(|e| panic!("{name}: {e}"));
    let path = dir.path().join(format!("{name}.wasm"));
    std::fs::write(&path, wasm).expect("write component");
    let manifest = format!("name = \"{name}\"\nkind = \"claim-check\"\nversion = \"0.1.0\"\napi = \"0.1\"\n");
    std::fs::write(dir.path().join(format!("{name}.toml")), manifest).expect("write manifest");
    Located::from_wasm(&path).expect("manifest loads")
}

#[test]
fn memory_is_capped_across_all_of_a_components_memories() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    // Two memories of 40 MiB each: each is below the 64 MiB cap, together they are not.
    let located = install_wat(&dir, "two-memories", &two_memories_wat(640));
    let plugin = support::load(&runtime, &located).expect("loads");
    let err = plugin.check(&ctx(""), &claims()).unwrap_err();
    assert!(matches!(err, Error::MemoryLimit { limit_mib: 64, .. }), "{err}");
    // The same component within a cap that holds both memories runs.
    let roomy = Policy { memory_mib: Some(96), ..Policy::default() };
    let plugin = runtime.load(&located, &roomy, false).expect("loads");
    assert_eq!(plugin.check(&ctx(""), &claims()).expect("fits in 96 MiB"), types::Verdict::Pass);
    good_plugin_still_works(&runtime);
}

#[test]
fn a_component_with_more_memories_or_instances_than_allowed_is_refused_at_load() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    // Beside a working plugin: sixteen core instances with a memory each (more than 2 memories), and
    // 65 of an empty module (more than 64 core instances).
    let with_extra = |name: &str, module: &str, count: usize| {
        let extra: String = (0..count).map(|i| format!("(core instance $m{i} (instantiate $M))\n")).collect();
        let wat = two_memories_wat(1).replacen(
            "(core instance $extra (instantiate $Extra))",
            &format!("(core instance $extra (instantiate $Extra))\n(core module $M {module})\n{extra}"),
            1,
        );
        support::load(&runtime, &install_wat(&dir, name, &wat)).unwrap_err()
    };
    for (err, what) in [
        (with_extra("many-memories", "(memory (export \"memory\") 1000)", 16), "memories"),
        (with_extra("many-instances", "", 65), "core module instances"),
    ] {
        let Error::InvalidComponent { reason, .. } = &err else { panic!("refused at load, got {err}") };
        assert!(reason.contains(what) && reason.contains("exceeds the configured maximum"), "{reason}");
    }
    good_plugin_still_works(&runtime);
}

#[test]
fn deep_recursion_with_large_frames_is_a_stack_overflow_too() {
    // Large locals live on the guest's stack in linear memory, which runs out before the wasm
    // stack does: the trap is an out-of-bounds access, reported as the stack overflow it is.
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin = load_hostile(&runtime, &dir, "deep-recursion", Policy::default());
    let err = plugin.check(&ctx("big-frames"), &claims()).unwrap_err();
    let Error::Crash { reason, backtrace, .. } = &err else { panic!("expected a crash, got {err}") };
    assert!(reason.contains("stack overflow in linear memory"), "{reason}");
    assert!(backtrace.contains("descend_big"), "{backtrace}");
    good_plugin_still_works(&runtime);
}

#[test]
fn describe_lying_about_its_api_version_is_refused_and_not_repeated_at_length() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let err = support::load(&runtime, &dir.install("lies-in-describe")).unwrap_err();
    let Error::ManifestMismatch { found, .. } = &err else { panic!("expected a mismatch, got {err}") };
    assert!(found.starts_with("api-version 9.9.9x"), "{found}");
    assert!(err.to_string().len() < 1024, "the 1 MiB lie is cut: {} bytes", err.to_string().len());
    good_plugin_still_works(&runtime);
}

fn findings_of(verdict: types::Verdict) -> Vec<types::Finding> {
    let types::Verdict::Fail(findings) = verdict else { panic!("expected fail, got {verdict:?}") };
    findings
}

#[test]
fn findings_are_counted_and_cut() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    // Time enough to build 200 000 findings on a busy machine: the time limit is not what is tested.
    let patient = Policy { timeout_ms: Some(20_000), ..Policy::default() };
    let plugin = load_hostile(&runtime, &dir, "floods", patient);
    let findings = findings_of(plugin.check(&ctx("some-findings"), &claims()).expect("evaluates"));
    assert_eq!(findings.len(), cvm_attest::plugins::MAX_FINDINGS);
    let last = findings.last().expect("findings");
    assert_eq!(last.code, "findings-truncated");
    assert!(last.message.contains("200000 findings"), "{}", last.message);

    let findings = findings_of(plugin.check(&ctx("long-findings"), &claims()).expect("evaluates"));
    assert_eq!(findings.len(), cvm_attest::plugins::MAX_FINDINGS);
    let first = &findings[0].message;
    assert!(first.len() < 4200 && first.ends_with("cut by the host)"), "{} bytes", first.len());
    good_plugin_still_works(&runtime);
}

#[test]
fn a_result_too_large_to_copy_is_refused_before_the_host_copies_it() {
    // A million findings: the guest has room for them (the operator raised its memory), but the
    // host copies at most MAX_TRANSFER_BYTES out of a guest in one go.
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let roomy = Policy { memory_mib: Some(512), timeout_ms: Some(20_000), ..Policy::default() };
    let plugin = load_hostile(&runtime, &dir, "floods", roomy);
    let err = plugin.check(&ctx("findings"), &claims()).unwrap_err();
    assert!(matches!(err, Error::OutputLimit { stream: "one transfer to the host", .. }), "{err}");
    good_plugin_still_works(&runtime);
}

#[test]
fn long_reasons_and_error_messages_are_cut() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin = load_hostile(&runtime, &dir, "floods", Policy::default());
    let types::Verdict::Indeterminate(reason) = plugin.check(&ctx("reason"), &claims()).expect("evaluates")
    else {
        panic!("indeterminate")
    };
    assert!(reason.len() < 4200 && reason.ends_with("cut by the host)"), "{} bytes", reason.len());
    let err = plugin.validate_config("error").unwrap_err();
    let Error::ConfigRejected { reason, .. } = &err else { panic!("config rejected, got {err}") };
    assert!(reason.len() < 4200, "{} bytes", reason.len());
    assert!(err.to_string().len() < 4400, "{} bytes", err.to_string().len());
}

#[test]
fn a_verifiers_steps_are_bounded() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin = support::load(&runtime, &dir.install("hostile-verifier")).expect("loads");
    let err = plugin.verify(&ctx("steps"), &verify_request()).unwrap_err();
    assert!(
        matches!(err, Error::ResultLimit { ref reason, .. } if reason.contains("1000 steps")),
        "too many steps are refused, not cut (a dropped step could be a failed one): {err}"
    );
    let err = plugin.verify(&ctx("step-name"), &verify_request()).unwrap_err();
    assert!(matches!(err, Error::ResultLimit { ref reason, .. } if reason.contains("step name")), "{err}");
    assert!(err.to_string().len() < 512, "{err}");
    let verified = plugin.verify(&ctx("detail"), &verify_request()).expect("a long detail is cut");
    assert!(verified.steps[0].detail.len() < 4200, "{} bytes", verified.steps[0].detail.len());
    good_plugin_still_works(&runtime);
}

/// Everything written through `tracing` while `f` runs on this thread.
fn captured_log<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt().with_writer(captured.clone()).with_ansi(false).finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("UTF-8 log");
    (result, text)
}

#[test]
fn plugin_log_lines_are_one_line_each_escaped_and_named() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin = load_hostile(&runtime, &dir, "floods", Policy::default());
    let (verdict, log) = captured_log(|| plugin.check(&ctx("escapes"), &claims()));
    verdict.expect("evaluates");
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("first line")).collect();
    assert_eq!(lines.len(), 1, "one line: {log}");
    assert!(lines[0].contains("plugin floods: first line\\u{a}ERROR cvm_attest: forged\\u{d}"), "{log}");
    assert!(!log.contains('\x1b') && !log.contains('\u{202e}'), "no raw escapes: {log:?}");
    assert!(!log.lines().any(|l| l.starts_with("ERROR")), "no forged line: {log}");
    assert_eq!(
        cvm_attest::text::sanitize("a\x1b[2J\u{202e}"),
        "a\\u{1b}[2J\\u{202e}",
        "the same escaping is public"
    );
}

#[test]
fn a_crash_reports_the_plugins_stderr_escaped_and_marked() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin = load_hostile(&runtime, &dir, "panics", Policy::default());
    let err = plugin.check(&ctx(""), &claims()).unwrap_err().to_string();
    assert!(err.contains("\n  | "), "stderr lines are marked as the plugin's: {err}");
}

#[test]
fn plugin_files_that_are_not_regular_files_are_refused_promptly() {
    within(GENEROUS, || {
        let runtime = support::runtime();
        let dir = PluginDir::new();
        let located = dir.install("claim-equals");
        // The component a symlink to /dev/zero: read without bound, it would exhaust memory.
        std::fs::remove_file(&located.wasm_path).expect("remove");
        std::os::unix::fs::symlink("/dev/zero", &located.wasm_path).expect("symlink");
        let err = support::load(&runtime, &located).unwrap_err();
        assert_eq!(err.kind(), "io", "{err}");
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let err = runtime.inspect(&located.wasm_path).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        // A FIFO with no writer: opened without waiting, and refused.
        std::fs::remove_file(&located.wasm_path).expect("remove");
        let status = std::process::Command::new("mkfifo").arg(&located.wasm_path).status().expect("mkfifo");
        assert!(status.success());
        let err = support::load(&runtime, &located).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        // The manifest a symlink to /dev/zero.
        let manifest = dir.path().join("claim-equals.toml");
        std::fs::remove_file(&manifest).expect("remove");
        std::os::unix::fs::symlink("/dev/zero", &manifest).expect("symlink");
        let err = Located::from_wasm(&dir.path().join("claim-equals.wasm")).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        good_plugin_still_works(&runtime);
    });
}

#[test]
fn compilation_is_given_up_at_its_time_limit() {
    // A real plugin, compiled without a cache under a limit no compilation can meet.
    let runtime = Runtime::new(None).expect("runtime").with_compile_time(Duration::from_millis(1));
    let dir = PluginDir::new();
    let err = support::load(&runtime, &dir.install("claim-equals")).unwrap_err();
    assert!(matches!(err, Error::CompileTimeout { .. }), "{err}");
}
