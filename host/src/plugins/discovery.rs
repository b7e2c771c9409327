//! Finding plugins: `NAME.wasm` + `NAME.toml` in a list of directories.
//!
//! Search order: `--plugin-dir` flags, `CVM_ATTEST_PLUGIN_PATH` (colon-separated), the
//! configuration's `plugin_dir`, the plugins built in this checkout when the binary runs from one,
//! `PREFIX/lib/cvm-attest/plugins` when the binary is installed as `PREFIX/bin/cvm-attest` (where
//! `cargo install` puts it and `scripts/install-plugins.sh` puts the shipped plugins; whoever can
//! write there can replace the binary too), then `/usr/local/lib/cvm-attest/plugins` and
//! `/usr/lib/cvm-attest/plugins`.
//!
//! A name must mean one plugin: when several directories hold a plugin of that name, they must be
//! byte-identical copies (same component, same manifest), and the first is used; otherwise looking it
//! up by name is an error naming every copy ([`Error::Conflict`]), since whichever came first on the
//! path would otherwise answer for it (a fake `offline` verifier in `--plugin-dir` saying `verified`).
//! A plugin given by the path of its `.wasm` ([`Located::from_wasm`]) is never ambiguous.

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
    /// The plugin whose component is `wasm_path`; its manifest is the same path ending in `.toml`,
    /// or, for a component built in a source checkout, the manifest in its crate directory.
    pub fn from_wasm(wasm_path: &Path) -> Result<Located, Error> {
        let beside = wasm_path.with_extension("toml");
        let manifest_path = match checkout_manifest_of(wasm_path) {
            Some(manifest) if !beside.exists() => manifest,
            _ => beside,
        };
        let manifest = Manifest::load(&manifest_path)?;
        Ok(Located { manifest, manifest_path, wasm_path: wasm_path.to_owned() })
    }
}

/// One copy of a plugin on the search path, as `plugin list` shows it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub located: Located,
    pub status: CopyStatus,
}

/// What looking a plugin up by name makes of one of its copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CopyStatus {
    /// The only copy, or the first of byte-identical copies: the one used.
    Used,
    /// Byte-identical to an earlier copy (component and manifest): harmless, never loaded.
    Shadowed,
    /// Differs from another copy of the same name (or cannot be read to tell): looking the name up
    /// is an error until all copies but one are removed.
    Conflict,
}

impl CopyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CopyStatus::Used => "used",
            CopyStatus::Shadowed => "shadowed",
            CopyStatus::Conflict => "conflict",
        }
    }
}

