//! A figure's setup from the command line: `--set KEY=VALUE` for each of its
//! fields, parsed by the field's own `FromStr`.

use std::fmt::Display;
use std::str::FromStr;

use super::error::{FigureError, Result};

/// One setting of a figure, for `figure --list` and the figure's text file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupKey {
    /// Its name on the command line (`zero-terminal-snr`).
    pub key: &'static str,
    /// Its value now.
    pub value: String,
    /// What it changes.
    pub help: &'static str,
}

/// A figure's setup: plain `Clone` data with named, settable fields.
pub trait FigureSetup: Clone + Default + Send + 'static {
    /// Every setting with its current value.
    fn keys(&self) -> Vec<SetupKey>;

    /// Sets `key` from its text.
    ///
    /// # Errors
    /// An unknown key, or a value that does not parse.
    fn set(&mut self, key: &str, value: &str) -> Result<()>;
}

/// `value` parsed as the type of `key`'s field.
///
/// # Errors
/// [`FigureError::BadValue`] with the parser's reason.
pub fn parse_value<T: FromStr>(key: &str, value: &str) -> Result<T>
where
    T::Err: Display,
{
    value
        .parse()
        .map_err(|e: T::Err| FigureError::bad_value(key, value, e.to_string()))
}

/// Implements [`FigureSetup`] for a struct: each field with its key and help.
/// An unknown key's error names no figure: [`crate::figures::figure`], which
/// knows the id, fills it in.
macro_rules! figure_setup {
    ($ty:ty, { $($field:ident => $key:literal : $help:literal),* $(,)? }) => {
        impl $crate::figures::setup::FigureSetup for $ty {
            fn keys(&self) -> Vec<$crate::figures::setup::SetupKey> {
                vec![$($crate::figures::setup::SetupKey {
                    key: $key,
                    value: self.$field.to_string(),
                    help: $help,
                }),*]
            }

            fn set(&mut self, key: &str, value: &str) -> $crate::figures::error::Result<()> {
                match key {
                    $($key => self.$field = $crate::figures::setup::parse_value(key, value)?,)*
                    _ => {
                        return Err($crate::figures::error::FigureError::UnknownKey {
                            figure: "",
                            key: key.into(),
                            known: [$($key),*].join(", "),
                        })
                    }
                }
                Ok(())
            }
        }
    };
}

/// A setup with each `(key, value)` applied in order.
///
/// # Errors
/// The first key that is unknown or value that does not parse.
pub fn apply<S: FigureSetup>(settings: &[(String, String)]) -> Result<S> {
    let mut setup = S::default();
    for (key, value) in settings {
        setup.set(key, value)?;
    }
    Ok(setup)
}

/// The setup of a figure that trains a model: how long, and the seed.
/// `STEPS` and `SEED` are its defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Training<const STEPS: usize, const SEED: u64> {
    /// Training steps (batches of 256).
    pub steps: usize,
    /// The training run's seed.
    pub seed: u64,
}

impl<const STEPS: usize, const SEED: u64> Default for Training<STEPS, SEED> {
    /// `STEPS` steps from seed `SEED`.
    fn default() -> Self {
        Self {
            steps: STEPS,
            seed: SEED,
        }
    }
}

impl<const STEPS: usize, const SEED: u64> FigureSetup for Training<STEPS, SEED> {
    fn keys(&self) -> Vec<SetupKey> {
        vec![
            SetupKey {
                key: "steps",
                value: self.steps.to_string(),
                help: "training steps (batches of 256)",
            },
            SetupKey {
                key: "seed",
                value: self.seed.to_string(),
                help: "the training run's seed",
            },
        ]
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        match key {
            "steps" => self.steps = parse_value(key, value)?,
            "seed" => self.seed = parse_value(key, value)?,
            _ => {
                return Err(FigureError::UnknownKey {
                    figure: "",
                    key: key.into(),
                    known: "steps, seed".into(),
                });
            }
        }
        Ok(())
    }
}
