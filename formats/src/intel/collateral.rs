//! Intel's TDX TCB Info and TD_QE identity, as Intel's PCS serves them, and their verification.
//!
//! Each document is `{"tcbInfo": {…}, "signature": "<hex r‖s>"}` (or `enclaveIdentity`). The
//! ECDSA P-256/SHA-256 signature covers the inner object's bytes exactly as served, so they are
//! kept as found in the text (never re-serialized) next to the typed form parsed from them.

use p256::ecdsa::Signature;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer};

use super::CollateralError;
use crate::appraise::ValidityError;
use crate::appraise::cert::Cert;
use crate::tdx::pem_blocks;
use crate::time::DateTime;

/// The subject common name of the certificate that signs TCB Info and enclave identities.
pub const TCB_SIGNING_CN: &str = "Intel SGX TCB Signing";

/// A TCB status as Intel's collateral names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[non_exhaustive]
pub enum TcbStatus {
    UpToDate,
    SWHardeningNeeded,
    ConfigurationNeeded,
    ConfigurationAndSWHardeningNeeded,
    OutOfDate,
    OutOfDateConfigurationNeeded,
    Revoked,
}

impl TcbStatus {
    /// The name in Intel's JSON (and MAA's `attester_tcb_status`).
    pub fn name(self) -> &'static str {
        match self {
            TcbStatus::UpToDate => "UpToDate",
            TcbStatus::SWHardeningNeeded => "SWHardeningNeeded",
            TcbStatus::ConfigurationNeeded => "ConfigurationNeeded",
            TcbStatus::ConfigurationAndSWHardeningNeeded => "ConfigurationAndSWHardeningNeeded",
            TcbStatus::OutOfDate => "OutOfDate",
            TcbStatus::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            TcbStatus::Revoked => "Revoked",
        }
    }
}

/// One SVN of a TCB level, with Intel's description of it when given.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TcbComponent {
    pub svn: u8,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// The platform TCB of a TDX TCB level.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TdxTcb {
    #[serde(deserialize_with = "sixteen")]
    pub sgxtcbcomponents: [TcbComponent; 16],
    pub pcesvn: u16,
    #[serde(deserialize_with = "sixteen")]
    pub tdxtcbcomponents: [TcbComponent; 16],
}

impl TdxTcb {
    /// The 16 SGX TCB component SVNs, in order (what a PCK certificate's are compared with).
    pub fn sgx_svns(&self) -> [u8; 16] {
        self.sgxtcbcomponents.each_ref().map(|component| component.svn)
    }

    /// The 16 TDX TCB component SVNs, in order (what a quote's TEE_TCB_SVN is compared with).
    pub fn tdx_svns(&self) -> [u8; 16] {
        self.tdxtcbcomponents.each_ref().map(|component| component.svn)
    }
}

/// One TCB level, highest first in its document: the platform's (`tcb` a [`TdxTcb`]) in TCB Info,
/// an enclave's or a TDX module's (`tcb` an [`IsvSvn`]) in identities.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Level<T> {
    pub tcb: T,
    pub tcb_date: DateTime,
    pub tcb_status: TcbStatus,
    #[serde(default, rename = "advisoryIDs")]
    pub advisory_ids: Vec<String>,
}

/// A level of a TDX TCB Info.
pub type TcbLevel = Level<TdxTcb>;
/// A level of a TDX module identity or of an enclave identity.
pub type IsvTcbLevel = Level<IsvSvn>;

/// The TDX module's signer and attributes (`tdxModule`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TdxModule {
    #[serde(deserialize_with = "hex_array")]
    pub mrsigner: [u8; 48],
    #[serde(deserialize_with = "hex_array")]
    pub attributes: [u8; 8],
    #[serde(deserialize_with = "hex_array")]
    pub attributes_mask: [u8; 8],
}

/// The ISV SVN of an enclave or TDX module TCB level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct IsvSvn {
    pub isvsvn: u16,
}

