//! Command-line arguments as the user typed them (checked by clap, nothing resolved yet).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Prove an Azure confidential VM is genuine, with claim checks, output formats and verifiers as
/// sandboxed WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "cvm-attest", version, about, max_term_width = 100)]
pub struct Cli {
    /// Host configuration file (plugin pins, grants, limits) [default: /etc/cvm-attest/config.toml if present]
    #[arg(long, global = true, env = "CVM_ATTEST_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Look for plugins here first (repeatable)
    #[arg(long = "plugin-dir", global = true, value_name = "DIR")]
    pub plugin_dirs: Vec<PathBuf>,

    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List, inspect and run plugins
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List the plugins found on the search path, with their kinds
    List {
        #[arg(short, long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Show what a component imports and exports, its digest, its manifest, and whether it would load
    Inspect {
        /// A plugin component (.wasm); its manifest is the same path ending in .toml
        file: PathBuf,
        #[arg(short, long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Evaluate a claim-check or output-format plugin on a claims file
    Run(RunArgs),
    /// Print configuration that pins the plugins found (all, or those named) to their current digests
    Pin {
        /// Plugin names [default: every plugin on the search path]
        names: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Plugin name (searched on the plugin path) or path to a .wasm file
    pub plugin: String,

    /// Claims as JSON (an MAA token payload); - reads stdin
    #[arg(long, value_name = "FILE")]
    pub claims: PathBuf,

    /// The plugin's configuration file, passed to it verbatim [default: the manifest's default_config]
    #[arg(long = "plugin-config", value_name = "FILE")]
    pub plugin_config: Option<PathBuf>,

    /// A token to hand to an output format alongside the claims
    #[arg(long, value_name = "FILE")]
    pub token: Option<PathBuf>,

    /// How to print a claim check's verdict (output formats print what they render)
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}
