//! A Microsoft Azure Attestation (MAA) compatible service on loopback (issue 13 items 4 and 5), for
//! tests and demonstrations: the attestation routes of MAA's data plane (`AzureGuest`, `SevSnpVm`,
//! `TdxVm`), `/certs` and the OpenID metadata (`routes.rs` has the table), over HTTPS with the test
//! TLS certificate (or plain HTTP), on a free port of 127.0.0.1.
//!
//! It verifies what it receives with the project's own code (`formats`: the request reader and the
//! appraisal, `appraise.rs`) under the trust anchors it is given ([`MaaConfig::anchors`]; for the
//! simulated CVM, [`MaaConfig::test_pki`]), and answers as MAA does: an RS256 token signed with the
//! test MAA key, with the appraisal's claims and MAA's own (`token.rs`, `claims.rs`); for AzureGuest
//! encrypted to the request's ephemeral key ([`envelope`]); or MAA's error JSON ([`MaaError`]).
//!
//! Faults ([`Fault`]) are armed with [`MaaService::inject`], or through the admin listener
//! ([`MaaService::admin_url`]: `GET`, `POST` (one armed fault as JSON, e.g. `{"fault":
//! "server-error", "times": 3}`) and `DELETE` on `/faults`; `admin.rs`) from outside the process.
//!
//! Dropping the [`MaaService`] closes its listeners and every open connection and joins all its
//! threads.

mod admin;
mod appraise;
mod claims;
pub mod envelope;
mod error;
mod faults;
mod http;
mod policy;
mod routes;
mod server;
mod token;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use cvm_attest_formats::appraise::{Collateral, TrustAnchors};
use cvm_attest_formats::time::DateTime;

pub use error::{Error, MaaError};
pub use faults::{Armed, Fault, Times};
pub use policy::POLICY;
pub use routes::WRONG_ISSUER;
pub use token::{LIFETIME_SECONDS, policy_hash};

use crate::pki;

/// Request bodies accepted, by default: MAA's real AzureGuest example is 132 KB, most of it the
/// event log; 4 MiB leaves room for long logs.
pub const BODY_MAX: usize = 4 * 1024 * 1024;

/// How the service runs.
#[derive(Debug, Clone)]
pub struct MaaConfig {
    /// HTTPS with the test server certificate (`pki::TLS_SERVER_PEM`, trusted through
    /// `pki::TLS_CA_PEM`); plain HTTP when false.
    pub tls: bool,
    /// What appraisal trusts. By default the built-in (real AMD, Intel and Azure) roots, as MAA.
    pub anchors: TrustAnchors,
    /// Collateral by name (`formats::appraise::collateral::NAMES`), used for every request.
    pub collateral: BTreeMap<String, Vec<u8>>,
    /// The time certificates and collateral are judged at; `None` (default): each request's time.
    /// Tokens are always issued at the real time.
    pub judge_at: Option<DateTime>,
    /// The largest request body accepted (413 beyond).
    pub body_max: usize,
}

impl Default for MaaConfig {
    fn default() -> Self {
        MaaConfig {
            tls: true,
            anchors: TrustAnchors::builtin(),
            collateral: BTreeMap::new(),
            judge_at: None,
            body_max: BODY_MAX,
        }
    }
}

impl MaaConfig {
    /// Trusting the test PKI (`testdata/pki/`) alone, as for the simulated CVM: the test AMD ARK and
    /// ASK (Milan), the test Intel root, the test vTPM root and CA.
    pub fn test_pki() -> Result<Self, Error> {
        let anchors = TrustAnchors::from_operator(&[
            ("amd-ark-milan", pki::AMD_ARK_PEM.as_bytes()),
            ("amd-ask-milan", pki::AMD_ASK_PEM.as_bytes()),
            ("intel-sgx-root", pki::INTEL_ROOT_PEM.as_bytes()),
            ("azure-vtpm-root", pki::VTPM_ROOT_PEM.as_bytes()),
            ("azure-vtpm-intermediate", pki::VTPM_CA_PEM.as_bytes()),
        ])?;
        Ok(MaaConfig { anchors, ..MaaConfig::default() })
    }
}

/// A running MAA-compatible service; see the module documentation.
#[derive(Debug)]
pub struct MaaService {
    server: server::Server,
    admin_url: String,
}

impl MaaService {
    /// Start the service and its admin listener on free ports of 127.0.0.1.
    pub fn start(config: MaaConfig) -> Result<MaaService, Error> {
        // Refuse misnamed collateral now rather than on every request.
        Collateral::from_named(
            config.collateral.iter().map(|(name, data)| (name.as_str(), data.as_slice())),
        )?;
        let service = TcpListener::bind("127.0.0.1:0")?;
        let admin = TcpListener::bind("127.0.0.1:0")?;
        let scheme = if config.tls { "https" } else { "http" };
        let base_url = format!("{scheme}://127.0.0.1:{}", service.local_addr()?.port());
        let admin_url = format!("http://127.0.0.1:{}", admin.local_addr()?.port());
        let tls = if config.tls {
            Some(server::tls_config(pki::TLS_SERVER_PEM, pki::TLS_SERVER_KEY)?)
        } else {
            None
        };
        let state = routes::State {
            base_url,
            signer: token::Signer::load(pki::MAA_SIGNING_KEY, pki::MAA_SIGNING_PEM)?,
            unknown_signer: token::Signer::load(pki::MAA_UNKNOWN_SIGNING_KEY, pki::MAA_UNKNOWN_SIGNING_PEM)?,
            trust: appraise::Trust {
                anchors: config.anchors,
                collateral: config.collateral,
                judge_at: config.judge_at,
            },
            faults: Mutex::new(faults::Faults::default()),
            stop: AtomicBool::new(false),
            body_max: config.body_max,
        };
        let listeners = vec![
            server::Listener { socket: service, tls, handler: routes::handle },
            server::Listener { socket: admin, tls: None, handler: admin::handle },
        ];
        Ok(MaaService { server: server::Server::start(state, listeners)?, admin_url })
    }

    /// `https://127.0.0.1:PORT` (`http://` without TLS): the instance URL, the tokens' `iss`.
    pub fn base_url(&self) -> &str {
        &self.server.state().base_url
    }

    /// `http://127.0.0.1:PORT` of the admin listener (`/faults`, see the module documentation).
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// The `kid` of the token signing key (in every token's header and in `/certs`).
    pub fn kid(&self) -> &str {
        self.server.state().signer.kid()
    }

    /// Arm `fault` for the next `times` attestation requests it applies to.
    pub fn inject(&self, fault: Fault, times: Times) {
        self.server.state().faults().arm(fault, times);
    }

    /// Disarm every fault.
    pub fn clear_faults(&self) {
        self.server.state().faults().clear();
    }

    /// The armed faults and what is left of each.
    pub fn faults(&self) -> Vec<Armed> {
        self.server.state().faults().armed()
    }
}
