//! `cvm-attest token decode | verify`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::Context;
use reqwest::Url;
use serde_json::{Map, Value, json};

use super::args::{Output, TokenCommand, TokenVerifyArgs};
use super::{Rejected, finish};
use crate::config::Config;
use crate::input;
use crate::maa::endpoint::Endpoint;
use crate::text::{sanitize, sanitize_lines};
use crate::token::{
    self, Expected, HttpOptions, Issuer, Jws, KeySet, KeySource, TIME_CLAIMS, Verified, Verifier, time_text,
};

/// The environment variable naming the MAA instance (`attest -a`; the simulator sets it), read when
/// no `--issuer` is given.
const MAA_URL_VAR: &str = "CVM_ATTEST_MAA_URL";

const DECODE_SCHEMA: &str = "cvm-attest/token-decode/v1";
const VERIFICATION_SCHEMA: &str = "cvm-attest/token-verification/v1";

pub fn run(cmd: TokenCommand, config: &Config) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Decode { token, output } => decode(&token, output),
        TokenCommand::Verify(args) => verify(&args, config),
    }
}

/// The compact JWS the argument names: `-` is stdin, an existing file is read, and text that looks
/// like a token (or MAA's JSON answer) is the token itself; anything else is a file that must exist.
fn read_token(arg: &str) -> anyhow::Result<String> {
    let trimmed = arg.trim();
    let inline = trimmed.starts_with('{')
        || (trimmed.contains('.')
            && trimmed.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
    let text = if arg != "-" && inline && !Path::new(arg).is_file() {
        arg.to_owned()
    } else {
        input::read_text(Path::new(arg), "token", input::MAX_SMALL_FILE_BYTES)?
    };
    Ok(token::extract(&text)?)
}

fn decode(arg: &str, output: Output) -> anyhow::Result<()> {
    let jws = Jws::parse(&read_token(arg)?).map_err(token::Error::from)?;
    let _ = writeln!(
        std::io::stderr(),
        "note: decoded, not verified: nothing checked the signature, the issuer, the lifetime or the nonce; \
         `cvm-attest token verify` does"
    );
    let text = match output {
        Output::Json => format!("{:#}\n", decoded_json(&jws)),
        Output::Text => decoded_text(&jws),
    };
    finish(text.as_bytes(), Ok(()))
}

fn decoded_json(jws: &Jws) -> Value {
    let times: Map<String, Value> = TIME_CLAIMS
        .iter()
        .filter_map(|claim| Some(((*claim).to_owned(), json!(time_text(numeric(jws.claims(), claim)?)))))
        .collect();
    json!({
        "schema": DECODE_SCHEMA,
        "verified": false,
        "header": jws.header(),
        "payload": jws.claims(),
        "times": times,
        "signature_bytes": jws.signature().len(),
    })
}

fn decoded_text(jws: &Jws) -> String {
    let pretty = |map: &Map<String, Value>| serde_json::to_string_pretty(map).unwrap_or_default();
    let mut out = format!("header\n{}\n\npayload\n{}\n\n", pretty(jws.header()), pretty(jws.claims()));
    let present: Vec<&str> = TIME_CLAIMS.into_iter().filter(|c| jws.claims().contains_key(*c)).collect();
    if !present.is_empty() {
        out.push_str("times (UTC)\n");
        for claim in present {
            let _ = match numeric(jws.claims(), claim) {
                Some(seconds) => writeln!(out, "  {claim}  {}  ({seconds})", time_text(seconds)),
                None => writeln!(out, "  {claim}  not a NumericDate (whole seconds since 1970)"),
            };
        }
        out.push('\n');
    }
    let _ = writeln!(out, "signature  {} bytes, not verified", jws.signature().len());
    sanitize_lines(&out).into_owned()
}

fn numeric(claims: &Map<String, Value>, claim: &str) -> Option<i64> {
    claims
        .get(claim)
        .and_then(Value::as_i64)
        .filter(|s| cvm_attest_formats::time::DateTime::from_unix_seconds(*s).is_some())
}

fn verify(args: &TokenVerifyArgs, config: &Config) -> anyhow::Result<()> {
    let token = read_token(&args.token)?;
    let issuer = expected_issuer(args, config, &token)?;
    // The operator's files next, so a mistake in them is reported before anything is fetched.
    let extra_roots_pem = args
        .ca_file
        .as_deref()
        .map(|path| input::read(path, "CA file", input::MAX_SMALL_FILE_BYTES))
        .transpose()?;
    let source = key_source(args.jwks.as_deref())?;
    let http = HttpOptions { extra_roots_pem, ..HttpOptions::default() };
    let verifier = Verifier::new(source, &http).context("--ca-file")?;
    let nonce = args.nonce_bytes();
    if nonce.is_none() {
        tracing::warn!(
            "no --nonce given: the token is checked, but not that it answers this request; pass the nonce the \
             relying party issued (--nonce or --nonce-hex)"
        );
    }
    let expected = Expected {
        issuer: issuer.clone(),
        nonce,
        at: args.at.as_ref().map(|t| t.unix_seconds()),
        skew_seconds: args.skew,
    };
    match verifier.verify(&token, &expected) {
        Ok(verified) => {
            let output = match args.output {
                Output::Json => format!("{:#}\n", verified_json(&verified)),
                Output::Text => verified_text(&verified),
            };
            finish(output.as_bytes(), Ok(()))
        }
        Err(token::Error::Rejected(rejection)) => {
            let reason = sanitize(&rejection.to_string()).into_owned();
            let output = match args.output {
                Output::Json => format!("{:#}\n", rejected_json(&issuer, &reason)),
                Output::Text => String::new(),
            };
            finish(output.as_bytes(), Err(Rejected(format!("token not valid: {reason}")).into()))
        }
        Err(err @ token::Error::Fetch(_)) | Err(err @ token::Error::Jwks { from_network: true, .. }) => {
            Err(anyhow::Error::new(err).context(format!(
                "cannot get the token signing keys of {issuer} (to verify without the network, pass --jwks \
                 FILE with a saved answer of {issuer}/certs)"
            )))
        }
        Err(err) => Err(err.into()),
    }
}

/// The issuer the token must come from: `--issuer`, else the MAA endpoint `attest` would use without
/// `-a` (`CVM_ATTEST_MAA_URL`, then the configuration's `maa_url`; not the region's shared instance,
/// which is a guess outside the VM). Never the token's own word; the refusal quotes it only to help.
fn expected_issuer(args: &TokenVerifyArgs, config: &Config, token: &str) -> anyhow::Result<Issuer> {
    if let Some(url) = &args.issuer {
        return Issuer::parse(url).context("--issuer");
    }
    let endpoint = match std::env::var(MAA_URL_VAR).ok().filter(|u| !u.trim().is_empty()) {
        Some(url) => {
            Some(Endpoint::parse(&url).with_context(|| format!("{MAA_URL_VAR} (no --issuer was given)"))?)
        }
        None => config.maa_url.clone(),
    };
    if let Some(endpoint) = endpoint {
        return Ok(Issuer::of_endpoint(&endpoint)?);
    }
    let claimed = Jws::parse(token)
        .ok()
        .and_then(|jws| jws.claims().get("iss").and_then(Value::as_str).map(str::to_owned))
        .map(|iss| format!(" (this token names {}, which is its own word)", sanitize(&format!("{iss:?}"))))
        .unwrap_or_default();
    anyhow::bail!(
        "no issuer to verify the token against: pass --issuer URL, the MAA instance you expect it from{claimed}, \
         or set {MAA_URL_VAR} or maa_url in the configuration; the token's own iss and jku are never trusted"
    )
}

/// `--jwks`: a URL to fetch, or a file read now; by default the issuer's metadata names it.
fn key_source(jwks: Option<&str>) -> anyhow::Result<KeySource> {
    let Some(jwks) = jwks else { return Ok(KeySource::Discover) };
    if jwks.starts_with("https://") || jwks.starts_with("http://") {
        let url = Url::parse(jwks).with_context(|| format!("--jwks {jwks:?} is not a URL"))?;
        return Ok(KeySource::Url(url));
    }
    let bytes = input::read(Path::new(jwks), "JWKS", input::MAX_SMALL_FILE_BYTES)?;
    let keys = KeySet::parse(&bytes).with_context(|| format!("--jwks {jwks}"))?;
    Ok(KeySource::Static { keys, origin: jwks.to_owned() })
}

fn verified_text(v: &Verified) -> String {
    let claim = |name: &str| v.claims.get(name).and_then(Value::as_str).unwrap_or("-");
    let time =
        |name: &str| v.claims.get(name).and_then(Value::as_i64).map_or_else(|| "-".to_owned(), time_text);
    let nonce = match v.nonce_claim {
        Some(claim) => format!("matches {claim}"),
        None => "not checked (no --nonce)".to_owned(),
    };
    let text = format!(
        "verified  RS256 signature by key {:?} of {}\nissuer    {}\ntype      {}\nlifetime  {} to {}, judged at {} \
         (clock skew {} s)\nnonce     {nonce}\n",
        v.kid,
        v.key_origin,
        v.issuer,
        claim("x-ms-attestation-type"),
        time("iat"),
        time("exp"),
        time_text(v.judged_at),
        v.skew_seconds,
    );
    sanitize_lines(&text).into_owned()
}

fn verified_json(v: &Verified) -> Value {
    json!({
        "schema": VERIFICATION_SCHEMA,
        "verified": true,
        "rejection": null,
        "issuer": v.issuer.as_str(),
        "kid": v.kid,
        "key_origin": v.key_origin,
        "judged_at": time_text(v.judged_at),
        "skew_seconds": v.skew_seconds,
        "nonce_claim": v.nonce_claim,
        "header": v.header,
        "claims": v.claims,
    })
}

fn rejected_json(issuer: &Issuer, reason: &str) -> Value {
    json!({
        "schema": VERIFICATION_SCHEMA,
        "verified": false,
        "rejection": reason,
        "issuer": issuer.as_str(),
        "kid": null,
        "key_origin": null,
        "judged_at": null,
        "skew_seconds": null,
        "nonce_claim": null,
        "header": null,
        "claims": null,
    })
}
