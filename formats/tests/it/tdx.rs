//! TD reports and TD quotes against real Azure TDX data: the TDREPORT inside trustee's HCL report and
//! the TD quote IMDS made from the same TD, plus cvm-attestation-tools' quote. Expected values come
//! from the fixtures README and `verify/verify_tdx.py`. No v5 quote is public, so the v5 vectors are
//! the v4 quote re-encoded with a v5 body descriptor.

use crate::common::byte_mutations;
use cvm_attest_formats::ParseError;
use cvm_attest_formats::tdx::{TdQuote, TdQuoteBodyType, TdReport};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const HCL_REPORT: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-hcl-report-tdx.bin");
const TRUSTEE_QUOTE: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-td-quote.bin");
const CVMTOOLS_QUOTE: &[u8] = include_bytes!("../../testdata/azure-tdx/cvmtools-td_quote_v4.dat");

/// The TDREPORT at offset 0x20 of the HCL report.
fn td_report_bytes() -> &'static [u8] {
    &HCL_REPORT[0x20..0x20 + 1024]
}

/// The HCL runtime claims JSON (length u32 LE at 0x4D0, data at 0x4D4).
fn runtime_claims() -> &'static [u8] {
    let len = u32::from_le_bytes(HCL_REPORT[0x4D0..0x4D4].try_into().expect("4 bytes")) as usize;
    &HCL_REPORT[0x4D4..0x4D4 + len]
}

/// Signature data, certification data and padding: everything after a v4 quote's body.
fn v4_tail(quote: &[u8]) -> &[u8] {
    &quote[48 + 584..]
}

/// The v4 quote re-encoded as v5: version 5, then body type and size, then the same body and tail.
fn as_v5(quote: &[u8], body_type: u16, extra_body: &[u8]) -> Vec<u8> {
    let mut v5 = quote[..48].to_vec();
    v5[0..2].copy_from_slice(&5u16.to_le_bytes());
    v5.extend(body_type.to_le_bytes());
    v5.extend(u32::try_from(584 + extra_body.len()).expect("a small body").to_le_bytes());
    v5.extend(&quote[48..48 + 584]);
    v5.extend(extra_body);
    v5.extend(v4_tail(quote));
    v5
}

#[test]
fn td_report_in_the_hcl_report_binds_the_runtime_claims() {
    let report = TdReport::parse(td_report_bytes()).unwrap();
    assert_eq!(report.report_mac.report_type.tee_type, 0x81);
    let rd = report.report_mac.report_data;
    assert_eq!(rd[..32], Sha256::digest(runtime_claims())[..]);
    assert_eq!(rd[32..], [0u8; 32]);
    assert!(hex::encode(rd).starts_with("9734504f161d104c74e3165c15f779b06a9bb40dfa71937817d7eee68e593839"));
    assert!(hex::encode(report.td_info.mrtd).starts_with("024a32b070383331181619fa"));
}

#[test]
fn trustee_quote_matches_the_td_report_of_the_same_td() {
    let report = TdReport::parse(td_report_bytes()).unwrap();
    let quote = TdQuote::parse(TRUSTEE_QUOTE).unwrap();
    let header = quote.header();
    assert_eq!((header.version, header.attestation_key_type, header.tee_type), (4, 2, 0x81));
    assert_eq!(hex::encode(header.qe_vendor_id), "939a7233f79c4ca9940a0db3957f0607");
    let body = quote.body();
    assert_eq!(body.body_type, TdQuoteBodyType::Td10);
    assert_eq!(body.report_data, report.report_mac.report_data);
    assert_eq!(body.mrtd, report.td_info.mrtd);
    assert_eq!(body.rtmr, report.td_info.rtmr);
    assert_eq!(body.mrconfigid, report.td_info.mrconfigid);
    assert_eq!(body.mrowner, report.td_info.mrowner);
    assert_eq!(body.mrownerconfig, report.td_info.mrownerconfig);
    assert_eq!(body.xfam, report.td_info.xfam);
    assert_eq!(body.td_attributes, report.td_info.attributes);
    assert_eq!(body.mrseam, report.tee_tcb_info.mrseam);
    assert_eq!(body.tee_tcb_svn, report.tee_tcb_info.tee_tcb_svn);
    assert_eq!(body.tee_tcb_svn2, None);
    assert!(!body.td_attributes.debug());
}

