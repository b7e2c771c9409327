//! A name means one plugin: a different plugin of the same name earlier on the search path does not
//! silently answer for it (a fake `offline` verifier saying `verified`); identical copies are fine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{self, PluginDir, cvm_attest, repo_root};

const EVIDENCE: &str = "examples/evidence/azure-sev-snp.json";

/// A plugin dir holding a fake `offline`: the fixed-claims test verifier under that name.
fn fake_offline() -> PluginDir {
    let dir = PluginDir::new();
    let manifest = std::fs::read_to_string(support::manifest_of("fixed-claims"))
        .expect("manifest")
        .replace("name = \"fixed-claims\"", "name = \"offline\"");
    dir.install_as("fixed-claims", "offline", &manifest);
    dir
}

/// The checkout's own offline verifier.
fn real_offline() -> PathBuf {
    support::wasm_of("offline")
}

fn config(dir: &Path) -> PathBuf {
    let path = dir.join("config.toml.cfg");
    std::fs::write(&path, format!("cache_dir = {:?}\n", dir.join("cache").display().to_string()))
        .expect("config");
    path
}

fn cli(dir: &PluginDir) -> Command {
    let mut cmd = cvm_attest();
    cmd.current_dir(repo_root()).arg("--config").arg(config(dir.path()));
    cmd
}

fn verify(cmd: &mut Command, extra: &[&str]) -> Output {
    cmd.args(["verify", "--evidence", EVIDENCE, "--nonce", "challenge"]).args(extra).output().expect("runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_different_plugin_of_the_same_name_is_an_error_naming_both() {
    let fake = fake_offline();
    let fake_wasm = fake.path().join("offline.wasm");
    let by_flag = verify(cli(&fake).arg("--plugin-dir").arg(fake.path()), &[]);
    let by_env = verify(cli(&fake).env("CVM_ATTEST_PLUGIN_PATH", fake.path()), &[]);
    for out in [by_flag, by_env] {
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "refused, not verified: {err}");
        assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
        for path in [&fake_wasm, &real_offline()] {
            assert!(err.contains(&path.display().to_string()), "names {}: {err}", path.display());
        }
        assert!(err.contains("differ") && err.contains("path of its .wasm"), "says how to resolve it: {err}");
    }

    // Naming the wanted copy by path resolves it.
    let real = real_offline();
    let out = verify(
        cli(&fake).arg("--plugin-dir").arg(fake.path()),
        &["--verifier", real.to_str().expect("UTF-8")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn plugin_list_shows_every_copy_and_the_conflict() {
    let fake = fake_offline();
    let fake_wasm = fake.path().join("offline.wasm").display().to_string();
    let real = real_offline().display().to_string();

    let out =
        cli(&fake).arg("--plugin-dir").arg(fake.path()).args(["plugin", "list"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for path in [&fake_wasm, &real] {
        let line = text
            .lines()
            .find(|l| l.contains(path.as_str()))
            .unwrap_or_else(|| panic!("{path} listed:\n{text}"));
        assert!(line.trim_start().starts_with("conflict"), "{line}");
    }
    assert_eq!(text.lines().filter(|l| l.starts_with("offline ")).count(), 2, "a row per copy:\n{text}");
    assert!(text.contains("conflict: the copies of 'offline' differ"), "{text}");

    let out = cli(&fake)
        .arg("--plugin-dir")
        .arg(fake.path())
        .args(["plugin", "list", "-o", "json"])
        .output()
        .expect("runs");
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let offline: Vec<&Value> =
        json["plugins"].as_array().expect("plugins").iter().filter(|p| p["name"] == "offline").collect();
    let wasm: Vec<&str> = offline.iter().map(|p| p["wasm"].as_str().expect("wasm")).collect();
    assert_eq!(wasm, [fake_wasm.as_str(), real.as_str()], "{json:#}");
    assert!(offline.iter().all(|p| p["status"] == "conflict"), "{json:#}");
}

#[test]
fn identical_copies_are_one_plugin() {
    let dir = PluginDir::new();
    let manifest =
        std::fs::read_to_string(repo_root().join("plugins/offline-verifier/offline.toml")).expect("manifest");
    dir.install_as("offline", "offline", &manifest);
    let out = verify(cli(&dir).arg("--plugin-dir").arg(dir.path()), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("differ"), "{}", stderr(&out));

    let out = cli(&dir)
        .arg("--plugin-dir")
        .arg(dir.path())
        .args(["plugin", "list", "-o", "json"])
        .output()
        .expect("runs");
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let statuses: Vec<&str> = json["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .filter(|p| p["name"] == "offline")
        .map(|p| p["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["used", "shadowed"], "{json:#}");
}

#[test]
fn different_copies_in_two_plugin_dirs_conflict_too() {
    let (a, b) = (PluginDir::with(&["secure-boot"]), PluginDir::new());
    let manifest = std::fs::read_to_string(support::manifest_of("secure-boot")).expect("manifest");
    b.install_as(
        "secure-boot",
        "secure-boot",
        &manifest.replace("description = \"", "description = \"Other. "),
    );
    let out = cli(&a)
        .args(["--plugin-dir"])
        .arg(a.path())
        .arg("--plugin-dir")
        .arg(b.path())
        .args([
            "plugin",
            "run",
            "secure-boot",
            "--claims",
            "examples/claims/sharedweu-sevsnp-2023-03-30.json",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&b.path().join("secure-boot.wasm").display().to_string()),
        "{}",
        stderr(&out)
    );
}
