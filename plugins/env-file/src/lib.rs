//! Output format: the result as `KEY=VALUE` lines that a systemd `EnvironmentFile=` (or a shell's
//! `set -a; . FILE`) reads, so that a service can hand its token on and act on the verdict.
//!
//! ```text
//! CVM_ATTEST_VERDICT=pass
//! CVM_ATTEST_VERIFIER=maa
//! CVM_ATTEST_FAILED_CHECKS=
//! CVM_ATTEST_ATTESTATION_TYPE=sevsnpvm
//! CVM_ATTEST_ISSUER=https://sharedweu.weu.attest.azure.net
//! CVM_ATTEST_EXPIRES=1680202174
//! CVM_ATTEST_TOKEN=eyJhbGciOiJSUzI1NiIs…
//! ```
//!
//! A key whose value is unknown (no token, no `exp` claim) is left out rather than set empty, except
//! `CVM_ATTEST_FAILED_CHECKS`, which is empty when every check passed.

use cvm_attest_plugin_sdk::{AttestationResult, EvalContext, OutputFormat, PluginError, Rendered, Verdict};

struct EnvFile;

impl OutputFormat for EnvFile {
    fn format(_ctx: &EvalContext, outcome: &AttestationResult) -> Result<Rendered, PluginError> {
        let claims = outcome.claims()?;
        let failed: Vec<&str> = outcome
            .checks
            .iter()
            .filter(|c| !matches!(c.verdict, Verdict::Pass))
            .map(|c| c.plugin.as_str())
            .collect();
        let text = |pointers: &[&str]| pointers.iter().find_map(|p| claims.text(p));
        let lines = [
            ("VERDICT", Some(if failed.is_empty() { "pass" } else { "fail" }.to_owned())),
            ("VERIFIER", Some(outcome.verifier.clone())),
            ("FAILED_CHECKS", Some(failed.join(","))),
            (
                "ATTESTATION_TYPE",
                text(&["/x-ms-isolation-tee/x-ms-attestation-type", "/x-ms-attestation-type"]),
            ),
            ("ISSUER", text(&["/iss"])),
            ("EXPIRES", text(&["/exp"])),
            ("TOKEN", outcome.token.clone()),
        ];
        let mut body = String::new();
        for (key, value) in lines.iter().filter_map(|(key, value)| Some((key, value.as_ref()?))) {
            body.push_str(&format!("CVM_ATTEST_{key}={}\n", quoted(value)));
        }
        Ok(Rendered::text(body))
    }
}

/// The value as systemd and POSIX shells both read it back: bare when it is made of safe characters,
/// else in double quotes with `\`, `"`, `$` and `` ` `` escaped and line breaks written as `\n`.
fn quoted(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.,:/+=@%".contains(c);
    if value.chars().all(safe) {
        return value.to_owned();
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '\\' | '"' | '$' | '`' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

cvm_attest_plugin_sdk::export!(EnvFile as OutputFormat, name = "env");