fn assert_quote_structure(raw: &[u8]) -> TdQuote {
    let quote = TdQuote::parse(raw).expect("the quote parses");
    // 48-byte header + 584-byte body are signed; the signature data is 4 + 4300 bytes; the rest of
    // the 5006-byte file is zero padding.
    assert_eq!(quote.signed_bytes(), &raw[..632]);
    assert_eq!(quote.bytes().len(), 632 + 4 + 4300);
    assert_eq!(quote.bytes(), &raw[..4936]);
    assert!(raw[4936..].iter().all(|b| *b == 0));
    assert_eq!(quote.signature(), &raw[636..700]);
    assert_eq!(quote.attestation_key(), &raw[700..764]);
    assert_eq!(quote.qe_report().bytes(), &raw[770..1154]);
    // The QE report binds the attestation key: report_data = SHA-256(key || QE auth data) || 0^32.
    assert_eq!(quote.qe_auth_data().len(), 32);
    let binding =
        Sha256::new().chain_update(quote.attestation_key()).chain_update(quote.qe_auth_data()).finalize();
    assert_eq!(quote.qe_report().report_data[..32], binding[..]);
    assert_eq!(quote.qe_report().report_data[32..], [0u8; 32]);
    // PCK leaf, Intel SGX PCK Platform CA, Intel SGX Root CA.
    let blocks = quote.pck_cert_chain_blocks();
    assert_eq!(blocks.len(), 3);
    assert!(blocks.iter().all(|b| b.starts_with("-----BEGIN CERTIFICATE-----\n")));
    assert!(quote.pck_cert_chain_pem().ends_with("-----END CERTIFICATE-----\n"));
    quote
}

#[test]
fn trustee_quote_structure() {
    assert_quote_structure(TRUSTEE_QUOTE);
}

#[test]
fn cvmtools_quote_structure() {
    let quote = assert_quote_structure(CVMTOOLS_QUOTE);
    assert_eq!(quote.header().version, 4);
    // A different TD: it does not match trustee's TD report.
    let report = TdReport::parse(td_report_bytes()).unwrap();
    assert_ne!(quote.body().report_data, report.report_mac.report_data);
    // Both quotes chain to the same Intel root.
    let trustee = TdQuote::parse(TRUSTEE_QUOTE).unwrap();
    assert_eq!(quote.pck_cert_chain_blocks()[2], trustee.pck_cert_chain_blocks()[2]);
}

#[test]
fn v5_td10_body_parses_to_the_same_fields() {
    let v4 = TdQuote::parse(TRUSTEE_QUOTE).unwrap();
    let raw = as_v5(TRUSTEE_QUOTE, 2, &[]);
    let v5 = TdQuote::parse(&raw).unwrap();
    assert_eq!(v5.header().version, 5);
    assert_eq!(v5.body(), v4.body());
    assert_eq!(v5.signed_bytes(), &raw[..48 + 6 + 584]);
    assert_eq!(v5.signature(), v4.signature());
    assert_eq!(v5.qe_report(), v4.qe_report());
    assert_eq!(v5.pck_cert_chain_pem(), v4.pck_cert_chain_pem());
}

#[test]
fn v5_td15_body_has_the_extra_fields() {
    let mut extra = vec![0x11; 16];
    extra.extend([0x22; 48]);
    let v4 = TdQuote::parse(TRUSTEE_QUOTE).unwrap();
    let raw = as_v5(TRUSTEE_QUOTE, 3, &extra);
    let v5 = TdQuote::parse(&raw).unwrap();
    let body = v5.body();
    assert_eq!(body.body_type, TdQuoteBodyType::Td15);
    assert_eq!(body.tee_tcb_svn2, Some([0x11; 16]));
    assert_eq!(body.mr_servicetd, Some([0x22; 48]));
    assert_eq!(
        (body.mrtd, body.rtmr, body.report_data),
        (v4.body().mrtd, v4.body().rtmr, v4.body().report_data)
    );
    assert_eq!(v5.signed_bytes().len(), 48 + 6 + 648);
}

#[test]
fn v5_body_descriptor_is_checked() {
    // SGX enclave report bodies (type 1) are not TD quotes.
    let err = TdQuote::parse(&as_v5(TRUSTEE_QUOTE, 1, &[])).unwrap_err();
    assert!(matches!(err, ParseError::Unsupported { field: "body.type", offset: 48, .. }), "{err}");
    // Body type 3 (TDX 1.5) needs 648 bytes; a 584-byte size is a lie.
    let mut raw = as_v5(TRUSTEE_QUOTE, 3, &[]);
    let err = TdQuote::parse(&raw).unwrap_err();
    assert!(matches!(err, ParseError::InvalidField { field: "body.size", offset: 50, .. }), "{err}");
    assert!(err.to_string().contains("expected 648 for body type 3, found 584"), "{err}");
    raw[48] = 2;
    assert!(TdQuote::parse(&raw).is_ok());
}

