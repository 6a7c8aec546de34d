//! What a network is: its architecture, output and training schedule.
//!
//! A weights file carries this config in its safetensors metadata as flat,
//! human-readable `key = value` strings (`architecture = unet`,
//! `unet.channels = 32`, `prediction = epsilon`, ...), so any safetensors
//! viewer shows what the file is, and loading never guesses.

use std::collections::HashMap;
use std::str::FromStr;

use super::error::{Error, Result};
use crate::diffusion::{PredictionType, ScheduleConfig, ScheduleKind};

/// A small class-conditional U-Net for square images (DDPM's design, shrunk).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnetConfig {
    /// Side of the square input in pixels (divisible by 4).
    pub image_size: usize,
    /// Channels of the input image (1: grey).
    pub image_channels: usize,
    /// Channels at full resolution; twice this at 1/2 and 1/4.
    pub channels: usize,
    /// Groups of every group norm (divides `channels`).
    pub groups: usize,
    /// Self-attention at the 1/4 resolution (7×7 for 28×28).
    pub attention: bool,
}

impl Default for UnetConfig {
    fn default() -> Self {
        Self {
            image_size: 28,
            image_channels: 1,
            channels: 32,
            groups: 8,
            attention: true,
        }
    }
}

/// An MLP for points in a few dimensions (2D toys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MlpConfig {
    /// Dimensions of a data point.
    pub dims: usize,
    /// Width of the hidden layers.
    pub hidden: usize,
    /// Number of hidden layers.
    pub layers: usize,
}

impl Default for MlpConfig {
    fn default() -> Self {
        Self {
            dims: 2,
            hidden: 128,
            layers: 3,
        }
    }
}

/// The network family and its shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Architecture {
    /// [`MlpConfig`].
    Mlp(MlpConfig),
    /// [`UnetConfig`].
    Unet(UnetConfig),
}

impl Default for Architecture {
    fn default() -> Self {
        Self::Unet(UnetConfig::default())
    }
}

/// Everything needed to rebuild a network and use its output.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct ModelConfig {
    /// The network.
    pub architecture: Architecture,
    /// Classes it can condition on (0: unconditional); index `classes` is the
    /// null class of classifier-free guidance.
    pub classes: usize,
    /// What the network's output means.
    pub prediction: PredictionType,
    /// Whether a second output interpolates log β_t and log β̃_t (Improved DDPM).
    pub learned_variance: bool,
    /// The schedule it was trained on (samplers must use the same).
    pub schedule: ScheduleConfig,
}

impl ModelConfig {
    /// Dimensions of one sample, flattened (784 for 28×28 grey).
    #[must_use]
    pub fn sample_dims(&self) -> usize {
        match self.architecture {
            Architecture::Mlp(mlp) => mlp.dims,
            Architecture::Unet(unet) => unet.image_size * unet.image_size * unet.image_channels,
        }
    }

    /// Checks sizes that would otherwise fail deep inside a forward pass.
    ///
    /// # Errors
    /// [`Error::Config`] naming the bad value.
    pub fn validate(&self) -> Result<()> {
        match self.architecture {
            Architecture::Mlp(mlp) if mlp.dims == 0 || mlp.hidden == 0 || mlp.layers == 0 => Err(Error::Config(
                "MLP dims, hidden width and layers must be positive".into(),
            )),
            Architecture::Unet(unet) if unet.image_size == 0 || unet.image_size % 4 != 0 => {
                Err(Error::Config(format!(
                    "U-Net image size must be a positive multiple of 4, got {}",
                    unet.image_size
                )))
            }
            Architecture::Unet(unet) if unet.groups == 0 || unet.channels == 0 || unet.channels % unet.groups != 0 => {
                Err(Error::Config(format!(
                    "U-Net channels ({}) must be a positive multiple of the group count ({})",
                    unet.channels, unet.groups
                )))
            }
            _ if self.prediction == PredictionType::Score => Err(Error::Config(
                "networks are trained to predict epsilon, x0 or v, not the score".into(),
            )),
            _ => Ok(()),
        }
    }

