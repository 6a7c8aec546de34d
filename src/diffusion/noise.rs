//! The explicit, seeded random number generator.
//!
//! Every stochastic function of the engine takes a `&mut NoiseRng`; nothing
//! draws from a hidden global source (candle's own `randn` does, so it is not
//! used). ChaCha8 gives the same stream on every platform, so a seed names a
//! run on any machine.

use candle_core::{Device, Shape, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::error::Result;

/// A seeded source of Gaussian and uniform noise.
#[derive(Clone, Debug)]
pub struct NoiseRng {
    rng: ChaCha8Rng,
}

impl NoiseRng {
    /// The generator for `seed`; equal seeds give equal streams.
    #[must_use]
    pub fn seed_from(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// One draw from N(0, 1).
    pub fn normal(&mut self) -> f64 {
        self.rng.sample(StandardNormal)
    }

    /// One draw from U[0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    /// `n` draws from N(0, 1) as f32.
    pub fn normal_vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.rng.sample::<f32, _>(StandardNormal)).collect()
    }

    /// A tensor of i.i.d. N(0, 1) f32 noise.
    ///
    /// # Errors
    /// Only if candle cannot allocate the tensor.
    pub fn randn(&mut self, shape: impl Into<Shape>, device: &Device) -> Result<Tensor> {
        let shape = shape.into();
        let values = self.normal_vec(shape.elem_count());
        Ok(Tensor::from_vec(values, shape, device)?)
    }

    /// Gaussian noise shaped like `like` (same dtype and device).
    ///
    /// # Errors
    /// Only if candle cannot allocate or convert the tensor.
    pub fn randn_like(&mut self, like: &Tensor) -> Result<Tensor> {
        Ok(self.randn(like.shape(), like.device())?.to_dtype(like.dtype())?)
    }

    /// An index drawn with probability proportional to `weights` (all ≥ 0, sum > 0).
    pub fn categorical(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut target = self.uniform() * total;
        for (i, w) in weights.iter().enumerate() {
            if target < *w {
                return i;
            }
            target -= w;
        }
        weights.len().saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_seeds_give_equal_noise() {
        let a = NoiseRng::seed_from(7).normal_vec(5);
        let b = NoiseRng::seed_from(7).normal_vec(5);
        let c = NoiseRng::seed_from(8).normal_vec(5);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
