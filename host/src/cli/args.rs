//! Command-line arguments as the user typed them (checked by clap, nothing resolved yet).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use cvm_attest_formats::time::DateTime;

use crate::evidence::vtpm::PCR_COUNT;

/// The same on every command; printed under `--help`.
const EXIT_STATUS: &str = "Exit status: 0 success; 1 a verification, attestation or check failed; 2 usage or \
input error (arguments, configuration, operator files, plugins); 3 environment (no TPM, service unreachable).";

/// Prove an Azure confidential VM is genuine, with claim checks, output formats and verifiers as
/// sandboxed WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "cvm-attest", version, about, max_term_width = 100, after_help = EXIT_STATUS)]
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
    /// Attest this VM: collect evidence, have MAA appraise it, verify MAA's token, run claim checks
    Attest(AttestArgs),
    /// Collect evidence inside the VM, or show what an evidence file holds
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// Appraise evidence with a verifier plugin (offline by default), then run claim checks
    Verify(VerifyArgs),
    /// List, inspect and run plugins
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Show or verify an MAA token (JWT)
    #[command(subcommand)]
    Token(TokenCommand),
    /// Check that attest can work here: TPM, Azure's NV indices and AK, the AK certificate, IMDS,
    /// MAA, plugins; each ok, or the problem and its fix
    Doctor(AttestArgs),
    /// Show the configuration in effect
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script (e.g. `cvm-attest completions bash > /etc/bash_completion.d/cvm-attest`)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; e.g. `cvm-attest man > /usr/local/share/man/man1/cvm-attest.1`)
    Man,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Every setting `attest` would use with these flags, and where each comes from: flag,
    /// CVM_ATTEST_* variable, the configuration file, or the default (in that order of precedence)
    Show(AttestArgs),
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List the plugins found on the search path, with their kinds
    List {
        /// `text` (a table) or `json`
        #[arg(short, long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Show what a component imports and exports, its digest, its manifest, and whether it would load
    Inspect {
        /// A plugin component (.wasm); its manifest is the same path ending in .toml
        file: PathBuf,
        /// `text` or `json`
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
    /// Start a plugin: a crate with the SDK, an example implementation and its manifest
    New(NewArgs),
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The plugin's name (and its crate's): lowercase letters, digits and dashes
    pub name: String,

    /// What it is
    #[arg(long, value_enum)]
    pub kind: NewKind,

    /// Where to make the crate's directory
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,

    /// The SDK crate to depend on [default: this checkout's plugins/sdk]
    #[arg(long, value_name = "DIR")]
    pub sdk: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum NewKind {
    /// A claim check (`--check NAME`)
    Check,
    /// An output format (`-o NAME`)
    Format,
    /// A verifier (`--verifier NAME`)
    Verifier,
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

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Read the vTPM and IMDS and write an evidence bundle (v1 JSON)
    Collect(CollectArgs),
    /// Print what an evidence file holds: a bundle, a raw HCL/SNP report or TD quote, or Confidential
    /// Containers az-snp-vtpm/az-tdx-vtpm evidence
    Show {
        /// The evidence file; - reads stdin
        file: PathBuf,
        /// `text` (for people) or `json` (stable, schema cvm-attest/evidence-summary/v1)
        #[arg(short, long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    #[command(flatten)]
    pub nonce: NonceArgs,

    /// SHA-256 PCRs to quote, e.g. `0-7` or `0-7,14`
    #[arg(long, value_name = "LIST", default_value = "0-23", value_parser = parse_pcrs)]
    pub pcrs: Pcrs,

    /// Where to write the bundle; - writes stdout
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// The TCG event log to include (reading the default needs root)
    #[arg(long, value_name = "FILE", env = "CVM_ATTEST_EVENT_LOG", default_value = crate::evidence::collect::EVENT_LOG_PATH)]
    pub event_log: PathBuf,

    /// Carry collateral in the bundle as NAME=FILE (repeatable), so it can be verified elsewhere
    /// without it. Names as for `verify --collateral`
    #[arg(long, value_name = "NAME=FILE", value_parser = parse_named_file)]
    pub collateral: Vec<(String, PathBuf)>,

    #[command(flatten)]
    pub sources: Sources,
}

/// Every setting of `attest` comes from its flag, else its `CVM_ATTEST_*` variable, else the
/// configuration's `[attest]` table, else its default (`cli::settings`).
#[derive(Debug, Clone, Args)]
pub struct AttestArgs {
    /// The MAA instance, e.g. https://sharedkrc.krc.attest.azure.net or a bare host (https); only scheme,
    /// host and port are used. Default: the configuration's maa_url, else the shared instance of the
    /// VM's region (from IMDS)
    #[arg(short = 'a', long = "maa-url", value_name = "URL", env = "CVM_ATTEST_MAA_URL")]
    pub maa_url: Option<String>,

    #[command(flatten)]
    pub nonce: NonceArgs,

    /// `bool` (true for a compliant SEV-SNP or TDX CVM, as the C++ sample), `token` (the verified
    /// token), `json` (schema cvm-attest/attestation/v1) or an output-format plugin
    #[arg(short, long, value_name = "FORMAT", env = "CVM_ATTEST_OUTPUT", default_value = "bool")]
    pub output: String,

    /// Also write the result as FORMAT to FILE (repeatable; any -o format): written whole or not at
    /// all, mode 0600 when it holds the token, else 0644
    #[arg(long = "write", value_name = "FORMAT=FILE", value_parser = parse_named_file)]
    pub writes: Vec<(String, PathBuf)>,

    /// The MAA API: `azure-guest` (vTPM and TEE evidence, an encrypted answer), `sev-snp-vm` or
    /// `tdx-vm` (TEE evidence only)
    #[arg(long = "type", value_enum, env = "CVM_ATTEST_TYPE", default_value_t = AttestType::AzureGuest)]
    pub kind: AttestType,

    /// `maa`, or a verifier plugin that appraises the collected evidence here instead
    #[arg(long, value_name = "maa|PLUGIN", env = "CVM_ATTEST_VERIFIER", default_value = "maa")]
    pub verifier: String,

    /// A claim check to run on the verified claims: PLUGIN or PLUGIN=CONFIG_FILE (repeatable)
    #[arg(long = "check", value_name = "PLUGIN[=CONFIG]")]
    pub checks: Vec<String>,

    /// Also write the collected evidence bundle to FILE (- for stdout)
    #[arg(long, value_name = "FILE")]
    pub save_evidence: Option<PathBuf>,

    /// SHA-256 PCRs to quote (Azure's Linux clients quote 0-7)
    #[arg(long, value_name = "LIST", env = "CVM_ATTEST_PCRS", default_value = "0-7", value_parser = parse_pcrs)]
    pub pcrs: Pcrs,

    /// The TCG event log to send (reading the default needs root)
    #[arg(long, value_name = "FILE", env = "CVM_ATTEST_EVENT_LOG", default_value = crate::evidence::collect::EVENT_LOG_PATH)]
    pub event_log: PathBuf,

    /// PEM CA certificates to trust for MAA besides the system's (a test or private instance)
    #[arg(long, value_name = "FILE", env = "CVM_ATTEST_CA_FILE")]
    pub ca_file: Option<PathBuf>,

    /// Seconds to wait for each request to MAA (retries come on top)
    #[arg(long, value_name = "SECONDS", env = "CVM_ATTEST_TIMEOUT", default_value_t = 60)]
    pub timeout: u64,

    /// Attempts after the first when MAA cannot be reached, times out or is busy (HTTP 429, 5xx)
    #[arg(long, value_name = "N", env = "CVM_ATTEST_RETRIES", default_value_t = 3)]
    pub retries: u32,

    /// Print MAA's token without verifying it (with -o token only; a warning says so)
    #[arg(long)]
    pub no_verify: bool,

    #[command(flatten)]
    pub sources: Sources,
}

/// The MAA attestation API `attest` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AttestType {
    AzureGuest,
    SevSnpVm,
    TdxVm,
}

impl std::fmt::Display for AttestType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AttestType::AzureGuest => "azure-guest",
            AttestType::SevSnpVm => "sev-snp-vm",
            AttestType::TdxVm => "tdx-vm",
        })
    }
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The evidence: a bundle from `evidence collect`, Confidential Containers az-snp-vtpm /
    /// az-tdx-vtpm evidence JSON, or an MAA AzureGuest, SevSnpVm or TdxVm request body; - reads stdin
    #[arg(long, value_name = "FILE")]
    pub evidence: PathBuf,

    /// The verifier plugin
    #[arg(long, value_name = "PLUGIN", default_value = "offline")]
    pub verifier: String,

    #[command(flatten)]
    pub nonce: NonceArgs,

    /// A claim check to run on the verified claims: PLUGIN (with the configuration its manifest
    /// provides) or PLUGIN=CONFIG_FILE (repeatable)
    #[arg(long = "check", value_name = "PLUGIN[=CONFIG]")]
    pub checks: Vec<String>,

    /// Replace the verifier's built-in roots with NAME=PEM_FILE (repeatable; adds to the
    /// configuration's [trust_anchors]). They replace all built-in roots, so give a whole set, e.g.
    /// `--trust-anchor amd-ark-milan=ark.pem --trust-anchor amd-ask-milan=ask.pem`. Names:
    /// amd-ark-{milan,genoa,turin}, amd-ask-{milan,genoa,turin}, intel-sgx-root, azure-vtpm-root,
    /// azure-vtpm-intermediate (the last three may repeat)
    #[arg(long = "trust-anchor", value_name = "NAME=FILE", value_parser = parse_named_file)]
    pub trust_anchors: Vec<(String, PathBuf)>,

    /// Collateral for the verifier as NAME=FILE (repeatable; adds to the configuration's
    /// [collateral] and replaces the bundle's of the same name). Names: tdx-tcb-info,
    /// tdx-qe-identity, intel-tcb-signing-chain (Intel PCS JSON and PEM), intel-root-crl,
    /// intel-pck-crl, amd-crl (DER)
    #[arg(long, value_name = "NAME=FILE", value_parser = parse_named_file)]
    pub collateral: Vec<(String, PathBuf)>,

    /// Judge certificate validity, CRLs and collateral freshness as of this time (RFC 3339, e.g.
    /// 2025-10-20T00:00:00Z) instead of now, to verify old evidence as of its day
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub at: Option<DateTime>,

    /// `text` (a table of steps), `json` (stable, schema cvm-attest/verification/v1), or the name of
    /// an output-format plugin
    #[arg(short, long, value_name = "FORMAT", default_value = "text")]
    pub output: String,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a token's header and claims, its times readably. Decoding is not verifying: nothing is
    /// checked
    Decode {
        /// The token, a file holding it or MAA's answer {"token": …}; - reads stdin
        token: String,
        /// `text` or `json` (schema cvm-attest/token-decode/v1)
        #[arg(short, long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Verify a token: RS256 signature by a key of the expected issuer, the issuer, the lifetime
    /// and the nonce
    Verify(TokenVerifyArgs),
}

