//! An installed cvm-attest finds the shipped plugins: `cargo install --locked --path host` puts the
//! binary in PREFIX/bin, `scripts/install-plugins.sh` puts the plugins in
//! PREFIX/lib/cvm-attest/plugins, where that binary looks. The binary here is the test build copied
//! into a fresh PREFIX/bin (what `cargo install` would put there, without building the host twice).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{guest_dir, repo_root, text};

/// `scripts/install-plugins.sh ARGS…` run in `cwd`, with `bin` first on PATH.
fn install_plugins(bin: &Path, cwd: &Path, args: &[&str]) -> Output {
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    Command::new(repo_root().join("scripts/install-plugins.sh"))
        .args(args)
        .current_dir(cwd)
        .env("PATH", path)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("run scripts/install-plugins.sh")
}

/// The plugins `plugins/plugins.lock` lists: the shipped ones.
fn shipped_names() -> Vec<String> {
    let lock = std::fs::read_to_string(repo_root().join("plugins/plugins.lock")).expect("plugins.lock");
    lock.lines().filter_map(|l| Some(l.strip_prefix("[plugins.")?.strip_suffix(']')?.to_owned())).collect()
}

#[test]
fn an_installed_binary_finds_the_plugins_installed_beside_it() {
    guest_dir(); // the checkout's build, which the script finds up to date
    // Outside the checkout: a binary under it would find the checkout's plugins instead.
    let prefix = tempfile::tempdir().expect("tempdir");
    let bin = prefix.path().join("bin");
    std::fs::create_dir(&bin).expect("bin");
    let exe = bin.join("cvm-attest");
    std::fs::copy(env!("CARGO_BIN_EXE_cvm-attest"), &exe).expect("install the binary");

    // No directory named: beside the cvm-attest on PATH.
    let out = install_plugins(&bin, prefix.path(), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plugins: PathBuf = prefix.path().join("lib/cvm-attest/plugins");
    assert!(text(&out.stdout).contains(&format!("into {}", plugins.display())), "{}", text(&out.stdout));
    let names = shipped_names();
    assert!(names.len() >= 8 && names.contains(&"offline".to_owned()), "{names:?}");
    for name in &names {
        for file in [format!("{name}.wasm"), format!("{name}.toml")] {
            assert!(plugins.join(&file).is_file(), "{file} installed");
        }
    }

    // A directory named relative to where the script is run from, not to the checkout it cds into.
    let out = install_plugins(&bin, prefix.path(), &["relative"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(prefix.path().join("relative/offline.wasm").is_file(), "{}", text(&out.stdout));

    // The installed binary, run away from the checkout's build, lists them from there and loads
    // them as pinned: the build is the one plugins/plugins.lock records.
    let config = prefix.path().join("config.toml");
    let cache = prefix.path().join("cache").display().to_string();
    std::fs::write(&config, format!("require_pinned = true\ncache_dir = {cache:?}\n")).expect("config");
    let run = |args: &[&str]| {
        Command::new(&exe)
            .current_dir(repo_root())
            .env_remove("CVM_ATTEST_PLUGIN_PATH")
            .env_remove("CVM_ATTEST_CONFIG")
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .expect("run the installed cvm-attest")
    };
    let out = run(&["config", "show"]);
    let search = format!("plugin path     {}, /usr/local/lib/cvm-attest/plugins", plugins.display());
    assert!(text(&out.stdout).contains(&search), "{}", text(&out.stdout));
    let out = run(&["plugin", "list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list = text(&out.stdout);
    for name in &names {
        assert!(list.lines().any(|l| l.starts_with(&format!("{name} "))), "{name} listed: {list}");
    }
    let out = run(&[
        "verify",
        "--evidence",
        "examples/evidence/azure-sev-snp.json",
        "--nonce",
        "challenge",
        "--check",
        "policy=examples/policies/production-snp.json",
        "-o",
        "summary",
    ]);
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("check policy            pass"), "{}", text(&out.stdout));
}

#[test]
fn install_plugins_without_a_cvm_attest_on_path_names_what_to_do() {
    let empty = tempfile::tempdir().expect("tempdir");
    let out = Command::new(repo_root().join("scripts/install-plugins.sh"))
        .env("PATH", format!("{}:/usr/bin:/bin", empty.path().display()))
        .output()
        .expect("run scripts/install-plugins.sh");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cargo install --locked --path host"), "{}", text(&out.stderr));
}
