//! The endorsements an operator (or a bundle) hands the verifier besides the evidence: Intel's TDX
//! TCB Info and TD_QE identity with their signing chain, and the CRLs of the AMD and Intel PKIs.
//!
//! Each is optional: a check whose collateral is missing is reported as not evaluated, naming it.

/// Collateral names, as given to `--collateral NAME=FILE`, in the configuration's `[collateral]`
/// table and in a bundle's `collateral` section.
pub const TDX_TCB_INFO: &str = "tdx-tcb-info";
pub const TDX_QE_IDENTITY: &str = "tdx-qe-identity";
pub const INTEL_TCB_SIGNING_CHAIN: &str = "intel-tcb-signing-chain";
pub const INTEL_ROOT_CRL: &str = "intel-root-crl";
pub const INTEL_PCK_CRL: &str = "intel-pck-crl";
pub const AMD_CRL: &str = "amd-crl";

/// Every collateral name, for help texts and schemas.
pub const NAMES: [&str; 6] =
    [TDX_TCB_INFO, TDX_QE_IDENTITY, INTEL_TCB_SIGNING_CHAIN, INTEL_ROOT_CRL, INTEL_PCK_CRL, AMD_CRL];

/// The collateral of one appraisal, each item as its file's bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Collateral<'a> {
    /// Intel's TDX TCB Info for the platform's FMSPC, JSON as Intel's PCS serves it.
    pub tdx_tcb_info: Option<&'a [u8]>,
    /// Intel's TD_QE identity, JSON as Intel's PCS serves it.
    pub tdx_qe_identity: Option<&'a [u8]>,
    /// PEM: the Intel SGX TCB Signing certificate and the root (the `TCB-Info-Issuer-Chain` header).
    pub intel_tcb_signing_chain: Option<&'a [u8]>,
    /// DER: the Intel SGX Root CA's CRL (revokes PCK CAs).
    pub intel_root_crl: Option<&'a [u8]>,
    /// DER: the CRL of the PCK CA (Platform or Processor) that issued the quote's PCK certificate.
    pub intel_pck_crl: Option<&'a [u8]>,
    /// DER: AMD's CRL for the processor generation of the VCEK (issued by its ARK; revokes ASKs).
    pub amd_crl: Option<&'a [u8]>,
}

/// Collateral named wrongly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CollateralError {
    #[error("unknown collateral `{0}`: expected one of {names}", names = NAMES.join(", "))]
    UnknownName(String),
    #[error("collateral `{0}` is given twice")]
    Repeated(String),
}

impl<'a> Collateral<'a> {
    /// Collateral from named items. A misspelt name would otherwise be ignored without a word, and a
    /// repeated one would leave which copy counts to chance: both are refused.
    pub fn from_named<'n>(
        items: impl IntoIterator<Item = (&'n str, &'a [u8])>,
    ) -> Result<Self, CollateralError> {
        let mut collateral = Collateral::default();
        for (name, data) in items {
            let slot = match name {
                TDX_TCB_INFO => &mut collateral.tdx_tcb_info,
                TDX_QE_IDENTITY => &mut collateral.tdx_qe_identity,
                INTEL_TCB_SIGNING_CHAIN => &mut collateral.intel_tcb_signing_chain,
                INTEL_ROOT_CRL => &mut collateral.intel_root_crl,
                INTEL_PCK_CRL => &mut collateral.intel_pck_crl,
                AMD_CRL => &mut collateral.amd_crl,
                other => return Err(CollateralError::UnknownName(other.to_owned())),
            };
            if slot.replace(data).is_some() {
                return Err(CollateralError::Repeated(name.to_owned()));
            }
        }
        Ok(collateral)
    }
}
