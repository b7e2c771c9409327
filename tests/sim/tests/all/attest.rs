//! `cvm-attest attest` end to end against the simulated CVM (SEV-SNP and TDX): the real binary reads
//! the simulator's variables (`CVM_ATTEST_TCTI`, `_IMDS_URL`, `_MAA_URL`, `_CA_FILE`), collects evidence
//! from the paravisor vTPM, sends it to the simulated MAA, decrypts the answer in the vTPM, verifies
//! the token, and prints it; `token verify` accepts what it printed. Every fault the simulated MAA can
//! inject ends with its documented exit status: 0 when a retry recovers, 1 when MAA's answer cannot be
//! trusted, 3 when MAA cannot be reached.

use std::process::{Command, Output, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::support::{cvm_attest_binary, start, text};
use cvm_attest_sim::cvm::Tee;
use cvm_attest_sim::environment::Environment;
use cvm_attest_sim::maa::{Fault, Times};
use serde_json::Value;

/// `cvm-attest ARGS…` with the simulator's variables and nothing else from the caller's environment.
fn command(environment: &Environment, args: &[&str]) -> Command {
    let mut command = Command::new(cvm_attest_binary());
    command
        .args(args)
        .env_remove("CVM_ATTEST_CONFIG")
        .env_remove("CVM_ATTEST_PLUGIN_PATH")
        .env_remove("RUST_LOG")
        .envs(environment.variables())
        .env("XDG_CACHE_HOME", environment.dir().join("cache"));
    command
}

/// `cvm-attest attest ARGS…` (with the simulated boot's event log, which MAA replays).
fn attest(environment: &Environment, args: &[&str]) -> Output {
    command(environment, &[&["attest"], args].concat()).output().expect("run cvm-attest")
}

fn status(output: &Output) -> i32 {
    output.status.code().expect("an exit status")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
fn attest_prints_a_token_that_token_verify_accepts() {
    for tee in [Tee::Snp, Tee::Tdx] {
        let environment = start(tee);
        let run = attest(&environment, &["-o", "token", "-n", "hello"]);
        assert_eq!(status(&run), 0, "{tee}: {}", text(&run));
        let token = stdout(&run);
        assert_eq!(token.split('.').count(), 3, "{tee}: a compact JWS");

        let verify =
            |nonce: &str| command(&environment, &["token", "verify", &token, "--nonce", nonce]).output();
        let accepted = verify("hello").expect("run cvm-attest");
        assert_eq!(status(&accepted), 0, "{tee}: {}", text(&accepted));
        let other = verify("other").expect("run cvm-attest");
        assert_eq!(status(&other), 1, "{tee}: another nonce: {}", text(&other));
    }
}

#[test]
fn bool_is_true_for_snp_and_tdx() {
    for tee in [Tee::Snp, Tee::Tdx] {
        let environment = start(tee);
        let run = attest(&environment, &["-o", "bool"]);
        assert_eq!((status(&run), stdout(&run).as_str()), (0, "true"), "{tee}: {}", text(&run));
    }
}

#[test]
fn json_carries_the_verified_claims_with_the_nonce() {
    let environment = start(Tee::Snp);
    let run = attest(&environment, &["-o", "json", "-n", "n-1"]);
    assert_eq!(status(&run), 0, "{}", text(&run));
    let document: Value = serde_json::from_slice(&run.stdout).expect("JSON");
    assert_valid("attestation-v1.schema.json", &document);
    assert_eq!(document["schema"], "cvm-attest/attestation/v1");
    assert_eq!(document["accepted"], true);
    assert_eq!(document["endpoint"], environment.maa().base_url());
    let claims = &document["claims"];
    assert_eq!(claims["iss"], environment.maa().base_url());
    assert_eq!(claims["x-ms-runtime"]["client-payload"]["nonce"], "bi0x", "base64 of n-1");
    assert_eq!(claims["x-ms-isolation-tee"]["x-ms-attestation-type"], "sevsnpvm");
    assert_eq!(claims["x-ms-azurevm-vmid"], environment.cvm().vm_unique_id());
}

#[test]
fn platform_apis_give_platform_tokens_echoing_the_nonce() {
    for (tee, kind, tee_type) in [(Tee::Snp, "sev-snp-vm", "sevsnpvm"), (Tee::Tdx, "tdx-vm", "tdxvm")] {
        let environment = start(tee);
        let run = attest(&environment, &["--type", kind, "-o", "json", "-n", "fresh"]);
        assert_eq!(status(&run), 0, "{kind}: {}", text(&run));
        let claims = &serde_json::from_slice::<Value>(&run.stdout).expect("JSON")["claims"];
        assert_eq!(claims["x-ms-attestation-type"], tee_type, "{kind}");
        assert_eq!(claims["nonce"], "fresh", "{kind}");
        assert!(claims.get("x-ms-azurevm-attested-pcrs").is_none(), "{kind}: no vTPM claims");
        let bool_run = attest(&environment, &["--type", kind]);
        assert_eq!(stdout(&bool_run), "true", "{kind}: -o bool is the default: {}", text(&bool_run));
    }
}

/// `value` is valid under `docs/schemas/NAME`.
fn assert_valid(name: &str, value: &Value) {
    let path = crate::support::repo_root().join("docs/schemas").join(name);
    let schema: Value = serde_json::from_slice(&std::fs::read(&path).expect("schema")).expect("JSON");
    let url = format!("file://{}", path.display());
    let mut compiler = boon::Compiler::new();
    compiler.add_resource(&url, schema).expect("resource");
    let mut schemas = boon::Schemas::new();
    let index = compiler.compile(&url, &mut schemas).unwrap_or_else(|e| panic!("{name}: {e}"));
    if let Err(e) = schemas.validate(value, index) {
        panic!("not valid under {name}: {e:#}\n{value:#}");
    }
}

/// Arm `fault` on the environment's MAA, attest, and return the run and how long it took.
fn with_fault(environment: &Environment, fault: Fault, times: Times, args: &[&str]) -> (Output, Duration) {
    environment.maa().clear_faults();
    environment.maa().inject(fault, times);
    let started = Instant::now();
    let run = attest(environment, args);
    (run, started.elapsed())
}

#[test]
fn faults_that_a_retry_recovers_from_end_in_success() {
    let environment = start(Tee::Snp);
    let (run, took) =
        with_fault(&environment, Fault::TooManyRequests { retry_after: 1 }, Times::Count(1), &["-o", "bool"]);
    assert_eq!((status(&run), stdout(&run).as_str()), (0, "true"), "429 then success: {}", text(&run));
    assert!(took >= Duration::from_millis(950), "Retry-After honoured: {took:?}");
    let (run, _) = with_fault(&environment, Fault::ServerError, Times::Count(2), &["-o", "bool"]);
    assert_eq!(status(&run), 0, "500 twice then success: {}", text(&run));
    let (run, _) = with_fault(&environment, Fault::Delay { ms: 3000 }, Times::Count(1), &["--timeout", "1"]);
    assert_eq!(status(&run), 0, "one answer later than the timeout, then success: {}", text(&run));
}

#[test]
fn an_unreachable_or_broken_service_is_an_environment_failure() {
    let environment = start(Tee::Snp);
    let (run, _) = with_fault(&environment, Fault::MalformedBody, Times::Always, &[]);
    assert_eq!(status(&run), 3, "{}", text(&run));
    let (run, _) = with_fault(&environment, Fault::ServerError, Times::Always, &[]);
    assert_eq!(status(&run), 3, "500 on every attempt: {}", text(&run));
    assert!(text(&run).contains("500"), "{}", text(&run));
}

#[test]
fn answers_that_cannot_be_trusted_fail_with_the_reason() {
    let environment = start(Tee::Snp);
    for (fault, reason) in [
        (Fault::UnknownSigningKey, "signature"),
        (Fault::WrongIssuer, "iss"),
        (Fault::ExpiredToken, "expired"),
        (Fault::TamperedEnvelopeTag, "authentication tag does not verify"),
    ] {
        let (run, _) = with_fault(&environment, fault, Times::Always, &["-o", "token"]);
        assert_eq!(status(&run), 1, "{fault:?}: {}", text(&run));
        assert!(stdout(&run).is_empty(), "{fault:?}: no token printed");
        assert!(text(&run).contains(reason), "{fault:?}: {}", text(&run));
    }
    // --no-verify prints what MAA sent, and says loudly that it is not verified.
    let (run, _) =
        with_fault(&environment, Fault::WrongIssuer, Times::Always, &["-o", "token", "--no-verify"]);
    assert_eq!(status(&run), 0, "{}", text(&run));
    assert_eq!(stdout(&run).split('.').count(), 3);
    assert!(String::from_utf8_lossy(&run.stderr).contains("NOT verified"), "{}", text(&run));
}

#[test]
fn a_pcr_extended_between_quote_and_decryption_fails_the_decryption() {
    let environment = start(Tee::Snp);
    environment.maa().inject(Fault::Delay { ms: 3000 }, Times::Count(1));
    let child = command(&environment, &["attest", "-o", "token", "--timeout", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cvm-attest");
    // The delay is used up when the request arrives: the quote and the ephemeral key exist by then.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !environment.maa().faults().is_empty() {
        assert!(Instant::now() < deadline, "the attestation request never reached MAA");
        std::thread::sleep(Duration::from_millis(20));
    }
    extend_pcr7(&environment.cvm().tcti());
    let run = child.wait_with_output().expect("cvm-attest ends");
    assert_eq!(status(&run), 1, "{}", text(&run));
    assert!(text(&run).contains("a PCR it is bound to changed since the quote"), "{}", text(&run));
}

/// Something is measured: PCR 7 is extended, through the paravisor like any TPM command.
fn extend_pcr7(tcti: &str) {
    use tss_esapi::handles::PcrHandle;
    use tss_esapi::interface_types::algorithm::HashingAlgorithm;
    use tss_esapi::interface_types::session_handles::AuthSession;
    use tss_esapi::structures::{Digest, DigestValues};
    let mut context =
        tss_esapi::Context::new(tss_esapi::TctiNameConf::from_str(tcti).expect("TCTI")).expect("connect");
    let mut values = DigestValues::new();
    values.set(HashingAlgorithm::Sha256, Digest::try_from(vec![0x77; 32]).expect("digest"));
    context
        .execute_with_session(Some(AuthSession::Password), |context| {
            context.pcr_extend(PcrHandle::Pcr7, values)
        })
        .expect("PCR 7 extended");
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

#[test]
fn write_puts_each_format_in_its_file_the_token_for_its_owner_only_and_a_failure_too() {
    let environment = start(Tee::Snp);
    let dir = tempfile::tempdir().expect("tempdir");
    let (env_file, metrics) = (dir.path().join("env"), dir.path().join("cvm-attest.prom"));
    let writes = [
        "--write".to_owned(),
        format!("env={}", env_file.display()),
        "--write".to_owned(),
        format!("prometheus={}", metrics.display()),
    ];
    let mut args: Vec<&str> = writes.iter().map(String::as_str).collect();
    let run = attest(&environment, &args);
    assert_eq!((status(&run), stdout(&run).as_str()), (0, "true"), "{}", text(&run));
    let env = std::fs::read_to_string(&env_file).expect("env written");
    assert!(env.contains("CVM_ATTEST_VERDICT=pass\n") && env.contains("CVM_ATTEST_TOKEN=ey"), "{env}");
    assert_eq!(mode(&env_file), 0o600, "the token is a bearer credential");
    let prom = std::fs::read_to_string(&metrics).expect("metrics written");
    assert!(prom.contains("cvm_attest_success{verifier=\"maa\"} 1\n"), "{prom}");
    assert_eq!(mode(&metrics), 0o644, "no token: node_exporter may read it");

    // A check that fails: exit 1, and the files say so rather than keep the last success.
    let rules = dir.path().join("secure-boot-off.json");
    std::fs::write(&rules, r#"{"/secureboot": false}"#).expect("rules");
    let check = format!("claim-equals={}", rules.display());
    args.extend(["--check", &check]);
    let run = attest(&environment, &args);
    assert_eq!((status(&run), stdout(&run).as_str()), (1, "false"), "{}", text(&run));
    let env = std::fs::read_to_string(&env_file).expect("env rewritten");
    assert!(
        env.contains("CVM_ATTEST_VERDICT=fail\n") && env.contains("CVM_ATTEST_FAILED_CHECKS=claim-equals"),
        "{env}"
    );
    let prom = std::fs::read_to_string(&metrics).expect("metrics rewritten");
    assert!(prom.contains("cvm_attest_success{verifier=\"maa\"} 0\n"), "{prom}");

    // No verified token at all: a token from the wrong issuer (refused, exit 1), then MAA failing
    // (exit 3). Each time the files report the failure instead of the last success.
    for (fault, expected) in [(Fault::WrongIssuer, 1), (Fault::ServerError, 3)] {
        std::fs::write(&env_file, "CVM_ATTEST_VERDICT=pass\n").expect("a success left from before");
        let (run, _) =
            with_fault(&environment, fault, Times::Always, &[&args[..4], &["--retries", "0"]].concat());
        assert_eq!(status(&run), expected, "{fault}: {}", text(&run));
        assert_eq!(stdout(&run), if expected == 1 { "false" } else { "" }, "{fault}: {}", text(&run));
        let env = std::fs::read_to_string(&env_file).expect("env rewritten");
        assert!(
            env.contains("CVM_ATTEST_VERDICT=fail\nCVM_ATTEST_VERIFIER=maa\nCVM_ATTEST_FAILED_CHECKS=maa\n"),
            "{fault}: {env}"
        );
        assert!(!env.contains("CVM_ATTEST_TOKEN"), "{fault}: {env}");
        let prom = std::fs::read_to_string(&metrics).expect("metrics rewritten");
        assert!(prom.contains("cvm_attest_success{verifier=\"maa\"} 0\n"), "{fault}: {prom}");
    }
    environment.maa().clear_faults();
}

/// examples/systemd: the service's command with the example configuration (its paths moved into a
/// temporary directory) attests, passes the production policy and writes both files; the timer
/// refreshes them well within the token's lifetime.
#[test]
fn the_systemd_example_refreshes_the_env_and_metrics_files() {
    let examples = crate::support::repo_root().join("examples");
    let service = std::fs::read_to_string(examples.join("systemd/cvm-attest.service")).expect("service");
    let exec = service.lines().find_map(|l| l.strip_prefix("ExecStart=")).expect("ExecStart");
    let args: Vec<&str> = exec.split_whitespace().skip(1).collect();
    assert_eq!(args, ["attest"], "everything else comes from the configuration");

    let environment = start(Tee::Snp);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = std::fs::read_to_string(examples.join("systemd/config.toml"))
        .expect("config")
        .replace("/run/cvm-attest/env", &dir.path().join("env").display().to_string())
        .replace(
            "/var/lib/prometheus/node-exporter/cvm-attest.prom",
            &dir.path().join("cvm-attest.prom").display().to_string(),
        )
        .replace("/etc/cvm-attest/policies", &examples.join("policies").display().to_string());
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, config).expect("config");
    let run = command(&environment, &["attest"])
        .env("CVM_ATTEST_CONFIG", &config_path)
        .output()
        .expect("run cvm-attest");
    assert_eq!((status(&run), stdout(&run).as_str()), (0, "true"), "{}", text(&run));
    assert!(!text(&run).contains("not pinned"), "the shipped plugins are pinned: {}", text(&run));
    let env = std::fs::read_to_string(dir.path().join("env")).expect("env");
    assert!(env.contains("CVM_ATTEST_VERDICT=pass\n"), "{env}");
    let metrics = std::fs::read_to_string(dir.path().join("cvm-attest.prom")).expect("metrics");
    assert!(metrics.contains("cvm_attest_check_findings{check=\"policy\"} 0\n"), "{metrics}");

    let timer = std::fs::read_to_string(examples.join("systemd/cvm-attest.timer")).expect("timer");
    let every = timer.lines().find_map(|l| l.strip_prefix("OnUnitActiveSec=")).expect("OnUnitActiveSec");
    let hours: u64 = every.strip_suffix('h').and_then(|h| h.parse().ok()).expect("hours");
    let expires: u64 = env
        .lines()
        .find_map(|l| l.strip_prefix("CVM_ATTEST_EXPIRES="))
        .and_then(|t| t.parse().ok())
        .expect("CVM_ATTEST_EXPIRES");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs();
    assert!(hours * 3600 * 2 <= expires - now + 60, "refreshed at least twice per token lifetime");
}
