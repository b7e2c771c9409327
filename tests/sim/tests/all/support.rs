//! What the end-to-end tests share: the real `cvm-attest` binary and the `offline` plugin, built from
//! source (the binary belongs to another package of the workspace, so `env!("CARGO_BIN_EXE_…")`
//! cannot name it: it is built once per test process with the cargo that runs the tests, into the
//! same target directory and profile, a no-op when up to date), and a simulated environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use cvm_attest_sim::cvm::Tee;
use cvm_attest_sim::environment::{Environment, EnvironmentOptions};

pub fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// `target/<profile>/cvm-attest`, built now: this test's executable is `target/<profile>/deps/…`.
pub fn cvm_attest_binary() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test executable's path");
        let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>");
        let target_dir = profile_dir.parent().expect("target/<profile>");
        let mut build = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        build
            .current_dir(repo_root())
            .args(["build", "--quiet", "-p", "cvm-attest", "--bin", "cvm-attest", "--target-dir"])
            .arg(target_dir);
        if profile_dir.file_name().is_some_and(|name| name == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo");
        assert!(status.success(), "building cvm-attest failed ({status})");
        profile_dir.join("cvm-attest")
    })
}

/// A plugin directory holding the shipped plugins (the `offline` verifier among them), built from
/// source and installed by `scripts/install-plugins.sh`, as users install them.
pub fn plugin_dir() -> &'static Path {
    static STAGED: OnceLock<PathBuf> = OnceLock::new();
    STAGED.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sim-client-plugins");
        let script = repo_root().join("scripts/install-plugins.sh");
        let output = Command::new(&script)
            .arg(&dir)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .expect("run scripts/install-plugins.sh");
        assert!(
            output.status.success(),
            "{} failed ({}); building the plugins needs the wasm32-wasip2 target (`rustup target add \
             wasm32-wasip2`):\n{}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        dir
    })
}

/// `cvm-attest ARGS…` with nothing from the caller's environment steering it.
pub fn cvm_attest(args: &[&str]) -> Output {
    Command::new(cvm_attest_binary())
        .args(args)
        .env_remove("CVM_ATTEST_CONFIG")
        .env_remove("CVM_ATTEST_PLUGIN_PATH")
        .env_remove("CVM_ATTEST_TCTI")
        .env_remove("CVM_ATTEST_IMDS_URL")
        .env_remove("CVM_ATTEST_MAA_URL")
        .env_remove("CVM_ATTEST_CA_FILE")
        .env_remove("RUST_LOG")
        .env("XDG_CACHE_HOME", Path::new(env!("CARGO_TARGET_TMPDIR")).join("sim-client-cache"))
        .output()
        .expect("run cvm-attest")
}

pub fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

pub fn start(tee: Tee) -> Environment {
    Environment::start(EnvironmentOptions { tee, dir: None, location: None, secure_boot_off: false })
        .unwrap_or_else(|e| panic!("start the simulated {tee} environment: {e}"))
}
