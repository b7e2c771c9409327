//! TDX: TD quote and QE report signatures, QE binding, PCK chain to the Intel root, and the quote's
//! agreement with the HCL TD report.
