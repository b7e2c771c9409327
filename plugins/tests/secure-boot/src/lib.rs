//! The claim check `cvm-attest plugin new --kind check` makes, which the README shows: built and run
//! here so that all three stay one working plugin.

include!("../../../template/check.rs");
