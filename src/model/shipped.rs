//! The default image models, compiled into the binary: the explorer opens on
//! them from any directory, and nothing is ever downloaded.
//!
//! Both were trained by `noisescope train` (the commands and their figures are
//! in the README); their safetensors metadata records the rest.

use std::path::Path;

use super::error::Result;
use super::network::TrainedModel;
use super::params::parse_safetensors;
use crate::assets::Asset;

/// Which shipped Fashion-MNIST U-Net.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ShippedImageModel {
    /// The DDPM objective, ε-prediction (the default everywhere).
    #[default]
    Epsilon,
    /// Flow matching on x_τ = (1 − τ) x_0 + τ ε, velocity prediction; it
    /// samples with every sampler through the conversion to ε.
    Flow,
}

named_enum!(ShippedImageModel, "shipped model", [Epsilon => "unet", Flow => "flow-unet"]);

impl ShippedImageModel {
    /// The compiled-in file.
    #[must_use]
    pub fn asset(self) -> Asset {
        match self {
            Self::Epsilon => crate::assets::FASHION_MNIST_MODEL,
            Self::Flow => crate::assets::FASHION_MNIST_FLOW_MODEL,
        }
    }

    /// The model, parsed.
    ///
    /// # Errors
    /// Only if the embedded file is broken (a build problem, reported by name).
    pub fn load(self) -> Result<TrainedModel> {
        let shipped = self.asset();
        let path = Path::new(shipped.path);
        let (tensors, metadata) = parse_safetensors(shipped.bytes, path)?;
        TrainedModel::from_parts(tensors, &metadata, path)
    }
}

/// The shipped class-conditional Fashion-MNIST U-Net (ε-prediction).
///
/// # Errors
/// Only if the embedded file is broken (a build problem, reported by name).
pub fn fashion_mnist() -> Result<TrainedModel> {
    ShippedImageModel::Epsilon.load()
}
