//! The real plugins (and the README's example) on a real MAA claim set.

use cvm_attest::plugins::{Error, types};

use crate::support::{self, PluginDir, ctx};

fn failed_paths(verdict: &types::Verdict) -> Vec<String> {
    match verdict {
        types::Verdict::Fail(findings) => findings.iter().filter_map(|f| f.claim_path.clone()).collect(),
        other => panic!("expected a failing verdict, got {other:?}"),
    }
}

#[test]
fn claim_equals_passes_the_baseline_and_names_each_mismatch() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin = support::load(&runtime, &dir.install("claim-equals")).expect("loads");
    let claims = support::maa_claims();
    assert_eq!(plugin.check(&ctx(&support::baseline_config()), &claims).expect("runs"), types::Verdict::Pass);

    let strict = r#"{"/secureboot": true, "/x-ms-azurevm-is-windows": false, "/x-ms-sevsnpvm-tcb": 7}"#;
    let verdict = plugin.check(&ctx(strict), &claims).expect("runs");
    assert_eq!(failed_paths(&verdict), ["/x-ms-azurevm-is-windows", "/x-ms-sevsnpvm-tcb"]);
}

#[test]
fn claim_equals_rejects_configs_that_would_check_nothing() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin = support::load(&runtime, &dir.install("claim-equals")).expect("loads");
    for bad in ["{}", "[]", "secureboot = true", r#"{"secureboot": true}"#] {
        let err = plugin.validate_config(bad).expect_err(bad);
        assert!(matches!(err, Error::ConfigRejected { .. }), "{bad}: {err}");
    }
}

#[test]
fn claim_equals_refuses_a_rule_given_twice_which_would_silently_drop_one() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin = support::load(&runtime, &dir.install("claim-equals")).expect("loads");
    let twice = r#"{"/secureboot": false, "/secureboot": true}"#;
    let err = plugin.validate_config(twice).expect_err("a repeated pointer");
    assert!(matches!(err, Error::ConfigRejected { .. }) && err.to_string().contains("/secureboot"), "{err}");
}

#[test]
fn readme_example_plugin_checks_secure_boot() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin = support::load(&runtime, &dir.install("secure-boot")).expect("loads");
    let claims = support::maa_claims();
    assert_eq!(plugin.check(&ctx(""), &claims).expect("runs"), types::Verdict::Pass);
    let off = claims.replacen("\"secureboot\":true", "\"secureboot\":false", 1);
    assert_ne!(off, claims);
    assert_eq!(failed_paths(&plugin.check(&ctx(""), &off).expect("runs")), ["/secureboot"]);
}

#[test]
fn summary_shows_the_verdict_and_each_failed_finding() {
    let runtime = support::runtime();
    let dir = PluginDir::new();
    let plugin = support::load(&runtime, &dir.install("summary")).expect("loads");
    let finding = types::Finding {
        code: "claim-mismatch".into(),
        message: "expected false, found true".into(),
        claim_path: Some("/x-ms-azurevm-is-windows".into()),
    };
    let outcome = types::AttestationResult {
        claims: support::maa_claims(),
        token: None,
        verifier: "maa".into(),
        checks: vec![types::CheckOutcome {
            plugin: "claim-equals".into(),
            version: "0.1.0".into(),
            digest: "00".into(),
            verdict: types::Verdict::Fail(vec![finding]),
        }],
    };
    let rendered = plugin.format(&ctx(""), &outcome).expect("renders");
    assert_eq!(rendered.media_type, "text/plain; charset=utf-8");
    let text = String::from_utf8(rendered.body).expect("UTF-8");
    assert!(text.starts_with("attestation: FAIL\n"), "{text}");
    assert!(text.contains("/x-ms-azurevm-is-windows: expected false, found true"), "{text}");
    assert!(text.contains("https://sharedweu.weu.attest.azure.net"), "{text}");
}
