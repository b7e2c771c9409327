//! vTPM: the quote and ephemeral key, checked against the AK the hardware report vouches for.
