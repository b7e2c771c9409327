//! Claims in MAA's shape, from appraised evidence.
