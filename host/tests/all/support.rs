//! Shared test helpers: build the guest plugins from source once, stage them into temp dirs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine as _;
use cvm_attest::plugins::{Located, Policy, Runtime, types};

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ has a parent")
}

/// The guest workspace's release output dir, after building every guest crate from source (once per
/// test process; cargo makes it a no-op when nothing changed).
pub fn guest_dir() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let plugins = repo_root().join("plugins");
        let target = plugins.join("target");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
            .arg(plugins.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .status();
        let ok = status.as_ref().is_ok_and(|s| s.success());
        assert!(
            ok,
            "building the guest plugins failed ({status:?}). They need the wasm32-wasip2 target: run \
             `rustup target add wasm32-wasip2`, then `cargo build --release --target wasm32-wasip2 \
             --manifest-path plugins/Cargo.toml` to see the error"
        );
        target.join("wasm32-wasip2/release")
    })
}

/// The built component of a guest crate.
pub fn wasm_of(crate_name: &str) -> PathBuf {
    guest_dir().join(format!("{}.wasm", crate_name.replace('-', "_")))
}

/// What building the Python plugin needs, and how to install it.
pub const PYTHON_PREREQUISITE: &str = "The Python plugin is built with componentize-py 0.25.1 (from PyPI), \
    which python3's pip must have: run `pip install componentize-py==0.25.1` (scripts/setup-debian12.sh does).";

/// The Python claim check `plugins/python/secure-boot`, built by `scripts/build-python-plugin.sh`
/// (once per process) into `CARGO_TARGET_TMPDIR/python-plugin/` as an installed plugin:
/// `py-secure-boot.wasm` beside its manifest. `Err` says what is missing and how to install it.
pub fn python_plugin_dir() -> Result<&'static Path, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        // Built in a directory of this process's own, then renamed into place file by file: test
        // processes running at once never see half a component.
        let work = tempfile::tempdir_in(tmp).map_err(|e| format!("tempdir: {e}"))?;
        let script = repo_root().join("scripts/build-python-plugin.sh");
        let out = Command::new(&script)
            .arg(work.path())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            // Exit status 3: componentize-py is missing, or not the pinned version.
            let hint = if out.status.code() == Some(3) { PYTHON_PREREQUISITE } else { "" };
            let status = out.status;
            return Err(format!("building plugins/python/secure-boot failed ({status}). {hint}\n{stderr}"));
        }
        let dir = tmp.join("python-plugin");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for file in ["py-secure-boot.wasm", "py-secure-boot.toml"] {
            std::fs::rename(work.path().join(file), dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
        }
        Ok(dir)
    });
    built.as_deref().map_err(Clone::clone)
}

/// The manifest shipped with a guest crate (real plugins in `plugins/`, test ones in `plugins/tests/`).
pub fn manifest_of(crate_name: &str) -> PathBuf {
    let plugins = repo_root().join("plugins");
    [plugins.join(crate_name), plugins.join("tests").join(crate_name)]
        .into_iter()
        .map(|dir| dir.join(format!("{crate_name}.toml")))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no manifest for guest crate {crate_name}"))
}

/// A temp plugin directory in the installed layout.
pub struct PluginDir {
    pub dir: tempfile::TempDir,
}

impl PluginDir {
    pub fn new() -> PluginDir {
        PluginDir { dir: tempfile::tempdir().expect("tempdir") }
    }

