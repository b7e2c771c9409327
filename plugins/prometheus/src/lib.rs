//! Output format: the result in Prometheus' text exposition format, to be written where
//! node_exporter's textfile collector reads it (`--collector.textfile.directory`), so that a fleet's
//! dashboards and alerts see each VM's attestation: did it pass, when does its token expire, which
//! firmware it runs, how many findings each check had.
//!
//! A metric whose value is unknown (no `exp` claim, an SVN the platform does not report) is left out.

use std::fmt::Write;

use cvm_attest_plugin_sdk::{AttestationResult, EvalContext, OutputFormat, PluginError, Rendered, Verdict};

struct Prometheus;

/// Security version numbers worth a series: the `component` label and where MAA puts the value.
const SVNS: &[(&str, &[&str])] = &[
    (
        "snp_bootloader",
        &["/x-ms-isolation-tee/x-ms-sevsnpvm-bootloader-svn", "/x-ms-sevsnpvm-bootloader-svn"],
    ),
    ("snp_tee", &["/x-ms-isolation-tee/x-ms-sevsnpvm-tee-svn", "/x-ms-sevsnpvm-tee-svn"]),
    ("snp_firmware", &["/x-ms-isolation-tee/x-ms-sevsnpvm-snpfw-svn", "/x-ms-sevsnpvm-snpfw-svn"]),
    ("snp_microcode", &["/x-ms-isolation-tee/x-ms-sevsnpvm-microcode-svn", "/x-ms-sevsnpvm-microcode-svn"]),
    ("snp_guest", &["/x-ms-isolation-tee/x-ms-sevsnpvm-guestsvn", "/x-ms-sevsnpvm-guestsvn"]),
    ("tdx_seam", &["/x-ms-isolation-tee/tdx_seamsvn", "/tdx_seamsvn"]),
];

impl OutputFormat for Prometheus {
    fn format(_ctx: &EvalContext, outcome: &AttestationResult) -> Result<Rendered, PluginError> {
        let claims = outcome.claims()?;
        let passed = outcome.passed();
        let verifier = label(&outcome.verifier);
        let mut out = String::new();
        metric(&mut out, "success", "1 when the evidence was appraised and every check passed, else 0");
        let _ = writeln!(out, "cvm_attest_success{{verifier=\"{verifier}\"}} {}", u8::from(passed));

        if let Some(exp) = claims.get("/exp").and_then(|v| v.as_u64()) {
            metric(
                &mut out,
                "token_expiry_timestamp_seconds",
                "When the attestation token expires (Unix time)",
            );
            let _ = writeln!(out, "cvm_attest_token_expiry_timestamp_seconds {exp}");
        }

        let svns: Vec<(&str, u64)> = SVNS
            .iter()
            .filter_map(|(component, at)| {
                Some((*component, at.iter().find_map(|p| claims.get(p)?.as_u64())?))
            })
            .collect();
        if !svns.is_empty() {
            metric(&mut out, "svn", "Security version numbers the platform reported, by component");
            for (component, svn) in svns {
                let _ = writeln!(out, "cvm_attest_svn{{component=\"{component}\"}} {svn}");
            }
        }

        if !outcome.checks.is_empty() {
            metric(&mut out, "check_findings", "Findings of each claim check (0 when it passed)");
            for check in &outcome.checks {
                let findings = match &check.verdict {
                    Verdict::Pass => 0,
                    Verdict::Fail(findings) => findings.len().max(1),
                    Verdict::Indeterminate(_) => 1,
                };
                let _ = writeln!(
                    out,
                    "cvm_attest_check_findings{{check=\"{}\"}} {findings}",
                    label(&check.plugin)
                );
            }
        }
        Ok(Rendered { media_type: "text/plain; version=0.0.4; charset=utf-8".into(), body: out.into_bytes() })
    }
}

fn metric(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP cvm_attest_{name} {help}\n# TYPE cvm_attest_{name} gauge");
}

/// A label value as the text format requires: `\`, `"` and line breaks escaped.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

cvm_attest_plugin_sdk::export!(Prometheus as OutputFormat);