#[derive(Debug, Args)]
pub struct TokenVerifyArgs {
    /// The token, a file holding it or MAA's answer {"token": …}; - reads stdin
    pub token: String,

    /// The MAA instance the token must come from, e.g. https://sharedeus2.eus2.attest.azure.net; its
    /// keys are fetched from it [default: the MAA endpoint in CVM_ATTEST_MAA_URL, else the
    /// configuration's maa_url; with neither, refused: the token's own iss and jku are never trusted]
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,

    /// The issuer's keys: a JWKS file (a saved answer of ISSUER/certs; no network is used) or a JWKS
    /// URL [default: the jwks_uri of the issuer's OpenID metadata]
    #[arg(long, value_name = "FILE|URL")]
    pub jwks: Option<String>,

    /// Judge exp, nbf and iat as of this time (RFC 3339) instead of now, to verify an old token as of
    /// its day
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub at: Option<DateTime>,

    /// The nonce the relying party issued, as text (UTF-8): an azurevm token must carry its base64 as
    /// x-ms-runtime.client-payload.nonce, a platform token (sevsnpvm, tdxvm) it as nonce
    #[arg(short = 'n', long, value_name = "TEXT", conflicts_with = "nonce_hex")]
    pub nonce: Option<String>,

    /// The same as hex digits, for binary nonces (conflicts with --nonce)
    #[arg(long, value_name = "HEX", value_parser = parse_hex)]
    pub nonce_hex: Option<HexBytes>,

