//! Intel collateral on real data: TDX TCB Info and TD_QE identity documents as Intel's PCS served
//! them, verified with the TCB signing chain (its 2018 and 2025 issuances share the key) to the
//! pinned Intel SGX root; their dates; the SGX extension of the PCK certificates in real TD quotes; and
//! the TCB evaluation of those quotes with them. Tampered copies fail, and no mutation of a document or
//! of a platform's SVNs panics.

use cvm_attest_formats::appraise::anchors::TrustAnchors;
use cvm_attest_formats::intel::{
    CollateralError, DateTime, EnclaveIdentity, PckExtensions, PlatformTcb, SignedQeIdentity, SignedTcbInfo,
    TcbError, TcbInfo, TcbSigningChain, TcbStatus, tcb,
};
use cvm_attest_formats::tdx::TdQuote;
use proptest::prelude::*;

use crate::common::byte_mutations;

const TCB_INFO_00806F: &[u8] =
    include_bytes!("../../testdata/intel/tdx-tcbinfo-00806f050000-2025-10-19.json");
const TCB_INFO_90C06F: &[u8] =
    include_bytes!("../../testdata/intel/tdx-tcbinfo-90c06f000000-2026-10-08.json");
const QE_IDENTITY_2025: &[u8] = include_bytes!("../../testdata/intel/tdx-qeidentity-2025-10-13.json");
const QE_IDENTITY_2026: &[u8] = include_bytes!("../../testdata/intel/tdx-qeidentity-2026-10-08.json");
const CHAIN_2025: &str = include_str!("../../testdata/intel/tcb-signing-chain-2025.pem");
const CHAIN_2018: &str = include_str!("../../testdata/intel/tcb-signing-chain-2018.pem");
const TRUSTEE_QUOTE: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-td-quote.bin");
const CVMTOOLS_QUOTE: &[u8] = include_bytes!("../../testdata/azure-tdx/cvmtools-td_quote_v4.dat");
const MILAN_ARK: &str = include_str!("../../anchors/milan-ark.pem");

fn roots() -> Vec<String> {
    TrustAnchors::builtin().intel_roots().to_vec()
}

fn chain(pem: &str) -> TcbSigningChain {
    TcbSigningChain::from_pem(pem, &roots()).expect("the TCB signing chain leads to the Intel root")
}

fn at(text: &str) -> DateTime {
    DateTime::parse(text).expect("an RFC 3339 date-time")
}