/// A TDX module identity (`TDX_01`, `TDX_03`, …) of TCB Info for TDX 1.5 quotes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TdxModuleIdentity {
    pub id: String,
    /// Its signer and attributes, as `tdxModule` gives them for the module of TDX 1.0.
    #[serde(flatten)]
    pub module: TdxModule,
    pub tcb_levels: Vec<IsvTcbLevel>,
}

/// Intel's TDX TCB Info (the inner `tcbInfo` object, version 3).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcbInfo {
    /// `TDX`.
    pub id: String,
    pub version: u32,
    pub issue_date: DateTime,
    pub next_update: DateTime,
    #[serde(deserialize_with = "hex_array")]
    pub fmspc: [u8; 6],
    #[serde(deserialize_with = "hex_array")]
    pub pce_id: [u8; 2],
    pub tcb_type: u32,
    pub tcb_evaluation_data_number: u32,
    pub tdx_module: TdxModule,
    /// Absent before Intel published TDX 1.5 module identities (e.g. in 2023).
    #[serde(default)]
    pub tdx_module_identities: Vec<TdxModuleIdentity>,
    pub tcb_levels: Vec<TcbLevel>,
}

/// Intel's identity of an enclave: for TDX, the TD quoting enclave (`TD_QE`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnclaveIdentity {
    /// `TD_QE`.
    pub id: String,
    pub version: u32,
    pub issue_date: DateTime,
    pub next_update: DateTime,
    pub tcb_evaluation_data_number: u32,
    #[serde(deserialize_with = "hex_array")]
    pub miscselect: [u8; 4],
    #[serde(deserialize_with = "hex_array")]
    pub miscselect_mask: [u8; 4],
    #[serde(deserialize_with = "hex_array")]
    pub attributes: [u8; 16],
    #[serde(deserialize_with = "hex_array")]
    pub attributes_mask: [u8; 16],
    #[serde(deserialize_with = "hex_array")]
    pub mrsigner: [u8; 32],
    pub isvprodid: u16,
    pub tcb_levels: Vec<IsvTcbLevel>,
}

/// A collateral document's inner object, which names it and dates it.
pub trait Document: DeserializeOwned {
    /// The member of the outer object that holds it (`tcbInfo`, `enclaveIdentity`).
    const MEMBER: &'static str;
    /// What it is called in errors.
    const NAME: &'static str;
    fn issue_date(&self) -> &DateTime;
    fn next_update(&self) -> &DateTime;
}

impl Document for TcbInfo {
    const MEMBER: &'static str = "tcbInfo";
    const NAME: &'static str = "TDX TCB Info";
    fn issue_date(&self) -> &DateTime {
        &self.issue_date
    }
    fn next_update(&self) -> &DateTime {
        &self.next_update
    }
}

impl Document for EnclaveIdentity {
    const MEMBER: &'static str = "enclaveIdentity";
    const NAME: &'static str = "TD_QE identity";
    fn issue_date(&self) -> &DateTime {
        &self.issue_date
    }
    fn next_update(&self) -> &DateTime {
        &self.next_update
    }
}

/// A signed collateral document: the typed inner object, the exact bytes it was parsed from (which
/// the signature covers) and the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed<T> {
    body: T,
    signed: Vec<u8>,
    signature: [u8; 64],
}

/// A signed TDX TCB Info document.
pub type SignedTcbInfo = Signed<TcbInfo>;
/// A signed TD_QE identity document.
pub type SignedQeIdentity = Signed<EnclaveIdentity>;