    /// A dir holding these guest crates as installed plugins.
    pub fn with(crates: &[&str]) -> PluginDir {
        let d = PluginDir::new();
        for c in crates {
            d.install(c);
        }
        d
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Install a guest crate under its own name.
    pub fn install(&self, crate_name: &str) -> Located {
        self.install_as(
            crate_name,
            crate_name,
            &std::fs::read_to_string(manifest_of(crate_name)).expect("manifest"),
        )
    }

    /// Install a guest crate's component under `name`, with the given manifest text.
    pub fn install_as(&self, crate_name: &str, name: &str, manifest: &str) -> Located {
        let wasm = self.path().join(format!("{name}.wasm"));
        std::fs::copy(wasm_of(crate_name), &wasm).expect("copy component");
        std::fs::write(self.path().join(format!("{name}.toml")), manifest).expect("write manifest");
        Located::from_wasm(&wasm).expect("manifest loads")
    }
}

/// A plugin dir with the shipped plugins installed (offline, claim-equals, summary), and a
/// configuration file beside them with a private compiled-code cache.
pub fn shipped_plugins() -> (PluginDir, PathBuf) {
    let dir = PluginDir::new();
    let manifest = std::fs::read_to_string(repo_root().join("plugins/offline-verifier/offline.toml"))
        .expect("offline verifier manifest");
    dir.install_as("offline", "offline", &manifest);
    dir.install("claim-equals");
    dir.install("summary");
    let config = dir.path().join("config.toml.cfg");
    std::fs::write(&config, format!("cache_dir = {:?}\n", dir.path().join("cache").display().to_string()))
        .expect("config");
    (dir, config)
}

/// A runtime whose compiled-code cache is shared by the tests (compiling is the slow part).
pub fn runtime() -> Runtime {
    Runtime::new(Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("compiled-plugins"))).expect("runtime")
}

/// Load with the default (unpinned, default grants) policy.
pub fn load(
    runtime: &Runtime,
    located: &Located,
) -> Result<cvm_attest::plugins::Plugin, cvm_attest::plugins::Error> {
    runtime.load(located, &Policy::default(), false)
}

pub fn ctx(config: &str) -> types::EvalContext {
    types::EvalContext { request_id: "test".into(), now_unix_ms: 1_680_173_374_000, config: config.into() }
}

/// The claims of a real MAA token (sharedweu, SEV-SNP CVM, 2023-03-30).
pub fn maa_claims() -> String {
    let token = include_str!(
        "../../../formats/testdata/maa/cvm-clientlibtests-sharedweu-azurevm-sevsnpvm-2023-03-30.jwt"
    );
    let payload = token.trim().split('.').nth(1).expect("JWS has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url payload");
    String::from_utf8(bytes).expect("UTF-8 claims")
}

/// The example baseline check (8 rules) that the real token satisfies.
pub fn baseline_config() -> String {
    std::fs::read_to_string(repo_root().join("examples/checks/azure-cvm-baseline.json"))
        .expect("example config")
}

/// `cvm-attest` with a clean environment for plugin discovery and caching.
/// A command's output as text, for assertions and their messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn cvm_attest() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cvm-attest"));
    cmd.env_remove("CVM_ATTEST_PLUGIN_PATH").env_remove("CVM_ATTEST_CONFIG").env_remove("RUST_LOG");
    cmd
}

/// `cvm-attest` from the repository root with the plugins of `dir` and the configuration `config`.
pub fn cvm_attest_with(dir: &PluginDir, config: &Path) -> Command {
    let mut cmd = cvm_attest();
    cmd.current_dir(repo_root()).arg("--config").arg(config).arg("--plugin-dir").arg(dir.path());
    cmd
}

/// `cvm-attest verify --evidence EVIDENCE ARGS…` with the shipped plugins, from the repository root.
pub fn verify(evidence: &Path, args: &[&str]) -> std::process::Output {
    let (dir, config) = shipped_plugins();
    cvm_attest_with(&dir, &config)
        .arg("verify")
        .arg("--evidence")
        .arg(evidence)
        .args(args)
        .output()
        .expect("run cvm-attest")
}

/// `value` is valid under `docs/schemas/NAME`.
pub fn assert_valid(schema: &str, value: &serde_json::Value) {
    let path = repo_root().join("docs/schemas").join(schema);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut compiler = boon::Compiler::new();
    let url = format!("file://{}", path.display());
    compiler.add_resource(&url, serde_json::from_str(&text).expect("schema is JSON")).expect("resource");
    let mut schemas = boon::Schemas::new();
    let index = compiler.compile(&url, &mut schemas).unwrap_or_else(|e| panic!("{schema}: {e}"));
    if let Err(e) = schemas.validate(value, index) {
        panic!("not valid under {schema}: {e:#}\n{value:#}");
    }
}
