//! vTPM: the quote and ephemeral key, checked against the AK something vouches for ([`AkSource`]).
//!
//! For a confidential VM the orchestrator runs this after the hardware report and the HCL binding
//! passed, so the runtime claims (and their `HCLAkPub`) are trusted. Every signature is verified
//! with `HCLAkPub`: the bundle's own `ak_public` is only compared with it, never used. The AK
//! certificate, when the evidence has one, is checked too (`vtpm-ak-cert`, in `ak_cert.rs`): Azure's
//! vTPM CA certifies the same key, which ties the vTPM to Azure's PKI independently of the hardware
//! report. A Trusted Launch VM has no hardware report: its AK is the evidence's, and the
//! certificate, then required, is all that vouches for it.
//!
//! Steps, in order: `vtpm-ak-public`, `vtpm-ak-cert`, `vtpm-quote-signature`, `vtpm-quote-structure`,
//! `vtpm-quote-nonce`, `vtpm-pcr-digest`, `vtpm-ephemeral-key`, `eventlog-replay`.

use std::collections::BTreeSet;

use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPublicKey};

pub use super::ak_cert::ak_certificate;
use super::show::{pcr_list, show_bytes};
use super::{PcrMismatch, Policy, Steps, VtpmError};
use crate::bundle::{EphemeralKey, PcrBank, Pcrs, TpmEvidence};
use crate::eventlog::EventLog;
use crate::hcl::{AK_KID, RuntimeClaims};
use crate::nonce;
use crate::tpm::{
    Attest, HashAlg, PcrSelection, Public, TPM_ST_ATTEST_QUOTE, pcr_digest, policy_pcr, verify_rsassa,
};

/// Appraise the vTPM evidence. Of the policy, the expected nonce is the relying party's nonce as
/// given (it is bound through [`nonce::bound`]); the anchors and time judge the AK certificate.
/// `event_log` is the TCG log to replay, if one was collected. Returns `None` at the first failed
/// step.
pub fn appraise(
    tpm: &TpmEvidence,
    source: AkSource<'_>,
    policy: &Policy<'_>,
    event_log: Option<&[u8]>,
    steps: &mut Steps,
) -> Option<()> {
    let expected_nonce = policy.expected_nonce;
    let ak = match source {
        AkSource::Hcl(runtime) => hcl_ak(tpm, runtime, policy, steps)?,
        AkSource::Certificate => certified_ak(tpm, policy, steps)?,
    };
    let (ak, ak_name) = (&ak, source.name());
    steps.check(
        "vtpm-quote-signature",
        check_signature(ak, ak_name, "quote", &tpm.quote, &tpm.quote_signature),
    )?;
    let quote = steps.require("vtpm-quote-structure", parse_quote(&tpm.quote), Quote::describe)?;
    match expected_nonce {
        Some(expected) => steps.check("vtpm-quote-nonce", check_nonce(&quote.attest, expected))?,
        None => steps.not_evaluated(
            "vtpm-quote-nonce",
            format!(
                "no expected nonce was given; the quote's extraData is {}",
                show_bytes(quote.attest.extra_data())
            ),
        ),
    }
    steps.check("vtpm-pcr-digest", check_pcr_digest(&quote, &tpm.pcrs))?;
    match &tpm.ephemeral_key {
        Some(key) => {
            steps.check("vtpm-ephemeral-key", check_ephemeral_key(key, ak, ak_name, &quote, &tpm.pcrs))?
        }
        None => steps.not_evaluated("vtpm-ephemeral-key", "the evidence carries no ephemeral key"),
    }
    match event_log {
        Some(log) => steps.check("eventlog-replay", check_event_log(log, &tpm.pcrs))?,
        None => steps.not_evaluated("eventlog-replay", "no event log was given"),
    }
    Some(())
}

