//! The arithmetic of one forward pass, counted from the architecture: what
//! `bench --model` divides its timings by to report GFLOP/s.
//!
//! The convention is PyTorch's `FlopCounterMode`: every matrix product and
//! convolution costs 2 operations per multiply-add, and element-wise work
//! (group norm, SiLU, softmax, pooling, the additions) is not counted. A
//! training step is counted as three forward passes (the backward pass costs
//! two: the gradients of the inputs and of the weights), the usual estimate.

use super::config::{Architecture, UnetConfig};
use super::network::TrainedModel;

/// Operations of one forward pass of one sample.
///
/// Every weight matrix `[rows, cols]` costs `2 · rows · cols` at every
/// position it is applied to: each pixel of its resolution for the U-Net's
/// convolutions (stored as `[9 · c_in, c_out]`) and skip projections, once
/// per sample for the embeddings and the MLP. Self-attention adds its two
/// token-by-token products, 2 · 2 · n² · c for n tokens of c channels.
#[must_use]
pub fn forward_flops_per_sample(model: &TrainedModel) -> u64 {
    let architecture = model.config().architecture;
    let weights: u64 = model
        .params()
        .vars()
        .iter()
        .filter(|(name, _)| name.ends_with(".weight"))
        .map(|(name, var)| {
            let matrix = var.elem_count() as u64;
            2 * matrix * positions(name, &architecture)
        })
        .sum();
    weights + attention_products(&architecture)
}

/// How many positions a weight matrix is applied at, per sample.
fn positions(name: &str, architecture: &Architecture) -> u64 {
    let Architecture::Unet(unet) = architecture else {
        return 1;
    };
    if !name.starts_with("unet.") || name.ends_with(".embedding.weight") {
        return 1;
    }
    let full = unet.image_size as u64;
    let side = if ["unet.input.", "unet.output.", "unet.down.0.", "unet.up.0."]
        .iter()
        .any(|prefix| name.starts_with(prefix))
    {
        full
    } else if name.starts_with("unet.down.1.") || name.starts_with("unet.up.1.") {
        full / 2
    } else {
        // The third level, the middle block and the attention: 1/4.
        full / 4
    };
    side * side
}

/// Attention's Q·Kᵀ and weights·V, per sample, for both attention blocks.
fn attention_products(architecture: &Architecture) -> u64 {
    match architecture {
        Architecture::Unet(UnetConfig {
            attention: true,
            image_size,
            channels,
            ..
        }) => {
            let tokens = (image_size / 4).pow(2) as u64;
            let width = 2 * *channels as u64;
            let blocks = 2;
            blocks * 2 * (2 * tokens * tokens * width)
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_unet_costs_what_pytorchs_flop_counter_counts() {
        // `python tests/reference/torch_model.py flops assets/models/fashion-mnist.safetensors`
        // (PyTorch 2's FlopCounterMode on the independent PyTorch twin) printed
        // 192145920; tests/torch_crosscheck.rs reruns it where torch is installed.
        let model = crate::model::shipped::fashion_mnist().unwrap();
        assert_eq!(forward_flops_per_sample(&model), 192_145_920);
    }
}
