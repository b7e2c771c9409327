//! Host bindings for the `cvm-attest:plugin@0.1.1` worlds, generated once and re-exported selectively.
//!
//! The three worlds share `types`, `log` and `crypto`: the first `bindgen!` generates them and the others reuse
//! them, so a `Verdict` is one type whichever world produced it. When 0.2 exists it gets its own module
//! here, and the 0.1 worlds stay, so the host keeps serving 0.1 plugins.

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit/plugin@0.1",
        world: "claim-check",
        additional_derives: [PartialEq],
    });

    pub mod output_format {
        wasmtime::component::bindgen!({
            path: "../wit/plugin@0.1",
            world: "output-format",
            with: {
                "cvm-attest:plugin/types": super::cvm_attest::plugin::types,
                "cvm-attest:plugin/log": super::cvm_attest::plugin::log,
                "cvm-attest:plugin/crypto": super::cvm_attest::plugin::crypto,
            },
        });
    }

    pub mod verifier {
        wasmtime::component::bindgen!({
            path: "../wit/plugin@0.1",
            world: "verifier",
            with: {
                "cvm-attest:plugin/types": super::cvm_attest::plugin::types,
                "cvm-attest:plugin/log": super::cvm_attest::plugin::log,
                "cvm-attest:plugin/crypto": super::cvm_attest::plugin::crypto,
            },
        });
    }
}

pub(crate) use generated::ClaimCheckPre;
pub(crate) use generated::cvm_attest::plugin::{crypto, log};
pub(crate) use generated::output_format::OutputFormatPre;
pub(crate) use generated::verifier::VerifierPre;

/// The WIT types plugins exchange with the host.
pub mod types {
    pub use super::generated::cvm_attest::plugin::types::*;
}
