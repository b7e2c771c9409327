//! `cvm-attest token decode | verify` through the real binary: real MAA tokens with the JWKS that
//! signed them (offline), and tokens signed in the test by a generated key whose JWKS a real HTTP
//! server on loopback serves, counting every request it gets.

use std::collections::HashMap;
use std::io::Write as _;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand_chacha::rand_core::SeedableRng as _;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use rsa::traits::PublicKeyParts as _;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::{cvm_attest, repo_root};

const SGX_TOKEN: &str = "host/testdata/token/sharedwus-sgx-token-2022-05-31.jwt";
const TDX_TOKEN: &str = "formats/testdata/maa/sharedwus-tdxvm-token-2026-10-08.jwt";
const SHAREDWUS_JWKS: &str = "host/testdata/token/sharedwus-certs-2022-05-31.json";
const SHAREDWUS: &str = "https://sharedwus.wus.attest.azure.net";
/// Within the first hour of each real token's 8 hours.
const SGX_DAY: &str = "2022-05-31T23:00:00Z";
const TDX_DAY: &str = "2026-10-08T23:00:00Z";
const TEST_KID: &str = "test-signing-key";

/// `cvm-attest ARGS` from the repository root, with nothing from the caller's environment that would
/// choose an issuer or a CA.
fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = cvm_attest();
    cmd.current_dir(repo_root()).args(args).env_remove("CVM_ATTEST_MAA_URL").env_remove("CVM_ATTEST_CA_FILE");
    run_command(cmd, stdin)
}

fn run_command(mut cmd: std::process::Command, stdin: Option<&[u8]>) -> Output {
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run cvm-attest");
    if let Some(bytes) = stdin {
        child.stdin.take().expect("stdin").write_all(bytes).expect("write stdin");
    }
    child.wait_with_output().expect("wait")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn assert_status(out: &Output, status: i32) {
    assert_eq!(out.status.code(), Some(status), "stdout:\n{}\nstderr:\n{}", stdout(out), stderr(out));
    assert!(!stderr(out).contains("panicked"), "{}", stderr(out));
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).expect("test data")
}

/// The parts of a compact JWS, decoded.
fn parts(token: &str) -> (Value, Value) {
    let part = |i: usize| -> Value {
        let text = token.trim().split('.').nth(i).expect("part");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).expect("base64url")).expect("JSON")
    };
    (part(0), part(1))
}

/// `token` with its payload replaced (the signature kept).
fn with_payload(token: &str, payload: &Value) -> String {
    let mut parts: Vec<String> = token.trim().split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
    parts.join(".")
}

/// A generated RSA key, the same in every run (seeded), made once per test process.
fn key(bits: usize) -> &'static RsaPrivateKey {
    static KEYS: OnceLock<Mutex<HashMap<usize, &'static RsaPrivateKey>>> = OnceLock::new();
    let mut keys = KEYS.get_or_init(Mutex::default).lock().expect("keys");
    keys.entry(bits).or_insert_with(|| {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(bits as u64);
        Box::leak(Box::new(RsaPrivateKey::new(&mut rng, bits).expect("generate an RSA key")))
    })
}

/// A compact JWS of `header` and `claims`, signed RS256 with `key`.
fn sign(key: &RsaPrivateKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = SigningKey::<Sha256>::new(key.clone()).sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

/// MAA's header shape, pointing (uselessly: it is never followed) at `base`.
fn header(base: &str, kid: &str) -> Value {
    json!({ "alg": "RS256", "jku": format!("{base}/certs"), "kid": kid, "typ": "JWT" })
}

/// MAA's standard claims, issued an hour ago by `issuer`, plus `extra`.
fn claims(issuer: &str, extra: Value) -> Value {
    let now = i64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs(),
    )
    .expect("seconds");
    let mut claims = json!({ "iss": issuer, "iat": now - 3600, "nbf": now - 3600, "exp": now + 7 * 3600,
        "jti": "00".repeat(32), "x-ms-ver": "1.0" });
    if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), extra) {
        claims.extend(extra);
    }
    claims
}

/// The JWK of a public key, as `n`/`e` (MAA's own carry `x5c`, tested with the real JWKS).
fn jwk(key: &RsaPublicKey, kid: &str) -> Value {
    json!({ "kid": kid, "kty": "RSA", "alg": "RS256", "use": "sig",
        "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()), "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()) })
}

fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

/// An MAA stand-in on loopback: a real HTTP server answering each path with its scripted bodies in
/// order (the last one repeated), 404 elsewhere, recording every path asked for.
struct Service {
    base: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Service {
    /// `routes` gets the base URL (`http://127.0.0.1:PORT`) to build the answers with.
    fn start(routes: impl FnOnce(&str) -> Vec<(&'static str, Vec<String>)>) -> Service {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind loopback");
        let base = format!("http://{}", server.server_addr().to_ip().expect("ip address"));
        let mut routes: HashMap<&str, (Vec<String>, usize)> =
            routes(&base).into_iter().map(|(path, answers)| (path, (answers, 0))).collect();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                let path = request.url().to_owned();
                log.lock().expect("log").push(path.clone());
                let response = match routes.get_mut(path.as_str()) {
                    Some((answers, next)) if !answers.is_empty() => {
                        let body = answers[(*next).min(answers.len() - 1)].clone();
                        *next += 1;
                        tiny_http::Response::from_string(body).with_status_code(200)
                    }
                    _ => tiny_http::Response::from_string("not found").with_status_code(404),
                };
                let _ = request.respond(response);
            }
        });
        Service { base, seen }
    }

    /// An issuer whose OpenID metadata names its `/certs`, answered with `certs` in turn.
    fn issuer(certs: Vec<String>) -> Service {
        Service::start(|base| {
            vec![
                ("/.well-known/openid-configuration", vec![metadata(base, &format!("{base}/certs"))]),
                ("/certs", certs),
            ]
        })
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().expect("log").clone()
    }

    fn count(&self, path: &str) -> usize {
        self.requests().iter().filter(|p| *p == path).count()
    }
}

fn metadata(issuer: &str, jwks_uri: &str) -> String {
    json!({ "issuer": issuer, "jwks_uri": jwks_uri, "id_token_signing_alg_values_supported": ["RS256"] })
        .to_string()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(out), stderr(out)))
}

// Real MAA tokens, offline.

#[test]
fn real_maa_tokens_verify_offline_as_of_their_day() {
    for (token, day, kind) in [(SGX_TOKEN, SGX_DAY, "sgx"), (TDX_TOKEN, TDX_DAY, "tdxvm")] {
        let out = run(
            &["token", "verify", token, "--issuer", SHAREDWUS, "--jwks", SHAREDWUS_JWKS, "--at", day],
            None,
        );
        assert_status(&out, 0);
        let text = stdout(&out);
        assert!(
            text.starts_with(
                "verified  RS256 signature by key \"XxRc2vLh1E5FrsNawnRH3PzuFgqg3q7NvCdnjoJHBGE=\""
            ),
            "{text}"
        );
        assert!(text.contains(&format!("type      {kind}\n")) && text.contains("judged at"), "{text}");
        assert!(stderr(&out).contains("no --nonce given"), "freshness unchecked is said: {}", stderr(&out));

        let out = run(
            &[
                "token",
                "verify",
                token,
                "--issuer",
                &format!("{SHAREDWUS}/"),
                "--jwks",
                SHAREDWUS_JWKS,
                "--at",
                day,
                "-o",
                "json",
            ],
            None,
        );
        assert_status(&out, 0);
        let result = json_of(&out);
        crate::support::assert_valid("token-verification-v1.schema.json", &result);
        assert_eq!(result["verified"], true);
        assert_eq!(result["issuer"], SHAREDWUS, "a trailing slash is not a difference");
        assert_eq!(result["judged_at"], day);
        assert_eq!(result["claims"], parts(&read(token)).1, "the claims as signed");
    }
}

#[test]
fn an_expired_token_is_not_valid_and_exp_is_named() {
    let out = run(&["token", "verify", TDX_TOKEN, "--issuer", SHAREDWUS, "--jwks", SHAREDWUS_JWKS], None);
    assert_status(&out, 1);
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("token not valid: exp 2026-10-09T06:32:15Z: the token had expired at"),
        "{}",
        stderr(&out)
    );

    // Before nbf, with and without the skew.
    let at = "2026-10-08T22:31:45Z"; // 30 s before nbf
    let args = ["token", "verify", TDX_TOKEN, "--issuer", SHAREDWUS, "--jwks", SHAREDWUS_JWKS, "--at", at];
    assert_status(&run(&args, None), 0);
    let out = run(&[&args[..], &["--skew", "0", "-o", "json"]].concat(), None);
    assert_status(&out, 1);
    let result = json_of(&out);
    crate::support::assert_valid("token-verification-v1.schema.json", &result);
    assert_eq!(result["verified"], false);
    assert_eq!(result["claims"], Value::Null, "unverified claims are not handed out");
    assert!(
        result["rejection"].as_str().expect("reason").starts_with("nbf 2026-10-08T22:32:15Z"),
        "{result:#}"
    );
}