    /// Clock difference allowed between the issuer and this machine, in seconds (at most 3600)
    #[arg(long, value_name = "SECONDS", default_value_t = crate::token::DEFAULT_SKEW_SECONDS,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub skew: u64,

    /// PEM certificates to trust as TLS roots besides the system's, for a test or private CA
    #[arg(long, value_name = "FILE", env = "CVM_ATTEST_CA_FILE")]
    pub ca_file: Option<PathBuf>,

    /// `text` (a summary) or `json` (schema cvm-attest/token-verification/v1, with the claims)
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

impl TokenVerifyArgs {
    pub fn nonce_bytes(&self) -> Option<Vec<u8>> {
        match (&self.nonce, &self.nonce_hex) {
            (Some(text), _) => Some(text.as_bytes().to_vec()),
            (None, Some(HexBytes(bytes))) => Some(bytes.clone()),
            (None, None) => None,
        }
    }
}

fn parse_time(text: &str) -> Result<DateTime, String> {
    match DateTime::parse(text) {
        Ok(time) if time.unix_seconds() >= 0 => Ok(time),
        Ok(_) => Err(format!("`{text}` is before 1970, which no certificate here is valid at")),
        Err(_) => Err(format!("`{text}` is not an RFC 3339 date-time such as 2025-10-20T00:00:00Z")),
    }
}

pub fn parse_named_file(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((name, file)) if !name.is_empty() && !file.is_empty() => Ok((name.to_owned(), file.into())),
        _ => Err(format!("`{text}` is not NAME=FILE")),
    }
}

