//! The AK certificate the simulated Azure provisioning puts in NV `0x01C101D0`: issued at run time,
//! for the vTPM's own AK, by the test vTPM CA (`testdata/pki/vtpm-test-ca.{pem,key}`), with the
//! profile of a real Azure AK certificate (`testdata/pki/README.md`, "What a real Azure AK certificate
//! looks like"): v3, 16-byte serial, sha256WithRSAEncryption, subject
//! `CN=<12 hex digits>.TrustedVM.Azure.Microsoft` (PrintableString), about 21 months of validity from
//! midnight, and Azure's extensions in Azure's order.
//!
//! The verifier (`vtpm-ak-cert`) needs only the key, the signature chain, the issuers' basic
//! constraints and the validity; the rest is there so that the certificate looks like Azure's to
//! anything that prints or inspects it.

use std::marker::PhantomData;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::der::asn1::{
    Any, Ia5String, OctetString, PrintableStringRef, SetOfVec, UtcTime, Utf8StringRef,
};
use x509_cert::der::oid::{AssociatedOid, ObjectIdentifier, db::rfc4519};
use x509_cert::der::referenced::OwnedToRef as _;
use x509_cert::der::{DecodePem, Encode, Length, Writer};
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, CertificatePolicies, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::{AsExtension, Extension};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{EncodePublicKey as _, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};

use crate::paravisor::AkPublic;
use crate::pki;

/// Validity of Azure's AK certificates: 2024-02-07 to 2025-10-30 in the real one, about 21 months.
const VALIDITY: Duration = Duration::from_secs(630 * 24 * 60 * 60);
const DAY: u64 = 24 * 60 * 60;

/// Certificate policy 1.3.6.1.4.1.311.108 (Microsoft), as in Azure's AK certificates.
const MICROSOFT_VTPM_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.108");
/// Extended key usages of Azure's AK certificates: Microsoft document signing and
/// tcg-kp-AIKCertificate.
const EKU_DOCUMENT_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.10.3.12");
const EKU_TCG_AIK_CERTIFICATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.8.3");
/// Microsoft's OS version extension, an IA5String (`6.2.9200.2` in Azure's).
const OS_VERSION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.13.2.3");
/// Microsoft's request client info extension: SEQUENCE { INTEGER, machine, user, process }.
const REQUEST_CLIENT_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.21.20");
/// The provisioning host's name in the request client info; Azure's is of this shape.
const PROVISIONING_HOST: &str = "SIM000000000001";

/// Why the AK certificate could not be issued (the compiled-in CA, or an AK the builder refuses).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AkCertError {
    #[error("the test vTPM CA ({what}) does not load: {reason}")]
    Ca { what: &'static str, reason: String },
    #[error("the AK is not a usable RSA key: {0}")]
    AkKey(rsa::Error),
    #[error("building the AK certificate failed: {0}")]
    Build(String),
}

/// The test vTPM CA: its certificate (for the issuer name and key identifier) and signing key.
struct Ca {
    cert: Certificate,
    key: SigningKey<Sha256>,
}

impl Ca {
    fn load() -> Result<Ca, AkCertError> {
        let cert = Certificate::from_pem(pki::VTPM_CA_PEM)
            .map_err(|e| AkCertError::Ca { what: "certificate", reason: e.to_string() })?;
        let key = RsaPrivateKey::from_pkcs8_pem(pki::VTPM_CA_KEY)
            .map_err(|e| AkCertError::Ca { what: "private key", reason: e.to_string() })?;
        Ok(Ca { cert, key: SigningKey::new(key) })
    }

    /// The CA's subjectKeyIdentifier, for the AK certificate's authorityKeyIdentifier.
    fn key_identifier(&self) -> Result<OctetString, AkCertError> {
        let extension = self
            .cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == SubjectKeyIdentifier::OID)
            .ok_or(AkCertError::Ca {
                what: "certificate",
                reason: "it has no subjectKeyIdentifier".into(),
            })?;
        let ski: SubjectKeyIdentifier = x509_cert::der::Decode::from_der(extension.extn_value.as_bytes())
            .map_err(|e| AkCertError::Ca { what: "subjectKeyIdentifier", reason: e.to_string() })?;
        Ok(ski.0)
    }
}

