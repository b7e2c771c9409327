//! Guest plugins build reproducibly: the same source and toolchain give the same `.wasm` bytes
//! wherever the checkout, the target dir and CARGO_HOME are (`scripts/reproducible-rustc`), so the
//! digests in `plugins/plugins.lock` and the README can be published and pinned.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::support::{self, repo_root};

/// CARGO_HOME as cargo sees it.
fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME").filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME or CARGO_HOME is set")).join(".cargo")
    })
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The built plugins embed no path of this machine: not the checkout, not CARGO_HOME, not the
/// toolchain's directory. (Cheap: it reads the normal build.)
#[test]
fn built_plugins_embed_no_local_path() {
    let dir = support::guest_dir();
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let rustup = std::env::var_os("RUSTUP_HOME").map_or_else(|| home.join(".rustup"), PathBuf::from);
    let local = [repo_root().to_path_buf(), cargo_home(), rustup];
    for wasm in ["claim_equals", "summary", "offline", "fixed_claims"] {
        let bytes = std::fs::read(dir.join(format!("{wasm}.wasm"))).expect("built component");
        for path in &local {
            let text = path.to_str().expect("UTF-8 path");
            assert!(
                !contains(&bytes, text.as_bytes()),
                "{wasm}.wasm contains the local path {text}: the build is not reproducible (is \
                 scripts/reproducible-rustc in effect? RUSTC_WRAPPER in the environment replaces it)"
            );
        }
    }
}

/// Copy `from` to `to` recursively, leaving out the directories named in `skip` (relative to `from`).
fn copy_tree(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name();
        if skip.iter().any(|s| Path::new(s) == Path::new(&name)) {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let kind = entry.file_type().expect("file type");
        if kind.is_symlink() {
            // As git checks it out (plugins/sdk/wit points into wit/).
            std::os::unix::fs::symlink(std::fs::read_link(&src).expect("read link"), &dst).expect("symlink");
        } else if kind.is_dir() {
            let nested: Vec<&str> =
                skip.iter().filter_map(|s| Path::new(s).strip_prefix(&name).ok()?.to_str()).collect();
            copy_tree(&src, &dst, &nested);
        } else {
            std::fs::copy(&src, &dst).expect("copy file");
        }
    }
}

/// `cargo build` of claim-equals for wasm32-wasip2, as documented, from `checkout`.
fn build_claim_equals(checkout: &Path, target_dir: &Path, cargo_home: &Path) -> std::process::Child {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    Command::new(cargo)
        .current_dir(checkout)
        .args(["build", "--quiet", "--locked", "--offline", "--release", "--target", "wasm32-wasip2"])
        .args(["--manifest-path", "plugins/Cargo.toml", "-p", "claim-equals", "--target-dir"])
        .arg(target_dir)
        .env("CARGO_HOME", cargo_home)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cargo")
}

/// SLOW (about a minute on a 2-core machine when nothing is built yet, most of it the proc-macro
/// crates the copy must build afresh; a few seconds on a rerun): builds one small plugin,
/// claim-equals, twice with the documented command, in this checkout and in a copy of the sources
/// it needs at another path, each with its own target dir, the copy with another CARGO_HOME, and
/// requires the same bytes. (Only `-p claim-equals` on both sides: which packages a build selects
/// decides their dependencies' features, so this is not the bytes of the whole-workspace build.)
#[test]
fn claim_equals_builds_to_the_same_bytes_in_another_checkout_and_cargo_home() {
    support::guest_dir(); // every dependency is downloaded: both builds run --offline
    let started = Instant::now();
    let temp = tempfile::Builder::new().prefix("cvm-attest-reproducible-").tempdir().expect("tempdir");
    let elsewhere = temp.path().join("some/other/place/cvm-attest");
    for dir in ["wit", "formats", "plugins"] {
        copy_tree(&repo_root().join(dir), &elsewhere.join(dir), &["target"]);
    }
    std::fs::copy(repo_root().join("Cargo.toml"), elsewhere.join("Cargo.toml")).expect("copy");
    copy_tree(&repo_root().join(".cargo"), &elsewhere.join(".cargo"), &[]);
    std::fs::create_dir_all(elsewhere.join("scripts")).expect("mkdir");
    std::fs::copy(
        repo_root().join("scripts/reproducible-rustc"),
        elsewhere.join("scripts/reproducible-rustc"),
    )
    .expect("copy wrapper");

    // Another CARGO_HOME path, with the same downloaded crates behind it.
    let home = cargo_home();
    let other_home = temp.path().join("another-cargo-home");
    std::fs::create_dir_all(&other_home).expect("mkdir");
    for item in ["registry", "git", "config.toml"] {
        if home.join(item).exists() {
            std::os::unix::fs::symlink(home.join(item), other_home.join(item)).expect("symlink");
        }
    }

    // This checkout's side keeps its target dir between runs; the copy's is new every time.
    let here_target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reproducible-claim-equals");
    let there_target = temp.path().join("target-elsewhere");
    let here = build_claim_equals(repo_root(), &here_target, &home);
    let there = build_claim_equals(&elsewhere, &there_target, &other_home);
    for (side, child) in [("here", here), ("elsewhere", there)] {
        let out = child.wait_with_output().expect("cargo");
        assert!(
            out.status.success(),
            "cargo build ({side}) failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let wasm = |target: &Path| {
        std::fs::read(target.join("wasm32-wasip2/release/claim_equals.wasm")).expect("built component")
    };
    let (a, b) = (wasm(&here_target), wasm(&there_target));
    let first_difference = a.iter().zip(&b).position(|(x, y)| x != y);
    assert!(
        a == b,
        "claim_equals.wasm differs between {} and {} (sizes {} and {}, first difference at byte {:?}): \
         something machine-specific reaches the build; see scripts/reproducible-rustc",
        repo_root().display(),
        elsewhere.display(),
        a.len(),
        b.len(),
        first_difference,
    );
    eprintln!("reproducible build check took {:.0?}", started.elapsed());
}