#[test]
fn quote_errors_name_the_field() {
    let mut v3 = TRUSTEE_QUOTE.to_vec();
    v3[0] = 3;
    let err = TdQuote::parse(&v3).unwrap_err();
    assert!(matches!(err, ParseError::Unsupported { field: "header.version", offset: 0, .. }), "{err}");

    let mut sgx = TRUSTEE_QUOTE.to_vec();
    sgx[4] = 0;
    let err = TdQuote::parse(&sgx).unwrap_err();
    assert!(matches!(err, ParseError::Unsupported { field: "header.tee_type", offset: 4, .. }), "{err}");

    let mut p384 = TRUSTEE_QUOTE.to_vec();
    p384[2] = 3;
    assert!(matches!(
        TdQuote::parse(&p384),
        Err(ParseError::Unsupported { field: "header.attestation_key_type", .. })
    ));

    // Non-zero bytes after the signature data are not padding.
    let mut trailing = TRUSTEE_QUOTE.to_vec();
    trailing[5000] = 1;
    assert_eq!(
        TdQuote::parse(&trailing),
        Err(ParseError::TrailingBytes { structure: "TD quote", offset: 4936, count: 70 })
    );

    // The signature data length must match its contents.
    let mut long = TRUSTEE_QUOTE.to_vec();
    long[632] = long[632].wrapping_add(1);
    let err = TdQuote::parse(&long).unwrap_err();
    assert!(
        matches!(err, ParseError::InvalidField { field: "signature_data.len", offset: 632, .. }),
        "{err}"
    );

    // Certification data of type 5 at the top level (no QE report) is not implemented.
    let mut pck_only = TRUSTEE_QUOTE.to_vec();
    pck_only[764] = 5;
    let err = TdQuote::parse(&pck_only).unwrap_err();
    assert!(
        matches!(err, ParseError::Unsupported { field: "certification_data.type", offset: 764, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "TD quote: unsupported certification_data.type 5 at offset 764 \
         (supported: 6 (QE report certification data))"
    );

    // The certification data size must match its contents.
    let mut cd_size = TRUSTEE_QUOTE.to_vec();
    cd_size[766] = cd_size[766].wrapping_add(1);
    let err = TdQuote::parse(&cd_size).unwrap_err();
    assert!(
        matches!(err, ParseError::InvalidField { field: "certification_data.size", offset: 766, .. }),
        "{err}"
    );

    // The nested certification data must be the PCK chain (type 5).
    let mut nested_qe = TRUSTEE_QUOTE.to_vec();
    nested_qe[1252] = 6;
    let err = TdQuote::parse(&nested_qe).unwrap_err();
    assert!(
        matches!(err, ParseError::Unsupported { field: "pck_cert_chain.type", offset: 1252, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "TD quote: unsupported pck_cert_chain.type 6 at offset 1252 \
         (supported: 5 (PCK certificate chain, PEM))"
    );
    let err = TdQuote::parse(&TRUSTEE_QUOTE[..1256]).unwrap_err();
    assert!(matches!(err, ParseError::Truncated { field: "pck_cert_chain.size", offset: 1254, .. }), "{err}");
    let err = TdQuote::parse(&TRUSTEE_QUOTE[..4000]).unwrap_err();
    assert!(matches!(err, ParseError::Truncated { field: "pck_cert_chain", .. }), "{err}");
    assert!(matches!(TdQuote::parse(&[]), Err(ParseError::Truncated { field: "header.version", .. })));
}

#[test]
fn td_report_errors_name_the_field() {
    let mut sgx = td_report_bytes().to_vec();
    sgx[0] = 0;
    let err = TdReport::parse(&sgx).unwrap_err();
    assert!(matches!(err, ParseError::Unsupported { field: "type", offset: 0, .. }), "{err}");
    let err = TdReport::parse(&td_report_bytes()[..1023]).unwrap_err();
    assert!(matches!(err, ParseError::Truncated { field: "td_info.reserved", offset: 960, .. }), "{err}");
    // The HCL report pads the TD report to 1184 bytes; the parser takes exactly 1024.
    let err = TdReport::parse(&HCL_REPORT[0x20..0x20 + 1184]).unwrap_err();
    assert_eq!(err, ParseError::TrailingBytes { structure: "TDREPORT", offset: 1024, count: 160 });
}

proptest! {
    #[test]
    fn parsers_never_panic_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = TdQuote::parse(&bytes);
        let _ = TdReport::parse(&bytes);
    }

    #[test]
    fn quote_parser_never_panics_on_mutated_quotes(bytes in byte_mutations(TRUSTEE_QUOTE)) {
        if let Ok(quote) = TdQuote::parse(&bytes) {
            prop_assert!(bytes.starts_with(quote.bytes()));
            prop_assert!(quote.bytes().starts_with(quote.signed_bytes()));
        }
    }

    #[test]
    fn report_parser_never_panics_on_mutated_reports(bytes in byte_mutations(td_report_bytes())) {
        let _ = TdReport::parse(&bytes);
    }
}
