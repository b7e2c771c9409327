//! The README's quick start prints exactly what the README shows: its `verify` command, run by the
//! real binary from the repository root with the plugins built from this source, writes the README's
//! block byte for byte to stdout and nothing to stderr (no "not pinned" warning: the shipped offline
//! verifier is pinned by plugins/plugins.lock, and its digest, which the block shows, is reproducible).

use crate::support::{self, cvm_attest, repo_root};

/// The arguments of the quick start's `cargo run --release -- ...` command and the output block
/// that follows it.
fn quick_start(readme: &str) -> (Vec<String>, String) {
    let section = readme
        .split("\n## Verify real evidence offline")
        .nth(1)
        .expect("a Verify real evidence offline section");
    let mut blocks = section.split("\n```").skip(1).step_by(2);
    let command = blocks.next().expect("the quick start's command block");
    let line = command.lines().find(|l| l.contains("cargo run --release -- ")).expect("a `cargo run` line");
    let args = line.split("cargo run --release -- ").nth(1).expect("arguments");
    let args = args.trim_end_matches('\\').split_whitespace().map(str::to_owned).collect();
    let output = blocks.next().expect("the output block after it");
    let output = output.strip_prefix('\n').expect("a plain ``` block");
    (args, format!("{output}\n"))
}

#[test]
fn quick_start_prints_what_the_readme_shows() {
    support::guest_dir();
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let (args, expected) = quick_start(&readme);
    assert_eq!(args[0], "verify", "{args:?}");
    let cache = tempfile::tempdir().expect("tempdir");
    let config = cache.path().join("config.toml");
    std::fs::write(&config, format!("cache_dir = {:?}\n", cache.path().display().to_string()))
        .expect("config");
    let out = cvm_attest()
        .current_dir(repo_root())
        .env("CVM_ATTEST_CONFIG", &config)
        .args(&args)
        .output()
        .expect("run cvm-attest");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        stderr.is_empty(),
        "`cvm-attest {}` wrote to stderr:\n{stderr}\n(a \"not pinned\" warning: plugins/plugins.lock is stale, \
         run scripts/lock-plugins.sh)",
        args.join(" ")
    );
    let differs = stdout.lines().zip(expected.lines()).find(|(a, b)| a != b);
    assert!(
        stdout == expected,
        "`cvm-attest {}` prints other than the README's quick start. First differing line:\n  printed: {:?}\n  \
         README:  {:?}\nThe whole output:\n{stdout}",
        args.join(" "),
        differs.map(|d| d.0),
        differs.map(|d| d.1),
    );
    assert!(out.status.success(), "{}", out.status);
}
