//! The README's main job: `cvm-attest-sim run -- scripts/attest-simulated.sh` takes the simulated CVM
//! through attest, token verify, token decode, the production policy, `-o explain` and `-o bool`, and the README's quick start runs exactly
//! that.

use std::process::Command;

use crate::support::{cvm_attest_binary, repo_root, text};

#[test]
fn the_readme_quick_start_attests_the_simulated_cvm() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let quick_start = readme.split("\n## Quick start").nth(1).expect("a Quick start section");
    let command = quick_start.split("\n```").nth(1).expect("its command block");
    assert!(
        command.contains("cvm-attest-sim run -- scripts/attest-simulated.sh"),
        "the quick start runs the main job against the simulator:\n{command}"
    );

    let bin_dir = cvm_attest_binary().parent().expect("target/<profile>");
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let run = Command::new(env!("CARGO_BIN_EXE_cvm-attest-sim"))
        .args(["run", "--", "scripts/attest-simulated.sh"])
        .current_dir(repo_root())
        .env("PATH", path)
        .env_remove("CVM_ATTEST_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("run cvm-attest-sim");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{}", text(&run));
    assert!(stdout.contains("\nverified  RS256 signature"), "token verify accepted the token:\n{stdout}");
    assert!(stdout.contains("nonce     matches x-ms-runtime.client-payload.nonce"), "{stdout}");
    assert!(stdout.contains("\"x-ms-compliance-status\": \"azure-compliant-cvm\""), "the claims:\n{stdout}");
    assert!(stdout.contains("  check policy            pass\n"), "the production policy passes:\n{stdout}");
    assert!(
        stdout.contains("    UEFI Secure Boot was on during boot\n    부팅 시 UEFI Secure Boot 활성 여부\n"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().last(), Some("true"), "-o bool:\n{stdout}");
}