/// Where evidence comes from.
#[derive(Debug, Clone, Args)]
pub struct Sources {
    /// The TPM: `device:/dev/tpmrm0`, `device:PATH` or `swtpm:host=HOST,port=PORT`
    #[arg(long, value_name = "TCTI", env = "CVM_ATTEST_TCTI", default_value = "device:/dev/tpmrm0")]
    pub tpm: String,

    /// The Azure Instance Metadata Service
    #[arg(long, value_name = "URL", env = "CVM_ATTEST_IMDS_URL", default_value = crate::evidence::imds::DEFAULT_URL)]
    pub imds: String,
}

/// A nonce binds evidence to one request: up to 64 bytes as they are, longer ones as their SHA-512.
#[derive(Debug, Clone, Args)]
pub struct NonceArgs {
    /// The nonce the relying party issued, as text (UTF-8). Up to 64 bytes are bound as they are,
    /// longer ones as their SHA-512. Without a nonce, evidence is not tied to a request (verify
    /// warns that freshness is unchecked)
    #[arg(short = 'n', long, value_name = "TEXT", conflicts_with = "nonce_hex")]
    pub nonce: Option<String>,

    /// The same as hex digits, for binary nonces (conflicts with --nonce)
    #[arg(long, value_name = "HEX", value_parser = parse_hex)]
    pub nonce_hex: Option<HexBytes>,
}

impl NonceArgs {
    pub fn bytes(&self) -> Option<Vec<u8>> {
        match (&self.nonce, &self.nonce_hex) {
            (Some(text), _) => Some(text.as_bytes().to_vec()),
            (None, Some(HexBytes(bytes))) => Some(bytes.clone()),
            (None, None) => None,
        }
    }
}

/// Bytes given as hex. A newtype, because clap reads `Vec<u8>` as a list of arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexBytes(pub Vec<u8>);

/// A PCR list, ascending, without repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcrs(pub Vec<u8>);

pub fn parse_pcrs(text: &str) -> Result<Pcrs, String> {
    let index = |s: &str| match s.trim().parse::<u8>() {
        Ok(i) if i < PCR_COUNT => Ok(i),
        _ => Err(format!("`{s}` is not a PCR index (0 to {})", PCR_COUNT - 1)),
    };
    let mut pcrs = Vec::new();
    for part in text.split(',') {
        match part.split_once('-') {
            Some((first, last)) => {
                let (first, last) = (index(first)?, index(last)?);
                if first > last {
                    return Err(format!("`{part}` is an empty range"));
                }
                pcrs.extend(first..=last);
            }
            None => pcrs.push(index(part)?),
        }
    }
    pcrs.sort_unstable();
    pcrs.dedup();
    Ok(Pcrs(pcrs))
}

fn parse_hex(text: &str) -> Result<HexBytes, String> {
    match hex::decode(text.trim()) {
        Ok(bytes) if bytes.is_empty() => Err("an empty nonce binds nothing".into()),
        Ok(bytes) => Ok(HexBytes(bytes)),
        Err(e) => Err(format!("not hex: {e}")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcr_lists() {
        assert_eq!(parse_pcrs("0-23").unwrap().0, (0..24).collect::<Vec<u8>>());
        assert_eq!(parse_pcrs("7,0-2,14,2").unwrap().0, vec![0, 1, 2, 7, 14]);
        assert!(parse_pcrs("24").unwrap_err().contains("0 to 23"));
        assert!(parse_pcrs("5-3").unwrap_err().contains("empty range"));
        assert!(parse_pcrs("").is_err());
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