/// Whether all copies have the same component and manifest bytes.
fn identical(copies: &[Located]) -> Result<bool, Error> {
    let digests = copies.iter().map(super::digests).collect::<Result<Vec<_>, _>>()?;
    Ok(digests.windows(2).all(|pair| pair[0] == pair[1]))
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
        let system = SYSTEM_DIRS.map(PathBuf::from);
        sources.extend(beside_binary().filter(|dir| !system.contains(dir)).map(Source::Dir));
        sources.extend(system.into_iter().map(Source::Dir));
        SearchPath { sources }
    }

    /// Exactly these directories, nothing else (tests and embedders that choose their own).
    pub fn only(dirs: &[PathBuf]) -> SearchPath {
        SearchPath { sources: dirs.iter().cloned().map(Source::Dir).collect() }
    }

    /// Every plugin found, first occurrence of each name only, plus the manifests that failed to load.
    pub fn list(&self) -> (Vec<Located>, Vec<Error>) {
        let (all, broken) = self.list_all();
        let mut first: Vec<Located> = Vec::new();
        for Listed { located, .. } in all {
            if !first.iter().any(|f| f.manifest.name == located.manifest.name) {
                first.push(located);
            }
        }
        (first, broken)
    }

    /// Every copy of every plugin, in search order with the copies of a name together, each with
    /// what looking it up by name makes of it; plus the manifests and files that failed to load.
    pub fn list_all(&self) -> (Vec<Listed>, Vec<Error>) {
        let mut groups: Vec<Vec<Located>> = Vec::new();
        let mut broken = Vec::new();
        for source in &self.sources {
            for item in source.scan() {
                match item {
                    Ok(p) => match groups.iter_mut().find(|g| g[0].manifest.name == p.manifest.name) {
                        Some(group) => group.push(p),
                        None => groups.push(vec![p]),
                    },
                    Err(e) => broken.push(e),
                }
            }
        }
        let mut listed = Vec::new();
        for copies in groups {
            let statuses = match copies.len() {
                1 => vec![CopyStatus::Used],
                n => match identical(&copies) {
                    Ok(true) => std::iter::once(CopyStatus::Used)
                        .chain(std::iter::repeat_n(CopyStatus::Shadowed, n - 1))
                        .collect(),
                    Ok(false) => vec![CopyStatus::Conflict; n],
                    Err(e) => {
                        broken.push(e);
                        vec![CopyStatus::Conflict; n]
                    }
                },
            };
            listed
                .extend(copies.into_iter().zip(statuses).map(|(located, status)| Listed { located, status }));
        }
        (listed, broken)
    }

    /// A plugin by name (searched here) or by the path of its `.wasm` file.
    pub fn locate(&self, spec: &str) -> Result<Located, Error> {
        if spec.ends_with(".wasm") || spec.contains('/') {
            Located::from_wasm(Path::new(spec))
        } else {
            self.find(spec)
        }
    }

    /// The plugin called `name`: its only copy on the search path, or the first of byte-identical
    /// copies. Copies that differ are [`Error::Conflict`]; a copy that cannot be read is its error.
    pub fn find(&self, name: &str) -> Result<Located, Error> {
        let copies = self.sources.iter().filter_map(|s| s.lookup(name)).collect::<Result<Vec<_>, _>>()?;
        if copies.len() > 1 && !identical(&copies)? {
            let copies = copies.into_iter().map(|c| c.wasm_path).collect();
            return Err(Error::Conflict { name: name.to_owned(), copies });
        }
        let not_found = || Error::NotFound { name: name.to_owned(), searched: self.describe() };
        copies.into_iter().next().ok_or_else(not_found)
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
        if !wasm_path.exists() {
            // A checkout whose plugins are not built offers nothing; an installed manifest without its
            // component is a broken plugin, not a working one.
            return match self {
                Source::Checkout(_) => None,
                Source::Dir(_) => Some(Err(Error::Input(crate::input::Error::Io {
                    what: "plugin component",
                    path: wasm_path,
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("{} has no component beside it", manifest_path.display()),
                    ),
                }))),
            };
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

/// The checkout manifest of a component at `<root>/plugins/target/wasm32-wasip2/release/NAME.wasm`.
fn checkout_manifest_of(wasm_path: &Path) -> Option<PathBuf> {
    let release = wasm_path.parent()?;
    let root = release.ancestors().nth(4)?;
    if !release.ends_with("plugins/target/wasm32-wasip2/release")
        || !root.join("plugins/Cargo.toml").is_file()
    {
        return None;
    }
    checkout_manifests(root).into_iter().find(|manifest| {
        manifest
            .file_stem()
            .and_then(|s| s.to_str())
            .is_some_and(|name| checkout_wasm(root, name) == wasm_path)
    })
}

/// Where the guest workspace puts the component of plugin `name` (its `[lib] name`).
fn checkout_wasm(root: &Path, name: &str) -> PathBuf {
    root.join("plugins/target/wasm32-wasip2/release").join(format!("{}.wasm", name.replace('-', "_")))
}

/// The plugin directory beside this binary, if it is installed in a `bin` directory.
fn beside_binary() -> Option<PathBuf> {
    installed_plugin_dir(&std::env::current_exe().ok()?)
}

/// `PREFIX/lib/cvm-attest/plugins` for a binary installed as `PREFIX/bin/cvm-attest`.
fn installed_plugin_dir(exe: &Path) -> Option<PathBuf> {
    let bin = exe.parent().filter(|dir| dir.file_name().is_some_and(|name| name == "bin"))?;
    Some(bin.parent()?.join("lib/cvm-attest/plugins"))
}

/// The source checkout this binary was built in, if it runs from one (`<root>/target/<profile>/`).
fn checkout_root() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .find(|dir| {
            dir.join("wit/plugin@0.1/plugin.wit").is_file() && dir.join("plugins/Cargo.toml").is_file()
        })
        .map(Path::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_installed_binary_looks_in_its_prefix() {
        let dir = |exe: &str| installed_plugin_dir(Path::new(exe));
        let home = Some(PathBuf::from("/home/me/.cargo/lib/cvm-attest/plugins"));
        assert_eq!(dir("/home/me/.cargo/bin/cvm-attest"), home);
        assert_eq!(dir("/usr/local/bin/cvm-attest"), Some(PathBuf::from(SYSTEM_DIRS[0])));
        assert_eq!(dir("/work/cvm-attest/target/release/cvm-attest"), None);
        assert_eq!(dir("/cvm-attest"), None);
    }
}
