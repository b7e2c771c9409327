//! The shipped plugins are pinned by `plugins/plugins.lock` (built into the binary): the lock must
//! match their build, and a plugin is trusted by it only when both of its files are that build.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cvm_attest::plugins::{LOCK_COMMAND, LOCK_PATH, Lock};
use sha2::{Digest, Sha256};

use crate::support::{self, PluginDir, cvm_attest, repo_root};

/// The shipped plugins as the checkout offers them: name, manifest, component. A crate directly in
/// `plugins/` with a manifest beside its Cargo.toml; never `plugins/tests/`.
fn shipped() -> Vec<(String, PathBuf, PathBuf)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(repo_root().join("plugins")).expect("plugins/") {
        let dir = entry.expect("entry").path();
        if !dir.join("Cargo.toml").is_file() {
            continue;
        }
        for file in std::fs::read_dir(&dir).expect("crate dir") {
            let path = file.expect("entry").path();
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
            if path.extension().is_some_and(|e| e == "toml") && name != "Cargo" {
                let wasm = support::guest_dir().join(format!("{}.wasm", name.replace('-', "_")));
                found.push((name, path, wasm));
            }
        }
    }
    found.sort();
    found
}

fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))))
}

fn toolchain() -> String {
    let out = Command::new("rustc").arg("-V").output().expect("rustc -V");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn plugins_lock_matches_the_build() {
    let text = std::fs::read_to_string(repo_root().join(LOCK_PATH)).expect("the lock file");
    let lock = Lock::parse(&text).unwrap_or_else(|e| panic!("{LOCK_PATH}: {e}; run {LOCK_COMMAND}"));
    let mut stale = Vec::new();
    let plugins = shipped();
    for (name, manifest, wasm) in &plugins {
        let built = (sha256(wasm), sha256(manifest));
        match lock.plugins.get(name) {
            Some(e) if (e.sha256.as_str(), e.manifest_sha256.as_str()) == (&built.0, &built.1) => {}
            Some(e) => stale.push(format!(
                "{name}: built {} (manifest {}), locked {} (manifest {})",
                built.0, built.1, e.sha256, e.manifest_sha256
            )),
            None => stale.push(format!("{name}: shipped but not in the lock")),
        }
    }
    for name in lock.plugins.keys().filter(|n| !plugins.iter().any(|(p, ..)| p == *n)) {
        stale.push(format!("{name}: in the lock but not shipped"));
    }
    if !stale.is_empty() {
        let toolchain = toolchain();
        let compiler = if toolchain == lock.toolchain {
            String::new()
        } else {
            format!(
                "\nNote: this is {toolchain}, the lock was made with {}; another compiler builds other \
                 bytes. Use that toolchain, unless the project is moving to this one.",
                lock.toolchain
            )
        };
        panic!(
            "{LOCK_PATH} does not match the plugins built from this source:\n  {}\nRun `{LOCK_COMMAND}` (it \
             builds the plugins and rewrites the lock), commit the lock, and put the offline plugin's \
             new digest in the README's quick start.{compiler}",
            stale.join("\n  ")
        );
    }
    assert_eq!(Lock::built_in(), &lock, "the binary is built with {LOCK_PATH} as it is now");
}

/// A config with a private compiled-code cache, and the given extra lines.
fn config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("config.toml.cfg");
    std::fs::write(&path, format!("cache_dir = {:?}\n{extra}", dir.join("cache").display().to_string()))
        .expect("config");
    path
}

fn run_claim_equals(config: &Path, plugin: &str, extra: &[&str]) -> Output {
    cvm_attest()
        .current_dir(repo_root())
        .arg("--config")
        .arg(config)
        .args(extra)
        .args(["plugin", "run", plugin, "--claims", "examples/claims/sharedweu-sevsnp-2023-03-30.json"])
        .args(["--plugin-config", "examples/checks/sevsnp-cvm.json"])
        .output()
        .expect("run cvm-attest")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The checkout's own claim-equals, and an identical copy given by path, are pinned by the lock:
/// no warning, and they load under `require_pinned` with nothing pinned in the configuration.
#[test]
fn shipped_plugins_are_pinned_by_the_lock() {
    let dir = PluginDir::with(&["claim-equals"]);
    let copy = dir.path().join("claim-equals.wasm");
    for require in ["", "require_pinned = true\n"] {
        let cfg = config(dir.path(), require);
        for plugin in ["claim-equals", copy.to_str().expect("UTF-8")] {
            let out = run_claim_equals(&cfg, plugin, &[]);
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "{plugin} with `{require}`: {}\n{} (is {LOCK_PATH} current? see plugins_lock_matches_the_build)",
                out.status,
                stderr(&out)
            );
        }
    }
}

/// A copy of a shipped plugin that is not its build (here: the manifest changed) is not pinned:
/// it warns, and under `require_pinned` it is refused.
#[test]
fn a_changed_shipped_plugin_is_not_pinned() {
    let dir = PluginDir::new();
    let manifest = std::fs::read_to_string(support::manifest_of("claim-equals"))
        .expect("manifest")
        .replace("description = \"", "description = \"Changed. ");
    let located = dir.install_as("claim-equals", "claim-equals", &manifest);
    let plugin = located.wasm_path.to_str().expect("UTF-8");

    let out = run_claim_equals(&config(dir.path(), ""), plugin, &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("not pinned") && err.contains(LOCK_PATH), "warns, naming the lock: {err}");

    let out = run_claim_equals(&config(dir.path(), "require_pinned = true\n"), plugin, &[]);
    assert_eq!(out.status.code(), Some(2), "refused under require_pinned: {}", stderr(&out));
    assert!(stderr(&out).contains("not pinned"), "{}", stderr(&out));
}
