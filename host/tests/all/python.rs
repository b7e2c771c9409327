//! A claim check written in Python (`plugins/python/secure-boot`, built by componentize-py with
//! `scripts/build-python-plugin.sh`): the WIT contract is all a plugin is held to, whatever language
//! it is written in. It needs componentize-py (pinned; `scripts/setup-debian12.sh` installs it): without
//! it these tests fail, naming the command that installs it.
//!
//! Today the host refuses the component: componentize-py links CPython as a dozen shared libraries,
//! and with `--stub-wasi` (its WASI imports turned into traps inside the component, so it imports
//! nothing the sandbox withholds) it instantiates 38 core modules, over the sandbox's
//! `MAX_CORE_INSTANCES_PER_COMPONENT` (8); and compiling its 18 MB takes longer than the host's
//! 10 s compile deadline in a debug build. `python_check_is_refused_for_its_core_instances` pins that
//! down: it fails the day the host accepts the component, and then the end-to-end test through the
//! binary (in the plugin's README) belongs here.

use std::path::Path;
use std::time::{Duration, Instant};

use cvm_attest::plugins::{Located, Policy, Runtime};

use crate::support::{self, PluginDir};

const NAME: &str = "py-secure-boot";

/// The built plugin: `py-secure-boot.wasm` and its manifest. Panics, naming the prerequisite, when
/// componentize-py is missing: a test that cannot build what it tests fails, it is not skipped.
fn built() -> &'static Path {
    support::python_plugin_dir().unwrap_or_else(|e| panic!("{e}"))
}

/// Install the Python plugin into `dir` with its manifest.
fn install(dir: &PluginDir) -> Located {
    for file in [format!("{NAME}.wasm"), format!("{NAME}.toml")] {
        std::fs::copy(built().join(&file), dir.path().join(&file)).expect("install the Python plugin");
    }
    Located::from_wasm(&dir.path().join(format!("{NAME}.wasm"))).expect("manifest loads")
}

#[test]
fn python_check_is_refused_for_its_core_instances() {
    let dir = PluginDir::new();
    let located = install(&dir);
    let runtime = Runtime::new(None).expect("runtime").with_compile_time(Duration::from_secs(300));
    let started = Instant::now();
    let refused = runtime.load(&located, &Policy::default(), false);
    eprintln!("{NAME}: compiled and judged in {:.1?}", started.elapsed());
    let Err(e) = refused else {
        panic!(
            "the host loads {NAME} now: replace this test with one that runs it through the binary (see \
             plugins/python/secure-boot/README.md)"
        )
    };
    let reason = e.to_string();
    assert!(
        reason.contains("core module instances") && reason.contains("maximum of 8"),
        "refused for another reason than its core instances: {reason}"
    );
}
