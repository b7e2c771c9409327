//! `plugin new`: a plugin crate from `plugins/template/`, ready for
//! `cargo build --release --target wasm32-wasip2` anywhere.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::args::{NewArgs, NewKind};

const CARGO_TOML: &str = include_str!("../../../plugins/template/Cargo.toml.in");
const MANIFEST: &str = include_str!("../../../plugins/template/manifest.toml.in");

/// The SDK of the checkout this binary was built from.
const BUILT_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/sdk");

pub fn new(args: &NewArgs) -> anyhow::Result<()> {
    let name = &args.name;
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if name.is_empty() || !name.chars().all(valid) || name.starts_with('-') || name.len() > 64 {
        bail!("'{name}' is not a plugin name: use lowercase letters, digits and dashes (e.g. my-check)");
    }
    let sdk = args.sdk.clone().unwrap_or_else(|| PathBuf::from(BUILT_SDK));
    let sdk = sdk.canonicalize().ok().filter(|p| p.join("Cargo.toml").is_file()).with_context(|| {
        format!("no plugin SDK at {}: pass --sdk DIR (plugins/sdk of a cvm-attest checkout)", sdk.display())
    })?;
    let (kind, source, description) = match args.kind {
        NewKind::Check => {
            ("claim-check", include_str!("../../../plugins/template/check.rs"), "A claim check")
        }
        NewKind::Format => {
            ("output-format", include_str!("../../../plugins/template/format.rs"), "An output format")
        }
        NewKind::Verifier => {
            ("verifier", include_str!("../../../plugins/template/verifier.rs"), "A verifier")
        }
    };
    let root = args.dir.join(name);
    if root.exists() {
        bail!("{} already exists: choose another name or --dir", root.display());
    }
    let fill = |template: &str| {
        template
            .replace("{name}", name)
            .replace("{kind}", kind)
            .replace("{description}", description)
            .replace("{sdk}", &sdk.display().to_string())
    };
    write(&root.join("Cargo.toml"), &fill(CARGO_TOML))?;
    write(&root.join(format!("{name}.toml")), &fill(MANIFEST))?;
    write(&root.join("src/lib.rs"), source)?;
    let wasm = name.replace('-', "_");
    let next = format!(
        "created {root}\n\nbuild:  cargo build --release --target wasm32-wasip2 --manifest-path {root}/Cargo.toml\n\
         install: mkdir -p PLUGIN_DIR && cp {root}/target/wasm32-wasip2/release/{wasm}.wasm PLUGIN_DIR/{name}.wasm \
         && cp {root}/{name}.toml PLUGIN_DIR/\nrun:    cvm-attest --plugin-dir PLUGIN_DIR plugin list",
        root = root.display()
    );
    super::finish(next.as_bytes(), Ok(()))
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
