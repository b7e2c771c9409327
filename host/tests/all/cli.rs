//! The `cvm-attest` binary as users run it.

use std::process::Output;

use crate::support::{self, PluginDir, cvm_attest};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A config file with a private cache dir and the given extra TOML.
fn config(dir: &PluginDir, extra: &str) -> std::path::PathBuf {
    let path = dir.path().join("config.toml.cfg");
    let cache = dir.path().join("cache");
    std::fs::write(&path, format!("cache_dir = {:?}\n{extra}", cache.display().to_string())).expect("config");
    path
}

fn claims_file(dir: &PluginDir) -> std::path::PathBuf {
    let path = dir.path().join("claims.json.in");
    std::fs::write(&path, support::maa_claims()).expect("claims");
    path
}

#[test]
fn plugin_list_shows_the_three_kinds() {
    let dir = PluginDir::with(&["claim-equals", "summary", "fixed-claims"]);
    let out = cvm_attest().args(["plugin", "list", "--plugin-dir"]).arg(dir.path()).output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for (name, kind) in
        [("claim-equals", "claim-check"), ("summary", "output-format"), ("fixed-claims", "verifier")]
    {
        let line =
            text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} listed:\n{text}"));
        assert!(line.contains(kind), "{line}");
    }
}

#[test]
fn plugin_run_claim_check_passes_and_fails_with_exit_status() {
    let dir = PluginDir::with(&["claim-equals"]);
    let cfg = config(&dir, "");
    let claims = claims_file(&dir);
    let baseline = support::repo_root().join("examples/checks/azure-cvm-baseline.json");
    let run = |check: &std::path::Path| {
        cvm_attest()
            .arg("--config")
            .arg(&cfg)
            .args(["plugin", "run", "claim-equals", "--plugin-dir"])
            .arg(dir.path())
            .arg("--claims")
            .arg(&claims)
            .arg("--plugin-config")
            .arg(check)
            .output()
            .expect("runs")
    };
    let out = run(&baseline);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "claim-equals: pass\n");

    let strict = dir.path().join("strict.json");
    std::fs::write(&strict, r#"{"/x-ms-azurevm-is-windows": false}"#).expect("write");
    let out = run(&strict);
    assert_eq!(out.status.code(), Some(1), "a failed check exits 1");
    assert!(
        stdout(&out).contains("claim-mismatch /x-ms-azurevm-is-windows: expected false, found true"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn plugin_run_output_format_prints_the_rendering() {
    let dir = PluginDir::with(&["summary"]);
    let out = cvm_attest()
        .arg("--config")
        .arg(config(&dir, ""))
        .args(["plugin", "run", "--plugin-dir"])
        .arg(dir.path())
        .arg(dir.path().join("summary.wasm"))
        .arg("--claims")
        .arg(claims_file(&dir))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("sevsnpvm") && text.contains("70F5CE9A-2BDC-4B6B-8401-E9B964D3AEB7"), "{text}");
}

#[test]
fn refused_plugin_exits_2_with_the_reason() {
    let dir = PluginDir::with(&["reads-files"]);
    let out = cvm_attest()
        .arg("--config")
        .arg(config(&dir, ""))
        .args(["plugin", "run", "reads-files", "--plugin-dir"])
        .arg(dir.path())
        .arg("--claims")
        .arg(claims_file(&dir))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("imports 'wasi:filesystem/"), "{}", stderr(&out));
}

#[test]
fn plugin_inspect_shows_kind_api_imports_and_digest() {
    let dir = PluginDir::with(&["claim-equals"]);
    let out = cvm_attest()
        .arg("--config")
        .arg(config(&dir, ""))
        .args(["plugin", "inspect"])
        .arg(dir.path().join("claim-equals.wasm"))
        .args(["-o", "json"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["inspection"]["kind"], "claim-check");
    assert_eq!(v["inspection"]["api_version"], "0.1.1");
    assert_eq!(v["loads"], true);
    let digest = v["inspection"]["digest"].as_str().expect("digest");
    let expected = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(std::fs::read(dir.path().join("claim-equals.wasm")).expect("read")))
    };
    assert_eq!(digest, expected);
    let imports = v["inspection"]["imports"].as_array().expect("imports");
    assert!(imports.iter().all(|i| !i.as_str().unwrap_or("").starts_with("wasi:filesystem")), "{imports:?}");
}

