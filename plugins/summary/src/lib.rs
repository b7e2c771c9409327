//! Output format: a concise plain-text summary of an attestation result.

use std::fmt::Write;

use cvm_attest_plugin_sdk::{AttestationResult, EvalContext, OutputFormat, PluginError, Rendered, Verdict};

struct Summary;

/// Claims worth a line, with their label. The first present pointer of each row is shown.
const ROWS: &[(&str, &[&str])] = &[
    ("attestation type", &["/x-ms-isolation-tee/x-ms-attestation-type", "/x-ms-attestation-type"]),
    ("compliance", &["/x-ms-isolation-tee/x-ms-compliance-status", "/x-ms-compliance-status"]),
    ("vm id", &["/x-ms-azurevm-vmid", "/x-ms-isolation-tee/x-ms-runtime/vm-configuration/vmUniqueId"]),
    ("secure boot", &["/secureboot", "/x-ms-azurevm-is-windows"]),
    ("debuggable", &["/x-ms-isolation-tee/x-ms-sevsnpvm-is-debuggable", "/x-ms-sevsnpvm-is-debuggable"]),
    (
        "snp launch measurement",
        &["/x-ms-isolation-tee/x-ms-sevsnpvm-launchmeasurement", "/x-ms-sevsnpvm-launchmeasurement"],
    ),
    ("issuer", &["/iss"]),
];

impl OutputFormat for Summary {
    fn format(_ctx: &EvalContext, outcome: &AttestationResult) -> Result<Rendered, PluginError> {
        let claims = outcome.claims()?;
        let mut out = String::new();
        let passed = outcome.passed();
        let _ = writeln!(out, "attestation: {}", if passed { "PASS" } else { "FAIL" });
        let _ = writeln!(out, "  {:<24}{}", "verifier", outcome.verifier);
        for (label, pointers) in ROWS {
            if let Some(shown) = pointers.iter().find_map(|p| claims.text(p)) {
                let _ = writeln!(out, "  {label:<24}{shown}");
            }
        }
        for check in &outcome.checks {
            let verdict = match &check.verdict {
                Verdict::Pass => "pass".to_owned(),
                Verdict::Fail(findings) => format!("FAIL ({} finding(s))", findings.len()),
                Verdict::Indeterminate(why) => format!("indeterminate: {why}"),
            };
            let _ = writeln!(out, "  check {:<18}{verdict}", check.plugin);
            if let Verdict::Fail(findings) = &check.verdict {
                for f in findings {
                    let at = f.claim_path.as_deref().unwrap_or("-");
                    let _ = writeln!(out, "    - {at}: {}", f.message);
                }
            }
        }
        Ok(Rendered::text(out))
    }
}

cvm_attest_plugin_sdk::export!(Summary as OutputFormat);
