//! docs/plugins.md is followed as written: its commands run one by one in a directory outside the
//! repository and its code is the template `plugin new` writes, which the README shows too.

use std::path::Path;
use std::process::Command;

use crate::support::{self, repo_root};

/// The fenced blocks of `lang` in a Markdown text.
fn blocks<'a>(text: &'a str, lang: &str) -> Vec<&'a str> {
    let fence = format!("```{lang}\n");
    text.split(fence.as_str()).skip(1).map(|rest| rest.split("```").next().expect("a closed block")).collect()
}

/// The template's code without its leading comment.
fn template_check() -> String {
    let source = std::fs::read_to_string(repo_root().join("plugins/template/check.rs")).expect("template");
    source.lines().skip_while(|l| l.starts_with("//") || l.is_empty()).map(|l| format!("{l}\n")).collect()
}

#[test]
fn guide_and_readme_show_the_template_plugin_new_writes() {
    let guide = std::fs::read_to_string(repo_root().join("docs/plugins.md")).expect("docs/plugins.md");
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    assert_eq!(blocks(&guide, "rust")[0], template_check(), "docs/plugins.md's example");
    assert_eq!(blocks(&readme, "rust")[0], template_check(), "the README's example (Writing one)");
}

#[test]
fn guide_commands_build_test_pin_and_grant_a_plugin_outside_the_repository() {
    support::guest_dir(); // the offline verifier that `verify` uses
    let guide = std::fs::read_to_string(repo_root().join("docs/plugins.md")).expect("docs/plugins.md");
    let commands = blocks(&guide, "sh")[0];
    let work = tempfile::tempdir().expect("tempdir");
    let bin = Path::new(env!("CARGO_BIN_EXE_cvm-attest")).parent().expect("bin dir");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut ran = 0;
    for line in commands.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        // `! command` is a step the guide says must fail with exit status 1.
        let (line, want) = line.strip_prefix("! ").map_or((line, 0), |l| (l, 1));
        let out = Command::new("sh")
            .args(["-c", line])
            .current_dir(work.path())
            .env("PATH", &path)
            .env("EXAMPLES", repo_root().join("examples"))
            .env_remove("CVM_ATTEST_PLUGIN_PATH")
            .env_remove("CVM_ATTEST_CONFIG")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .expect("sh");
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(want), "`{line}` exited {:?}:\n{stdout}{stderr}", out.status);
        if want == 1 {
            assert!(stdout.contains("/secureboot"), "the failure names the claim:\n{stdout}{stderr}");
        }
        if line.contains(" verify ") {
            assert!(stdout.contains("check my-check: pass"), "{stdout}");
            assert!(!stderr.contains("not pinned"), "the guide's configuration pins the plugin:\n{stderr}");
        }
        ran += 1;
    }
    assert_eq!(ran, 12, "the guide's commands:\n{commands}");
}
