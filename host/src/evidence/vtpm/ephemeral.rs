//! The ephemeral key of docs/protocol.md §6.4: an RSA key in the NULL hierarchy, usable only through
//! a PolicyPCR policy over the PCR values a quote covered, and certified by the AK, so that MAA can
//! encrypt a secret that only this TPM, in this measured state, can decrypt.

use tss_esapi::attributes::ObjectAttributes;
use tss_esapi::handles::KeyHandle;
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::interface_types::key_bits::RsaKeyBits;
use tss_esapi::interface_types::resource_handles::Hierarchy;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{
    AttestInfo, Data, Digest, Public, PublicKeyRsa, PublicRsaParameters, RsaDecryptionScheme, RsaExponent,
    RsaScheme, SignatureScheme, SymmetricDefinitionObject,
};

use super::quote::{pcr_digest, pcr_set, rsassa_sha256, sha256_selection, tpm2b_public, tpms_attest};
use super::rc::TPM_RC_POLICY_FAIL;
use super::rc::{Command, run};
use super::session::{trial_policy_pcr, with_flushed, with_password, with_policy_pcr, with_tpm_handle};
use super::{AK_HANDLE, EPHEMERAL_KEY_ATTRIBUTES, Error, Vtpm};

/// `TPM_RH_NULL`, the hierarchy the ephemeral key is created in.
const TPM_RH_NULL: u32 = 0x4000_0007;

/// The ephemeral RSA key bound to PCR values and certified by the AK (`EncKeyPub`,
/// `EncKeyCertifyInfo`, `EncKeyCertifyInfoSignature` of the MAA request), as the evidence bundle holds it.
pub use cvm_attest_formats::bundle::EphemeralKey;

impl Vtpm {
    /// Creates the ephemeral key of docs/protocol.md §6.4, bound by PolicyPCR to the given SHA-256 PCR
    /// values (those a quote covered, so that the key's policy and the quote agree even if a PCR is
    /// extended in between), certifies it with the AK (TPM2_Certify, empty qualifying data, scheme
    /// NULL), and flushes it.
    ///
    /// It is a primary key of the NULL hierarchy, as the C++ and Go clients create it: that needs no
    /// owner authorisation and leaves nothing behind (the NULL seed changes at every TPM reset).
    /// The key is deterministic for seed, template and PCR values, so it can be recreated until the next
    /// reset to decrypt what MAA encrypted to it.
    pub fn create_ephemeral_key(&mut self, pcrs: &[(u8, Vec<u8>)]) -> Result<EphemeralKey, Error> {
        let create = Command::on("CreatePrimary", TPM_RH_NULL);
        let certify = Command::on("Certify", AK_HANDLE);
        let indices: Vec<u8> = pcrs.iter().map(|(index, _)| *index).collect();
        let set = pcr_set(&indices)?;
        let selection = sha256_selection(create, &set)?;
        // PolicyPCR hashes the values in selection (ascending) order.
        let mut ordered = pcrs.to_vec();
        ordered.sort_by_key(|(index, _)| *index);
        ordered.dedup_by_key(|(index, _)| *index);
        let values = Digest::try_from(pcr_digest(&ordered))
            .map_err(|source| Error::Library { command: create, source })?;
        let ctx = &mut self.context;
        let template = ephemeral_key_template(trial_policy_pcr(ctx, &selection, values)?);
        with_tpm_handle(ctx, AK_HANDLE, "attestation key (AK)", |ctx, ak| {
            let created = run(ctx, create, |ctx| {
                with_password(ctx, |ctx| {
                    ctx.create_primary(Hierarchy::Null, template.clone(), None, None, None, None)
                })
            })?;
            with_flushed(ctx, created.key_handle.into(), |ctx, key| {
                let read = Command::plain("ReadPublic");
                let (public, name, _) = run(ctx, read, |ctx| ctx.read_public(KeyHandle::from(key)))?;
                let public = tpm2b_public(read, &public, &name)?;
                let (attest, signature) = run(ctx, certify, |ctx| {
                    ctx.execute_with_sessions(
                        (Some(AuthSession::Password), Some(AuthSession::Password), None),
                        |ctx| ctx.certify(key, KeyHandle::from(ak), Data::default(), SignatureScheme::Null),
                    )
                })?;
                let AttestInfo::Certify { info } = attest.attested() else {
                    return Err(Error::UnexpectedResponse {
                        command: certify,
                        reason: format!("attestation type {:?}", attest.attestation_type()),
                    });
                };
                if info.name() != &name {
                    return Err(Error::UnexpectedResponse {
                        command: certify,
                        reason: "the certified name is not the ephemeral key's".to_owned(),
                    });
                }
                Ok(EphemeralKey {
                    public,
                    certify_info: tpms_attest(certify, &attest)?,
                    certify_signature: rsassa_sha256(certify, signature)?,
                })
            })
        })
    }
}

