//! Finding plugins: `NAME.wasm` + `NAME.toml` in a list of directories.
//!
//! Search order (first match by name wins): `--plugin-dir` flags, `CVM_ATTEST_PLUGIN_PATH`
//! (colon-separated), the configuration's `plugin_dir`, the plugins built in this checkout when the
//! binary runs from one, then `/usr/local/lib/cvm-attest/plugins` and `/usr/lib/cvm-attest/plugins`.

use std::path::{Path, PathBuf};

use super::{Error, Manifest};

/// System-wide plugin directories, searched last.
pub const SYSTEM_DIRS: [&str; 2] = ["/usr/local/lib/cvm-attest/plugins", "/usr/lib/cvm-attest/plugins"];

/// A plugin on disk: its manifest and where its component is.
#[derive(Debug, Clone)]
pub struct Located {
    pub manifest: Manifest,
    pub manifest_path: PathBuf,
    pub wasm_path: PathBuf,
}

impl Located {
    /// The plugin whose component is `wasm_path`; its manifest is the same path ending in `.toml`.
    pub fn from_wasm(wasm_path: &Path) -> Result<Located, Error> {
        let manifest_path = wasm_path.with_extension("toml");
        let manifest = Manifest::load(&manifest_path)?;
        Ok(Located { manifest, manifest_path, wasm_path: wasm_path.to_owned() })
    }
}

/// Where to look for plugins, in order.
#[derive(Debug, Clone, Default)]
pub struct SearchPath {
    sources: Vec<Source>,
}

#[derive(Debug, Clone)]
enum Source {
    /// An installed layout: `NAME.wasm` and `NAME.toml` side by side.
    Dir(PathBuf),
    /// A source checkout: manifests in `plugins/NAME/NAME.toml`, components in the guest target dir.
    Checkout(PathBuf),
}

impl SearchPath {
    /// The standard search path (see the module docs).
    pub fn standard(flags: &[PathBuf], env: Option<&str>, config_dir: Option<&Path>) -> SearchPath {
        let mut dirs: Vec<PathBuf> = flags.to_vec();
        dirs.extend(env.into_iter().flat_map(|v| v.split(':')).filter(|s| !s.is_empty()).map(PathBuf::from));
        dirs.extend(config_dir.map(Path::to_owned));
        let mut sources: Vec<Source> = dirs.into_iter().map(Source::Dir).collect();
        sources.extend(checkout_root().map(Source::Checkout));
        sources.extend(SYSTEM_DIRS.iter().map(|d| Source::Dir(PathBuf::from(d))));
        SearchPath { sources }
    }

    /// Exactly these directories, nothing else (tests, `--plugin-dir` with `--no-default-dirs`).
    pub fn only(dirs: &[PathBuf]) -> SearchPath {
        SearchPath { sources: dirs.iter().cloned().map(Source::Dir).collect() }
    }

    /// Every plugin found, first occurrence of each name only, plus the manifests that failed to load.
    pub fn list(&self) -> (Vec<Located>, Vec<Error>) {
        let mut found: Vec<Located> = Vec::new();
        let mut broken = Vec::new();
        for source in &self.sources {
            for item in source.scan() {
                match item {
                    Ok(p) if !found.iter().any(|f| f.manifest.name == p.manifest.name) => found.push(p),
                    Ok(_) => {}
                    Err(e) => broken.push(e),
                }
            }
        }
        (found, broken)
    }

    /// The first plugin called `name`.
    pub fn find(&self, name: &str) -> Result<Located, Error> {
        for source in &self.sources {
            if let Some(found) = source.lookup(name) {
                return found;
            }
        }
        Err(Error::NotFound { name: name.to_owned(), searched: self.describe() })
    }

    /// The search path as one line, for messages.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .sources
            .iter()
            .map(|s| match s {
                Source::Dir(d) => d.display().to_string(),
                Source::Checkout(root) => format!("{} (checkout)", root.join("plugins").display()),
            })
            .collect();
        parts.join(", ")
    }
}

impl Source {
    fn lookup(&self, name: &str) -> Option<Result<Located, Error>> {
        let (manifest_path, wasm_path) = match self {
            Source::Dir(dir) => (dir.join(format!("{name}.toml")), dir.join(format!("{name}.wasm"))),
            Source::Checkout(root) => {
                let manifest = checkout_manifests(root)
                    .into_iter()
                    .find(|m| m.file_stem().is_some_and(|stem| stem == name))?;
                (manifest, checkout_wasm(root, name))
            }
        };
        if !manifest_path.is_file() {
            return None;
        }
        Some(Manifest::load(&manifest_path).map(|manifest| Located { manifest, manifest_path, wasm_path }))
    }

    fn scan(&self) -> Vec<Result<Located, Error>> {
        let manifests = match self {
            Source::Dir(dir) => toml_files(dir),
            Source::Checkout(root) => checkout_manifests(root),
        };
        let mut names: Vec<String> =
            manifests.iter().filter_map(|m| Some(m.file_stem()?.to_str()?.to_owned())).collect();
        names.sort();
        names.dedup();
        names.into_iter().filter_map(|name| self.lookup(&name)).collect()
    }
}

/// The `*.toml` files directly in `dir`, sorted.
fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// In a checkout every plugin crate `plugins/CRATE/` holds its manifest `NAME.toml` beside `Cargo.toml`.
fn checkout_manifests(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root.join("plugins")) else { return Vec::new() };
    let mut crates: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    crates.sort();
    crates.iter().flat_map(|dir| toml_files(dir)).filter(|m| !m.ends_with("Cargo.toml")).collect()
}

/// Where the guest workspace puts the component of plugin `name` (its `[lib] name`).
fn checkout_wasm(root: &Path, name: &str) -> PathBuf {
    root.join("plugins/target/wasm32-wasip2/release").join(format!("{}.wasm", name.replace('-', "_")))
}

/// The source checkout this binary was built in, if it runs from one (`<root>/target/<profile>/`).
fn checkout_root() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .find(|dir| dir.join("wit/plugin.wit").is_file() && dir.join("plugins/Cargo.toml").is_file())
        .map(Path::to_owned)
}