impl<T: Document> Signed<T> {
    /// Parse the document as Intel's PCS serves it: strict JSON (no repeated key at any depth), an
    /// object with exactly the inner object and `signature`. Nothing is verified yet.
    pub fn parse(json: &[u8]) -> Result<Self, CollateralError> {
        let document = T::NAME;
        let json_error = |source| CollateralError::Json { document, source };
        crate::json::value_from_slice(json).map_err(json_error)?;
        let mut inner = None;
        let mut signature = None;
        for (key, range) in members(json).ok_or(CollateralError::NotAnObject { document })? {
            let value = json.get(range).ok_or(CollateralError::NotAnObject { document })?;
            match key.as_str() {
                k if k == T::MEMBER => inner = Some(value),
                "signature" => signature = Some(value),
                _ => return Err(CollateralError::UnexpectedMember { document, member: key }),
            }
        }
        let missing = |member| CollateralError::MissingMember { document, member };
        let inner = inner.ok_or_else(|| missing(T::MEMBER))?;
        let signature = signature.ok_or_else(|| missing("signature"))?;
        let body: T = crate::json::from_slice(inner).map_err(json_error)?;
        let signature: String = crate::json::from_slice(signature).map_err(json_error)?;
        let mut raw = [0u8; 64];
        hex::decode_to_slice(&signature, &mut raw)
            .map_err(|err| CollateralError::MalformedSignature { document, reason: err.to_string() })?;
        Ok(Signed { body, signed: inner.to_vec(), signature: raw })
    }

    /// The inner object, parsed. Unverified until [`Signed::verify`] says otherwise.
    pub fn body(&self) -> &T {
        &self.body
    }

    /// The inner object's bytes exactly as they appear in the document: what the signature covers.
    pub fn signed_bytes(&self) -> &[u8] {
        &self.signed
    }

    /// The signature, `r ‖ s`.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// Check that the chain's TCB signing key signed the inner object's bytes.
    pub fn verify(&self, chain: &TcbSigningChain) -> Result<&T, CollateralError> {
        let document = T::NAME;
        let signature =
            Signature::from_slice(&self.signature).map_err(|_| CollateralError::MalformedSignature {
                document,
                reason: "r or s is zero or not below the group order".to_owned(),
            })?;
        if !crate::crypto::verify_p256(&chain.key, &self.signed, &signature) {
            return Err(CollateralError::Signature { document, signer: chain.signer() });
        }
        Ok(&self.body)
    }

    /// Check that `at` lies within `issueDate ..= nextUpdate`.
    pub fn check_dates(&self, at: &DateTime) -> Result<(), CollateralError> {
        let (issue, next) = (self.body.issue_date(), self.body.next_update());
        if at < issue {
            return Err(CollateralError::NotYetIssued {
                document: T::NAME,
                issue_date: issue.to_string(),
                at: at.to_string(),
            });
        }
        if at > next {
            return Err(CollateralError::Expired {
                document: T::NAME,
                next_update: next.to_string(),
                at: at.to_string(),
            });
        }
        Ok(())
    }

    /// [`Signed::verify`], then [`Signed::check_dates`]: the document as a verifier may use it at `at`.
    pub fn verify_at(&self, chain: &TcbSigningChain, at: &DateTime) -> Result<&T, CollateralError> {
        self.verify(chain)?;
        self.check_dates(at)?;
        Ok(&self.body)
    }
}

/// The TCB signing chain (`TCB-Info-Issuer-Chain` form: the "Intel SGX TCB Signing" certificate,
/// then the root), checked against the pinned Intel SGX roots.
#[derive(Debug, Clone)]
pub struct TcbSigningChain {
    key: p256::ecdsa::VerifyingKey,
    signer: Cert,
    /// The pinned root that signed `signer`.
    root: Cert,
}