impl Vtpm {
    /// Decrypts `ciphertext` (RSAES-PKCS1-v1_5, as MAA wraps its answer's inner key) with the ephemeral
    /// key bound to `pcrs`: the key is recreated (same seed, template and PCR values give the same
    /// key, until the next TPM reset) and used through a policy session whose PolicyPCR is over the
    /// PCRs' *current* values, so the TPM refuses unless the PCRs still hold the quoted values.
    pub fn decrypt_with_ephemeral_key(
        &mut self,
        pcrs: &[(u8, Vec<u8>)],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let create = Command::on("CreatePrimary", TPM_RH_NULL);
        let decrypt = Command::plain("RSA_Decrypt");
        let indices: Vec<u8> = pcrs.iter().map(|(index, _)| *index).collect();
        let selection = sha256_selection(create, &pcr_set(&indices)?)?;
        let mut ordered = pcrs.to_vec();
        ordered.sort_by_key(|(index, _)| *index);
        ordered.dedup_by_key(|(index, _)| *index);
        let values = Digest::try_from(pcr_digest(&ordered))
            .map_err(|source| Error::Library { command: create, source })?;
        let cipher_text = PublicKeyRsa::try_from(ciphertext.to_vec())
            .map_err(|source| Error::Library { command: decrypt, source })?;
        let ctx = &mut self.context;
        let template = ephemeral_key_template(trial_policy_pcr(ctx, &selection, values)?);
        let created = run(ctx, create, |ctx| {
            with_password(ctx, |ctx| {
                ctx.create_primary(Hierarchy::Null, template.clone(), None, None, None, None)
            })
        })?;
        with_flushed(ctx, created.key_handle.into(), |ctx, key| {
            with_policy_pcr(ctx, &selection, |ctx, session| {
                let plain = run(ctx, decrypt, |ctx| {
                    ctx.execute_with_session(Some(session), |ctx| {
                        ctx.rsa_decrypt(
                            KeyHandle::from(key),
                            cipher_text.clone(),
                            RsaDecryptionScheme::RsaEs,
                            Data::default(),
                        )
                    })
                })
                .map_err(|e| match e {
                    Error::Tpm { code, .. } if code.base() == Some(TPM_RC_POLICY_FAIL) => Error::PcrsMoved,
                    e => e,
                })?;
                Ok(plain.value().to_vec())
            })
        })
    }
}

/// The ephemeral key template of docs/protocol.md §6.4: RSA-2048, nameAlg SHA-256, objectAttributes
/// [`EPHEMERAL_KEY_ATTRIBUTES`], symmetric NULL, scheme NULL, exponent 0 (65537), empty unique.
fn ephemeral_key_template(auth_policy: Digest) -> Public {
    Public::Rsa {
        object_attributes: ObjectAttributes::from(EPHEMERAL_KEY_ATTRIBUTES),
        name_hashing_algorithm: HashingAlgorithm::Sha256,
        auth_policy,
        parameters: PublicRsaParameters::new(
            SymmetricDefinitionObject::Null,
            RsaScheme::Null,
            RsaKeyBits::Rsa2048,
            RsaExponent::ZERO_EXPONENT,
        ),
        unique: PublicKeyRsa::default(),
    }
}

#[cfg(test)]
mod tests {
    use tss_esapi::traits::Marshall;

    use super::*;

    #[test]
    fn ephemeral_template_is_protocol_section_6() {
        let template = ephemeral_key_template(Digest::try_from(vec![0xAA; 32]).unwrap());
        let tpmt = template.marshall().unwrap();
        // type RSA, nameAlg SHA-256, objectAttributes 0x00020432, authPolicy (32 bytes), symmetric NULL,
        // scheme NULL, keyBits 2048, exponent 0, unique empty.
        let mut expected = hex::decode("0001000b000204320020").unwrap();
        expected.extend_from_slice(&[0xAA; 32]);
        expected.extend_from_slice(&hex::decode("00100010080000000000").unwrap());
        expected.extend_from_slice(&[0x00, 0x00]);
        assert_eq!(hex::encode(tpmt), hex::encode(expected));
    }
}
