use std::fmt;

/// A kernel was called with inconsistent arguments (the bindings raise
/// `cohortd.errors.KernelError` with this message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelError(pub String);

impl KernelError {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        KernelError(msg.into())
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KernelError {}

pub type Result<T> = std::result::Result<T, KernelError>;
