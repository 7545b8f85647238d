//! cohortd-core: pure-Rust kernels.
pub fn version() -> &'static str { env!("CARGO_PKG_VERSION") }
