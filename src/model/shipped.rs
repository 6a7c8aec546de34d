//! The default image model, compiled into the binary: the explorer opens on it
//! from any directory, and nothing is ever downloaded.
//!
//! It was trained by `noisescope train` (the command and its figures are in
//! the README); its safetensors metadata records the rest.

use std::path::Path;

use super::error::Result;
use super::network::TrainedModel;
use super::params::parse_safetensors;

/// The shipped class-conditional Fashion-MNIST U-Net.
///
/// # Errors
/// Only if the embedded file is broken (a build problem, reported by name).
pub fn fashion_mnist() -> Result<TrainedModel> {
    let shipped = crate::assets::FASHION_MNIST_MODEL;
    let path = Path::new(shipped.path);
    let (tensors, metadata) = parse_safetensors(shipped.bytes, path)?;
    TrainedModel::from_parts(tensors, &metadata, path)
}
