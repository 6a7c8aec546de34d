//! AdamW (Loshchilov & Hutter 2019) and an exponential moving average of the
//! weights, with their state in plain tensors so a checkpoint can hold it.
//!
//! candle-nn has an AdamW, but its moment estimates are private, so training
//! could not resume exactly after an interruption.

use std::collections::BTreeMap;

use candle_core::{Tensor, Var, backprop::GradStore};

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
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            learning_rate: 1e-3,
            weight_decay: 0.0,
            warmup_steps: 200,
            max_grad_norm: 1.0,
        }
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
    /// # Errors
    /// Tensor failures.
    pub fn step(&mut self, vars: &BTreeMap<String, Var>, grads: &GradStore, step: usize) -> Result<f64> {
        let mut squared = 0.0;
        for var in vars.values() {
            if let Some(g) = grads.get(var) {
                squared += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
            }
        }
        let norm = squared.sqrt();
        let clip = if norm > self.config.max_grad_norm {
            self.config.max_grad_norm / norm
        } else {
            1.0
        };
        let warmup = (step as f64 / self.config.warmup_steps.max(1) as f64).min(1.0);
        let lr = self.config.learning_rate * warmup;
        let exponent = i32::try_from(step).unwrap_or(i32::MAX);
        let (bias1, bias2) = (1.0 - BETA1.powi(exponent), 1.0 - BETA2.powi(exponent));
        for (name, var) in vars {
            let Some(grad) = grads.get(var) else { continue };
            let (Some(m), Some(v)) = (self.first.get_mut(name), self.second.get_mut(name)) else {
                continue;
            };
            // Detached, so the moments never hold on to this step's graph
            // (otherwise every step's graph would stay alive through m and v).
            let grad = (grad.detach() * clip)?;
            *m = ((&*m * BETA1)? + (&grad * (1.0 - BETA1))?)?;
            *v = ((&*v * BETA2)? + (grad.sqr()? * (1.0 - BETA2))?)?;
            let update = ((&*m / bias1)? / ((&*v / bias2)?.sqrt()? + EPSILON)?)?;
            let decayed = (var.as_tensor().detach() * (1.0 - lr * self.config.weight_decay))?;
            var.set(&(decayed - (update * lr)?)?)?;
        }
        Ok(norm)
    }
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
        let decay = self.decay.min((1.0 + step as f64) / (10.0 + step as f64));
        for (name, var) in vars {
            if let Some(avg) = self.weights.get_mut(name) {
                *avg = ((&*avg * decay)? + (var.as_tensor().detach() * (1.0 - decay))?)?;
            }
        }
        Ok(())
    }
}
