//! Helpers shared by the test modules.

use std::sync::Arc;

use proptest::prelude::*;

/// Inputs a byte's edit away from `fixture`, for parsers that must never panic: one byte replaced
/// by any value, the fixture cut short at any length (including empty), or 1 to 7 random bytes
/// inserted at any position. `fixture` must not be empty.
pub fn byte_mutations(fixture: impl Into<Arc<[u8]>>) -> impl Strategy<Value = Vec<u8>> {
    let fixture: Arc<[u8]> = fixture.into();
    let len = fixture.len();
    let (replaced, cut, inserted) = (Arc::clone(&fixture), Arc::clone(&fixture), fixture);
    prop_oneof![
        (0..len, any::<u8>()).prop_map(move |(i, byte)| {
            let mut v = replaced.to_vec();
            v[i] = byte;
            v
        }),
        (0..len).prop_map(move |n| cut[..n].to_vec()),
        (0..len, proptest::collection::vec(any::<u8>(), 1..8)).prop_map(move |(i, extra)| {
            let mut v = inserted.to_vec();
            v.splice(i..i, extra);
            v
        }),
    ]
}
