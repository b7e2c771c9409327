# The eight rules of examples/checks/azure-cvm-baseline.json (claim-equals: every JSON Pointer must
# equal its value) as a Rego policy, for the regorus baseline of bench/side-by-side.sh. The input is
# the claim set (an MAA token's payload). `allow` is true only when all eight claims are present and
# equal; a missing claim leaves the body undefined, so `allow` falls back to false.
package cvm

default allow := false

allow if {
	input["x-ms-attestation-type"] == "azurevm"
	input.secureboot == true
	input["x-ms-isolation-tee"]["x-ms-attestation-type"] == "sevsnpvm"
	input["x-ms-isolation-tee"]["x-ms-compliance-status"] == "azure-compliant-cvm"
	input["x-ms-isolation-tee"]["x-ms-sevsnpvm-is-debuggable"] == false
	input["x-ms-azurevm-kerneldebug-enabled"] == false
	input["x-ms-azurevm-bootdebug-enabled"] == false
	input["x-ms-azurevm-testsigning-enabled"] == false
}
