//! The default image model, compiled into the binary: the explorer opens on it
//! from any directory, and nothing is ever downloaded.
//!
//! It was trained by `noisescope train` (the command and its figures are in
//! the README); its safetensors metadata records the rest.

use std::path::Path;

use super::error::Result;
use super::network::TrainedModel;
use super::params::parse_safetensors;

/// Where the default model lives in the repository.
pub const FASHION_MNIST_PATH: &str = "assets/models/fashion-mnist.safetensors";

const FASHION_MNIST_BYTES: &[u8] = include_bytes!("../../assets/models/fashion-mnist.safetensors");

/// The shipped class-conditional Fashion-MNIST U-Net.
///
/// # Errors
/// Only if the embedded file is broken (a build problem, reported by name).
pub fn fashion_mnist() -> Result<TrainedModel> {
    let path = Path::new(FASHION_MNIST_PATH);
    let (tensors, metadata) = parse_safetensors(FASHION_MNIST_BYTES, path)?;
    TrainedModel::from_parts(tensors, &metadata, path)
}
