//! Every flag of every command, run through the real binary: none may panic, and each ends with the
//! exit status it means (0 ok, 1 failed verification or check, 2 usage or input, 3 environment).
//! A flag added to the command line without a row here fails `every_flag_has_a_row`.

use std::process::Stdio;

use clap::CommandFactory;
use cvm_attest::cli::Cli;

use crate::support::{cvm_attest, repo_root, shipped_plugins};

const SNP: &str = "examples/evidence/azure-sev-snp.json";
const NONCE_HEX: &str = "6368616c6c656e6765"; // "challenge"
const CHECK: &str = "claim-equals=examples/checks/sevsnp-cvm.json";
/// AMD's Milan CRL, current from 2026-06-22 to 2026-08-08; it revokes nothing of ours.
const AMD_CRL: &str = "amd-crl=formats/testdata/crl/milan-vcek-crl-2026-06-22.der";
const NO_TPM: &str = "swtpm:host=127.0.0.1,port=1";
/// An MAA instance that is not there: only reached after the TPM, which these rows lack.
const MAA: &str = "http://127.0.0.1:1";
/// A real MAA token, the instance that issued it, its keys, and a time within its lifetime.
const TOKEN: &str = "host/testdata/token/sharedwus-sgx-token-2022-05-31.jwt";
const ISSUER: &str = "https://sharedwus.wus.attest.azure.net";
const JWKS: &str = "host/testdata/token/sharedwus-certs-2022-05-31.json";
const TOKEN_DAY: &str = "2022-05-31T23:00:00Z";
/// `token verify` of [`TOKEN`], offline, as of its day.
macro_rules! verify_token {
    ($($arg:expr),* $(,)?) => {
        &["token", "verify", TOKEN, "--issuer", ISSUER, "--jwks", JWKS, "--at", TOKEN_DAY, $($arg),*]
    };
}

/// One run: arguments (`{dir}`, `{tmp}` and `{cfg}` are substituted), what stdin holds, the exit status.
struct Row {
    args: &'static [&'static str],
    stdin: Option<&'static str>,
    status: i32,
}

const fn row(args: &'static [&'static str], status: i32) -> Row {
    Row { args, stdin: None, status }
}

const fn piped(args: &'static [&'static str], stdin: &'static str, status: i32) -> Row {
    Row { args, stdin: Some(stdin), status }
}

