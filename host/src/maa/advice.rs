//! What to do when MAA's attestation policy refuses a claim: MAA names the claim and its value
//! (`innererror.details`, code `PolicyFailureClaim`); this says, in plain words, what in the VM it
//! reports and how to change it. The shared instances' policy refuses a CVM whose Secure Boot is off
//! (docs/protocol.md §10.5); a custom instance's policy may refuse any claim, hence the general
//! advice for the rest.

/// Advice for a policy failure on `claim` (a claim name, as MAA's `target` gives it).
pub fn for_claim(claim: &str) -> String {
    let known = match claim {
        "secureboot" => Some(
            "Secure Boot is off in this VM: turn it on (Azure portal: the VM's Configuration, Security \
             type, Enable secure boot; or `az vm update --enable-secure-boot true` while the VM is \
             deallocated), start the VM and attest again",
        ),
        "x-ms-azurevm-dbvalidated"
        | "x-ms-azurevm-dbxvalidated"
        | "x-ms-azurevm-default-securebootkeysvalidated" => Some(
            "The VM's Secure Boot databases (db, dbx, the default keys) are not what the policy accepts: \
             restore the default Secure Boot keys, install the OS's dbx update, reboot and attest again",
        ),
        "x-ms-azurevm-bootdebug-enabled"
        | "x-ms-azurevm-kerneldebug-enabled"
        | "x-ms-azurevm-hypervisordebug-enabled"
        | "x-ms-azurevm-debuggersdisabled" => Some(
            "Debugging is enabled in the VM's boot configuration: turn it off (Windows: `bcdedit /debug \
             off`, `bcdedit /bootdebug off`, `bcdedit /set hypervisordebug off`), reboot and attest again",
        ),
        "x-ms-azurevm-testsigning-enabled"
        | "x-ms-azurevm-flightsigning-enabled"
        | "x-ms-azurevm-signingdisabled" => Some(
            "The VM boots with test or flight signing, or with integrity checks off: turn test and \
             flight signing off and integrity checks on (Windows: `bcdedit /set testsigning off`, \
             `bcdedit /set flightsigning off`, `bcdedit /set nointegritychecks off`), reboot and attest \
             again",
        ),
        "x-ms-sevsnpvm-is-debuggable" | "x-ms-compliance-status" => Some(
            "The hardware does not vouch for a production confidential VM (a debuggable or non-compliant \
             guest), and no setting inside the VM changes that: run the workload on an Azure \
             confidential VM size (such as DCasv5 or DCasv6 for SEV-SNP, DCesv5 for TDX)",
        ),
        _ => None,
    };
    known.map(str::to_owned).unwrap_or_else(|| {
        format!(
            "The attestation policy of this MAA instance refuses {claim}: change what that claim reports \
             in the VM, or have the instance's owner change its policy (`cvm-attest attest -o explain` \
             says what each claim means)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_fix_for_known_claims_and_the_claim_for_others() {
        assert!(for_claim("secureboot").contains("turn it on"));
        assert!(for_claim("x-ms-azurevm-dbxvalidated").contains("dbx update"));
        assert!(for_claim("x-ms-azurevm-kerneldebug-enabled").contains("bcdedit /debug off"));
        assert!(for_claim("x-ms-azurevm-signingdisabled").contains("nointegritychecks off"));
        assert!(for_claim("x-ms-azurevm-testsigning-enabled").contains("testsigning off"));
        let other = for_claim("x-ms-custom-claim");
        assert!(other.contains("refuses x-ms-custom-claim"), "{other}");
    }
}
