//! The real plugins (and the README's example) on a real MAA claim set.

use cvm_attest::plugins::{Error, types};

use crate::support::{self, PluginDir, ctx, manifest_of};

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

/// The real token of [`support::maa_claims`].
const SNP_TOKEN: &str = include_str!(
    "../../../formats/testdata/maa/cvm-clientlibtests-sharedweu-azurevm-sevsnpvm-2023-03-30.jwt"
);

fn env_plugin(dir: &PluginDir) -> cvm_attest::plugins::Plugin {
    let manifest =
        std::fs::read_to_string(support::repo_root().join("plugins/env-file/env.toml")).expect("manifest");
    support::load(&support::runtime(), &dir.install_as("env", "env", &manifest)).expect("loads")
}

fn outcome(claims: String, token: Option<&str>, verdict: types::Verdict) -> types::AttestationResult {
    types::AttestationResult {
        claims,
        token: token.map(|t| t.trim().to_owned()),
        verifier: "maa".into(),
        checks: vec![types::CheckOutcome {
            plugin: "claim-equals".into(),
            version: "0.1.0".into(),
            digest: "00".into(),
            verdict,
        }],
    }
}

/// What a POSIX shell reads back from an environment file: `NAME=value` lines after `set -a; . FILE`.
fn sourced(file_text: &str, names: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("attestation.env");
    std::fs::write(&file, file_text).expect("write");
    let script = names.iter().map(|n| format!("printf '%s\\0' \"${n}\"")).collect::<Vec<_>>().join("; ");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("set -a; . '{}'; {script}", file.display()))
        .output()
        .expect("sh");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn env_format_writes_an_environment_file_a_shell_reads_back() {
    let dir = PluginDir::new();
    let plugin = env_plugin(&dir);
    let passed = outcome(support::maa_claims(), Some(SNP_TOKEN), types::Verdict::Pass);
    let rendered = plugin.format(&ctx(""), &passed).expect("renders");
    let text = String::from_utf8(rendered.body).expect("UTF-8");
    insta::assert_snapshot!("env-format-pass", text.replace(SNP_TOKEN.trim(), "<the real token>"));
    let read = sourced(&text, &["CVM_ATTEST_VERDICT", "CVM_ATTEST_TOKEN", "CVM_ATTEST_EXPIRES"]);
    assert_eq!(read, ["pass", SNP_TOKEN.trim(), "1680202174"]);

    let failed = outcome(support::maa_claims(), None, types::Verdict::Fail(vec![]));
    let text = String::from_utf8(plugin.format(&ctx(""), &failed).expect("renders").body).expect("UTF-8");
    assert!(
        text.contains(
            "CVM_ATTEST_VERDICT=fail\nCVM_ATTEST_VERIFIER=maa\nCVM_ATTEST_FAILED_CHECKS=claim-equals\n"
        ),
        "{text}"
    );
    assert!(!text.contains("CVM_ATTEST_TOKEN"), "no token, no key: {text}");
}

