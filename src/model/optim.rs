//! AdamW (Loshchilov & Hutter 2019) and an exponential moving average of the
//! weights, with their state in plain tensors so a checkpoint can hold it.
//!
//! candle-nn has an AdamW, but its moment estimates are private, so training
//! could not resume exactly after an interruption.

use std::collections::BTreeMap;

use candle_core::{Tensor, Var, backprop::GradStore};
use rayon::prelude::*;

use super::error::Result;

/// The optimiser's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWConfig {
    /// Step size after warm-up.
    pub learning_rate: f64,
    /// Decoupled weight decay per step, relative to the learning rate.
    pub weight_decay: f64,
    /// Steps over which the learning rate ramps linearly from 0.
    pub warmup_steps: usize,
    /// Gradients are scaled down to at most this global L2 norm.
    pub max_grad_norm: f64,
    /// 0 keeps the learning rate constant after warm-up; otherwise it falls
    /// along a half cosine from `learning_rate` after warm-up to 0 at this
    /// step (Loshchilov & Hutter 2017, eq. 5, one cycle without restarts).
    pub cosine_decay_steps: usize,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            learning_rate: 1e-3,
            weight_decay: 0.0,
            warmup_steps: 200,
            max_grad_norm: 1.0,
            cosine_decay_steps: 0,
        }
    }
}

impl AdamWConfig {
    /// The learning rate of `step` (counted from 1): the linear warm-up, then
    /// constant, or the half cosine over the steps after warm-up (the shape of
    /// transformers' `get_cosine_schedule_with_warmup`).
    #[must_use]
    pub fn learning_rate_at(&self, step: usize) -> f64 {
        let warmup_steps = self.warmup_steps.max(1);
        if step < warmup_steps {
            return self.learning_rate * step as f64 / warmup_steps as f64;
        }
        if self.cosine_decay_steps <= warmup_steps {
            return self.learning_rate;
        }
        let progress = ((step - warmup_steps) as f64 / (self.cosine_decay_steps - warmup_steps) as f64).min(1.0);
        self.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPSILON: f64 = 1e-8;

/// AdamW's first and second moments per parameter.
pub struct AdamW {
    config: AdamWConfig,
    /// First moments, by parameter name.
    pub first: BTreeMap<String, Tensor>,
    /// Second moments, by parameter name.
    pub second: BTreeMap<String, Tensor>,
}

impl AdamW {
    /// Zero moments for `vars`.
    ///
    /// # Errors
    /// Only if candle cannot allocate.
    pub fn new(config: AdamWConfig, vars: &BTreeMap<String, Var>) -> Result<Self> {
        let zeros = |v: &Var| v.as_tensor().zeros_like();
        let first = vars
            .iter()
            .map(|(k, v)| Ok((k.clone(), zeros(v)?)))
            .collect::<Result<_>>()?;
        let second = vars
            .iter()
            .map(|(k, v)| Ok((k.clone(), zeros(v)?)))
            .collect::<Result<_>>()?;
        Ok(Self { config, first, second })
    }

    /// One update of every parameter that has a gradient; `step` counts from 1.
    /// Returns the gradient norm before clipping.
    ///
    /// Each parameter's update is one pass over its values, the parameters
    /// spread over rayon's threads: written with candle's element-wise ops it
    /// was some fifteen passes and allocations per parameter, on one thread
    /// (perf on `train`, batch 16: 6% of a step's wall time).
    ///
    /// # Errors
    /// Tensor failures.
    pub fn step(&mut self, vars: &BTreeMap<String, Var>, grads: &GradStore, step: usize) -> Result<f64> {
        // Per parameter: its name, variable, gradient, moments and current values.
        let mut updates = Vec::with_capacity(vars.len());
        for (name, var) in vars {
            let (Some(grad), Some(m), Some(v)) = (grads.get(var), self.first.get(name), self.second.get(name)) else {
                continue;
            };
            updates.push((
                name,
                var,
                values(grad)?,
                values(m)?,
                values(v)?,
                values(var.as_tensor())?,
            ));
        }
        let norm = updates
            .iter()
            .map(|(_, _, g, ..)| g.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>())
            .sum::<f64>()
            .sqrt();
        let clip = if norm > self.config.max_grad_norm {
            self.config.max_grad_norm / norm
        } else {
            1.0
        };
        let lr = self.config.learning_rate_at(step);
        let exponent = i32::try_from(step).unwrap_or(i32::MAX);
        let constants = AdamConstants {
            clip: clip as f32,
            bias1: (1.0 - BETA1.powi(exponent)) as f32,
            bias2: (1.0 - BETA2.powi(exponent)) as f32,
            lr: lr as f32,
            decay: (1.0 - lr * self.config.weight_decay) as f32,
        };
        updates
            .par_iter_mut()
            .for_each(|(_, _, g, m, v, w)| constants.apply(w, g, m, v));
        for (name, var, _, m, v, w) in updates {
            let shape = var.shape();
            var.set(&Tensor::from_vec(w, shape, var.device())?)?;
            self.first
                .insert(name.clone(), Tensor::from_vec(m, shape, var.device())?);
            self.second
                .insert(name.clone(), Tensor::from_vec(v, shape, var.device())?);
        }
        Ok(norm)
    }
}

/// One step's constants of AdamW's update.
#[derive(Clone, Copy)]
struct AdamConstants {
    /// The gradients' scale from clipping.
    clip: f32,
    /// 1 − β₁ᵗ and 1 − β₂ᵗ, the moments' bias corrections.
    bias1: f32,
    bias2: f32,
    /// The learning rate after warm-up.
    lr: f32,
    /// 1 − lr · weight decay.
    decay: f32,
}

impl AdamConstants {
    /// Loshchilov & Hutter 2019, Algorithm 2: m ← β₁m + (1−β₁)g,
    /// v ← β₂v + (1−β₂)g², w ← (1 − lr·λ)w − lr · m̂/(√v̂ + ε), in place.
    fn apply(self, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        let (beta1, beta2, epsilon) = (BETA1 as f32, BETA2 as f32, EPSILON as f32);
        let (rest1, rest2) = ((1.0 - BETA1) as f32, (1.0 - BETA2) as f32);
        for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            let g = g * self.clip;
            *m = beta1 * *m + rest1 * g;
            *v = beta2 * *v + rest2 * (g * g);
            let update = (*m / self.bias1) / ((*v / self.bias2).sqrt() + epsilon);
            *w = *w * self.decay - self.lr * update;
        }
    }
}

fn values(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.flatten_all()?.to_vec1::<f32>()?)
}