const ROWS: &[Row] = &[
    row(&["--help"], 0),
    row(&["--version"], 0),
    row(&["-v", "plugin", "list"], 0),
    row(&["-vv", "plugin", "list"], 0),
    row(&["--verbose", "plugin", "list"], 0),
    row(&["--config", "{tmp}/missing.toml", "plugin", "list"], 2),
    row(&["--plugin-dir", "{tmp}/nowhere", "plugin", "list"], 0),
    // verify
    row(&["verify", "--evidence", SNP, "--nonce", "challenge"], 0),
    row(&["verify", "--evidence", SNP, "-n", "challenge"], 0),
    row(&["verify", "--evidence", SNP, "--nonce-hex", NONCE_HEX], 0),
    row(&["verify", "--evidence", SNP, "--nonce-hex", "00ff"], 1),
    row(&["verify", "--evidence", SNP, "--nonce-hex", "not-hex"], 2),
    row(&["verify", "--evidence", SNP, "--nonce-hex", ""], 2),
    row(&["verify", "--evidence", SNP, "--nonce", "challenge", "--nonce-hex", NONCE_HEX], 2),
    row(&["verify", "--evidence", SNP], 0),
    piped(&["verify", "--evidence", "-", "-n", "challenge"], SNP, 0),
    row(&["verify", "--evidence", "/dev/zero", "-n", "challenge"], 2),
    row(&["verify", "--evidence", "{tmp}/missing.json", "-n", "challenge"], 2),
    row(&["verify", "--evidence", SNP, "-n", "challenge", "--verifier", "offline"], 0),
    row(&["verify", "--evidence", SNP, "-n", "challenge", "--verifier", "no-such-verifier"], 2),
    row(&["verify", "--evidence", SNP, "-n", "challenge", "--verifier", "claim-equals"], 2),
    row(&["verify", "--evidence", SNP, "-n", "challenge", "--check", CHECK], 0),
    row(&["verify", "--evidence", SNP, "-n", "challenge", "--check", "claim-equals"], 2),
    row(&["verify", "--evidence", SNP, "-n", "challenge", "--check", "claim-equals={tmp}/missing.json"], 2),
    row(
        &[
            "verify",
            "--evidence",
            SNP,
            "-n",
            "challenge",
            "--trust-anchor",
            "amd-ark-milan=formats/anchors/milan-ark.pem",
            "--trust-anchor",
            "amd-ask-milan=formats/anchors/milan-ask.pem",
        ],
        0,
    ),
    row(&["verify", "--evidence", SNP, "-n", "challenge", "--trust-anchor", "amd-ark-milan"], 2),
    row(
        &[
            "verify",
            "--evidence",
            SNP,
            "-n",
            "challenge",
            "--trust-anchor",
            "amd-ark-milan={tmp}/missing.pem",
        ],
        2,
    ),
    row(&["verify", "--evidence", SNP, "-n", "challenge", "--collateral", "no-such-collateral=README.md"], 2),
    row(&["verify", "--evidence", SNP, "-n", "challenge", "--collateral", "tdx-tcb-info"], 2),
    row(&["verify", "--evidence", SNP, "-n", "challenge", "--at", "2026-12-01T00:00:00Z"], 0),
    row(&["verify", "--evidence", SNP, "-n", "challenge", "--at", "2026-12-01T09:00:00+09:00"], 0),
    row(&["verify", "--evidence", SNP, "-n", "challenge", "--at", "2019-01-01T00:00:00Z"], 1),
    row(&["verify", "--evidence", SNP, "-n", "challenge", "--at", "1960-01-01T00:00:00Z"], 2),
    row(&["verify", "--evidence", SNP, "-n", "challenge", "--at", "yesterday"], 2),
    row(
        &[
            "verify",
            "--evidence",
            SNP,
            "-n",
            "challenge",
            "--at",
            "2026-07-01T00:00:00Z",
            "--collateral",
            AMD_CRL,
        ],
        0,
    ),
    row(
        &[
            "verify",
            "--evidence",
            SNP,
            "-n",
            "challenge",
            "--at",
            "2026-12-01T00:00:00Z",
            "--collateral",
            AMD_CRL,
        ],
        1,
    ),
    row(&["verify", "--evidence", SNP, "-n", "challenge", "-o", "json"], 0),
    row(&["verify", "--evidence", SNP, "-n", "challenge", "--output", "text"], 0),
    row(&["verify", "--evidence", SNP, "-n", "challenge", "-o", "summary"], 0),
    row(&["verify", "--evidence", SNP, "-n", "wrong", "-o", "summary"], 1),
    row(&["verify", "--evidence", SNP, "-n", "challenge", "-o", "yaml"], 2),
    // attest (its successes run against the simulated CVM in tests/sim/tests/all/attest.rs): every flag
    // reaches the missing TPM (3) or is refused as usage (2) first.
    row(&["attest", "--tpm", NO_TPM, "-a", MAA], 3),
    row(&["attest", "--tpm", NO_TPM, "--maa-url", MAA], 3),
    row(&["attest", "--tpm", NO_TPM, "-a", "ftp://example.com"], 2),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "-n", "challenge"], 3),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--nonce", "challenge"], 3),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--nonce-hex", NONCE_HEX], 3),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--nonce-hex", "ff", "--type", "sev-snp-vm"], 2),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--type", "tdx-vm"], 3),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--type", "sgx"], 2),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "-o", "json"], 3),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--output", "token"], 3),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "-o", "yaml"], 2),
    row(&["attest", "--tpm", NO_TPM, "--verifier", "offline"], 3),
    row(&["attest", "--tpm", NO_TPM, "--verifier", "offline", "-o", "token"], 2),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--check", "claim-equals"], 2),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--check", CHECK], 3),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--save-evidence", "{tmp}/evidence.json"], 3),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--pcrs", "0-7,14"], 3),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--pcrs", "24"], 2),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--event-log", "{tmp}/missing.log"], 3),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--ca-file", "{tmp}/missing.pem"], 2),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--timeout", "5"], 3),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--timeout", "soon"], 2),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "-o", "token", "--no-verify"], 3),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "-o", "json", "--no-verify"], 2),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--imds", "http://127.0.0.1:1"], 3),
    row(&["attest", "--tpm", "bogus:tcti", "-a", MAA], 2),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--write", "env={tmp}/env"], 3),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--write", "prometheus"], 2),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--write", "env=-"], 2),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--write", "yaml={tmp}/out.yaml"], 2),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "-o", "token", "--no-verify", "--write", "json={tmp}/j"], 2),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--retries", "0"], 3),
    row(&["attest", "--tpm", NO_TPM, "-a", MAA, "--retries", "-1"], 2),
    // doctor: every flag of attest; no TPM, IMDS or MAA here, so each run finds problems (status 1)
    row(&["doctor", "--tpm", NO_TPM, "--imds", "http://127.0.0.1:1", "-a", MAA, "--timeout", "1"], 1),
    row(
        &["doctor", "--tpm", NO_TPM, "--maa-url", MAA, "-n", "challenge", "-o", "json", "--type", "tdx-vm"],
        1,
    ),
    row(&["doctor", "--tpm", NO_TPM, "--nonce", "x", "--output", "summary", "--verifier", "offline"], 1),
    row(
        &["doctor", "--tpm", NO_TPM, "--nonce-hex", NONCE_HEX, "--check", CHECK, "--write", "env={tmp}/e"],
        1,
    ),
    row(&["doctor", "--tpm", NO_TPM, "--save-evidence", "{tmp}/e.json", "--pcrs", "0-7", "--no-verify"], 1),
    row(&["doctor", "--tpm", NO_TPM, "--event-log", "{tmp}/log", "--retries", "0", "-a", MAA], 1),
    row(&["doctor", "--tpm", NO_TPM, "--ca-file", "{tmp}/missing.pem", "-a", MAA], 1),
    row(&["doctor", "--pcrs", "24"], 2),
    // config show: every flag of attest, shown with where it came from; bad values refused as attest would
    row(&["config", "show"], 0),
    row(&["config", "show", "-a", MAA, "--tpm", NO_TPM, "--imds", "http://127.0.0.1:1"], 0),
    row(&["config", "show", "--maa-url", MAA, "-n", "challenge", "-o", "json", "--type", "tdx-vm"], 0),
    row(&["config", "show", "--nonce", "challenge", "--output", "summary", "--verifier", "offline"], 0),
    row(&["config", "show", "--nonce-hex", NONCE_HEX, "--check", CHECK, "--write", "env={tmp}/env"], 0),
    row(&["config", "show", "--save-evidence", "{tmp}/e.json", "--pcrs", "0-7,14", "--no-verify"], 0),
    row(&["config", "show", "--event-log", "{tmp}/log", "--ca-file", "{tmp}/ca.pem", "--timeout", "5"], 0),
    row(&["config", "show", "--retries", "0"], 0),
    row(&["config", "show", "--pcrs", "24"], 2),
    row(&["config", "show", "--type", "sgx"], 2),
    row(&["config", "show", "--write", "env"], 2),
    row(&["config", "show", "--nonce-hex", "zz"], 2),
    // evidence show
    row(&["evidence", "show", SNP], 0),
    row(&["evidence", "show", SNP, "-o", "json"], 0),
    row(&["evidence", "show", SNP, "--output", "text"], 0),
    row(&["evidence", "show", SNP, "-o", "yaml"], 2),
    piped(&["evidence", "show", "-"], SNP, 0),
    row(&["evidence", "show", "/dev/zero"], 2),
    // evidence collect, where there is no TPM (collection itself is tested against swtpm)
    row(&["evidence", "collect", "--out", "{tmp}/e.json", "--tpm", NO_TPM], 3),
    row(&["evidence", "collect", "--out", "{tmp}/e.json", "--tpm", "device:{tmp}/no-tpm"], 3),
    row(&["evidence", "collect", "--out", "{tmp}/e.json", "--tpm", "bogus"], 2),
    row(&["evidence", "collect", "--out", "{tmp}/e.json", "--tpm", NO_TPM, "--nonce", "n"], 3),
    row(&["evidence", "collect", "--out", "{tmp}/e.json", "--tpm", NO_TPM, "-n", "n"], 3),
    row(&["evidence", "collect", "--out", "{tmp}/e.json", "--tpm", NO_TPM, "--nonce-hex", "00ff"], 3),
    row(&["evidence", "collect", "--out", "{tmp}/e.json", "--tpm", NO_TPM, "--nonce-hex", "0"], 2),
    row(&["evidence", "collect", "--out", "{tmp}/e.json", "--tpm", NO_TPM, "--pcrs", "0-7,14"], 3),
    row(&["evidence", "collect", "--out", "{tmp}/e.json", "--tpm", NO_TPM, "--pcrs", "24"], 2),
    row(&["evidence", "collect", "--out", "{tmp}/e.json", "--tpm", NO_TPM, "--event-log", "{tmp}/log"], 3),
    row(
        &["evidence", "collect", "--out", "{tmp}/e.json", "--tpm", NO_TPM, "--imds", "http://127.0.0.1:1"],
        3,
    ),
    row(&["evidence", "collect", "--out", "{tmp}/e.json", "--tpm", NO_TPM, "--imds", "not a url"], 2),
    row(&["evidence", "collect", "--tpm", NO_TPM], 2),
    row(&["evidence", "collect", "--out", "{tmp}/e.json", "--tpm", NO_TPM, "--collateral", AMD_CRL], 3),
    row(
        &[
            "evidence",
            "collect",
            "--out",
            "{tmp}/e.json",
            "--tpm",
            NO_TPM,
            "--collateral",
            AMD_CRL,
            "--collateral",
            AMD_CRL,
        ],
        2,
    ),
    row(
        &[
            "evidence",
            "collect",
            "--out",
            "{tmp}/e.json",
            "--tpm",
            NO_TPM,
            "--collateral",
            "amd-crls=README.md",
        ],
        2,
    ),
    row(
        &[
            "evidence",
            "collect",
            "--out",
            "{tmp}/e.json",
            "--tpm",
            NO_TPM,
            "--collateral",
            "amd-crl={tmp}/none",
        ],
        2,
    ),
    // plugin
    row(&["plugin", "list"], 0),
    row(&["plugin", "list", "-o", "json"], 0),
    row(&["plugin", "list", "--output", "text"], 0),
    row(&["plugin", "inspect", "{dir}/claim-equals.wasm"], 0),
    row(&["plugin", "inspect", "{dir}/claim-equals.wasm", "-o", "json"], 0),
    row(&["plugin", "inspect", "{dir}/claim-equals.wasm", "--output", "text"], 0),
    row(&["plugin", "inspect", "/dev/zero"], 2),
    row(
        &[
            "plugin",
            "run",
            "claim-equals",
            "--claims",
            "examples/claims/sharedweu-sevsnp-2023-03-30.json",
            "--plugin-config",
            "examples/checks/sevsnp-cvm.json",
        ],
        0,
    ),
    row(
        &[
            "plugin",
            "run",
            "claim-equals",
            "--claims",
            "examples/claims/sharedweu-sevsnp-2023-03-30.json",
            "--plugin-config",
            "examples/checks/sevsnp-cvm.json",
            "-o",
            "json",
        ],
        0,
    ),
    row(
        &[
            "plugin",
            "run",
            "claim-equals",
            "--claims",
            "examples/claims/sharedweu-sevsnp-2023-03-30.json",
            "--plugin-config",
            "examples/checks/sevsnp-cvm.json",
            "--output",
            "text",
        ],
        0,
    ),
    row(
        &[
            "plugin",
            "run",
            "claim-equals",
            "--claims",
            SNP,
            "--plugin-config",
            "examples/checks/sevsnp-cvm.json",
        ],
        1,
    ),
    piped(
        &["plugin", "run", "summary", "--claims", "-"],
        "examples/claims/sharedweu-sevsnp-2023-03-30.json",
        0,
    ),
    row(
        &[
            "plugin",
            "run",
            "summary",
            "--claims",
            "examples/claims/sharedweu-sevsnp-2023-03-30.json",
            "--token",
            "formats/testdata/maa/cvm-clientlibtests-sharedweu-azurevm-sevsnpvm-2023-03-30.jwt",
        ],
        0,
    ),
    row(&["plugin", "run", "summary", "--claims", "/dev/zero"], 2),
    row(&["plugin", "run", "offline", "--claims", "examples/claims/sharedweu-sevsnp-2023-03-30.json"], 2),
    row(&["plugin", "pin"], 0),
    row(&["plugin", "pin", "claim-equals", "summary"], 0),
    row(&["plugin", "pin", "no-such-plugin"], 2),
    row(&["plugin", "new", "flag-check", "--kind", "check", "--dir", "{tmp}"], 0),
    row(&["plugin", "new", "flag-check", "--kind", "check", "--dir", "{tmp}"], 2),
    row(&["plugin", "new", "flag-format", "--kind", "format", "--dir", "{tmp}", "--sdk", "plugins/sdk"], 0),
    row(
        &["plugin", "new", "flag-verifier", "--kind", "verifier", "--dir", "{tmp}", "--sdk", "{tmp}/nowhere"],
        2,
    ),
    row(&["plugin", "new", "Bad_Name", "--kind", "check", "--dir", "{tmp}"], 2),
    row(&["plugin", "new", "flag-check", "--kind", "policy", "--dir", "{tmp}"], 2),
    // token decode
    row(&["token", "decode", TOKEN], 0),
    row(&["token", "decode", TOKEN, "-o", "json"], 0),
    row(&["token", "decode", TOKEN, "--output", "text"], 0),
    row(&["token", "decode", TOKEN, "-o", "yaml"], 2),
    piped(&["token", "decode", "-"], TOKEN, 0),
    row(&["token", "decode", "{tmp}/missing.jwt"], 2),
    row(&["token", "decode", "README.md"], 2),
    // token verify (offline: the token's own JWKS; fetching is tested in token.rs)
    row(verify_token!(), 0),
    piped(&["token", "verify", "-", "--issuer", ISSUER, "--jwks", JWKS, "--at", TOKEN_DAY], TOKEN, 0),
    row(&["token", "verify", "{tmp}/missing.jwt", "--issuer", ISSUER, "--jwks", JWKS], 2),
    row(&["token", "verify", TOKEN, "--issuer", ISSUER, "--jwks", JWKS], 1),
    row(&["token", "verify", TOKEN, "--jwks", JWKS, "--at", TOKEN_DAY], 2),
    row(&["token", "verify", TOKEN, "--issuer", "https://sharedweu.weu.attest.azure.net", "--jwks", JWKS], 1),
    row(&["token", "verify", TOKEN, "--issuer", "not a url", "--jwks", JWKS], 2),
    row(&["token", "verify", TOKEN, "--issuer", ISSUER, "--jwks", "{tmp}/missing.json"], 2),
    row(
        &[
            "token",
            "verify",
            TOKEN,
            "--issuer",
            ISSUER,
            "--jwks",
            "http://127.0.0.1:1/certs",
            "--at",
            TOKEN_DAY,
        ],
        3,
    ),
    row(&["token", "verify", TOKEN, "--issuer", ISSUER, "--jwks", JWKS, "--at", "2026-12-01T00:00:00Z"], 1),
    row(&["token", "verify", TOKEN, "--issuer", ISSUER, "--jwks", JWKS, "--at", "yesterday"], 2),
    row(verify_token!("--nonce", "challenge"), 1),
    row(verify_token!("-n", "challenge"), 1),
    row(verify_token!("--nonce-hex", NONCE_HEX), 1),
    row(verify_token!("--nonce-hex", "not-hex"), 2),
    row(verify_token!("--nonce", "challenge", "--nonce-hex", NONCE_HEX), 2),
    row(verify_token!("--skew", "0"), 0),
    row(verify_token!("--skew", "3600"), 0),
    row(verify_token!("--skew", "3601"), 2),
    row(verify_token!("--skew", "-1"), 2),
    row(verify_token!("--ca-file", "tests/sim/testdata/pki/tls-test-ca.pem"), 0),
    row(verify_token!("--ca-file", "README.md"), 2),
    row(verify_token!("--ca-file", "{tmp}/missing.pem"), 2),
    row(verify_token!("-o", "json"), 0),
    row(verify_token!("--output", "text"), 0),
    row(verify_token!("-o", "yaml"), 2),
    // completions and man: no configuration needed, not even a readable one
    row(&["completions", "bash"], 0),
    row(&["completions", "zsh"], 0),
    row(&["completions", "fish"], 0),
    row(&["completions", "tcsh"], 2),
    row(&["completions"], 2),
    row(&["--config", "{tmp}/missing.toml", "completions", "bash"], 0),
    row(&["man"], 0),
    row(&["--config", "{tmp}/missing.toml", "man"], 0),
];

