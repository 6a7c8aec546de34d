//! 2D toy distributions for training the MLP: samples drawn from an explicit seed.
//!
//! Each is scaled to roughly unit spread, like the standardised data a
//! diffusion model expects.

use std::f64::consts::PI;

use super::Dataset;
use crate::diffusion::NoiseRng;

/// A named 2D toy distribution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Toy {
    /// Two interleaved half circles (scikit-learn's `make_moons`), labelled by moon.
    #[default]
    TwoMoons,
    /// A 2D spiral.
    SwissRoll,
    /// Uniform on the dark squares of a 4×4 checkerboard.
    Checkerboard,
    /// Three concentric rings, labelled by ring.
    Rings,
}

named_enum!(Toy, "toy data set", [TwoMoons => "two-moons", SwissRoll => "swiss-roll", Checkerboard => "checkerboard", Rings => "rings"]);

impl Toy {
    /// `n` samples (with labels where the toy has parts) from `seed`.
    #[must_use]
    pub fn sample(self, n: usize, seed: u64) -> Dataset {
        let mut rng = NoiseRng::seed_from(seed);
        let mut rows = Vec::with_capacity(2 * n);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let (x, y, label) = self.point(&mut rng);
            rows.extend_from_slice(&[x as f32, y as f32]);
            labels.push(label);
        }
        let classes = match self {
            Self::TwoMoons => 2,
            Self::Rings => 3,
            Self::SwissRoll | Self::Checkerboard => 0,
        };
        Dataset {
            name: self.name().to_owned(),
            dims: 2,
            rows,
            labels: (classes > 0).then_some(labels),
            classes,
        }
    }

    fn point(self, rng: &mut NoiseRng) -> (f64, f64, u32) {
        let jitter = |rng: &mut NoiseRng, s: f64| rng.normal() * s;
        match self {
            Self::TwoMoons => {
                let angle = rng.uniform() * PI;
                let upper = rng.uniform() < 0.5;
                let (x, y) = if upper {
                    (angle.cos(), angle.sin())
                } else {
                    (1.0 - angle.cos(), 0.5 - angle.sin())
                };
                (
                    (x - 0.5) * 1.6 + jitter(rng, 0.08),
                    (y - 0.25) * 1.6 + jitter(rng, 0.08),
                    u32::from(!upper),
                )
            }
            Self::SwissRoll => {
                let turn = 1.5 * PI * (1.0 + 2.0 * rng.uniform());
                let (x, y) = (turn * turn.cos(), turn * turn.sin());
                (x / 6.0 + jitter(rng, 0.05), y / 6.0 + jitter(rng, 0.05), 0)
            }
            Self::Checkerboard => loop {
                let (x, y) = (rng.uniform() * 4.0, rng.uniform() * 4.0);
                if (x.floor() as u32 + y.floor() as u32).is_multiple_of(2) {
                    break ((x - 2.0) * 0.8, (y - 2.0) * 0.8, 0);
                }
            },
            Self::Rings => {
                let ring = ((rng.uniform() * 3.0) as u32).min(2);
                let radius = 0.5 + 0.75 * f64::from(ring);
                let angle = rng.uniform() * 2.0 * PI;
                (
                    radius * angle.cos() + jitter(rng, 0.05),
                    radius * angle.sin() + jitter(rng, 0.05),
                    ring,
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toys_are_seeded_and_labelled() {
        for &toy in Toy::ALL {
            let a = toy.sample(500, 3);
            assert_eq!(a, toy.sample(500, 3), "{toy}");
            assert_eq!(a.len(), 500);
            assert!(a.rows.iter().all(|v| v.abs() < 4.0), "{toy} is not roughly unit scale");
            if let Some(labels) = &a.labels {
                assert!(labels.iter().all(|&l| (l as usize) < a.classes));
            }
        }
    }

    #[test]
    fn rings_have_their_radii() {
        let rings = Toy::Rings.sample(3000, 1);
        let labels = rings.labels.as_ref().unwrap();
        for (i, &label) in labels.iter().enumerate() {
            let p = rings.row(i);
            let radius = f64::from(p[0].hypot(p[1]));
            assert!((radius - (0.5 + 0.75 * f64::from(label))).abs() < 0.3);
        }
    }
}
