//! Helpers shared by the spec tests.

use std::path::PathBuf;

/// `../shared/conformance/...` relative to the repository root.
pub fn conformance(relative: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..");
    root.join("shared/conformance").join(relative)
}

/// `examples/...` relative to the repository root.
#[allow(dead_code)] // for the native-format tests
pub fn example(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(relative)
}
