//! The model layer's error type.

/// An error from building, loading, saving or training a network.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A weights or checkpoint file is missing, corrupt or does not fit the network.
    #[error("{path}: {reason}")]
    Weights {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A configuration value is out of range or inconsistent.
    #[error("{0}")]
    Config(String),
    /// A data set could not be used.
    #[error("{0}")]
    Data(String),
    /// An engine error (schedules, predictions).
    #[error(transparent)]
    Diffusion(#[from] crate::diffusion::Error),
    /// A tensor operation failed.
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
}

/// Shorthand for results of the model layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Builds an [`Error::Weights`].
pub(crate) fn weights_error(path: &std::path::Path, reason: impl Into<String>) -> Error {
    Error::Weights {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}