#[test]
fn env_format_quotes_what_a_shell_would_expand() {
    let dir = PluginDir::new();
    let plugin = env_plugin(&dir);
    let hostile = r#"{"iss": "https://x\" $(touch /tmp/pwned) `id` \\ $HOME", "exp": 1}"#;
    let result = outcome(hostile.into(), None, types::Verdict::Pass);
    let text = String::from_utf8(plugin.format(&ctx(""), &result).expect("renders").body).expect("UTF-8");
    let read = sourced(&text, &["CVM_ATTEST_ISSUER"]);
    assert_eq!(read, [r#"https://x" $(touch /tmp/pwned) `id` \ $HOME"#], "{text}");
}

#[test]
fn prometheus_format_exposes_success_expiry_svns_and_findings() {
    let dir = PluginDir::new();
    let manifest = std::fs::read_to_string(manifest_of("prometheus")).expect("manifest");
    let plugin = support::load(&support::runtime(), &dir.install_as("prometheus", "prometheus", &manifest))
        .expect("loads");
    let passed = outcome(support::maa_claims(), Some(SNP_TOKEN), types::Verdict::Pass);
    let rendered = plugin.format(&ctx(""), &passed).expect("renders");
    assert_eq!(rendered.media_type, "text/plain; version=0.0.4; charset=utf-8");
    let text = String::from_utf8(rendered.body).expect("UTF-8");
    insta::assert_snapshot!("prometheus-format-pass", text);
    // Every sample line is `name{labels} value` after its HELP and TYPE.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').expect("a value");
        assert!(series.starts_with("cvm_attest_") && value.parse::<f64>().is_ok(), "{line}");
    }

    let finding = types::Finding { code: "c".into(), message: "m".into(), claim_path: None };
    let failed = outcome(r#"{"x":1}"#.into(), None, types::Verdict::Fail(vec![finding.clone(), finding]));
    let text = String::from_utf8(plugin.format(&ctx(""), &failed).expect("renders").body).expect("UTF-8");
    assert!(text.contains("cvm_attest_success{verifier=\"maa\"} 0\n"), "{text}");
    assert!(text.contains("cvm_attest_check_findings{check=\"claim-equals\"} 2\n"), "{text}");
    assert!(
        !text.contains("expiry") && !text.contains("cvm_attest_svn"),
        "unknown values are left out: {text}"
    );
}

fn policy_plugin(dir: &PluginDir) -> cvm_attest::plugins::Plugin {
    support::load(&support::runtime(), &dir.install("policy")).expect("loads")
}

/// The rules a policy fails, as the messages of its findings.
fn policy_findings(plugin: &cvm_attest::plugins::Plugin, rules: &str) -> Result<Vec<String>, types::Verdict> {
    let config = format!(r#"{{"rules": [{rules}]}}"#);
    match plugin.check(&ctx(&config), &support::maa_claims()).expect("runs") {
        types::Verdict::Fail(findings) => Ok(findings.into_iter().map(|f| f.message).collect()),
        other => Err(other),
    }
}

#[test]
fn policy_rules_pass_and_fail_on_real_claims_naming_rule_claim_expected_and_found() {
    let dir = PluginDir::new();
    let plugin = policy_plugin(&dir);
    let passing = [
        r#"{"claim": "/secureboot", "equals": true}"#,
        r#"{"claim": "/x-ms-isolation-tee/x-ms-attestation-type", "one_of": ["tdxvm", "sevsnpvm"]}"#,
        r#"{"claim": "/x-ms-isolation-tee/x-ms-sevsnpvm-snpfw-svn", "min": 8, "max": 8}"#,
        r#"{"claim": "/x-ms-azurevm-vmid", "regex": "^[0-9A-F-]{36}$"}"#,
        r#"{"claim": "/x-ms-azurevm-testsigning-enabled", "present": true}"#,
        r#"{"claim": "/no-such-claim", "present": false}"#,
    ];
    for rule in passing {
        assert_eq!(policy_findings(&plugin, rule), Err(types::Verdict::Pass), "{rule}");
    }
    let claims: serde_json::Value = serde_json::from_str(&support::maa_claims()).expect("claims");
    let measurement = claims["x-ms-isolation-tee"]["x-ms-sevsnpvm-launchmeasurement"].as_str().expect("hex");
    let allowed = format!(
        r#"{{"claim": "/x-ms-isolation-tee/x-ms-sevsnpvm-launchmeasurement", "hex_one_of": ["00", "{}"]}}"#,
        measurement.to_ascii_uppercase()
    );
    assert_eq!(
        policy_findings(&plugin, &allowed),
        Err(types::Verdict::Pass),
        "hex compares case-insensitively"
    );

    let failing = [
        (
            r#"{"name": "sb", "claim": "/secureboot", "equals": false}"#,
            "rule 1 ('sb'): expected false, found true",
        ),
        (
            r#"{"claim": "/x-ms-isolation-tee/x-ms-sevsnpvm-snpfw-svn", "min": 9}"#,
            "rule 1: expected at least 9, found 8",
        ),
        (
            r#"{"claim": "/x-ms-isolation-tee/x-ms-sevsnpvm-snpfw-svn", "max": 7}"#,
            "rule 1: expected at most 7, found 8",
        ),
        (r#"{"claim": "/secureboot", "min": 1}"#, "rule 1: expected a number, found true"),
        (r#"{"claim": "/x-ms-azurevm-vmid", "regex": "^[a-f]+$"}"#, "rule 1: expected a match of /^[a-f]+$/"),
        (
            r#"{"claim": "/x-ms-isolation-tee/x-ms-sevsnpvm-launchmeasurement", "hex_one_of": ["00"]}"#,
            "expected one of 1 allowed values",
        ),
        (r#"{"claim": "/secureboot", "present": false}"#, "rule 1: expected no such claim, found true"),
        (r#"{"claim": "/no-such-claim", "equals": 1}"#, "rule 1: the claim is absent"),
    ];
    for (rule, message) in failing {
        let found = policy_findings(&plugin, rule).expect("fails");
        assert!(found.len() == 1 && found[0].contains(message), "{rule}: {found:?}");
    }
    let undecided =
        policy_findings(&plugin, r#"{"claim": "/no-such-claim", "min": 1, "missing": "indeterminate"}"#);
    assert!(
        matches!(&undecided, Err(types::Verdict::Indeterminate(why)) if why.contains("/no-such-claim is absent")),
        "{undecided:?}"
    );
}

#[test]
fn policy_config_errors_name_the_rule_and_the_fix() {
    let dir = PluginDir::new();
    let plugin = policy_plugin(&dir);
    for (config, says) in [
        (r#"{"rules": []}"#, "no rules"),
        (r#"{"rules": [{"claim": "/a", "equals": 1, "min": 0}]}"#, "rule 1: has 2 tests; give exactly one"),
        (r#"{"rules": [{"claim": "/a"}]}"#, "rule 1: has 0 tests"),
        (r#"{"rules": [{"claim": "a", "equals": 1}]}"#, "is not a JSON Pointer; write \"/a\""),
        (
            r#"{"rules": [{"claim": "/a", "equals": 1}, {"name": "r", "claim": "/b", "regex": "("}]}"#,
            "rule 2 ('r'): regex",
        ),
        (r#"{"rules": [{"claim": "/a", "hex_one_of": ["xyz"]}]}"#, "'xyz' in hex_one_of is not hex"),
        (r#"{"rules": [{"claim": "/a", "min": 5, "max": 1}]}"#, "nothing could pass"),
        (r#"{"rules": [{"claim": "/a", "equal": 1}]}"#, "unknown field `equal`"),
        (r#"{"rules": [{"claim": "/a", "equals": 1, "equals": 2}]}"#, "duplicate field `equals`"),
        ("{\"rules\": [\n  {\"claim\": \"/a\", \"min\": \"x\"}]}", "line 2"),
    ] {
        let err = plugin.validate_config(config).expect_err(config);
        assert!(
            matches!(err, Error::ConfigRejected { .. }) && err.to_string().contains(says),
            "{config}: {err}"
        );
    }
}

#[test]
fn explain_format_knows_every_claim_of_the_real_tokens_and_marks_others() {
    let dir = PluginDir::new();
    let plugin = support::load(&support::runtime(), &dir.install("explain")).expect("loads");
    let tdx_token = include_str!("../../../formats/testdata/maa/sharedwus-tdxvm-token-2026-10-08.jwt");
    let tdx_payload = tdx_token.trim().split('.').nth(1).expect("payload");
    let tdx_claims = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, tdx_payload)
            .expect("base64url"),
    )
    .expect("UTF-8");
    for (name, claims) in [("snp", support::maa_claims()), ("tdx", tdx_claims)] {
        let rendered =
            plugin.format(&ctx(""), &outcome(claims, None, types::Verdict::Pass)).expect("renders");
        let text = String::from_utf8(rendered.body).expect("UTF-8");
        assert!(
            !text.contains("unknown claim"),
            "a claim of the real {name} token is not explained:\n{text}"
        );
        insta::assert_snapshot!(format!("explain-format-{name}"), text);
    }
    let odd =
        outcome(r#"{"x-new-claim": "\u001b[31mred", "secureboot": true}"#.into(), None, types::Verdict::Pass);
    let text = String::from_utf8(plugin.format(&ctx(""), &odd).expect("renders").body).expect("UTF-8");
    assert!(
        text.contains(
            "x-new-claim =  [31mred\n    (unknown claim: not in cvm-attest's table)\n    (알 수 없는 클레임)"
        ),
        "{text}"
    );
    assert!(text.contains("secureboot = true\n    UEFI Secure Boot was on during boot\n    부팅 시 UEFI Secure Boot 활성 여부"), "{text}");
}

#[test]
fn claims_json_format_puts_the_tee_claims_in_one_place_and_is_valid_under_its_schema() {
    let dir = PluginDir::new();
    let plugin = support::load(&support::runtime(), &dir.install("claims-json")).expect("loads");
    let finding = types::Finding {
        code: "policy-rule".into(),
        message: "rule 1: expected false, found true".into(),
        claim_path: Some("/secureboot".into()),
    };
    // A guest token (TEE claims nested) that failed a check.
    let failed = outcome(support::maa_claims(), Some(SNP_TOKEN), types::Verdict::Fail(vec![finding]));
    let rendered = plugin.format(&ctx(""), &failed).expect("renders");
    assert_eq!(rendered.media_type, "application/json");
    let document: serde_json::Value = serde_json::from_slice(&rendered.body).expect("JSON");
    support::assert_valid("claims-v1.schema.json", &document);
    assert_eq!(document["passed"], false);
    assert_eq!(document["platform"], "sevsnpvm");
    assert_eq!(document["tee"]["x-ms-sevsnpvm-vmpl"], 0);
    assert_eq!(document["checks"][0]["findings"][0]["claim_path"], "/secureboot");
    // A platform token (TEE claims at the top) reads the same.
    let platform = r#"{"x-ms-attestation-type": "sevsnpvm", "x-ms-sevsnpvm-vmpl": 0}"#;
    let passed = outcome(platform.into(), None, types::Verdict::Indeterminate("no collateral".into()));
    let document: serde_json::Value =
        serde_json::from_slice(&plugin.format(&ctx(""), &passed).expect("renders").body).expect("JSON");
    support::assert_valid("claims-v1.schema.json", &document);
    assert_eq!(
        (&document["tee"]["x-ms-sevsnpvm-vmpl"], &document["platform"]),
        (&0.into(), &"sevsnpvm".into())
    );
    assert_eq!(document["checks"][0]["verdict"], "indeterminate");
    assert_eq!(document["checks"][0]["reason"], "no collateral");
}
