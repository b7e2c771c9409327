//! SEV-SNP: VCEK chain to the pinned AMD roots, chip id, TCB, report signature, guest policy.
