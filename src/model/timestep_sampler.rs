//! Improved DDPM's importance sampler of t (Nichol & Dhariwal 2021, eq. 17):
//! t drawn ∝ √E[L_t²] over the last 10 losses at each t, uniform until every
//! t has 10.

use super::train::TimestepSampling;
use crate::diffusion::NoiseRng;

/// Losses remembered per t for importance sampling.
pub(super) const HISTORY: usize = 10;

/// Improved DDPM's loss-second-moment sampler over t = 1..=T.
pub struct TimestepSampler {
    /// The last [`HISTORY`] losses per t (index t − 1), oldest overwritten first.
    pub(super) history: Vec<[f64; HISTORY]>,
    /// How many losses each t has seen (saturating at [`HISTORY`] for the estimate).
    pub(super) seen: Vec<usize>,
    kind: TimestepSampling,
}

impl TimestepSampler {
    pub(super) fn new(kind: TimestepSampling, train_steps: usize) -> Self {
        Self {
            history: vec![[0.0; HISTORY]; train_steps],
            seen: vec![0; train_steps],
            kind,
        }
    }

    /// The probability of each t (index t − 1).
    #[must_use]
    pub fn probabilities(&self) -> Vec<f64> {
        let steps = self.seen.len();
        let warm = self.kind == TimestepSampling::Importance && self.seen.iter().all(|&n| n >= HISTORY);
        if !warm {
            return vec![1.0 / steps as f64; steps];
        }
        let root_mean_square: Vec<f64> = self
            .history
            .iter()
            .map(|h| (h.iter().map(|l| l * l).sum::<f64>() / HISTORY as f64).sqrt())
            .collect();
        let total: f64 = root_mean_square.iter().sum();
        // Improved DDPM mixes in 0.1% uniform so no t is ever starved.
        root_mean_square
            .iter()
            .map(|w| 0.999 * w / total + 0.001 / steps as f64)
            .collect()
    }

    pub(super) fn draw(&self, rows: usize, rng: &mut NoiseRng) -> (Vec<usize>, Vec<f64>) {
        let probabilities = self.probabilities();
        let steps = probabilities.len() as f64;
        (0..rows)
            .map(|_| {
                let index = rng.categorical(&probabilities);
                (index + 1, 1.0 / (steps * probabilities[index]))
            })
            .unzip()
    }

    pub(super) fn record(&mut self, t: &[usize], losses: &[f64]) {
        for (&step, &loss) in t.iter().zip(losses) {
            let i = step - 1;
            self.history[i][self.seen[i] % HISTORY] = loss;
            self.seen[i] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn importance_sampling_follows_the_root_mean_square_loss() {
        // Ten losses at each of t = 1..4: 1, 2 and 3 always; t = 4 alternates 2 and 4.9.
        let root_mean_square = [1.0, 2.0, 3.0, ((4.0 + 4.9 * 4.9) / 2.0f64).sqrt()];
        let total: f64 = root_mean_square.iter().sum();
        let p = {
            let mut s = TimestepSampler::new(TimestepSampling::Importance, 4);
            for _ in 0..10 {
                s.record(&[1, 2, 3], &[1.0, 2.0, 3.0]);
            }
            assert_eq!(s.probabilities(), vec![0.25; 4], "uniform until every t has 10 losses");
            for _ in 0..5 {
                s.record(&[4, 4], &[2.0, 4.9]);
            }
            s.probabilities()
        };
        for (got, rms) in p.iter().zip(root_mean_square) {
            let expected = 0.999 * rms / total + 0.001 / 4.0;
            assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
        }
        let uniform = TimestepSampler::new(TimestepSampling::Uniform, 4);
        assert_eq!(uniform.probabilities(), vec![0.25; 4]);
    }
}