/// Where the AK that signs the quote gets its trust from.
#[derive(Debug, Clone, Copy)]
pub enum AkSource<'a> {
    /// A confidential VM: `HCLAkPub` in the runtime claims, which the hardware report vouches for.
    /// The evidence's own AK is only compared with it; its certificate is checked when present.
    Hcl(&'a RuntimeClaims),
    /// A Trusted Launch VM (no hardware report): the evidence's AK, which only its certificate
    /// vouches for, so the certificate is required.
    Certificate,
}

/// How details and errors name the AK of a Trusted Launch VM ("verifies with the AK", "it certifies
/// the AK"): its certificate, not a hardware report, vouches for it.
pub const CERTIFIED_AK: &str = "the AK";

impl AkSource<'_> {
    fn name(self) -> &'static str {
        match self {
            AkSource::Hcl(_) => AK_KID,
            AkSource::Certificate => CERTIFIED_AK,
        }
    }
}

/// `vtpm-ak-public` and `vtpm-ak-cert` of a confidential VM: the AK is `HCLAkPub`.
fn hcl_ak(
    tpm: &TpmEvidence,
    runtime: &RuntimeClaims,
    policy: &Policy<'_>,
    steps: &mut Steps,
) -> Option<RsaPublicKey> {
    let ak = match runtime_ak(runtime) {
        Ok(ak) => ak,
        Err(why) => return steps.fail("vtpm-ak-public", why),
    };
    if tpm.ak_public.is_empty() {
        steps.not_evaluated(
            "vtpm-ak-public",
            "the evidence carries no AK public area (TPM2B_PUBLIC); HCLAkPub from the runtime claims stands for it",
        );
    } else {
        steps.check("vtpm-ak-public", check_ak_public(&tpm.ak_public, &ak))?;
    }
    match &tpm.ak_cert {
        Some(der) => {
            steps.check("vtpm-ak-cert", ak_certificate(der, &ak, AK_KID, policy.anchors, policy.at))?
        }
        None => steps.not_evaluated("vtpm-ak-cert", "the evidence carries no AK certificate"),
    }
    Some(ak)
}

/// `vtpm-ak-public` and `vtpm-ak-cert` of a Trusted Launch VM: the evidence's AK, a restricted
/// signing key, certified by Azure's vTPM CA.
fn certified_ak(tpm: &TpmEvidence, policy: &Policy<'_>, steps: &mut Steps) -> Option<RsaPublicKey> {
    let ak = steps
        .require("vtpm-ak-public", restricted_signing_key(&tpm.ak_public), |(_, detail)| detail.clone())?
        .0;
    let Some(der) = &tpm.ak_cert else {
        return steps.fail("vtpm-ak-cert", VtpmError::MissingAkCert);
    };
    steps.check("vtpm-ak-cert", ak_certificate(der, &ak, CERTIFIED_AK, policy.anchors, policy.at))?;
    Some(ak)
}

/// The evidence's AK as an RSA key, when it is a restricted signing key.
fn restricted_signing_key(bytes: &[u8]) -> Result<(RsaPublicKey, String), VtpmError> {
    if bytes.is_empty() {
        return Err(VtpmError::MissingAkPublic);
    }
    let public = Public::parse_tpm2b(bytes).map_err(VtpmError::AkPublic)?;
    let attributes = public.object_attributes();
    if !attributes.restricted() || !attributes.sign() || attributes.decrypt() {
        return Err(VtpmError::AkNotRestrictedSigning { attributes });
    }
    let key = RsaPublicKey::new(
        BigUint::from_bytes_be(public.modulus()),
        BigUint::from(public.effective_exponent()),
    )
    .map_err(|err| VtpmError::AkUnusable { reason: err.to_string() })?;
    let detail = format!(
        "the evidence's AK (RSA-{}) is a restricted signing key ({attributes:?}); only its certificate vouches for it",
        public.key_bits()
    );
    Ok((key, detail))
}

