use std::fmt;

/// Why a kernel refused its arguments. Each kind is a distinct Python class
/// in the bindings (subclasses of `cohortd.errors.KernelError`), so callers
/// can tell a caller bug in the column layout from a bad id or parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelError {
    /// Column parts that do not fit together: different numbers of parts,
    /// or parts of one column pair with different lengths
    /// (`cohortd.errors.KernelPartsError`).
    Parts(String),
    /// An id (user, event type, matrix row or column) past the end of the
    /// table it indexes (`cohortd.errors.KernelRangeError`).
    OutOfRange(String),
    /// A parameter outside its domain: a non-positive period, zero depth,
    /// no steps, an unknown function name, unreadable bitmap bytes
    /// (`cohortd.errors.KernelArgumentError`).
    Argument(String),
}

impl KernelError {
    /// The message, without the kind.
    pub fn message(&self) -> &str {
        match self {
            KernelError::Parts(m) | KernelError::OutOfRange(m) | KernelError::Argument(m) => m,
        }
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for KernelError {}

pub type Result<T> = std::result::Result<T, KernelError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_the_message_of_each_kind() {
        for e in [
            KernelError::Parts("p".into()),
            KernelError::OutOfRange("p".into()),
            KernelError::Argument("p".into()),
        ] {
            assert_eq!(e.to_string(), "p");
            assert_eq!(e.message(), "p");
        }
    }
}
