//! The paravisor's HCL report builder: for the current report user data, the runtime claims JSON
//! (the vTPM's AK and EK, the VM's configuration and ID, the user data), a hardware report whose
//! report_data is SHA-256 of exactly those bytes, and the HCL report around both — what Azure's
//! paravisor does on a write to NV `0x01400002`.

use crate::hcl::{self, HardwareReportKind, RsaPublic, RuntimeClaims};
use crate::paravisor::USER_DATA_LEN;
use crate::{snp, tdx};

use super::Tee;

/// RTMR0-3 of the simulated TD: fixed, non-zero (the firmware, OS loader and OS extend them on a real
/// TD), and nothing checks their values.
const RTMRS: [[u8; 48]; 4] = [[0x10; 48], [0x21; 48], [0x32; 48], [0; 48]];

/// Everything the reports of one CVM share; only the user data changes between them.
#[derive(Debug, Clone)]
pub(super) struct ReportBuilder {
    pub tee: Tee,
    pub ak: RsaPublic,
    pub ek: RsaPublic,
    pub vm_unique_id: String,
    /// The SNP launch measurement, or the TD's MRTD.
    pub measurement: [u8; 48],
    pub secure_boot: bool,
}

impl ReportBuilder {
    /// The HCL report for `user_data`.
    pub fn hcl_report(&self, user_data: &[u8; USER_DATA_LEN]) -> Vec<u8> {
        let claims = RuntimeClaims {
            ak: self.ak.clone(),
            ek: self.ek.clone(),
            vm_unique_id: self.vm_unique_id.clone(),
            secure_boot: self.secure_boot,
            user_data: *user_data,
        }
        .to_json();
        let report_data = hcl::report_data(&claims);
        let (kind, hardware_report) = match self.tee {
            Tee::Snp => (HardwareReportKind::Snp, snp::snp_report(report_data, self.measurement)),
            Tee::Tdx => (HardwareReportKind::Tdx, tdx::td_report(report_data, self.measurement, RTMRS)),
        };
        hcl::hcl_report(kind, &claims, &hardware_report)
    }
}