/// `HCLAkPub` as an RSA key: the AK the hardware report vouches for through the runtime claims.
fn runtime_ak(runtime: &RuntimeClaims) -> Result<RsaPublicKey, VtpmError> {
    let jwk = runtime.ak_pub().ok_or(VtpmError::MissingAk)?;
    if jwk.kty != "RSA" {
        return Err(VtpmError::AkNotRsa { kty: jwk.kty.clone() });
    }
    let (Some(n), Some(e)) = (&jwk.n, &jwk.e) else {
        return Err(VtpmError::AkIncomplete);
    };
    RsaPublicKey::new(BigUint::from_bytes_be(n), BigUint::from_bytes_be(e))
        .map_err(|err| VtpmError::AkUnusable { reason: err.to_string() })
}

/// The bundle's AK must be `HCLAkPub` and a restricted signing key (one that signs only
/// TPM-generated structures), or the quote could come from some other key.
fn check_ak_public(bytes: &[u8], ak: &RsaPublicKey) -> Result<String, VtpmError> {
    let public = Public::parse_tpm2b(bytes).map_err(VtpmError::AkPublic)?;
    if BigUint::from_bytes_be(public.modulus()) != *ak.n() {
        return Err(VtpmError::AkModulusMismatch {
            bundle: public.modulus().to_vec(),
            hcl: ak.n().to_bytes_be(),
        });
    }
    if BigUint::from(public.effective_exponent()) != *ak.e() {
        return Err(VtpmError::AkExponentMismatch {
            bundle: public.effective_exponent(),
            hcl: ak.e().to_string(),
        });
    }
    let attributes = public.object_attributes();
    if !attributes.restricted() || !attributes.sign() || attributes.decrypt() {
        return Err(VtpmError::AkNotRestrictedSigning { attributes });
    }
    Ok(format!(
        "the bundle's AK (RSA-{}) has {AK_KID}'s modulus and exponent and is a restricted signing key ({attributes:?})",
        public.key_bits()
    ))
}

/// RSASSA-PKCS1-v1_5/SHA-256 by the AK (`ak_name`) over `message` (a TPMS_ATTEST named `what`).
fn check_signature(
    ak: &RsaPublicKey,
    ak_name: &'static str,
    what: &'static str,
    message: &[u8],
    signature: &[u8],
) -> Result<String, VtpmError> {
    verify_rsassa(ak, HashAlg::Sha256, message, signature)
        .map(|()| {
            format!(
                "RSASSA-PKCS1-v1_5/SHA-256 signature over the {}-byte {what} verifies with {ak_name}",
                message.len()
            )
        })
        .map_err(|error| VtpmError::Signature { what, ak: ak_name, error })
}

/// A quote whose structure was checked: one SHA-256 PCR selection, at least one PCR.
struct Quote {
    attest: Attest,
    selection: PcrSelection,
    pcr_digest: Vec<u8>,
}

impl Quote {
    fn describe(&self) -> String {
        format!(
            "magic TPM_GENERATED_VALUE, type TPM_ST_ATTEST_QUOTE (0x{TPM_ST_ATTEST_QUOTE:04x}), SHA-256 bank with PCRs {}",
            pcr_list(self.selection.indices())
        )
    }
}

/// Parse the signed quote. [`Attest::parse`] refuses a magic other than TPM_GENERATED_VALUE.
fn parse_quote(bytes: &[u8]) -> Result<Quote, VtpmError> {
    let attest = Attest::parse(bytes).map_err(VtpmError::Quote)?;
    let Some(info) = attest.quote() else {
        return Err(VtpmError::NotAQuote { found: attest.attest_type() });
    };
    let selection = match info.pcr_select.as_slice() {
        [one] if one.hash_alg() == Some(HashAlg::Sha256) && !one.indices().is_empty() => one.clone(),
        other => return Err(VtpmError::QuoteSelection { selections: other.to_vec() }),
    };
    let pcr_digest = info.pcr_digest.clone();
    Ok(Quote { attest, selection, pcr_digest })
}

