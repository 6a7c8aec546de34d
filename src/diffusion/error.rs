//! The engine's error type: every failure names what was wrong.

/// An error from the diffusion engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is out of its valid range.
    #[error("{0}")]
    InvalidConfig(String),
    /// A mixture file could not be read or is malformed.
    #[error("{path}: {reason}")]
    MixtureFile {
        /// The file that failed.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The caller asked to stop before the work was done.
    #[error("cancelled")]
    Cancelled,
    /// A tensor operation failed (shape mismatch, dtype...).
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
}

/// Shorthand for results of the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Builds an [`Error::InvalidConfig`] from a message.
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidConfig(message.into())
}