/// An exponential moving average of the weights (the weights that get shipped).
pub struct Ema {
    /// The decay once warmed up (e.g. 0.999).
    pub decay: f64,
    /// The averaged weights, by parameter name.
    pub weights: BTreeMap<String, Tensor>,
}

impl Ema {
    /// Starts at the current weights.
    ///
    /// # Errors
    /// Only if candle cannot copy.
    pub fn new(decay: f64, vars: &BTreeMap<String, Var>) -> Result<Self> {
        let weights = vars
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.as_tensor().detach().copy()?)))
            .collect::<Result<_>>()?;
        Ok(Self { decay, weights })
    }

    /// Moves the average toward `vars`; the decay ramps up as (1 + n)/(10 + n)
    /// so early, poor weights are forgotten quickly.
    ///
    /// # Errors
    /// Tensor failures.
    pub fn update(&mut self, vars: &BTreeMap<String, Var>, step: usize) -> Result<()> {
        let decay = self.decay.min((1.0 + step as f64) / (10.0 + step as f64)) as f32;
        for (name, var) in vars {
            if let Some(avg) = self.weights.get_mut(name) {
                // One pass per parameter (three of candle's ops were three passes and allocations).
                let mut averaged = values(avg)?;
                for (a, w) in averaged.iter_mut().zip(values(var.as_tensor())?) {
                    *a = *a * decay + w * (1.0 - decay);
                }
                *avg = Tensor::from_vec(averaged, var.shape(), var.device())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    #[test]
    fn adamw_follows_the_papers_update_with_clipping_and_decay() {
        // L = 3·w₀ − 4·w₁: a constant gradient of norm 5, clipped to 1. With a
        // constant gradient the bias-corrected moments are m̂ = g and v̂ = g², so
        // each step moves w by −lr·sign(g) after decaying it by 1 − lr·λ.
        let w = Var::from_tensor(&Tensor::new(&[1.0f32, -2.0], &Device::Cpu).unwrap()).unwrap();
        let vars = BTreeMap::from([("w".to_owned(), w.clone())]);
        let config = AdamWConfig {
            learning_rate: 0.1,
            weight_decay: 0.01,
            warmup_steps: 1,
            max_grad_norm: 1.0,
            cosine_decay_steps: 0,
        };
        let mut adam = AdamW::new(config, &vars).unwrap();
        let c = Tensor::new(&[3.0f32, -4.0], &Device::Cpu).unwrap();
        let mut expected = [1.0f64, -2.0];
        for step in 1..=3 {
            let grads = (w.as_tensor() * &c).unwrap().sum_all().unwrap().backward().unwrap();
            let norm = adam.step(&vars, &grads, step).unwrap();
            assert!((norm - 5.0).abs() < 1e-6, "{norm}");
            expected = [expected[0] * 0.999 - 0.1, expected[1] * 0.999 + 0.1];
            let got = w.as_tensor().to_vec1::<f32>().unwrap();
            for (g, e) in got.iter().zip(expected) {
                assert!((f64::from(*g) - e).abs() < 1e-5, "step {step}: {got:?} vs {expected:?}");
            }
        }
        let first = adam.first["w"].to_vec1::<f32>().unwrap();
        // m after three steps of the clipped gradient g = (0.6, −0.8): (1 − 0.9³)·g.
        assert!((f64::from(first[0]) - 0.271 * 0.6).abs() < 1e-6, "{first:?}");
    }

    #[test]
    fn the_cosine_schedule_halves_at_its_midpoint_and_ends_at_zero() {
        // SGDR's eq. 5 with η_min = 0 over the 80 steps after 10 of warm-up:
        // η = ½ η_max (1 + cos(π · (step − 10)/80)); step 30 is a quarter of
        // the way, ½ · 2 · (1 + cos(π/4)) = 1 + √½.
        let config = AdamWConfig {
            learning_rate: 2.0,
            warmup_steps: 10,
            cosine_decay_steps: 90,
            ..AdamWConfig::default()
        };
        let expected = [
            (5, 1.0),
            (10, 2.0),
            (30, 1.0 + std::f64::consts::FRAC_1_SQRT_2),
            (50, 1.0),
            (90, 0.0),
            (150, 0.0),
        ];
        for (step, lr) in expected {
            let got = config.learning_rate_at(step);
            assert!((got - lr).abs() < 1e-12, "step {step}: {got} vs {lr}");
        }
        let constant = AdamWConfig {
            cosine_decay_steps: 0,
            ..config
        };
        assert!((constant.learning_rate_at(5000) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn the_moving_average_ramps_its_decay() {
        let w = Var::from_tensor(&Tensor::new(&[0.0f32], &Device::Cpu).unwrap()).unwrap();
        let vars = BTreeMap::from([("w".to_owned(), w.clone())]);
        let mut ema = Ema::new(0.999, &vars).unwrap();
        w.set(&Tensor::new(&[1.0f32], &Device::Cpu).unwrap()).unwrap();
        ema.update(&vars, 1).unwrap();
        // decay = min(0.999, 2/11): the average moves 9/11 of the way.
        let avg = ema.weights["w"].to_vec1::<f32>().unwrap()[0];
        assert!((f64::from(avg) - 9.0 / 11.0).abs() < 1e-6, "{avg}");
    }
}