#[test]
fn a_token_of_another_issuer_is_not_valid() {
    let other = "https://sharedweu.weu.attest.azure.net";
    let out = run(
        &["token", "verify", SGX_TOKEN, "--issuer", other, "--jwks", SHAREDWUS_JWKS, "--at", SGX_DAY],
        None,
    );
    assert_status(&out, 1);
    assert!(
        stderr(&out).contains(&format!("iss \"{SHAREDWUS}\" is not the expected issuer \"{other}\"")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_tampered_payload_fails_the_signature() {
    let token = read(SGX_TOKEN);
    let (_, mut payload) = parts(&token);
    payload["is-debuggable"] = json!(false);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tampered.jwt");
    std::fs::write(&path, with_payload(&token, &payload)).expect("write");
    let path = path.display().to_string();
    let out = run(
        &["token", "verify", &path, "--issuer", SHAREDWUS, "--jwks", SHAREDWUS_JWKS, "--at", SGX_DAY],
        None,
    );
    assert_status(&out, 1);
    assert!(
        stderr(&out).contains("the RS256 signature does not verify with key \"XxRc2v"),
        "{}",
        stderr(&out)
    );

    // A signature cut short is the same verdict, not an input error.
    let (input, signature) = token.trim().rsplit_once('.').expect("three parts");
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
    let cut = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&signature[..signature.len() - 1]));
    let out = run(
        &["token", "verify", &cut, "--issuer", SHAREDWUS, "--jwks", SHAREDWUS_JWKS, "--at", SGX_DAY],
        None,
    );
    assert_status(&out, 1);
}

// Algorithms, and what is fetched.

#[test]
fn other_algorithms_are_refused_before_any_key_is_fetched() {
    let maa = Service::issuer(vec![jwks(&[jwk(&key(2048).to_public_key(), TEST_KID)])]);
    let claims = claims(&maa.base, json!({}));
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let unsigned = |header: Value, signature: &[u8]| {
        format!(
            "{}.{payload}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(signature)
        )
    };
    // HS256 "signed" with the public key's bytes as the secret: the classic confusion.
    let tokens = [
        (
            "none",
            unsigned(json!({ "alg": "none", "kid": TEST_KID, "jku": format!("{}/certs", maa.base) }), b""),
        ),
        ("HS256", unsigned(json!({ "alg": "HS256", "kid": TEST_KID }), &[7; 32])),
        ("ES256", unsigned(json!({ "alg": "ES256", "kid": TEST_KID }), &[7; 64])),
        ("PS256", unsigned(json!({ "alg": "PS256", "kid": TEST_KID }), &[7; 256])),
    ];
    for (alg, token) in &tokens {
        let out = run(&["token", "verify", token, "--issuer", &maa.base], None);
        assert_status(&out, 1);
        assert!(stderr(&out).contains(&format!("alg \"{alg}\" is not accepted")), "{alg}: {}", stderr(&out));
    }
    let crit = sign(key(2048), &json!({ "alg": "RS256", "kid": TEST_KID, "crit": ["exp"] }), &claims);
    let out = run(&["token", "verify", &crit, "--issuer", &maa.base], None);
    assert_status(&out, 1);
    assert!(stderr(&out).contains("crit"), "{}", stderr(&out));
    assert_eq!(maa.requests(), Vec::<String>::new(), "nothing was fetched for these tokens");

    // The same service does serve the key: an RS256 token verifies, with one metadata and one JWKS request.
    let token = sign(key(2048), &header(&maa.base, TEST_KID), &claims);
    assert_status(&run(&["token", "verify", &token, "--issuer", &maa.base], None), 0);
    assert_eq!(maa.requests(), ["/.well-known/openid-configuration", "/certs"]);
}

#[test]
fn the_tokens_own_jku_is_never_followed() {
    let maa = Service::issuer(vec![jwks(&[])]);
    let attacker =
        Service::start(|_| vec![("/certs", vec![jwks(&[jwk(&key(2048).to_public_key(), TEST_KID)])])]);
    let token = sign(key(2048), &header(&attacker.base, TEST_KID), &claims(&maa.base, json!({})));
    let out = run(&["token", "verify", &token, "--issuer", &maa.base], None);
    assert_status(&out, 1);
    assert!(
        stderr(&out).contains(&format!("kid \"{TEST_KID}\" is not in the issuer's keys")),
        "{}",
        stderr(&out)
    );
    assert_eq!(attacker.requests(), Vec::<String>::new());
}

#[test]
fn an_unknown_kid_fetches_the_keys_again_once() {
    let public = key(2048).to_public_key();
    let other = jwk(&public, "an-older-key");
    // The key appears only in the second answer (MAA rolled its key since the first fetch).
    let maa = Service::issuer(vec![
        jwks(std::slice::from_ref(&other)),
        jwks(&[other.clone(), jwk(&public, TEST_KID)]),
    ]);
    let token = sign(key(2048), &header(&maa.base, TEST_KID), &claims(&maa.base, json!({})));
    let out = run(&["token", "verify", &token, "--issuer", &maa.base], None);
    assert_status(&out, 0);
    assert_eq!((maa.count("/.well-known/openid-configuration"), maa.count("/certs")), (1, 2));

    // Never there: one refresh, then not valid.
    let maa = Service::issuer(vec![jwks(&[other])]);
    let token = sign(key(2048), &header(&maa.base, TEST_KID), &claims(&maa.base, json!({})));
    let out = run(&["token", "verify", &token, "--issuer", &maa.base], None);
    assert_status(&out, 1);
    assert!(stderr(&out).contains("fetched again once"), "{}", stderr(&out));
    assert_eq!(maa.count("/certs"), 2, "exactly one refresh: {:?}", maa.requests());
}

#[test]
fn a_verifier_keeps_the_keys_and_refreshes_for_unknown_kids_at_most_once_a_minute() {
    use cvm_attest::token::{Error, Expected, HttpOptions, Issuer, KeySource, Rejection, Verifier};
    let public = key(2048).to_public_key();
    let maa = Service::issuer(vec![jwks(&[jwk(&public, TEST_KID)])]);
    let verifier = Verifier::new(KeySource::Discover, &HttpOptions::default()).expect("verifier");
    let expected = Expected::new(Issuer::parse(&maa.base).expect("issuer"));
    let token = |kid: &str| sign(key(2048), &header(&maa.base, kid), &claims(&maa.base, json!({})));

    for _ in 0..3 {
        let verified = verifier.verify(&token(TEST_KID), &expected).expect("valid");
        assert_eq!(verified.key_origin, format!("{}/certs", maa.base));
    }
    assert_eq!(maa.requests(), ["/.well-known/openid-configuration", "/certs"], "fetched once, then kept");

    let unknown = |kid: &str| match verifier.verify(&token(kid), &expected) {
        Err(Error::Rejected(Rejection::UnknownKey { refreshed, .. })) => refreshed,
        other => panic!("{other:?}"),
    };
    assert!(unknown("made-up-1"), "the first unknown kid fetches the keys again");
    assert!(!unknown("made-up-2"), "another within a minute does not");
    assert_eq!(maa.count("/certs"), 2);
    assert!(verifier.verify(&token(TEST_KID), &expected).is_ok());
    assert_eq!(maa.requests().len(), 3);
}

#[test]
fn keys_come_only_from_the_issuers_origin() {
    let elsewhere =
        Service::start(|_| vec![("/certs", vec![jwks(&[jwk(&key(2048).to_public_key(), TEST_KID)])])]);
    let jwks_uri = format!("{}/certs", elsewhere.base);
    let maa =
        Service::start(|base| vec![("/.well-known/openid-configuration", vec![metadata(base, &jwks_uri)])]);
    let token = sign(key(2048), &header(&maa.base, TEST_KID), &claims(&maa.base, json!({})));
    let out = run(&["token", "verify", &token, "--issuer", &maa.base], None);
    assert_status(&out, 3);
    assert!(stderr(&out).contains("is not on the issuer's origin"), "{}", stderr(&out));
    assert_eq!(elsewhere.requests(), Vec::<String>::new());

    // Metadata naming another issuer is refused too.
    let maa = Service::start(|base| {
        vec![(
            "/.well-known/openid-configuration",
            vec![metadata("https://other.example", &format!("{base}/certs"))],
        )]
    });
    let token = sign(key(2048), &header(&maa.base, TEST_KID), &claims(&maa.base, json!({})));
    let out = run(&["token", "verify", &token, "--issuer", &maa.base], None);
    assert_status(&out, 3);
    assert!(stderr(&out).contains("names the issuer \"https://other.example\""), "{}", stderr(&out));

    // The caller may name the JWKS itself: a URL (fetched, no metadata) ...
    let out = run(&["token", "verify", &token, "--issuer", &maa.base, "--jwks", &jwks_uri], None);
    assert_status(&out, 0);
    assert_eq!(elsewhere.requests(), ["/certs"]);
    // ... but plain http only to this machine.
    let out =
        run(&["token", "verify", &token, "--issuer", &maa.base, "--jwks", "http://192.0.2.1/certs"], None);
    assert_status(&out, 2);
    assert!(stderr(&out).contains("over plain http"), "{}", stderr(&out));
}

#[test]
fn weak_keys_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("jwks.json");
    std::fs::write(&file, jwks(&[jwk(&key(1024).to_public_key(), TEST_KID)])).expect("write");
    let issuer = "https://maa.example";
    let token = sign(key(1024), &header(issuer, TEST_KID), &claims(issuer, json!({})));
    let out =
        run(&["token", "verify", &token, "--issuer", issuer, "--jwks", &file.display().to_string()], None);
    assert_status(&out, 2);
    assert!(stderr(&out).contains("1024 bits, fewer than 2048"), "{}", stderr(&out));

    // From the issuer, the same key is the service's fault.
    let maa = Service::issuer(vec![jwks(&[jwk(&key(1024).to_public_key(), TEST_KID)])]);
    let token = sign(key(1024), &header(&maa.base, TEST_KID), &claims(&maa.base, json!({})));
    let out = run(&["token", "verify", &token, "--issuer", &maa.base], None);
    assert_status(&out, 3);
}

