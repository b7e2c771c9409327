//! A readable account of evidence in any accepted encoding (`cvm-attest evidence show`).
//!
//! This reads and cross-checks; it does not verify signatures or chains (`cvm-attest verify` does).
//! The same [`Summary`] prints as aligned text or as stable JSON (schema
//! [`SCHEMA`]; keys are sorted, values are hex strings, numbers and booleans).

use std::fmt;

use cvm_attest_formats::appraise;
use cvm_attest_formats::bundle::{
    self, EvidenceBundle, EvidenceKind, MaaRequest, Platform, Timestamp, TpmEvidence,
};
use cvm_attest_formats::eventlog::{EventLog, LogFormat};
use cvm_attest_formats::hcl::{HardwareReport, HclReport};
use cvm_attest_formats::snp::SnpReport;
use cvm_attest_formats::tdx::{TdQuote, TdReport};
use cvm_attest_formats::tpm::Attest;
use serde_json::{Map, Value, json};

/// Identifies the JSON layout of [`Summary`]; a breaking change gets a new version.
pub const SCHEMA: &str = "cvm-attest/evidence-summary/v1";

/// `cvm-attest evidence show -o json`: the schema id, the kind of file, one object per section
/// (`evidence`, `hcl`, `snp`, `tdx`, `tpm`, `event_log`, …, by what the file holds) and the checks.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Document {
    pub schema: String,
    pub kind: String,
    #[serde(flatten)]
    pub sections: std::collections::BTreeMap<String, Map<String, Value>>,
    pub checks: Vec<CheckJson>,
}

/// One consistency check in [`Document`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckJson {
    pub name: String,
    pub holds: bool,
    pub detail: String,
}

/// Evidence that could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{0}")]
    Unknown(String),
    #[error("{kind}: {source}")]
    Bundle { kind: EvidenceKind, source: bundle::Error },
    #[error("{kind}: {source}")]
    Parse { kind: EvidenceKind, source: cvm_attest_formats::ParseError },
}

/// What a file holds, section by section, plus the consistency checks that need no keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    kind: EvidenceKind,
    sections: Vec<Section>,
    checks: Vec<Check>,
}

#[derive(Debug, Clone, PartialEq)]
struct Section {
    /// JSON key.
    key: &'static str,
    /// Heading in text output.
    title: &'static str,
    fields: Vec<(&'static str, Value)>,
}

/// A cross-check between parts of the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub holds: bool,
    pub detail: String,
}

impl Summary {
    /// Read `bytes` in whichever encoding they are (see [`bundle::detect`]).
    pub fn of(bytes: &[u8]) -> Result<Summary, Error> {
        let kind = bundle::detect(bytes);
        let mut summary = Summary { kind: kind.clone(), sections: Vec::new(), checks: Vec::new() };
        let parse_error = |source| Error::Parse { kind: kind.clone(), source };
        let bundle_error = |source| Error::Bundle { kind: kind.clone(), source };
        match &kind {
            EvidenceKind::Bundle => {
                summary.bundle(&EvidenceBundle::from_json(bytes).map_err(bundle_error)?, true)
            }
            EvidenceKind::CocoSnp | EvidenceKind::CocoTdx => {
                // These files carry no time; the placeholder is not shown.
                let epoch = Timestamp::parse("1970-01-01T00:00:00Z").map_err(|e| Error::Unknown(e.0))?;
                summary.bundle(&EvidenceBundle::from_coco_json(bytes, epoch).map_err(bundle_error)?, false)
            }
            EvidenceKind::Maa(request) => {
                let epoch = Timestamp::parse("1970-01-01T00:00:00Z").map_err(|e| Error::Unknown(e.0))?;
                let bundle =
                    EvidenceBundle::from_maa_request(*request, bytes, epoch).map_err(bundle_error)?;
                summary.bundle(&bundle, false)
            }
            EvidenceKind::HclReport => summary.hcl(&HclReport::parse(bytes).map_err(parse_error)?),
            EvidenceKind::SnpReport => summary.snp(&SnpReport::parse(bytes).map_err(parse_error)?),
            EvidenceKind::TdQuote => summary.td_quote(&TdQuote::parse(bytes).map_err(parse_error)?, None),
            EvidenceKind::Unknown { reason } => return Err(Error::Unknown(reason.clone())),
        }
        Ok(summary)
    }

    /// The encoding the input was in.
    pub fn kind(&self) -> &EvidenceKind {
        &self.kind
    }