#[test]
fn every_flag_of_every_command_runs_without_a_panic_and_with_its_exit_status() {
    let (plugins, config) = shipped_plugins();
    let tmp = tempfile::tempdir().expect("tempdir");
    let fill = |arg: &str| {
        arg.replace("{dir}", &plugins.path().display().to_string())
            .replace("{tmp}", &tmp.path().display().to_string())
    };

    let mut wrong = Vec::new();
    for row in ROWS {
        let args: Vec<String> = row.args.iter().map(|a| fill(a)).collect();
        let mut cmd = cvm_attest();
        cmd.current_dir(repo_root()).env("CVM_ATTEST_PLUGIN_PATH", plugins.path());
        if !args.iter().any(|a| a == "--config") {
            cmd.env("CVM_ATTEST_CONFIG", &config);
        }
        cmd.args(&args).env_remove("CVM_ATTEST_TCTI").env_remove("CVM_ATTEST_IMDS_URL");
        cmd.env_remove("CVM_ATTEST_MAA_URL").env_remove("CVM_ATTEST_CA_FILE");
        cmd.stdin(match row.stdin {
            Some(file) => Stdio::from(std::fs::File::open(repo_root().join(file)).expect("stdin file")),
            None => Stdio::null(),
        });
        let out = cmd.output().expect("run cvm-attest");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(row.status) || stderr.contains("panicked") {
            wrong.push(format!("{args:?}: exit {:?}, expected {}\n{stderr}", out.status.code(), row.status));
        }
    }
    assert!(wrong.is_empty(), "{} of {} runs went wrong:\n{}", wrong.len(), ROWS.len(), wrong.join("\n"));
}