// Nonces.

#[test]
fn nonces_of_guest_and_platform_tokens() {
    let public = key(2048).to_public_key();
    let maa = Service::issuer(vec![jwks(&[jwk(&public, TEST_KID)])]);
    let token = |extra: Value| sign(key(2048), &header(&maa.base, TEST_KID), &claims(&maa.base, extra));
    let guest = token(json!({ "x-ms-attestation-type": "azurevm",
        "x-ms-runtime": { "client-payload": { "nonce": STANDARD.encode("relying-party-1") } } }));
    let snp = token(json!({ "x-ms-attestation-type": "sevsnpvm", "nonce": "relying-party-1" }));
    let tdx = token(json!({ "x-ms-attestation-type": "tdxvm", "nonce": "relying-party-1" }));
    let without = token(json!({ "x-ms-attestation-type": "sevsnpvm" }));
    let verify = |token: &str, nonce: &[&str]| {
        run(&[&["token", "verify", token, "--issuer", &maa.base, "-o", "json"][..], nonce].concat(), None)
    };

    for (token, claim) in [(&guest, "x-ms-runtime.client-payload.nonce"), (&snp, "nonce"), (&tdx, "nonce")] {
        let out = verify(token, &["--nonce", "relying-party-1"]);
        assert_status(&out, 0);
        assert!(!stderr(&out).contains("no --nonce"), "{}", stderr(&out));
        assert_eq!(json_of(&out)["nonce_claim"], claim);
        let out = verify(token, &["--nonce-hex", &hex::encode("relying-party-1")]);
        assert_status(&out, 0);

        let out = verify(token, &["-n", "relying-party-2"]);
        assert_status(&out, 1);
        let result = json_of(&out);
        crate::support::assert_valid("token-verification-v1.schema.json", &result);
        let reason = result["rejection"].as_str().expect("reason");
        assert!(
            reason.starts_with(&format!("{claim} is ")) && reason.contains("\"relying-party-2\""),
            "{reason}"
        );
    }
    let out = verify(&guest, &["-n", "relying-party-2"]);
    assert!(
        stderr(&out).contains(&STANDARD.encode("relying-party-2")),
        "shows the base64 expected: {}",
        stderr(&out)
    );
    let out = verify(&without, &["-n", "relying-party-1"]);
    assert_status(&out, 1);
    assert!(stderr(&out).contains("no nonce claim"), "{}", stderr(&out));
    let metadata = maa.count("/.well-known/openid-configuration");
    assert_eq!(maa.count("/certs"), metadata, "one JWKS fetch per run, no refresh: the key was always known");
}

