//! The roots appraisal trusts: built in, or replaced as a whole by the operator.
//!
//! Anchors are kept as PEM text; each section parses what it uses (the `sev` crate for AMD,
//! `x509-cert` for Intel), so a malformed operator anchor fails the step that needs it, by name.

use crate::snp::Generation;

/// AMD's root (ARK) and intermediate (ASK) for one processor generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmdRoots {
    pub generation: Generation,
    /// The ARK, PEM.
    pub ark_pem: String,
    /// The ASK the ARK signed for VCEKs, PEM.
    pub ask_pem: String,
}

/// Every root appraisal may chain evidence to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustAnchors {
    /// One entry per processor generation that may be trusted.
    pub amd: Vec<AmdRoots>,
    /// Intel SGX root CA certificates (PEM) a PCK chain may end in.
    pub intel_roots: Vec<String>,
}

/// An operator-supplied anchor that is not one of the known kinds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnchorError {
    #[error(
        "unknown trust anchor `{0}`: expected amd-ark-<generation>, amd-ask-<generation> (milan, genoa, turin) \
         or intel-sgx-root"
    )]
    UnknownName(String),
    #[error("trust anchor `{0}` is not UTF-8 PEM text")]
    NotPem(String),
    #[error("trust anchors name an ARK for {0} but no ASK, or an ASK but no ARK; supply both")]
    Incomplete(&'static str),
}

const GENERATIONS: [(Generation, &str, &str, &str); 3] = [
    (
        Generation::Milan,
        "milan",
        include_str!("../../anchors/milan-ark.pem"),
        include_str!("../../anchors/milan-ask.pem"),
    ),
    (
        Generation::Genoa,
        "genoa",
        include_str!("../../anchors/genoa-ark.pem"),
        include_str!("../../anchors/genoa-ask.pem"),
    ),
    (
        Generation::Turin,
        "turin",
        include_str!("../../anchors/turin-ark.pem"),
        include_str!("../../anchors/turin-ask.pem"),
    ),
];

const INTEL_SGX_ROOT: &str = include_str!("../../anchors/intel-sgx-root-ca.pem");

impl TrustAnchors {
    /// AMD's published roots for Milan, Genoa and Turin, and Intel's SGX root CA.
    pub fn builtin() -> Self {
        TrustAnchors {
            amd: GENERATIONS
                .iter()
                .map(|&(generation, _, ark, ask)| AmdRoots {
                    generation,
                    ark_pem: ark.to_owned(),
                    ask_pem: ask.to_owned(),
                })
                .collect(),
            intel_roots: vec![INTEL_SGX_ROOT.to_owned()],
        }
    }

    /// The anchors an operator supplied as named PEM blobs (`amd-ark-milan`, `amd-ask-milan`, …,
    /// `intel-sgx-root`, which may repeat). They replace the built-in set entirely: a kind the
    /// operator leaves out is not trusted at all.
    pub fn from_named_pem<'a>(
        blobs: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Self, AnchorError> {
        let mut arks: Vec<(Generation, String)> = Vec::new();
        let mut asks: Vec<(Generation, String)> = Vec::new();
        let mut intel_roots = Vec::new();
        for (name, data) in blobs {
            let pem = std::str::from_utf8(data).map_err(|_| AnchorError::NotPem(name.to_owned()))?.to_owned();
            if name == "intel-sgx-root" {
                intel_roots.push(pem);
                continue;
            }
            let (list, suffix) = match (name.strip_prefix("amd-ark-"), name.strip_prefix("amd-ask-")) {
                (Some(suffix), _) => (&mut arks, suffix),
                (_, Some(suffix)) => (&mut asks, suffix),
                _ => return Err(AnchorError::UnknownName(name.to_owned())),
            };
            let (generation, ..) = GENERATIONS
                .iter()
                .find(|(_, key, _, _)| *key == suffix)
                .ok_or_else(|| AnchorError::UnknownName(name.to_owned()))?;
            list.push((*generation, pem));
        }
        let mut amd = Vec::new();
        for (generation, ark_pem) in arks {
            let index = asks
                .iter()
                .position(|(g, _)| *g == generation)
                .ok_or(AnchorError::Incomplete(generation.name()))?;
            let (_, ask_pem) = asks.swap_remove(index);
            amd.push(AmdRoots { generation, ark_pem, ask_pem });
        }
        if let Some((generation, _)) = asks.first() {
            return Err(AnchorError::Incomplete(generation.name()));
        }
        Ok(TrustAnchors { amd, intel_roots })
    }

    /// The AMD roots for one generation, if trusted.
    pub fn amd(&self, generation: Generation) -> Option<&AmdRoots> {
        self.amd.iter().find(|roots| roots.generation == generation)
    }
}

impl Default for TrustAnchors {
    fn default() -> Self {
        Self::builtin()
    }
}