#[test]
fn every_flag_has_a_row() {
    let mut missing = Vec::new();
    walk(&Cli::command(), &mut Vec::new(), &mut missing);
    assert!(missing.is_empty(), "flags no row of ROWS runs: {missing:?}");
}

/// Record every `(subcommand path, flag)` of `command` that no row runs.
fn walk(command: &clap::Command, path: &mut Vec<String>, missing: &mut Vec<String>) {
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if arg.is_positional() || id == "help" || id == "version" {
            continue;
        }
        let spellings: Vec<String> = arg
            .get_long()
            .map(|l| format!("--{l}"))
            .into_iter()
            .chain(arg.get_short().map(|s| format!("-{s}")))
            .collect();
        let runs = |row: &&Row| {
            let words: Vec<&str> = row.args.to_vec();
            let mut rest = words.iter();
            path.iter().all(|p| rest.any(|w| w == p))
                && words.iter().any(|w| spellings.contains(&w.to_string()))
        };
        if !ROWS.iter().any(|row| runs(&row)) {
            missing.push(format!("{} {}", path.join(" "), spellings.join("/")));
        }
    }
    for sub in command.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        path.push(sub.get_name().to_owned());
        walk(sub, path, missing);
        path.pop();
    }
}

#[test]
fn plugins_run_under_an_address_space_limit() {
    // `ulimit -v 8 GiB` (systemd's LimitAS=): too little for the instance pool's reservation.
    crate::support::guest_dir(); // the checkout's plugins, which the binary finds from where it is
    let out = std::process::Command::new("sh")
        .args(["-c", "ulimit -v 8388608 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_cvm-attest"))
        .args(["verify", "--evidence", SNP, "--nonce", "challenge"])
        .current_dir(repo_root())
        .env_remove("CVM_ATTEST_CONFIG")
        .output()
        .expect("run cvm-attest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.ends_with("\nverified\n"), "{stdout}");
}