    /// The cross-checks made.
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// The stable JSON form.
    pub fn to_json(&self) -> Value {
        let document = Document {
            schema: SCHEMA.to_owned(),
            kind: kind_id(&self.kind).to_owned(),
            sections: self
                .sections
                .iter()
                .map(|section| {
                    let fields = section.fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
                    (section.key.to_owned(), fields)
                })
                .collect(),
            checks: self
                .checks
                .iter()
                .map(|c| CheckJson { name: c.name.to_owned(), holds: c.holds, detail: c.detail.clone() })
                .collect(),
        };
        serde_json::to_value(document).unwrap_or_else(|_| unreachable!("plain data serializes"))
    }

    fn section(&mut self, key: &'static str, title: &'static str, fields: Vec<(&'static str, Value)>) {
        self.sections.push(Section { key, title, fields });
    }

    fn check(&mut self, name: &'static str, holds: bool, detail: String) {
        self.checks.push(Check { name, holds, detail });
    }

    fn bundle(&mut self, bundle: &EvidenceBundle, timed: bool) {
        let mut fields = vec![("platform", bundle.platform.name().into())];
        if timed {
            fields.push(("collected_at", bundle.collected_at.as_str().into()));
        }
        if let Some(nonce) = &bundle.nonce {
            fields.push(("nonce", bytes(nonce)));
        }
        if let Some(os) = &bundle.os {
            let version = format!("{}.{}", os.version_major, os.version_minor);
            fields.push(("os", format!("{} {} {version}", os.os_type, os.distro).into()));
        }
        self.section("evidence", "Evidence", fields);

        // A Trusted Launch VM has no HCL report (an AzureGuest request of one carries none).
        let trusted_launch = bundle.platform == Platform::AzureTrustedLaunch && bundle.hcl_report.is_empty();
        let hcl = match HclReport::parse(&bundle.hcl_report) {
            _ if trusted_launch => None,
            Ok(hcl) => {
                self.hcl(&hcl);
                Some(hcl)
            }
            Err(err) => {
                self.check("hcl-report-parses", false, err.to_string());
                None
            }
        };
        if let Some(chain) = &bundle.vcek_chain {
            self.section("vcek_chain", "VCEK chain", vec![("certificates", certificate_subjects(chain))]);
        }
        if let Some(quote) = &bundle.td_quote {
            match TdQuote::parse(quote) {
                Ok(quote) => self.td_quote(&quote, hcl.as_ref()),
                Err(err) => self.check("td-quote-parses", false, err.to_string()),
            }
        }
        if let Some(tpm) = &bundle.tpm {
            self.tpm(tpm);
        }
        if let Some(log) = &bundle.event_log {
            self.event_log(log);
        }
    }

    fn hcl(&mut self, hcl: &HclReport) {
        let header = hcl.header();
        let mut fields = vec![
            ("version", header.version.into()),
            ("report_type", hcl.report_type().to_string().into()),
            ("size", hcl.as_bytes().len().into()),
            ("runtime_claims_bytes", hcl.runtime_claims_json().len().into()),
        ];
        match hcl.runtime_claims() {
            Ok(claims) => {
                let vm = &claims.vm_configuration;
                fields.push(("vm_unique_id", vm.vm_unique_id.clone().into()));
                fields.push(("secure_boot", vm.secure_boot.into()));
                fields.push(("tpm_enabled", vm.tpm_enabled.into()));
                if let Some(console) = vm.console_enabled {
                    fields.push(("console_enabled", console.into()));
                }
                let user_data = claims.user_data.map_or(Value::Null, |data| bytes(&data));
                fields.push(("user_data", user_data));
                let keys: Vec<Value> = claims.keys.iter().map(|key| key.kid.clone().into()).collect();
                fields.push(("keys", keys.into()));
            }
            Err(err) => self.check("runtime-claims-parse", false, err.to_string()),
        }
        self.section("hcl_report", "HCL report", fields);
        match hcl.hardware_report() {
            HardwareReport::Snp(report) => self.snp(report),
            HardwareReport::Tdx(raw) => match TdReport::parse(raw.as_bytes()) {
                Ok(report) => self.td_report(&report),
                Err(err) => self.check("td-report-parses", false, err.to_string()),
            },
            HardwareReport::TrustedLaunch => {}
        }
        match hcl.verify_binding() {
            Ok(()) => self.check(
                "hcl-binding",
                true,
                "the hardware report's report_data starts with the hash of the runtime claims".into(),
            ),
            Err(err) => self.check("hcl-binding", false, err.to_string()),
        }
    }

    fn snp(&mut self, report: &SnpReport) {
        let policy = report.policy();
        let generation = report.processor_generation().map_or(Value::Null, |g| g.name().into());
        self.section(
            "snp_report",
            "SEV-SNP report",
            vec![
                ("version", report.version().into()),
                ("generation", generation),
                ("chip_id", hex::encode(report.chip_id()).into()),
                ("reported_tcb", report.reported_tcb().to_string().into()),
                ("current_tcb", report.current_tcb().to_string().into()),
                ("measurement", hex::encode(report.measurement()).into()),
                ("report_data", hex::encode(report.report_data()).into()),
                ("host_data", hex::encode(report.host_data()).into()),
                ("id_key_digest", hex::encode(report.id_key_digest()).into()),
                ("guest_svn", report.guest_svn().into()),
                ("vmpl", report.vmpl().into()),
                ("debug_allowed", policy.debug_allowed().into()),
                ("smt_allowed", policy.smt_allowed().into()),
                ("migrate_ma_allowed", policy.migrate_ma_allowed().into()),
            ],
        );
    }

    fn td_report(&mut self, report: &TdReport) {
        let info = &report.td_info;
        let mut fields = vec![
            ("mrtd", hex::encode(info.mrtd).into()),
            ("report_data", hex::encode(report.report_mac.report_data).into()),
        ];
        fields.extend(rtmrs(&info.rtmr));
        fields.extend([
            ("mrconfigid", hex::encode(info.mrconfigid).into()),
            ("mrowner", hex::encode(info.mrowner).into()),
            ("td_attributes", format!("{:016x}", info.attributes.0).into()),
            ("debug", info.attributes.debug().into()),
            ("xfam", format!("{:016x}", info.xfam).into()),
            ("tee_tcb_svn", hex::encode(report.tee_tcb_info.tee_tcb_svn).into()),
        ]);
        self.section("td_report", "TD report", fields);
    }

    fn td_quote(&mut self, quote: &TdQuote, hcl: Option<&HclReport>) {
        let body = quote.body();
        let mut fields = vec![
            ("version", quote.header().version.into()),
            ("qe_vendor_id", hex::encode(quote.header().qe_vendor_id).into()),
            ("mrtd", hex::encode(body.mrtd).into()),
            ("report_data", hex::encode(body.report_data).into()),
        ];
        fields.extend(rtmrs(&body.rtmr));
        fields.extend([
            ("td_attributes", format!("{:016x}", body.td_attributes.0).into()),
            ("debug", body.td_attributes.debug().into()),
            ("tee_tcb_svn", hex::encode(body.tee_tcb_svn).into()),
            ("pck_chain", certificate_subjects(quote.pck_cert_chain_pem())),
        ]);
        self.section("td_quote", "TD quote", fields);
        let Some(HardwareReport::Tdx(raw)) = hcl.map(HclReport::hardware_report) else { return };
        // An unparsable TD report is already reported by `hcl`.
        if let Ok(report) = TdReport::parse(raw.as_bytes()) {
            let outcome = appraise::tdx::compare_td_report(quote, &report).map_err(|e| e.to_string());
            self.check("td-quote-matches-report", outcome.is_ok(), outcome.unwrap_or_else(|why| why));
        }
    }

    fn tpm(&mut self, tpm: &TpmEvidence) {
        let pcrs = tpm.pcrs.values();
        let mut fields = vec![
            ("ak_public", (!tpm.ak_public.is_empty()).into()),
            ("ak_cert", tpm.ak_cert.is_some().into()),
            ("ephemeral_key", tpm.ephemeral_key.is_some().into()),
            ("pcr_bank", tpm.pcrs.bank().name().into()),
            ("pcrs", pcrs.iter().map(|(i, v)| (i.to_string(), Value::from(hex::encode(v)))).collect()),
        ];
        if let Ok(attest) = Attest::parse(&tpm.quote) {
            fields.insert(0, ("quote_extra_data", bytes(attest.extra_data())));
        }
        self.section("tpm", "vTPM", fields);
        // Also reports a quote that does not parse.
        let outcome = appraise::vtpm::check_quoted_pcrs(&tpm.quote, &tpm.pcrs).map_err(|e| e.to_string());
        self.check("quote-pcr-digest", outcome.is_ok(), outcome.unwrap_or_else(|why| why));
    }

    fn event_log(&mut self, log: &[u8]) {
        match EventLog::parse(log) {
            Ok(parsed) => {
                let format = match parsed.format() {
                    LogFormat::Sha1 => "TCG 1.2 (SHA-1)",
                    LogFormat::CryptoAgile => "crypto-agile",
                };
                let banks: Vec<Value> =
                    parsed.algorithms().iter().map(|a| a.name().unwrap_or("unknown").into()).collect();
                self.section(
                    "event_log",
                    "Event log",
                    vec![
                        ("format", format.into()),
                        ("banks", banks.into()),
                        ("events", parsed.events().len().into()),
                    ],
                );
            }
            Err(err) => self.check("event-log-parses", false, err.to_string()),
        }
    }
}

fn rtmrs(rtmr: &[[u8; 48]; 4]) -> [(&'static str, Value); 4] {
    let [r0, r1, r2, r3] = rtmr;
    [
        ("rtmr0", hex::encode(r0).into()),
        ("rtmr1", hex::encode(r1).into()),
        ("rtmr2", hex::encode(r2).into()),
        ("rtmr3", hex::encode(r3).into()),
    ]
}

/// Bytes as hex, with the text beside when they are printable UTF-8 (nonces usually are).
fn bytes(data: &[u8]) -> Value {
    let trimmed = data.iter().rposition(|&b| b != 0).map_or(&data[..0], |end| &data[..=end]);
    match std::str::from_utf8(trimmed) {
        Ok(text) if !text.is_empty() && text.chars().all(|c| !c.is_control()) => {
            json!({ "hex": hex::encode(data), "text": text })
        }
        _ => json!({ "hex": hex::encode(data) }),
    }
}

/// Subject names of the certificates in PEM text.
fn certificate_subjects(pem: &str) -> Value {
    use x509_cert::der::DecodePem;
    let subjects = pem
        .split_inclusive("-----END CERTIFICATE-----")
        .filter(|block| block.contains("-----BEGIN CERTIFICATE-----"))
        .map(|block| match x509_cert::Certificate::from_pem(block.trim_start()) {
            Ok(cert) => Value::from(cert.tbs_certificate.subject.to_string()),
            Err(err) => Value::from(format!("(unreadable certificate: {err})")),
        })
        .collect();
    Value::Array(subjects)
}

/// Stable identifiers for the encodings, for JSON.
fn kind_id(kind: &EvidenceKind) -> &'static str {
    match kind {
        EvidenceKind::Bundle => "cvm-attest-evidence",
        EvidenceKind::CocoSnp => "coco-az-snp-vtpm",
        EvidenceKind::CocoTdx => "coco-az-tdx-vtpm",
        EvidenceKind::Maa(MaaRequest::AzureGuest) => "maa-azure-guest",
        EvidenceKind::Maa(MaaRequest::SevSnpVm) => "maa-sev-snp-vm",
        EvidenceKind::Maa(MaaRequest::TdxVm) => "maa-tdx-vm",
        EvidenceKind::HclReport => "hcl-report",
        EvidenceKind::SnpReport => "snp-report",
        EvidenceKind::TdQuote => "td-quote",
        EvidenceKind::Unknown { .. } => "unknown",
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Evidence file: {}", self.kind)?;
        let width = self.sections.iter().flat_map(|s| &s.fields).map(|(k, _)| k.len()).max().unwrap_or(0);
        for section in &self.sections {
            writeln!(f, "\n{}", section.title)?;
            for (key, value) in &section.fields {
                let label = key.replace('_', " ");
                match value {
                    // A table (the PCRs): one line per entry.
                    Value::Object(map) if !map.contains_key("hex") => {
                        writeln!(f, "  {label}")?;
                        let mut rows: Vec<_> = map.iter().collect();
                        rows.sort_by_key(|(k, _)| (k.parse::<u32>().ok(), k.as_str()));
                        for (k, v) in rows {
                            writeln!(f, "  {k:>width$}  {}", text(v))?;
                        }
                    }
                    _ => writeln!(f, "  {label:width$}  {}", text(value))?,
                }
            }
        }
        if !self.checks.is_empty() {
            writeln!(f, "\nConsistency (no signatures checked; `cvm-attest verify` appraises)")?;
            for check in &self.checks {
                let mark = if check.holds { "ok  " } else { "FAIL" };
                writeln!(f, "  {mark}  {:24}  {}", check.name, check.detail)?;
            }
        }
        Ok(())
    }
}

/// A JSON value as one line of text.
fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
        Value::Object(map) => match (map.get("hex"), map.get("text")) {
            (Some(hex), Some(Value::String(text))) => format!("{text:?} ({})", self::text(hex)),
            (Some(hex), None) => self::text(hex),
            _ => map.iter().map(|(k, v)| format!("{k} {}", self::text(v))).collect::<Vec<_>>().join(", "),
        },
        other => other.to_string(),
    }
}
