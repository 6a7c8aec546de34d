//! What can go wrong computing a figure.

/// A figure could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    /// The diffusion engine refused (a bad setting) or failed.
    #[error(transparent)]
    Diffusion(#[from] crate::diffusion::Error),
    /// A model could not be trained, loaded or run.
    #[error(transparent)]
    Model(#[from] crate::model::Error),
    /// A tensor operation failed.
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
    /// A data set could not be read.
    #[error(transparent)]
    Data(#[from] crate::data::idx::IdxError),
    /// The job was cancelled before it finished.
    #[error("cancelled")]
    Cancelled,
    /// A setup key that the figure does not have.
    #[error("{figure} has no setting '{key}' (it has: {known})")]
    UnknownKey {
        /// The figure's id.
        figure: &'static str,
        /// The key given.
        key: String,
        /// The keys it has.
        known: String,
    },
    /// A setup value that does not parse or is out of range.
    #[error("--set {key}={value}: {reason}")]
    BadValue {
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// Anything else, as a message.
    #[error("{0}")]
    Other(String),
}

impl FigureError {
    /// The error with `id` as the figure an unknown key was given to.
    #[must_use]
    pub fn in_figure(self, id: &'static str) -> Self {
        match self {
            Self::UnknownKey { key, known, .. } => Self::UnknownKey { figure: id, key, known },
            other => other,
        }
    }

    /// A value that is refused for `reason`.
    pub fn bad_value(key: &str, value: &str, reason: impl Into<String>) -> Self {
        Self::BadValue {
            key: key.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }
}

/// Shorthand for a figure's results.
pub type Result<T, E = FigureError> = std::result::Result<T, E>;

/// The one-line message a scene shows.
impl From<FigureError> for String {
    fn from(e: FigureError) -> Self {
        e.to_string()
    }
}