/// The PEM blocks of a chain.
fn blocks(pem: &str) -> Vec<String> {
    pem.split_inclusive("-----END CERTIFICATE-----\n")
        .filter(|block| block.contains("BEGIN CERTIFICATE"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn tcb_info_and_qe_identities_verify_with_both_issuances_of_the_signing_chain() {
    for pem in [CHAIN_2025, CHAIN_2018] {
        let chain = chain(pem);
        assert_eq!(chain.signer(), "CN=Intel SGX TCB Signing");
        for json in [TCB_INFO_00806F, TCB_INFO_90C06F] {
            SignedTcbInfo::parse(json).unwrap().verify(&chain).unwrap();
        }
        for json in [QE_IDENTITY_2025, QE_IDENTITY_2026] {
            SignedQeIdentity::parse(json).unwrap().verify(&chain).unwrap();
        }
    }
}

#[test]
fn tcb_info_is_parsed_into_its_levels_and_module_identities() {
    let signed = SignedTcbInfo::parse(TCB_INFO_00806F).unwrap();
    let info = signed.body();
    assert_eq!(info.id, "TDX");
    assert_eq!(info.version, 3);
    assert_eq!(info.fmspc, [0x00, 0x80, 0x6f, 0x05, 0x00, 0x00]);
    assert_eq!(info.pce_id, [0, 0]);
    assert_eq!(info.tcb_evaluation_data_number, 17);
    assert_eq!(info.issue_date.as_str(), "2025-10-19T17:48:50Z");
    assert_eq!(info.next_update.as_str(), "2025-11-18T17:48:50Z");
    let ids: Vec<&str> = info.tdx_module_identities.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["TDX_03", "TDX_01"]);
    let first = &info.tcb_levels[0];
    assert_eq!(first.tcb_status, TcbStatus::UpToDate);
    assert_eq!(first.tcb.sgx_svns()[..8], [7, 7, 2, 2, 3, 1, 0, 3]);
    assert_eq!(first.tcb.sgxtcbcomponents[7].kind.as_deref(), Some("SEAMLDR ACM"));
    assert_eq!(first.tcb.pcesvn, 11);
    // The level the trustee quote matches (TCB date 2023-08-09) is out of date for these advisories.
    let level = info.tcb_levels.iter().find(|l| l.tcb_date.as_str() == "2023-08-09T00:00:00Z").unwrap();
    assert_eq!(level.tcb_status, TcbStatus::OutOfDate);
    for advisory in ["INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"] {
        assert!(level.advisory_ids.iter().any(|a| a == advisory), "{advisory}");
    }
    // The signed bytes are the inner object exactly as served.
    let text = std::str::from_utf8(TCB_INFO_00806F).unwrap();
    let start = text.find("{\"id\"").unwrap();
    let end = text.rfind(",\"signature\"").unwrap();
    assert_eq!(signed.signed_bytes(), &TCB_INFO_00806F[start..end]);

    let qe = SignedQeIdentity::parse(QE_IDENTITY_2025).unwrap();
    let qe = qe.body();
    assert_eq!((qe.id.as_str(), qe.isvprodid, qe.tcb_evaluation_data_number), ("TD_QE", 2, 17));
    assert_eq!(
        hex::encode_upper(qe.mrsigner),
        "DC9E2A7C6F948F17474E34A7FC43ED030F7C1563F1BABDDF6340C82E0E54A8C5"
    );
    assert_eq!(qe.tcb_levels[0].tcb.isvsvn, 4);
    assert_eq!(qe.tcb_levels[0].tcb_status, TcbStatus::UpToDate);
}

#[test]
fn a_flipped_byte_in_the_signed_object_or_the_signature_fails() {
    let chain = chain(CHAIN_2025);
    let text = std::str::from_utf8(TCB_INFO_00806F).unwrap();
    // "tcbEvaluationDataNumber":17 → 18 inside the signed object.
    let tampered = text.replacen("\"tcbEvaluationDataNumber\":17", "\"tcbEvaluationDataNumber\":18", 1);
    assert_ne!(tampered, text);
    let err = SignedTcbInfo::parse(tampered.as_bytes()).unwrap().verify(&chain).unwrap_err();
    assert!(matches!(err, CollateralError::Signature { document: "TDX TCB Info", .. }), "{err}");

    // Whitespace inside the signed object parses the same but is not what Intel signed.
    let spaced = text.replacen("\"version\":3", "\"version\": 3", 1);
    let err = SignedTcbInfo::parse(spaced.as_bytes()).unwrap().verify(&chain).unwrap_err();
    assert!(matches!(err, CollateralError::Signature { .. }), "{err}");

    // Flip one hex digit of the signature's r.
    let position = text.find("\"signature\":\"").unwrap() + "\"signature\":\"".len() + 10;
    let mut bytes = TCB_INFO_00806F.to_vec();
    bytes[position] = if bytes[position] == b'0' { b'1' } else { b'0' };
    let err = SignedTcbInfo::parse(&bytes).unwrap().verify(&chain).unwrap_err();
    assert!(matches!(err, CollateralError::Signature { .. }), "{err}");

    let qe = std::str::from_utf8(QE_IDENTITY_2025).unwrap().replacen("\"isvprodid\":2", "\"isvprodid\":3", 1);
    let err = SignedQeIdentity::parse(qe.as_bytes()).unwrap().verify(&chain).unwrap_err();
    assert!(matches!(err, CollateralError::Signature { document: "TD_QE identity", .. }), "{err}");

    // A signed object is never read from a document that also carries another member.
    let extra = text.replacen("{\"tcbInfo\"", "{\"note\":1,\"tcbInfo\"", 1);
    let err = SignedTcbInfo::parse(extra.as_bytes()).unwrap_err();
    assert!(matches!(err, CollateralError::UnexpectedMember { .. }), "{err}");
    // Nor from one with a repeated key.
    let repeated = text.replacen("\"version\":3", "\"version\":3,\"version\":3", 1);
    let err = SignedTcbInfo::parse(repeated.as_bytes()).unwrap_err();
    assert!(matches!(err, CollateralError::Json { .. }), "{err}");
}

#[test]
fn a_chain_whose_root_is_not_intels_fails() {
    let chain_blocks = blocks(CHAIN_2025);
    assert_eq!(chain_blocks.len(), 2);
    let (signer, root) = (&chain_blocks[0], &chain_blocks[1]);

    let foreign_root = format!("{signer}{MILAN_ARK}");
    let err = TcbSigningChain::from_pem(&foreign_root, &roots()).unwrap_err();
    assert!(matches!(err, CollateralError::Untrusted { .. }), "{err}");
    assert!(err.to_string().contains("has another key"), "{err}");

    // The genuine chain, with a pinned root that is not Intel's.
    let err = TcbSigningChain::from_pem(CHAIN_2025, &[MILAN_ARK.to_owned()]).unwrap_err();
    assert!(matches!(err, CollateralError::Untrusted { .. }), "{err}");
    let err = TcbSigningChain::from_pem(CHAIN_2025, &[]).unwrap_err();
    assert!(matches!(err, CollateralError::NoIntelRoots), "{err}");

    // The root in the signer's place, a lone certificate, and no certificate.
    let err = TcbSigningChain::from_pem(&format!("{root}{root}"), &roots()).unwrap_err();
    assert!(matches!(err, CollateralError::NotTcbSigner { .. }), "{err}");
    let err = TcbSigningChain::from_pem(signer, &roots()).unwrap_err();
    assert!(matches!(err, CollateralError::ChainLength { count: 1 }), "{err}");
    let err = TcbSigningChain::from_pem("", &roots()).unwrap_err();
    assert!(matches!(err, CollateralError::ChainLength { count: 0 }), "{err}");
}

#[test]
fn collateral_is_valid_from_issue_date_to_next_update() {
    let chain = chain(CHAIN_2025);
    let tcb_info = SignedTcbInfo::parse(TCB_INFO_00806F).unwrap();
    tcb_info.verify_at(&chain, &at("2025-10-19T17:48:50Z")).unwrap();
    tcb_info.verify_at(&chain, &at("2025-11-01T00:00:00+02:00")).unwrap();
    tcb_info.verify_at(&chain, &at("2025-11-18T17:48:50Z")).unwrap();
    let err = tcb_info.verify_at(&chain, &at("2025-11-18T17:48:51Z")).unwrap_err();
    assert!(matches!(err, CollateralError::Expired { .. }), "{err}");
    assert!(err.to_string().contains("2025-11-18T17:48:50Z"), "{err}");
    // The offset is applied when comparing: this is one second after nextUpdate.
    let err = tcb_info.check_dates(&at("2025-11-18T18:48:50.5+01:00")).unwrap_err();
    assert!(matches!(err, CollateralError::Expired { .. }), "{err}");
    let err = tcb_info.check_dates(&at("2025-10-19T17:48:49Z")).unwrap_err();
    assert!(matches!(err, CollateralError::NotYetIssued { .. }), "{err}");

    let qe = SignedQeIdentity::parse(QE_IDENTITY_2026).unwrap();
    qe.verify_at(&chain, &at("2026-10-08T21:27:34Z")).unwrap();
    let err = qe.verify_at(&chain, &at("2026-10-08T12:00:00Z")).unwrap_err();
    assert!(matches!(err, CollateralError::NotYetIssued { .. }), "{err}");
    let err = qe.check_dates(&at("2026-12-03T00:00:00Z")).unwrap_err();
    assert!(matches!(err, CollateralError::Expired { document: "TD_QE identity", .. }), "{err}");
}

#[test]
fn the_trustee_pck_certificate_names_its_platform_and_tcb() {
    let quote = TdQuote::parse(TRUSTEE_QUOTE).unwrap();
    let pck = PckExtensions::from_quote(&quote).unwrap();
    assert_eq!(hex::encode(pck.fmspc), "00806f050000");
    assert_eq!(pck.pce_id, [0, 0]);
    assert_eq!(pck.pcesvn, 11);
    assert_eq!(pck.sgx_tcb_components, [6, 6, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
    // The same certificate read from its PEM gives the same extensions.
    let leaf = quote.pck_cert_chain_blocks()[0].to_owned();
    assert_eq!(PckExtensions::from_pem(&leaf).unwrap(), pck);
    // The FMSPC and PCE ID select the TCB Info above.
    let info = SignedTcbInfo::parse(TCB_INFO_00806F).unwrap();
    assert_eq!((info.body().fmspc, info.body().pce_id), (pck.fmspc, pck.pce_id));
}

#[test]
fn the_cvmtools_pck_certificate_names_its_platform_and_tcb() {
    let quote = TdQuote::parse(CVMTOOLS_QUOTE).unwrap();
    let pck = PckExtensions::from_quote(&quote).unwrap();
    assert_eq!(hex::encode(pck.fmspc), "90c06f000000");
    assert_eq!(pck.pcesvn, 13);
    assert_eq!(pck.sgx_tcb_components[..8], [3, 3, 2, 2, 4, 1, 0, 3]);
    let info = SignedTcbInfo::parse(TCB_INFO_90C06F).unwrap();
    assert_eq!(info.body().fmspc, pck.fmspc);
}

#[test]
fn a_certificate_without_sgx_extensions_is_refused() {
    let signer = &blocks(CHAIN_2025)[0];
    let err = PckExtensions::from_pem(signer).unwrap_err();
    assert_eq!(err, cvm_attest_formats::intel::PckError::NoSgxExtensions);
    assert!(PckExtensions::from_pem("").is_err());
    assert!(PckExtensions::from_der(b"\x30\x03\x02\x01\x00").is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mutated_tcb_info_never_panics(bytes in byte_mutations(TCB_INFO_00806F)) {
        let chain = chain(CHAIN_2025);
        if let Ok(signed) = SignedTcbInfo::parse(&bytes) {
            let _ = signed.verify_at(&chain, &at("2025-10-20T00:00:00Z"));
        }
    }

    #[test]
    fn mutated_qe_identity_never_panics(bytes in byte_mutations(QE_IDENTITY_2025)) {
        let chain = chain(CHAIN_2025);
        if let Ok(signed) = SignedQeIdentity::parse(&bytes) {
            let _ = signed.verify_at(&chain, &at("2025-10-20T00:00:00Z"));
        }
    }

    #[test]
    fn mutated_signing_chain_never_panics(bytes in byte_mutations(CHAIN_2025.as_bytes())) {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = TcbSigningChain::from_pem(text, &roots());
        }
    }

    #[test]
    fn mutated_pck_certificate_never_panics(index in 0usize..2000, byte in any::<u8>()) {
        let quote = TdQuote::parse(TRUSTEE_QUOTE).unwrap();
        let leaf = quote.pck_cert_chain_blocks()[0].to_owned();
        let mut der = pem_der(&leaf);
        let index = index % der.len();
        der[index] = byte;
        let _ = PckExtensions::from_der(&der);
    }
}

/// The DER of one PEM certificate.
fn pem_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).expect("PEM base64")
}

// TCB evaluation (`intel::tcb`), on the verified documents.

const TCB_INFO_00806F_2023: &[u8] =
    include_bytes!("../../testdata/intel/tdx-tcbinfo-00806f050000-2023-02-17.json");
const QE_IDENTITY_2023: &[u8] = include_bytes!("../../testdata/intel/tdx-qeidentity-2023-02-17.json");
const TCB_INFO_90C06F_2025: &[u8] =
    include_bytes!("../../testdata/intel/tdx-tcbinfo-90c06f000000-2025-06-05.json");
const QE_IDENTITY_2025_06: &[u8] = include_bytes!("../../testdata/intel/tdx-qeidentity-2025-06-04.json");

/// A TCB Info verified with `chain` at `when`.
fn tcb_info(json: &[u8], chain_pem: &str, when: &str) -> TcbInfo {
    let signed = SignedTcbInfo::parse(json).expect("a TCB Info document");
    signed.verify_at(&chain(chain_pem), &at(when)).expect("signed and current").clone()
}

/// A TD_QE identity verified with `chain` at `when`.
fn qe_identity(json: &[u8], chain_pem: &str, when: &str) -> EnclaveIdentity {
    let signed = SignedQeIdentity::parse(json).expect("a TD_QE identity document");
    signed.verify_at(&chain(chain_pem), &at(when)).expect("signed and current").clone()
}

fn platform(quote: &TdQuote) -> PlatformTcb {
    PlatformTcb::new(&PckExtensions::from_quote(quote).expect("a PCK certificate"), quote.body())
}

fn october_2025() -> (TcbInfo, EnclaveIdentity) {
    let when = "2025-10-20T00:00:00Z";
    (tcb_info(TCB_INFO_00806F, CHAIN_2025, when), qe_identity(QE_IDENTITY_2025, CHAIN_2025, when))
}

#[test]
fn the_trustee_platform_is_out_of_date_in_october_2025() {
    let quote = TdQuote::parse(TRUSTEE_QUOTE).unwrap();
    let (info, identity) = october_2025();
    let verdict = tcb::evaluate_quote(&info, &identity, &quote).unwrap();
    assert_eq!(verdict.status, TcbStatus::OutOfDate);
    assert_eq!(verdict.level.tcb_date.as_str(), "2023-08-09T00:00:00Z");
    assert_eq!(verdict.level.tcb_status, TcbStatus::OutOfDate);
    assert_eq!(verdict.advisory_ids, ["INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"]);
    // TEE_TCB_SVN 02 01 …: module TDX_01 at SVN 2, whose level is out of date too.
    let module = verdict.module.as_ref().unwrap();
    assert_eq!((module.id.as_str(), module.isvsvn, module.tcb_status), ("TDX_01", 2, TcbStatus::OutOfDate));
    assert_eq!((verdict.qe.isvsvn, verdict.qe.tcb_status), (5, TcbStatus::UpToDate));
    assert_eq!(hex::encode(verdict.fmspc), "00806f050000");
    assert_eq!(verdict.tcb_evaluation_data_number, 17);
    assert_eq!(verdict.issue_date.as_str(), "2025-10-19T17:48:50Z");
    let detail = verdict.to_string();
    assert!(detail.starts_with("OutOfDate (warning: the platform's TCB is out of date"), "{detail}");
    assert!(
        detail.contains(
            "platform TCB level of 2023-08-09T00:00:00Z (OutOfDate), advisories INTEL-SA-00960, INTEL-SA-00982, \
             INTEL-SA-00986; TDX module TDX_01 ISVSVN 2: OutOfDate"
        ),
        "{detail}"
    );
    assert!(
        detail.contains(
            "OutOfDate (2023-08-09T00:00:00Z); TD_QE ISVSVN 5: UpToDate (2024-03-13T00:00:00Z); TCB"
        ),
        "{detail}"
    );
    assert!(
        detail.ends_with(
            "TCB Info for FMSPC 00806f050000, tcbEvaluationDataNumber 17, issued 2025-10-19T17:48:50Z"
        ),
        "{detail}"
    );
}

/// The TCB Info of February 2023 has no module identities: the module is checked against `tdxModule`,
/// and from TDX 1.5 on (TEE_TCB_SVN[1] = 1 here) the module's bytes 0 and 1 are not compared with the
/// levels' TDX components. The 2018 signing chain was the current one then.
#[test]
fn the_trustee_platform_was_up_to_date_in_february_2023() {
    let quote = TdQuote::parse(TRUSTEE_QUOTE).unwrap();
    let when = "2023-03-01T00:00:00Z";
    let info = tcb_info(TCB_INFO_00806F_2023, CHAIN_2018, when);
    let identity = qe_identity(QE_IDENTITY_2023, CHAIN_2018, when);
    assert!(info.tdx_module_identities.is_empty());
    let verdict = tcb::evaluate_quote(&info, &identity, &quote).unwrap();
    assert_eq!(verdict.status, TcbStatus::UpToDate);
    assert_eq!(verdict.module, None);
    assert_eq!(verdict.level.tcb_date.as_str(), "2022-11-09T00:00:00Z");
    assert_eq!((verdict.qe.isvsvn, verdict.qe.tcb_status), (5, TcbStatus::UpToDate));
    assert_eq!(verdict.tcb_evaluation_data_number, 14);
    assert!(verdict.advisory_ids.is_empty());
    let detail = verdict.to_string();
    assert!(detail.starts_with("UpToDate: platform TCB level of 2022-11-09T00:00:00Z"), "{detail}");
    assert!(detail.contains("TDX module signer and attributes as `tdxModule`"), "{detail}");

    // Were bytes 0 and 1 compared, the module's SVN 2 would be below every level's 3.
    let mut tdx10 = platform(&quote);
    tdx10.tee_tcb_svn[1] = 0;
    let err = tcb::match_platform(&info, &tdx10).unwrap_err();
    assert!(
        err.to_string().contains("at the lowest level, TEE_TCB_SVN[0] needs 3, the quote has 2;"),
        "{err}"
    );
}

#[test]
fn the_cvmtools_platform_matches_no_level_of_june_2025() {
    let quote = TdQuote::parse(CVMTOOLS_QUOTE).unwrap();
    let when = "2025-06-10T00:00:00Z";
    let info = tcb_info(TCB_INFO_90C06F_2025, CHAIN_2025, when);
    let identity = qe_identity(QE_IDENTITY_2025_06, CHAIN_2025, when);
    let err = tcb::evaluate_quote(&info, &identity, &quote).unwrap_err();
    assert!(matches!(err, TcbError::NoTcbLevel { pcesvn: 13, .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "no TCB level matches the platform (PCK SGX TCB components 3,3,2,2,4,1,0,3,0,0,0,0,0,0,0,0, PCESVN 13; \
         quote TEE_TCB_SVN 07010300000000000000000000000000): at the lowest level, SGX TCB component 8 \
         (SEAMLDR ACM) needs SVN 5, the PCK certificate has 3; the platform is below every TCB Intel rates: update \
         its firmware and microcode"
    );
    // Its quoting enclave is up to date all the same.
    let qe = tcb::match_qe(&identity, quote.qe_report()).unwrap();
    assert_eq!((qe.isvsvn, qe.tcb_status), (6, TcbStatus::UpToDate));
}

#[test]
fn a_tcb_info_for_another_platform_or_tee_is_refused() {
    let quote = TdQuote::parse(TRUSTEE_QUOTE).unwrap();
    let (_, identity) = october_2025();
    let other = tcb_info(TCB_INFO_90C06F_2025, CHAIN_2025, "2025-06-10T00:00:00Z");
    let err = tcb::evaluate_quote(&other, &identity, &quote).unwrap_err();
    assert_eq!(err, TcbError::FmspcMismatch { tcb_info: other.fmspc, pck: platform(&quote).fmspc });
    assert!(
        err.to_string()
            .starts_with("the TCB Info is for FMSPC 90c06f000000, but the PCK certificate's is 00806f050000")
    );

    let (mut info, _) = october_2025();
    info.id = "SGX".to_owned();
    let err = tcb::evaluate_quote(&info, &identity, &quote).unwrap_err();
    assert!(matches!(err, TcbError::NotTdxTcbInfo { .. }), "{err}");
    let (mut info, _) = october_2025();
    info.pce_id = [0, 1];
    let err = tcb::evaluate_quote(&info, &identity, &quote).unwrap_err();
    assert!(matches!(err, TcbError::PceIdMismatch { .. }), "{err}");
}

#[test]
fn the_tdx_module_must_be_the_identity_its_version_names() {
    let quote = TdQuote::parse(TRUSTEE_QUOTE).unwrap();
    let (info, _) = october_2025();
    let genuine = platform(&quote);

    let mut version_2 = genuine.clone();
    version_2.tee_tcb_svn[1] = 2;
    let err = tcb::match_platform(&info, &version_2).unwrap_err();
    assert_eq!(
        err,
        TcbError::NoModuleIdentity { id: "TDX_02".into(), available: vec!["TDX_03".into(), "TDX_01".into()] }
    );

    let mut signer = genuine.clone();
    signer.mrsignerseam[0] = 1;
    let err = tcb::match_platform(&info, &signer).unwrap_err();
    assert!(matches!(err, TcbError::ModuleMismatch { field: "MRSIGNERSEAM", .. }), "{err}");
    assert!(err.to_string().contains("TDX module identity TDX_01 expects 000000"), "{err}");

    let mut attributes = genuine.clone();
    attributes.seam_attributes[7] = 0x80;
    let err = tcb::match_platform(&info, &attributes).unwrap_err();
    assert!(matches!(err, TcbError::ModuleMismatch { field: "SEAMATTRIBUTES", .. }), "{err}");

    // TDX_01's lowest level needs SVN 2.
    let mut old_module = genuine.clone();
    old_module.tee_tcb_svn[0] = 1;
    let err = tcb::match_platform(&info, &old_module).unwrap_err();
    assert_eq!(err, TcbError::ModuleSvnTooLow { id: "TDX_01".into(), isvsvn: 1, lowest: Some(2) });

    // An up-to-date module does not lift an out-of-date platform level.
    let mut new_module = genuine;
    new_module.tee_tcb_svn[0] = 4;
    let matched = tcb::match_platform(&info, &new_module).unwrap();
    assert_eq!(matched.module.unwrap().tcb_status, TcbStatus::UpToDate);
    assert_eq!(matched.status, TcbStatus::OutOfDate);
}

#[test]
fn the_qe_report_must_be_the_td_qe_of_the_identity() {
    let quote = TdQuote::parse(TRUSTEE_QUOTE).unwrap();
    let (_, genuine) = october_2025();
    let report = quote.qe_report();
    let refused = |edit: &dyn Fn(&mut EnclaveIdentity)| {
        let mut identity = genuine.clone();
        edit(&mut identity);
        tcb::match_qe(&identity, report).unwrap_err()
    };
    let field = |err: TcbError| match err {
        TcbError::QeMismatch { field, .. } => field,
        other => panic!("not a QE mismatch: {other}"),
    };
    assert_eq!(field(refused(&|id| id.mrsigner[0] ^= 1)), "MRSIGNER");
    assert_eq!(field(refused(&|id| id.isvprodid = 1)), "ISVPRODID");
    assert_eq!(field(refused(&|id| id.miscselect = [0, 0, 0, 1])), "MISCSELECT");
    assert_eq!(field(refused(&|id| id.attributes[0] = 0x13)), "ATTRIBUTES");
    let err = refused(&|id| id.attributes[0] = 0x13);
    assert!(err.to_string().starts_with("the QE report's ATTRIBUTES is 15000000"), "{err}");
    let err = refused(&|id| id.id = "QE".to_owned());
    assert!(matches!(err, TcbError::NotTdQeIdentity { .. }), "{err}");
    let err = refused(&|id| id.tcb_levels[0].tcb.isvsvn = 6);
    assert_eq!(err, TcbError::QeSvnTooLow { isvsvn: 5, lowest: Some(6) });
    assert_eq!(
        err.to_string(),
        "the QE report's ISVSVN 5 is below every level of the TD_QE identity (the lowest needs 6)"
    );
    // The report's ATTRIBUTES[0] is 0x15 where the identity says 0x11: its bit 2 is masked out (0xFB).
    assert_eq!(report.attributes[0], 0x15);
    assert_eq!(field(refused(&|id| id.attributes_mask[0] = 0xFF)), "ATTRIBUTES");
}

/// Intel's convergence: an out-of-date QE makes an up-to-date platform out of date; a revoked level
/// anywhere is an error.
#[test]
fn qe_and_platform_statuses_converge_as_intels_qvl() {
    use TcbStatus::*;
    for (platform, other, expected) in [
        (UpToDate, UpToDate, UpToDate),
        (UpToDate, OutOfDate, OutOfDate),
        (SWHardeningNeeded, OutOfDate, OutOfDate),
        (ConfigurationNeeded, OutOfDate, OutOfDateConfigurationNeeded),
        (ConfigurationAndSWHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded),
        (OutOfDate, OutOfDate, OutOfDate),
        (SWHardeningNeeded, UpToDate, SWHardeningNeeded),
        (ConfigurationNeeded, UpToDate, ConfigurationNeeded),
        (UpToDate, Revoked, Revoked),
        (Revoked, UpToDate, Revoked),
    ] {
        assert_eq!(tcb::converge(platform, other), expected, "{platform:?} with {other:?}");
    }

    let quote = TdQuote::parse(TRUSTEE_QUOTE).unwrap();
    let when = "2023-03-01T00:00:00Z";
    let info = tcb_info(TCB_INFO_00806F_2023, CHAIN_2018, when);
    let mut identity = qe_identity(QE_IDENTITY_2023, CHAIN_2018, when);
    identity.tcb_levels[0].tcb_status = OutOfDate;
    identity.tcb_levels[0].advisory_ids = vec!["INTEL-SA-00615".into()];
    let verdict = tcb::evaluate_quote(&info, &identity, &quote).unwrap();
    assert_eq!(
        (verdict.status, verdict.level.tcb_status, verdict.qe.tcb_status),
        (OutOfDate, UpToDate, OutOfDate)
    );
    assert_eq!(verdict.advisory_ids, ["INTEL-SA-00615"]);

    identity.tcb_levels[0].tcb_status = Revoked;
    let err = tcb::evaluate_quote(&info, &identity, &quote).unwrap_err();
    assert!(matches!(err, TcbError::Revoked { what: "the TD_QE's TCB level", .. }), "{err}");
    let mut revoked = info.clone();
    revoked.tcb_levels[0].tcb_status = Revoked;
    let err =
        tcb::evaluate_quote(&revoked, &qe_identity(QE_IDENTITY_2023, CHAIN_2018, when), &quote).unwrap_err();
    assert!(err.to_string().starts_with("Revoked: the platform's TCB level is revoked by Intel"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Evaluation never panics, and a matched level is one every SVN meets (TDX bytes 0 and 1 aside
    /// from TDX 1.5 on), with no higher level also met.
    #[test]
    fn tcb_evaluation_never_panics_and_matches_the_first_level_met(
        sgx in any::<[u8; 16]>(),
        pcesvn in any::<u16>(),
        tee_tcb_svn in any::<[u8; 16]>(),
        qe_isvsvn in any::<u16>(),
    ) {
        let quote = TdQuote::parse(TRUSTEE_QUOTE).unwrap();
        let (info, identity) = october_2025();
        let mut platform = platform(&quote);
        platform.sgx_tcb_components = sgx;
        platform.pcesvn = pcesvn;
        platform.tee_tcb_svn = tee_tcb_svn;
        let meets = |level: &cvm_attest_formats::intel::TcbLevel| {
            let skip = if tee_tcb_svn[1] > 0 { 2 } else { 0 };
            sgx.iter().zip(level.tcb.sgx_svns()).all(|(have, need)| *have >= need)
                && pcesvn >= level.tcb.pcesvn
                && tee_tcb_svn.iter().zip(level.tcb.tdx_svns()).skip(skip).all(|(have, need)| *have >= need)
        };
        match tcb::match_platform(&info, &platform) {
            Ok(matched) => {
                let first = info.tcb_levels.iter().position(&meets);
                prop_assert_eq!(first.map(|i| &info.tcb_levels[i]), Some(&matched.level));
            }
            Err(TcbError::NoTcbLevel { .. }) => prop_assert!(!info.tcb_levels.iter().any(meets)),
            Err(_) => {}
        }
        let _ = tcb::match_isv_level(&identity, qe_isvsvn);
    }
}