// Where tokens come from, and what is an input error.

#[test]
fn tokens_are_read_from_stdin_files_arguments_and_maa_answers() {
    let token = read(SGX_TOKEN);
    let verify = |arg: &str, stdin: Option<&[u8]>| {
        run(
            &["token", "verify", arg, "--issuer", SHAREDWUS, "--jwks", SHAREDWUS_JWKS, "--at", SGX_DAY],
            stdin,
        )
    };
    assert_status(&verify("-", Some(token.as_bytes())), 0);
    assert_status(&verify(token.trim(), None), 0);
    assert_status(&verify(SGX_TOKEN, None), 0);
    let answer = json!({ "token": token.trim() }).to_string();
    assert_status(&verify(&answer, None), 0);
    assert_status(&verify("-", Some(answer.as_bytes())), 0);

    // MAA's encrypted AzureGuest answer is named, not misread.
    let envelope = URL_SAFE_NO_PAD
        .encode(r#"{"Jwt":"x","EncryptedInnerKey":"y","EncryptionParams":{},"AuthenticationData":"z"}"#);
    let out = verify("-", Some(json!({ "token": envelope }).to_string().as_bytes()));
    assert_status(&out, 2);
    assert!(stderr(&out).contains("encrypted AzureGuest answer"), "{}", stderr(&out));
}

#[test]
fn input_errors_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (missing, tmp) =
        (dir.path().join("missing.jwt").display().to_string(), dir.path().display().to_string());
    let (missing, tmp) = (missing.as_str(), tmp.as_str());
    let jwks_args = ["--issuer", SHAREDWUS, "--jwks", SHAREDWUS_JWKS];
    for (args, says) in [
        (vec!["token", "verify", missing, "--issuer", SHAREDWUS], "cannot read token"),
        (vec!["token", "verify", tmp, "--issuer", SHAREDWUS], "not a regular file"),
        (vec!["token", "decode", missing], "cannot read token"),
        (vec!["token", "verify", "not.a.jwt", "--issuer", SHAREDWUS], "not a JWT"),
        (vec!["token", "verify", "README.md", "--issuer", SHAREDWUS], "not a JWT"),
        (vec!["token", "verify", SGX_TOKEN, "--issuer", "sharedwus.wus.attest.azure.net"], "--issuer"),
        (vec!["token", "verify", SGX_TOKEN, "--issuer", "https://x.example/certs"], "without a path"),
        (vec!["token", "verify", SGX_TOKEN, "--issuer", SHAREDWUS, "--jwks", missing], "cannot read JWKS"),
        (
            vec!["token", "verify", SGX_TOKEN, "--issuer", SHAREDWUS, "--jwks", "README.md"],
            "not a JSON Web Key Set",
        ),
        (
            [&["token", "verify", SGX_TOKEN, "--ca-file", "README.md"][..], &jwks_args].concat(),
            "no PEM certificate",
        ),
        (
            [&["token", "verify", SGX_TOKEN, "--ca-file", missing][..], &jwks_args].concat(),
            "cannot read CA file",
        ),
        ([&["token", "verify", SGX_TOKEN, "--skew", "3601"][..], &jwks_args].concat(), "3601"),
        (vec!["token", "verify", SGX_TOKEN], "pass --issuer URL"),
    ] {
        let out = run(&args, None);
        assert_status(&out, 2);
        assert!(stderr(&out).contains(says), "{args:?} should say {says:?}: {}", stderr(&out));
    }
    let out = run(&["token", "verify", SGX_TOKEN], None);
    assert!(
        stderr(&out).contains(&format!("this token names \"{SHAREDWUS}\", which is its own word")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_issuer_may_come_from_the_environment_and_an_unreachable_one_exits_3() {
    // A port nobody listens on: bind one, then close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let gone = format!("http://127.0.0.1:{port}");
    let token = sign(key(2048), &header(&gone, TEST_KID), &claims(&gone, json!({})));
    let out = run(&["token", "verify", &token, "--issuer", &gone], None);
    assert_status(&out, 3);
    assert!(
        stderr(&out).contains("cannot reach") && stderr(&out).contains("--jwks FILE"),
        "{}",
        stderr(&out)
    );

    let maa = Service::issuer(vec![jwks(&[jwk(&key(2048).to_public_key(), TEST_KID)])]);
    let token = sign(key(2048), &header(&maa.base, TEST_KID), &claims(&maa.base, json!({})));
    let mut cmd = cvm_attest();
    cmd.current_dir(repo_root())
        .args(["token", "verify", &token])
        .env("CVM_ATTEST_MAA_URL", format!("{}/attest/AzureGuest?api-version=2020-10-01", maa.base))
        // An extra TLS root (the simulator's test CA) is taken in beside the system's.
        .env("CVM_ATTEST_CA_FILE", repo_root().join("tests/sim/testdata/pki/tls-test-ca.pem"));
    let out = run_command(cmd, None);
    assert_status(&out, 0);
    assert!(stdout(&out).contains(&format!("issuer    {}\n", maa.base)), "{}", stdout(&out));

    // Else the configuration's maa_url; the environment wins over it.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, format!("maa_url = \"{}\"\n", maa.base)).expect("config");
    let config = config.display().to_string();
    let out = run(&["--config", &config, "token", "verify", &token], None);
    assert_status(&out, 0);
    let mut cmd = cvm_attest();
    cmd.current_dir(repo_root())
        .args(["--config", &config, "token", "verify", &token])
        .env("CVM_ATTEST_MAA_URL", "https://sharedweu.weu.attest.azure.net");
    let out = run_command(cmd, None);
    assert_status(&out, 1);
    assert!(
        stderr(&out).contains("is not the expected issuer \"https://sharedweu.weu.attest.azure.net\""),
        "{}",
        stderr(&out)
    );
}

// Decoding.

#[test]
fn decode_shows_header_payload_and_times_and_says_it_verified_nothing() {
    let out = run(&["token", "decode", TDX_TOKEN], None);
    assert_status(&out, 0);
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "header\n{\n  \"alg\": \"RS256\",\n  \"jku\": \"https://sharedwus.wus.attest.azure.net/certs\""
        ),
        "{text}"
    );
    assert!(text.contains("\npayload\n{\n") && text.contains("\"tdx_mrtd\":"), "{text}");
    assert!(text.contains("times (UTC)\n  iat  2026-10-08T22:32:15Z  (1791498735)\n  nbf  2026-10-08T22:32:15Z  (1791498735)\n  exp  2026-10-09T06:32:15Z  (1791527535)\n"), "{text}");
    assert!(text.ends_with("signature  256 bytes, not verified\n"), "{text}");
    assert!(stderr(&out).contains("decoded, not verified"), "{}", stderr(&out));

    let out = run(&["token", "decode", "-", "-o", "json"], Some(read(TDX_TOKEN).as_bytes()));
    assert_status(&out, 0);
    let decoded = json_of(&out);
    crate::support::assert_valid("token-decode-v1.schema.json", &decoded);
    let (header, payload) = parts(&read(TDX_TOKEN));
    assert_eq!((&decoded["header"], &decoded["payload"]), (&header, &payload));
    assert_eq!(
        decoded["times"],
        json!({ "iat": "2026-10-08T22:32:15Z", "nbf": "2026-10-08T22:32:15Z", "exp": "2026-10-09T06:32:15Z" })
    );
    assert!(stderr(&out).contains("decoded, not verified"), "the note is on stderr, apart from the JSON");

    // An MAA answer decodes too, and what a token says cannot drive the terminal.
    let hostile =
        with_payload(&read(SGX_TOKEN), &json!({ "iss": "x\u{1b}]0;pwned\u{7}\u{202e}", "exp": "soon" }));
    let out = run(&["token", "decode", &json!({ "token": hostile }).to_string()], None);
    assert_status(&out, 0);
    let text = stdout(&out);
    assert!(!text.contains('\u{1b}') && !text.contains('\u{202e}') && text.contains("\\u{202e}"), "{text}");
    assert!(text.contains("  exp  not a NumericDate"), "{text}");
}