    /// The config as flat metadata strings.
    #[must_use]
    pub fn to_metadata(&self) -> HashMap<String, String> {
        let mut meta = HashMap::new();
        let mut put = |k: &str, v: String| meta.insert(k.to_owned(), v);
        match self.architecture {
            Architecture::Mlp(mlp) => {
                put("architecture", "mlp".into());
                put("mlp.dims", mlp.dims.to_string());
                put("mlp.hidden", mlp.hidden.to_string());
                put("mlp.layers", mlp.layers.to_string());
            }
            Architecture::Unet(unet) => {
                put("architecture", "unet".into());
                put("unet.image_size", unet.image_size.to_string());
                put("unet.image_channels", unet.image_channels.to_string());
                put("unet.channels", unet.channels.to_string());
                put("unet.groups", unet.groups.to_string());
                put("unet.attention", unet.attention.to_string());
            }
        }
        put("classes", self.classes.to_string());
        put("prediction", self.prediction.name().into());
        put("learned_variance", self.learned_variance.to_string());
        put("schedule", self.schedule.kind.name().into());
        put("schedule.train_steps", self.schedule.train_steps.to_string());
        if let Some(b) = self.schedule.beta_start {
            put("schedule.beta_start", b.to_string());
        }
        if let Some(b) = self.schedule.beta_end {
            put("schedule.beta_end", b.to_string());
        }
        put(
            "schedule.zero_terminal_snr",
            self.schedule.zero_terminal_snr.to_string(),
        );
        meta
    }

    /// Reads a config written by [`Self::to_metadata`].
    ///
    /// # Errors
    /// [`Error::Config`] naming the missing or unreadable key.
    pub fn from_metadata(meta: &HashMap<String, String>) -> Result<Self> {
        let reader = MetaReader(meta);
        let architecture = match reader.get::<String>("architecture")?.as_str() {
            "mlp" => Architecture::Mlp(MlpConfig {
                dims: reader.get("mlp.dims")?,
                hidden: reader.get("mlp.hidden")?,
                layers: reader.get("mlp.layers")?,
            }),
            "unet" => Architecture::Unet(UnetConfig {
                image_size: reader.get("unet.image_size")?,
                image_channels: reader.get("unet.image_channels")?,
                channels: reader.get("unet.channels")?,
                groups: reader.get("unet.groups")?,
                attention: reader.get("unet.attention")?,
            }),
            other => {
                return Err(Error::Config(format!(
                    "unknown architecture '{other}' (expected mlp or unet)"
                )));
            }
        };
        let config = Self {
            architecture,
            classes: reader.get("classes")?,
            prediction: reader.get("prediction")?,
            learned_variance: reader.get("learned_variance")?,
            schedule: ScheduleConfig {
                kind: reader.get::<ScheduleKind>("schedule")?,
                train_steps: reader.get("schedule.train_steps")?,
                beta_start: reader.optional("schedule.beta_start")?,
                beta_end: reader.optional("schedule.beta_end")?,
                zero_terminal_snr: reader.get("schedule.zero_terminal_snr")?,
            },
        };
        config.validate()?;
        Ok(config)
    }
}

/// Typed reads from string metadata, with errors naming the key.
pub(crate) struct MetaReader<'a>(pub &'a HashMap<String, String>);

impl MetaReader<'_> {
    pub(crate) fn optional<T: FromStr>(&self, key: &str) -> Result<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        self.0
            .get(key)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|e| Error::Config(format!("metadata '{key}' = '{v}': {e}")))
            })
            .transpose()
    }

    pub(crate) fn get<T: FromStr>(&self, key: &str) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        self.optional(key)?
            .ok_or_else(|| Error::Config(format!("metadata lacks '{key}'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips() {
        let config = ModelConfig {
            architecture: Architecture::Mlp(MlpConfig::default()),
            classes: 3,
            prediction: PredictionType::Velocity,
            learned_variance: true,
            schedule: ScheduleConfig {
                kind: ScheduleKind::Cosine,
                beta_end: Some(0.5),
                ..ScheduleConfig::default()
            },
        };
        assert_eq!(ModelConfig::from_metadata(&config.to_metadata()).unwrap(), config);
        let unet = ModelConfig::default();
        assert_eq!(ModelConfig::from_metadata(&unet.to_metadata()).unwrap(), unet);
    }

    #[test]
    fn missing_or_bad_keys_are_named() {
        let mut meta = ModelConfig::default().to_metadata();
        meta.insert("unet.channels".into(), "lots".into());
        let err = ModelConfig::from_metadata(&meta).unwrap_err().to_string();
        assert!(err.contains("unet.channels"), "{err}");
        meta.remove("prediction");
        meta.insert("unet.channels".into(), "32".into());
        assert_eq!(
            ModelConfig::from_metadata(&meta).unwrap_err().to_string(),
            "metadata lacks 'prediction'"
        );
    }
}