impl TcbSigningChain {
    /// Parse the chain and check it: two PEM certificates; the first is the TCB signing
    /// certificate, the second has the key of one of `intel_roots` (PEM, e.g.
    /// [`crate::appraise::TrustAnchors::intel_roots`]), and that pinned root signed the first.
    /// Validity periods are checked by [`TcbSigningChain::valid_at`]; revocation is not checked.
    pub fn from_pem(chain: &str, intel_roots: &[String]) -> Result<Self, CollateralError> {
        let blocks = pem_blocks(chain);
        let [signer, root] = blocks.as_slice() else {
            return Err(CollateralError::ChainLength { count: blocks.len() });
        };
        let certificate = |position: usize, pem: &str| {
            Cert::from_pem(pem)
                .map_err(|e| CollateralError::ChainCertificate { position, reason: e.to_string() })
        };
        let signer = certificate(1, signer)?;
        let root = certificate(2, root)?;
        let subject = signer.subject();
        if subject != format!("CN={TCB_SIGNING_CN}") {
            return Err(CollateralError::NotTcbSigner { subject });
        }
        if intel_roots.is_empty() {
            return Err(CollateralError::NoIntelRoots);
        }
        let mut failures = Vec::new();
        for (index, pem) in intel_roots.iter().enumerate() {
            let pinned = Cert::from_pem(pem)
                .map_err(|e| CollateralError::PinnedRoot { position: index + 1, reason: e.to_string() })?;
            if !root.same_key_as(&pinned) {
                failures.push(format!(
                    "pinned root {}: the chain's root {} has another key",
                    index + 1,
                    root.subject()
                ));
                continue;
            }
            match signer.verify_signed_by(&pinned) {
                Ok(()) => {
                    let key = signer.key().map_err(|e| CollateralError::ChainCertificate {
                        position: 1,
                        reason: e.to_string(),
                    })?;
                    return Ok(TcbSigningChain { key, signer, root: pinned });
                }
                Err(why) => failures.push(format!("pinned root {}: {why}", index + 1)),
            }
        }
        Err(CollateralError::Untrusted { root: root.subject(), failures })
    }

    /// The signer's subject (`CN=Intel SGX TCB Signing`).
    pub fn signer(&self) -> String {
        self.signer.subject()
    }

    /// Both certificates, the signer and the pinned root, are valid at `at` (as Intel's QVL
    /// requires of the chain that signs collateral).
    pub(crate) fn valid_at(&self, at: &DateTime) -> Result<(), ValidityError> {
        self.signer.valid_at(at)?;
        self.root.valid_at(at)
    }
}

/// The members of the JSON object `json` (already checked to be strict JSON): each key, and the
/// byte range of its value. `None` when the top level is not an object.
fn members(json: &[u8]) -> Option<Vec<(String, std::ops::Range<usize>)>> {
    let skip = |mut i: usize| {
        while json.get(i).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        i
    };
    // One JSON value starting at `start`: it and the offset just after it.
    fn value<T: DeserializeOwned>(json: &[u8], start: usize) -> Option<(T, usize)> {
        let mut stream = serde_json::Deserializer::from_slice(json.get(start..)?).into_iter::<T>();
        let parsed = stream.next()?.ok()?;
        Some((parsed, start + stream.byte_offset()))
    }
    let mut out = Vec::new();
    let mut i = skip(0);
    if json.get(i) != Some(&b'{') {
        return None;
    }
    i = skip(i + 1);
    if json.get(i) == Some(&b'}') {
        return Some(out);
    }
    loop {
        let (key, end) = value::<String>(json, i)?;
        i = skip(end);
        if json.get(i) != Some(&b':') {
            return None;
        }
        let start = skip(i + 1);
        let (IgnoredAny, end) = value::<IgnoredAny>(json, start)?;
        out.push((key, start..end));
        i = skip(end);
        match json.get(i) {
            Some(b',') => i = skip(i + 1),
            Some(b'}') => return Some(out),
            _ => return None,
        }
    }
}

/// A fixed number of bytes as hex (either case).
fn hex_array<'de, D: Deserializer<'de>, const N: usize>(deserializer: D) -> Result<[u8; N], D::Error> {
    let text = String::deserialize(deserializer)?;
    let mut out = [0u8; N];
    hex::decode_to_slice(&text, &mut out)
        .map_err(|err| serde::de::Error::custom(format!("{text:?} is not {N} bytes of hex ({err})")))?;
    Ok(out)
}

/// Exactly 16 TCB components.
fn sixteen<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[TcbComponent; 16], D::Error> {
    let components = Vec::<TcbComponent>::deserialize(deserializer)?;
    let count = components.len();
    components
        .try_into()
        .map_err(|_| serde::de::Error::custom(format!("{count} TCB components; expected 16")))
}