/// extraData must be the relying party's nonce as bound (verbatim up to 64 bytes, else its
/// SHA-512): that is what makes the quote fresh.
fn check_nonce(quote: &Attest, expected: &[u8]) -> Result<String, VtpmError> {
    let bound = nonce::bound(expected);
    if quote.extra_data() == bound.as_slice() {
        Ok(format!("extraData is the expected nonce as bound: {}", show_bytes(&bound)))
    } else {
        Err(VtpmError::NonceMismatch { found: quote.extra_data().to_vec(), expected: bound.to_vec() })
    }
}

/// The `vtpm-pcr-digest` check on its own, for tools that read evidence without appraising it: the
/// quote (TPMS_ATTEST) covers exactly `pcrs`, and their digest is its pcrDigest. Nothing is verified.
pub fn check_quoted_pcrs(quote: &[u8], pcrs: &Pcrs) -> Result<String, VtpmError> {
    check_pcr_digest(&parse_quote(quote)?, pcrs)
}

/// The supplied PCR values are the quoted ones: the same set, and their digest is the signed one.
fn check_pcr_digest(quote: &Quote, pcrs: &Pcrs) -> Result<String, VtpmError> {
    let bank = bank_hash(pcrs.bank());
    if Some(bank) != quote.selection.hash_alg() {
        return Err(VtpmError::PcrBankMismatch { supplied: bank, quoted: quote.selection.hash });
    }
    let selected: BTreeSet<u32> = quote.selection.indices().into_iter().collect();
    let supplied: BTreeSet<u32> = pcrs.values().keys().map(|&index| u32::from(index)).collect();
    if selected != supplied {
        return Err(VtpmError::PcrSetMismatch { quoted: selected, supplied });
    }
    // Selection order is ascending index, the order of the map's values.
    let computed = pcr_digest(bank, pcrs.values().values().map(Vec::as_slice));
    if computed != quote.pcr_digest {
        return Err(VtpmError::PcrDigestMismatch {
            quoted: quote.pcr_digest.clone(),
            bank,
            pcrs: selected.into_iter().collect(),
            computed,
        });
    }
    Ok(format!(
        "pcrDigest {} is {bank} of the supplied values of PCRs {}",
        hex::encode(&quote.pcr_digest),
        pcr_list(selected.iter().copied())
    ))
}

fn bank_hash(bank: PcrBank) -> HashAlg {
    match bank {
        PcrBank::Sha256 => HashAlg::Sha256,
    }
}