#[test]
fn a_component_is_swapped_for_a_newer_build_without_rebuilding_the_host() {
    let dir = PluginDir::new();
    let manifest = |build: &str| {
        let path = support::repo_root().join(format!("plugins/tests/swap-{build}/swap.toml"));
        std::fs::read_to_string(path).expect("manifest")
    };
    let v1 = dir.install_as("swap-v1", "swap", &manifest("v1"));
    let claims = claims_file(&dir);
    let run = |extra_config: &str| {
        cvm_attest()
            .arg("--config")
            .arg(config(&dir, extra_config))
            .args(["plugin", "run", "swap", "--plugin-dir"])
            .arg(dir.path())
            .arg("--claims")
            .arg(&claims)
            .output()
            .expect("runs")
    };
    let digest = |path: &std::path::Path| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(std::fs::read(path).expect("read")))
    };
    let pin = |d: &str| format!("[plugins.swap]\nsha256 = \"{d}\"\n");
    let v1_pin = pin(&digest(&v1.wasm_path));

    let out = run(&v1_pin);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "swap: pass\n");

    let v2 = dir.install_as("swap-v2", "swap", &manifest("v2"));
    let out = run(&v1_pin);
    assert_eq!(out.status.code(), Some(2), "the old pin refuses the new bytes");
    assert!(stderr(&out).contains("the configuration pins"), "{}", stderr(&out));

    let out = run(&pin(&digest(&v2.wasm_path)));
    assert_eq!(out.status.code(), Some(1), "v2 answers indeterminate");
    assert!(stdout(&out).contains("swap-v2: the newer build answered"), "{}", stdout(&out));
}

#[test]
fn plugin_pin_prints_configuration_that_pinned_loading_accepts() {
    // Not a shipped plugin: plugins/plugins.lock pins those (shipped.rs).
    let dir = PluginDir::with(&["secure-boot"]);
    let out = cvm_attest()
        .args(["plugin", "pin", "secure-boot", "--plugin-dir"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let pins = stdout(&out);
    assert!(pins.starts_with("[plugins.secure-boot]"), "{pins}");

    let cfg = config(&dir, &format!("require_pinned = true\n{pins}"));
    let run = |cfg: &std::path::Path| {
        cvm_attest()
            .arg("--config")
            .arg(cfg)
            .args(["plugin", "run", "secure-boot", "--plugin-dir"])
            .arg(dir.path())
            .arg("--claims")
            .arg(claims_file(&dir))
            .output()
            .expect("runs")
    };
    let out = run(&cfg);
    assert!(out.status.success(), "pinned plugin runs: {}", stderr(&out));
    let unpinned = config(&dir, "require_pinned = true\n");
    let out = run(&unpinned);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not pinned"), "{}", stderr(&out));
}

#[test]
fn a_manifest_without_its_component_is_listed_as_broken_not_as_a_plugin() {
    let dir = PluginDir::new();
    std::fs::copy(support::manifest_of("claim-equals"), dir.path().join("claim-equals.toml"))
        .expect("manifest");
    let out = cvm_attest().args(["plugin", "list", "--plugin-dir"]).arg(dir.path()).output().expect("runs");
    let text = stdout(&out);
    let listed = text.lines().filter(|l| l.starts_with("claim-equals")).count();
    let ours = dir.path().join("claim-equals.wasm").display().to_string();
    assert!(!text.lines().any(|l| !l.starts_with("broken:") && l.contains(&ours)), "{text}");
    assert!(text.contains(&format!("broken: cannot read plugin component {ours}")), "{text}");
    assert!(listed <= 1, "only the checkout's build, if any: {text}");
}

#[test]
fn completions_are_scripts_each_shell_accepts_and_know_every_command() {
    let bash = cvm_attest().args(["completions", "bash"]).output().expect("run");
    assert!(bash.status.success(), "{}", stderr(&bash));
    let script = stdout(&bash);
    for word in ["attest", "verify", "evidence", "plugin", "token", "--evidence", "--plugin-dir"] {
        assert!(script.contains(word), "bash completion lacks {word}");
    }
    // bash parses it and, sourced, registers the completion function for cvm-attest.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("cvm-attest.bash");
    std::fs::write(&file, &script).expect("write");
    let sourced = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p cvm-attest", file.display()))
        .output()
        .expect("bash");
    assert!(sourced.status.success() && stdout(&sourced).contains("cvm-attest"), "{}", stderr(&sourced));

    let fish = stdout(&cvm_attest().args(["completions", "fish"]).output().expect("run"));
    assert!(fish.contains("complete -c cvm-attest") && fish.contains("token"), "{fish}");
    let zsh = stdout(&cvm_attest().args(["completions", "zsh"]).output().expect("run"));
    assert!(zsh.starts_with("#compdef cvm-attest"), "{zsh}");
}

#[test]
fn man_page_is_roff_naming_the_commands_and_exit_statuses() {
    let out = cvm_attest().arg("man").output().expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.contains(".TH cvm-attest 1"), "{page}");
    for word in ["attest", "verify", "completions", "Exit status", "\\-\\-plugin\\-dir"] {
        assert!(page.contains(word), "the man page lacks {word}");
    }
}

/// The SDK as `cargo package` makes it for a registry, unpacked into `dir`: only what the crate
/// ships (its WIT included), nothing of the repository around it.
fn packaged_sdk(dir: &std::path::Path) -> std::path::PathBuf {
    let run = |cmd: &mut std::process::Command| {
        let out = cmd.output().expect("run");
        assert!(out.status.success(), "{cmd:?}: {}", stderr(&out));
    };
    run(std::process::Command::new(env!("CARGO"))
        .args([
            "package",
            "--quiet",
            "--offline",
            "--no-verify",
            "--allow-dirty",
            "-p",
            "cvm-attest-plugin-sdk",
        ])
        .arg("--manifest-path")
        .arg(support::repo_root().join("plugins/Cargo.toml"))
        .arg("--target-dir")
        .arg(dir));
    let archive = std::fs::read_dir(dir.join("package"))
        .expect("cargo package's output")
        .map(|entry| entry.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "crate"))
        .expect("a .crate file");
    run(std::process::Command::new("tar").arg("-xzf").arg(&archive).arg("-C").arg(dir));
    dir.join(archive.file_stem().expect("name"))
}

