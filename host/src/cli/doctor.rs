//! `cvm-attest doctor`: can `attest` work here? Each thing it needs, in the order it needs them,
//! is checked and reported `ok` with what was found, or `problem` with the cause and the fix (the
//! errors' own messages, which name both). A problem does not stop the later checks that do not
//! depend on it. Last, when the TPM, IMDS and MAA (or the `--verifier` plugin) are all there, one
//! attestation as `attest` makes it: what only MAA can judge, its policy (Secure Boot, debug
//! settings, …), shows there, with advice for each claim the policy refused.

use std::time::{Duration, SystemTime};

use super::args::AttestArgs;
use super::attest::{self, Attempt, Maa, Obtained, Progress};
use super::{Rejected, finish, resolve};
use crate::config::Config;
use crate::evidence::imds::{Imds, Retry};
use crate::evidence::vtpm::Vtpm;
use crate::maa::endpoint;
use crate::plugins::{Kind, Runtime, SearchPath};
use crate::token::Issuer;

/// One attempt: doctor reports what is wrong rather than waiting it out.
const ONCE: Retry = Retry { attempts: 1, first_delay: Duration::ZERO };

/// One line of the report.
struct Finding {
    what: &'static str,
    result: Result<String, String>,
}

pub fn run(args: &AttestArgs, config: &Config, search: &SearchPath) -> anyhow::Result<()> {
    let mut report = Vec::new();
    let mut say = |what: &'static str, result: Result<String, String>| report.push(Finding { what, result });
    let text = |e: &dyn std::fmt::Display| e.to_string();

    match Vtpm::open(&args.sources.tpm) {
        Err(e) => say("tpm", Err(text(&e))),
        Ok(mut vtpm) => {
            say("tpm", Ok(format!("{} answers", args.sources.tpm)));
            say(
                "hcl-report",
                vtpm.read_hcl_report().map(|r| format!("{} bytes in NV", r.len())).map_err(|e| text(&e)),
            );
            say(
                "ak",
                vtpm.read_ak_public()
                    .map(|_| "the attestation key is persistent".into())
                    .map_err(|e| text(&e)),
            );
            say("ak-cert", vtpm.read_ak_cert().map_err(|e| text(&e)).and_then(|cert| ak_cert(&cert)));
        }
    }
    let location = Imds::new(&args.sources.imds, ONCE).and_then(|imds| imds.location());
    let imds = location.as_ref().map(|region| format!("{} (region {region})", args.sources.imds));
    say("imds", imds.map_err(|e| text(e)));
    // The verifier: MAA, or the plugin `attest --verifier` would load (which `plugins` also lists).
    let verifier = match args.verifier.as_str() {
        "maa" => match endpoint::resolve(args.maa_url.as_deref(), config.maa_url.as_ref(), || location) {
            Err(e) => Err(text(&e)),
            Ok((endpoint, _)) => maa_keys(args, &endpoint),
        },
        name => search
            .locate(name)
            .map(|located| format!("the plugin {}", located.wasm_path.display()))
            .map_err(|e| text(&e)),
    };
    let verifier_line = if args.verifier == "maa" { "maa" } else { "verifier" };
    say(verifier_line, verifier);
    // One runtime for the plugins' check and a `--verifier` plugin's attestation.
    let runtime = Runtime::new(config.cache_dir()).map_err(|e| e.to_string());
    plugins(runtime.as_ref(), config, search, &mut say);
    // What the attestation needs: with a problem in one of these it is not tried.
    let needed = ["tpm", "hcl-report", "ak", "imds", verifier_line];
    let ready = needed.iter().all(|what| report.iter().any(|f| f.what == *what && f.result.is_ok()));
    if ready {
        report.push(Finding { what: "attest", result: attestation(runtime.as_ref(), args, config, search) });
    }

    let problems = report.iter().filter(|f| f.result.is_err()).count();
    let mut out = String::new();
    for Finding { what, result } in &report {
        let (status, detail) = match result {
            Ok(found) => ("ok     ", found),
            Err(problem) => ("problem", problem),
        };
        out.push_str(&format!("{status}  {what:<11} {}\n", crate::text::sanitize(detail)));
    }
    let verdict = match problems {
        0 => Ok(()),
        n => {
            Err(Rejected(format!("{n} problem(s): attest would fail here; each line says what to do")).into())
        }
    };
    finish(out.as_bytes(), verdict)
}

