//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod soak;
pub mod window;

use candle_core::{Device, Tensor};
use noisescope::diffusion::denoiser::{Denoiser, DenoiserOutput, Labels, NoiseLevel};
use noisescope::diffusion::mixture::GaussianMixture;
use noisescope::diffusion::{Prediction, PredictionType, Result};

/// The diffusers tables printed by `tests/reference/diffusers_tables.py`.
pub fn reference() -> serde_json::Value {
    let text = include_str!("../data/diffusers_reference.json");
    serde_json::from_str(text).expect("reference JSON parses")
}

/// A JSON array of numbers as f64.
pub fn floats(value: &serde_json::Value) -> Vec<f64> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_f64().expect("a number"))
        .collect()
}

/// A JSON array of integers as usize.
pub fn ints(value: &serde_json::Value) -> Vec<usize> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_u64().expect("an integer") as usize)
        .collect()
}

/// A `[1, n]` f32 tensor.
pub fn row(values: &[f64]) -> Tensor {
    let v: Vec<f32> = values.iter().map(|x| *x as f32).collect();
    Tensor::from_vec(v, (1, values.len()), &Device::Cpu).unwrap()
}

/// The first row of a tensor as f64.
pub fn first_row(x: &Tensor) -> Vec<f64> {
    x.flatten_all()
        .unwrap()
        .to_dtype(candle_core::DType::F64)
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// The largest absolute difference.
pub fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// The reference script's "model": ε̂ = 0.5 x + c.
pub struct AffineEps {
    pub offset: Tensor,
}

impl Denoiser for AffineEps {
    fn prediction_type(&self) -> PredictionType {
        PredictionType::Epsilon
    }

    fn predict(&self, x_t: &Tensor, _level: NoiseLevel, _labels: Labels<'_>) -> Result<DenoiserOutput> {
        let eps = (x_t * 0.5)?.broadcast_add(&self.offset)?;
        Ok(DenoiserOutput::new(Prediction::new(PredictionType::Epsilon, eps)))
    }
}

/// The shipped three-blob mixture (weights 0.7 / 0.2 / 0.1).
pub fn three_blobs() -> GaussianMixture {
    std::sync::Arc::unwrap_or_clone(noisescope::assets::three_blobs().unwrap())
}

/// Per component of `mixture`: the fraction of `samples` closest to it (by
/// responsibility under the clean mixture) and their standard deviation
/// (pooled over dimensions).
pub fn weights_and_spreads(mixture: &GaussianMixture, samples: &Tensor) -> (Vec<f64>, Vec<f64>) {
    let r: Vec<Vec<f64>> = mixture.responsibilities(samples, 1.0).unwrap().to_vec2().unwrap();
    let points: Vec<Vec<f32>> = samples.to_vec2().unwrap();
    let k = mixture.components().len();
    let mut members: Vec<Vec<&Vec<f32>>> = vec![Vec::new(); k];
    for (p, resp) in points.iter().zip(&r) {
        let best = (0..k).max_by(|a, b| resp[*a].total_cmp(&resp[*b])).unwrap();
        members[best].push(p);
    }
    let n = points.len() as f64;
    let weights = members.iter().map(|m| m.len() as f64 / n).collect();
    let spreads = members
        .iter()
        .enumerate()
        .map(|(c, m)| {
            let mean = &mixture.components()[c].mean;
            let count = (m.len() * mean.len()).max(1) as f64;
            let sum_sq: f64 = m
                .iter()
                .flat_map(|p| p.iter().zip(mean).map(|(x, mu)| (f64::from(*x) - mu).powi(2)))
                .sum();
            (sum_sq / count).sqrt()
        })
        .collect();
    (weights, spreads)
}

/// A path named `name` in this test process's own scratch folder `noisescope-{suite}-{pid}`.
pub fn scratch(suite: &str, name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("noisescope-{suite}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The largest absolute difference between two tensors of one shape (any float dtype).
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    let b = b.to_dtype(a.dtype()).unwrap();
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_dtype(candle_core::DType::F32)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// ᾱ_t of the linear schedule (β from 1e-4 to 0.02 over T = 1000), from Ho et al.'s definition.
pub fn linear_alpha_bar(t: usize) -> f64 {
    (1..=t)
        .map(|i| 1.0 - (1e-4 + (0.02 - 1e-4) * (i - 1) as f64 / 999.0))
        .product()
}