/// Issues the AK certificate (DER) for `ak`, valid from midnight (UTC) of the day of `now`.
pub fn issue(ak: &AkPublic, now: SystemTime) -> Result<Vec<u8>, AkCertError> {
    let ca = Ca::load()?;
    let build = |e: x509_cert::builder::Error| AkCertError::Build(e.to_string());
    let der = |e: x509_cert::der::Error| AkCertError::Build(e.to_string());
    let key = RsaPublicKey::new(BigUint::from_bytes_be(&ak.modulus), BigUint::from(ak.exponent))
        .map_err(AkCertError::AkKey)?;
    let spki = SubjectPublicKeyInfoOwned::try_from(
        key.to_public_key_der().map_err(|e| AkCertError::Build(e.to_string()))?.as_bytes(),
    )
    .map_err(|e| AkCertError::Build(e.to_string()))?;

    let mut builder = CertificateBuilder::new(
        Profile::Manual { issuer: Some(ca.cert.tbs_certificate.subject.clone()) },
        serial(ak, now)?,
        validity(now)?,
        subject(ak).map_err(der)?,
        spki.clone(),
        &ca.key,
    )
    .map_err(build)?;
    builder.add_extension(&KeyUsage(KeyUsages::DigitalSignature.into())).map_err(build)?;
    builder
        .add_extension(&CertificatePolicies(vec![PolicyInformation {
            policy_identifier: MICROSOFT_VTPM_POLICY,
            policy_qualifiers: None,
        }]))
        .map_err(build)?;
    // x509-cert marks extKeyUsage critical when the subject is empty; Azure's is not critical.
    let eku = ExtendedKeyUsage(vec![EKU_DOCUMENT_SIGNING, EKU_TCG_AIK_CERTIFICATE]);
    builder.add_extension(&Raw::<ExtendedKeyUsage>::new(&eku)?).map_err(build)?;
    builder
        .add_extension(&SubjectKeyIdentifier::try_from(spki.owned_to_ref()).map_err(der)?)
        .map_err(build)?;
    builder
        .add_extension(&Raw::<OsVersionOid>::new(&Ia5String::new("6.2.9200.2").map_err(der)?)?)
        .map_err(build)?;
    builder
        .add_extension(&Raw::<ClientInfoOid>::new(&request_client_info().map_err(der)?)?)
        .map_err(build)?;
    builder
        .add_extension(&AuthorityKeyIdentifier {
            key_identifier: Some(ca.key_identifier()?),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        })
        .map_err(build)?;
    let cert = builder.build::<rsa::pkcs1v15::Signature>().map_err(build)?;
    cert.to_der().map_err(der)
}

/// 16 bytes unique to this AK and moment (Azure's are random; uniqueness is what matters).
fn serial(ak: &AkPublic, now: SystemTime) -> Result<SerialNumber, AkCertError> {
    let nanos = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    let digest = Sha256::new()
        .chain_update(&ak.modulus)
        .chain_update(nanos.to_be_bytes())
        .chain_update(std::process::id().to_be_bytes())
        .finalize();
    let mut bytes = [0; 16];
    bytes.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
    // Positive, and 16 bytes long: no leading zero byte to strip.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::new(&bytes).map_err(|e| AkCertError::Build(e.to_string()))
}

/// From midnight (UTC) of `now`'s day, for [`VALIDITY`].
fn validity(now: SystemTime) -> Result<Validity, AkCertError> {
    let seconds = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let midnight = Duration::from_secs(seconds - seconds % DAY);
    let time = |at: Duration| {
        UtcTime::from_unix_duration(at).map(Time::UtcTime).map_err(|e| AkCertError::Build(e.to_string()))
    };
    Ok(Validity { not_before: time(midnight)?, not_after: time(midnight + VALIDITY)? })
}

/// `CN=<12 hex digits>.TrustedVM.Azure.Microsoft` as a PrintableString, the only RDN. The digits
/// are the AK's (the first 6 bytes of SHA-256 of its modulus), so that each vTPM has its own name.
fn subject(ak: &AkPublic) -> x509_cert::der::Result<Name> {
    let digest = Sha256::digest(&ak.modulus);
    let cn = format!("{}.TrustedVM.Azure.Microsoft", hex::encode(digest.get(..6).unwrap_or_default()));
    let value = Any::encode_from(&PrintableStringRef::new(&cn)?)?;
    let attribute = AttributeTypeAndValue { oid: rfc4519::CN, value };
    Ok(RdnSequence(vec![RelativeDistinguishedName(SetOfVec::try_from(vec![attribute])?)]))
}

/// The request client info value: SEQUENCE { INTEGER 5, machine, `WORKGROUP\machine$`, the
/// provisioning tool }, as in Azure's.
fn request_client_info() -> x509_cert::der::Result<Vec<Any>> {
    let account = format!("WORKGROUP\\{PROVISIONING_HOST}$");
    Ok(vec![
        Any::encode_from(&5u8)?,
        Any::encode_from(&Utf8StringRef::new(PROVISIONING_HOST)?)?,
        Any::encode_from(&Utf8StringRef::new(&account)?)?,
        Any::encode_from(&Utf8StringRef::new("VTpmProvisioner.exe")?)?,
    ])
}

/// A non-critical extension whose value is already encoded, under the OID of `K` (an extension
/// type, or a marker for those x509-cert does not know).
struct Raw<K> {
    value: Vec<u8>,
    kind: PhantomData<K>,
}

impl<K> Raw<K> {
    fn new(value: &impl Encode) -> Result<Raw<K>, AkCertError> {
        let value = value.to_der().map_err(|e| AkCertError::Build(e.to_string()))?;
        Ok(Raw { value, kind: PhantomData })
    }
}

struct OsVersionOid;
struct ClientInfoOid;

impl AssociatedOid for OsVersionOid {
    const OID: ObjectIdentifier = OS_VERSION;
}

impl AssociatedOid for ClientInfoOid {
    const OID: ObjectIdentifier = REQUEST_CLIENT_INFO;
}

impl<K: AssociatedOid> AssociatedOid for Raw<K> {
    const OID: ObjectIdentifier = K::OID;
}

impl<K> Encode for Raw<K> {
    fn encoded_len(&self) -> x509_cert::der::Result<Length> {
        Length::try_from(self.value.len())
    }

    fn encode(&self, writer: &mut impl Writer) -> x509_cert::der::Result<()> {
        writer.write(&self.value)
    }
}

impl<K: AssociatedOid> AsExtension for Raw<K> {
    fn critical(&self, _subject: &Name, _extensions: &[Extension]) -> bool {
        false
    }
}