/// One attestation as `attest` makes it, with `--nonce` or a nonce of doctor's own: MAA's token
/// verified, or the `--verifier` plugin's appraisal accepted, and the claims showing a compliant CVM
/// (what `attest` prints `true` for).
fn attestation(
    runtime: Result<&Runtime, &String>,
    args: &AttestArgs,
    config: &Config,
    search: &SearchPath,
) -> Result<String, String> {
    let fail = |e: anyhow::Error| super::message(&e);
    let imds = Imds::new(&args.sources.imds, ONCE).map_err(|e| e.to_string())?;
    let nonce = Some(
        args.nonce
            .bytes()
            .unwrap_or_else(|| format!("cvm-attest doctor {}", crate::clock::now_unix_ms()).into_bytes()),
    );
    let api = attest::api(args.kind);
    let nonce_member = attest::nonce_member(args.kind, nonce.as_deref()).map_err(fail)?;
    let maa = match args.verifier.as_str() {
        "maa" => Some(Maa::new(args, config, &imds).map_err(fail)?),
        _ => None,
    };
    let attempt = Attempt { args, api, nonce: &nonce, nonce_member: nonce_member.as_deref(), imds: &imds };
    let claims = match attempt.make(maa.as_ref(), &Progress::quiet()).map_err(fail)? {
        Obtained::Verified { claims, .. } => claims,
        Obtained::Evidence(bundle) => {
            let runtime = runtime.map_err(String::clone)?;
            let verifier =
                resolve::load(runtime, search, config, &args.verifier, Kind::Verifier).map_err(fail)?;
            let outcome =
                attest::appraise_locally(config, bundle, verifier, nonce, Vec::new()).map_err(fail)?;
            outcome.judged.map_err(|rejection| rejection.to_string())?
        }
        Obtained::Unverified(_) => return Err("--no-verify: the token was not verified".into()),
    };
    let tee = attest::compliant_cvm(&claims)?;
    Ok(match &maa {
        Some(maa) => {
            format!(
                "{} attested a compliant {tee} CVM ({}); its token verified",
                maa.endpoint(),
                api.document()
            )
        }
        None => format!("{} accepted a compliant {tee} CVM", args.verifier),
    })
}

/// The AK certificate's validity; Azure renews it within 90 days of its end.
fn ak_cert(cert: &crate::evidence::vtpm::AkCert) -> Result<String, String> {
    match cert.warnings(SystemTime::now()).first() {
        None => Ok(format!("valid until {}, issued by {}", time(cert.not_after()), cert.issuer())),
        Some(warning) => Err(warning.to_string()),
    }
}

/// MAA's signing keys, fetched as `attest` fetches them to verify its token.
fn maa_keys(args: &AttestArgs, endpoint: &endpoint::Endpoint) -> Result<String, String> {
    let issuer = Issuer::of_endpoint(endpoint).map_err(|e| e.to_string())?;
    let verifier = super::attest::token_verifier(args).map_err(|e| super::message(&e))?;
    let (url, keys) = verifier.published_keys(&issuer).map_err(|e| format!("{}: {e}", endpoint.as_str()))?;
    Ok(format!("{} reachable, {keys} signing key(s) at {url}", endpoint.as_str()))
}

/// Every plugin on the search path loads (manifest, digest pins, imports, describe).
fn plugins(
    runtime: Result<&Runtime, &String>,
    config: &Config,
    search: &SearchPath,
    say: &mut impl FnMut(&'static str, Result<String, String>),
) {
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => return say("plugins", Err(e.clone())),
    };
    let (found, broken) = search.list();
    for error in &broken {
        say("plugins", Err(error.to_string()));
    }
    let mut loaded = Vec::new();
    for located in &found {
        let name = &located.manifest.name;
        match runtime.load(located, &config.policy(name), config.require_pinned) {
            Ok(_) => loaded.push(name.as_str()),
            Err(e) => say("plugins", Err(format!("{name}: {e}"))),
        }
    }
    say("plugins", Ok(format!("{} load from {}: {}", loaded.len(), search.describe(), loaded.join(", "))));
}

fn time(at: SystemTime) -> String {
    let seconds = at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    crate::token::time_text(i64::try_from(seconds).unwrap_or(i64::MAX))
}