/// The key MAA encrypts its answer to must be a TPM-resident decryption key the AK certified,
/// usable only while the PCRs hold the quoted values: its authPolicy must be PolicyPCR over them,
/// and userWithAuth clear, or its authValue alone would unlock it whatever the PCRs.
///
/// The evidence does not say which PCRs the policy covers, so only the quoted selection is tried; a
/// key bound to a subset fails. Our collector binds the key to the PCRs it quotes, as the official
/// clients do (docs/protocol.md §6.4), and the AzureGuest example's key is bound to exactly its
/// quoted set, no other subset of it.
/// `pcrs` already passed `vtpm-pcr-digest`, so they are the quoted values.
fn check_ephemeral_key(
    key: &EphemeralKey,
    ak: &RsaPublicKey,
    ak_name: &'static str,
    quote: &Quote,
    pcrs: &Pcrs,
) -> Result<String, VtpmError> {
    check_signature(ak, ak_name, "certification", &key.certify_info, &key.certify_signature)?;
    let certify = Attest::parse(&key.certify_info).map_err(VtpmError::Certification)?;
    let Some(info) = certify.certify() else {
        return Err(VtpmError::NotACertification { found: certify.attest_type() });
    };
    let public = Public::parse_tpm2b(&key.public).map_err(VtpmError::EphemeralPublic)?;
    let name = public.name();
    if info.name != name {
        return Err(VtpmError::CertifiedNameMismatch {
            certified: info.name.clone(),
            name_alg: public.name_alg(),
            name,
        });
    }
    let attributes = public.object_attributes();
    if !attributes.decrypt() || attributes.sign() || attributes.restricted() {
        return Err(VtpmError::EphemeralNotDecryption { attributes });
    }
    if attributes.user_with_auth() {
        return Err(VtpmError::EphemeralUserWithAuth { attributes });
    }
    let indices = pcr_list(quote.selection.indices());
    let policy = policy_pcr(
        public.name_alg(),
        std::slice::from_ref(&quote.selection),
        pcrs.values().values().map(Vec::as_slice),
    );
    if public.auth_policy() != policy.as_slice() {
        return Err(VtpmError::AuthPolicyMismatch {
            found: public.auth_policy().to_vec(),
            name_alg: public.name_alg(),
            pcrs: quote.selection.indices(),
            expected: policy,
        });
    }
    Ok(format!(
        "{ak_name} certified (TPM_ST_ATTEST_CERTIFY) the ephemeral key named {} (RSA-{}, {attributes:?}), \
         usable only through its authPolicy {}, PolicyPCR over the quoted values of PCRs {indices}",
        hex::encode(&name),
        public.key_bits(),
        hex::encode(&policy)
    ))
}

/// Replay the log's SHA-256 bank and compare every quoted PCR it extends. Quoted PCRs the log does
/// not extend are listed; a log that extends none of them proves nothing and fails. An event that
/// extends a quoted PCR without a SHA-256 digest fails it too: the replay would skip it, so it could
/// claim anything.
///
/// What a passing replay does not prove: that an event's data is what its digest measured (only
/// digests are replayed; the data is not hashed, and for many event types is not the measured
/// bytes anyway), nor anything about PCRs the log does not extend. And the log is optional: evidence
/// without one makes the step n/a, so a relying party that needs it must require it.
fn check_event_log(bytes: &[u8], pcrs: &Pcrs) -> Result<String, VtpmError> {
    let log = EventLog::parse(bytes).map_err(VtpmError::EventLog)?;
    let replayed = log.replay(HashAlg::Sha256).map_err(VtpmError::Replay)?;
    let quoted = |pcr: u32| u8::try_from(pcr).ok().and_then(|i| pcrs.get(i)).is_some();
    let mut unchecked = log.events_without(HashAlg::Sha256).filter(|(_, event)| quoted(event.pcr_index));
    if let Some((index, event)) = unchecked.next() {
        return Err(VtpmError::EventWithoutDigest {
            event: index,
            event_type: event.event_type,
            pcr: event.pcr_index,
            more: unchecked.count(),
        });
    }
    let mut matched = Vec::new();
    let mut mismatched = Vec::new();
    for (&index, value) in &replayed {
        let Some(quoted) = u8::try_from(index).ok().and_then(|i| pcrs.get(i)) else { continue };
        if quoted == value.as_slice() {
            matched.push(index);
        } else {
            mismatched.push(PcrMismatch { pcr: index, log: value.clone(), quoted: quoted.to_vec() });
        }
    }
    if !mismatched.is_empty() {
        return Err(VtpmError::ReplayMismatch { mismatches: mismatched });
    }
    if matched.is_empty() {
        return Err(VtpmError::NoQuotedPcrExtended { extended: replayed.keys().copied().collect() });
    }
    let unlogged: Vec<u8> =
        pcrs.values().keys().copied().filter(|&i| !replayed.contains_key(&u32::from(i))).collect();
    Ok(format!(
        "replaying the event log's SHA-256 bank ({} events) gives the quoted values of PCRs {matched:?}; quoted \
         PCRs the log does not extend: {unlogged:?}; not checked: that each event's data is what its digest \
         measured",
        log.events().len()
    ))
}
