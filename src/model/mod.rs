//! Trained candle networks: layers, the 2D MLP and the image U-Net, weights
//! files, and training. Knows the engine (`diffusion`), never the UI.

pub mod activation;
pub mod classifier;
pub mod config;
pub mod conv;
pub mod distill;
pub mod error;
pub mod flops;
mod fused;
pub mod hvae;
pub mod kernels;
pub mod layers;
pub mod mlp;
pub mod network;
mod noise_path;
pub mod optim;
pub mod params;
pub mod quality;
mod resblock;
pub mod shipped;
pub mod tensor_ops;
#[cfg(test)]
mod test_support;
pub mod timestep_sampler;
pub mod train;
pub mod unet;
mod unet_training;
pub mod vae;
pub mod vdm;
mod winograd;

pub use config::{Architecture, MlpConfig, ModelConfig, UnetConfig};
pub use error::{Error, Result};
pub use network::{Network, TrainedModel};
