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

pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(repo_root());
    command
}

/// `target/<profile>/cvm-attest`, built now: this test's executable is `target/<profile>/deps/…`.
pub fn cvm_attest_binary() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test executable's path");
        let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>");
        let target_dir = profile_dir.parent().expect("target/<profile>");
        let mut build = cargo();
        build
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

/// A plugin directory holding the `offline` verifier built from source (as `host/tests` build it).
pub fn plugin_dir() -> &'static Path {
    static STAGED: OnceLock<PathBuf> = OnceLock::new();
    STAGED.get_or_init(|| {
        let plugins = repo_root().join("plugins");
        let target = plugins.join("target");
        let status = cargo()
            // The whole guest workspace, exactly as host/tests build it, so that neither rebuilds
            // the other's output.
            .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
            .arg(plugins.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .status()
            .expect("run cargo");
        assert!(
            status.success(),
            "building the offline verifier plugin failed ({status}); it needs the wasm32-wasip2 target: \
             `rustup target add wasm32-wasip2`"
        );
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sim-client-plugins");
        std::fs::create_dir_all(&dir).expect("plugin dir");
        std::fs::copy(target.join("wasm32-wasip2/release/offline.wasm"), dir.join("offline.wasm"))
            .expect("copy the offline verifier");
        std::fs::copy(plugins.join("offline-verifier/offline.toml"), dir.join("offline.toml"))
            .expect("copy its manifest");
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