/// `plugin new` for the other two kinds (docs/plugins.md's test makes a check), in a directory
/// outside the repository, against the SDK as a registry would have it: both build and load, and
/// the format runs.
#[test]
fn plugin_new_makes_crates_that_build_against_the_packaged_sdk() {
    let work = tempfile::tempdir().expect("tempdir");
    let plugins = work.path().join("installed");
    std::fs::create_dir(&plugins).expect("plugin dir");
    let target = work.path().join("target");
    let sdk = packaged_sdk(&work.path().join("sdk"));
    for (name, kind) in [("my-format", "format"), ("my-verifier", "verifier")] {
        let new = cvm_attest()
            .args(["plugin", "new", name, "--kind", kind, "--sdk"])
            .arg(&sdk)
            .current_dir(work.path())
            .output()
            .expect("run");
        assert!(new.status.success() && stdout(&new).contains("cargo build --release"), "{}", stderr(&new));
        let crate_dir = work.path().join(name);
        let build = std::process::Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2"])
            .current_dir(&crate_dir)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .expect("cargo");
        assert!(build.status.success(), "{name} does not build:\n{}", stderr(&build));
        let wasm = target.join(format!("wasm32-wasip2/release/{}.wasm", name.replace('-', "_")));
        std::fs::copy(&wasm, plugins.join(format!("{name}.wasm"))).expect("install component");
        std::fs::copy(crate_dir.join(format!("{name}.toml")), plugins.join(format!("{name}.toml")))
            .expect("manifest");
    }
    let dir = plugins.to_str().expect("UTF-8 path");
    let claims = support::repo_root().join("examples/claims/sharedweu-sevsnp-2023-03-30.json");
    let claims = claims.to_str().expect("UTF-8 path");
    let list = cvm_attest().args(["--plugin-dir", dir, "plugin", "list"]).output().expect("run");
    for line in ["my-format", "my-verifier"] {
        assert!(stdout(&list).contains(line), "{line} is not listed:\n{}", stdout(&list));
    }
    let format = cvm_attest()
        .args(["--plugin-dir", dir, "plugin", "run", "my-format", "--claims", claims])
        .output()
        .expect("run");
    assert!(
        format.status.success() && stdout(&format).contains("pass sevsnpvm"),
        "{}{}",
        stdout(&format),
        stderr(&format)
    );
}
