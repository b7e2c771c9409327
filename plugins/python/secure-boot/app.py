"""py-secure-boot: the claim check of plugins/tests/secure-boot, written in Python.

Secure boot must be on: pass when the claim `/secureboot` is JSON `true`, otherwise fail with one
finding at `/secureboot`. It takes no configuration. Built into a component by componentize-py
against wit/plugin@0.1 (world `claim-check`): see README.md and scripts/build-python-plugin.sh.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import (
    EvalContext,
    Finding,
    PluginError_InvalidConfig,
    PluginError_InvalidInput,
    PluginInfo,
    PluginKind,
    Verdict,
    Verdict_Fail,
    Verdict_Pass,
)

NAME = "py-secure-boot"
VERSION = "0.1.0"
# The version of the cvm-attest:plugin WIT package this plugin is built against: the Rust SDK's
# API_VERSION (plugins/sdk/src/lib.rs).
API_VERSION = "0.1.1"


def _reject_constant(name: str) -> float:
    # JSON has no NaN or Infinity; Python's json module would accept them, serde_json does not.
    raise ValueError(f"{name} is not JSON")


def parse_claims(text: str) -> dict:
    """The claim set, a JSON object, as the Rust SDK's `Claims::parse` takes it."""
    try:
        claims = json.loads(text, parse_constant=_reject_constant)
    except ValueError as e:
        raise Err(PluginError_InvalidInput(f"claims are not valid JSON: {e}"))
    if not isinstance(claims, dict):
        raise Err(PluginError_InvalidInput("claims must be a JSON object"))
    return claims


class ClaimCheckApi(exports.ClaimCheckApi):
    def describe(self) -> PluginInfo:
        return PluginInfo(name=NAME, version=VERSION, kind=PluginKind.CLAIM_CHECK, api_version=API_VERSION)

    def validate_config(self, config: str) -> None:
        # Like the Rust SDK's `no_config`: nothing (or only whitespace) is accepted.
        if config.strip():
            raise Err(PluginError_InvalidConfig("this plugin takes no configuration"))

    def check(self, ctx: EvalContext, claims: str) -> Verdict:
        # `is True`: JSON `1` is not `true` (in Python, 1 == True).
        if parse_claims(claims).get("secureboot") is True:
            return Verdict_Pass()
        return Verdict_Fail([Finding(code="secure-boot-off", message="secure boot is not on", claim_path="/secureboot")])
