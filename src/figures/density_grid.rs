//! A 2D density on a regular grid: its moments, entropy and KL to a Gaussian
//! by the midpoint rule. The reverse-kernel scene computes exact densities by
//! Bayes on such grids.

use super::data::{Backdrop, Point};

/// A normalised density on `side × side` cells over `[min, max]`, row 0 at
/// the largest y (as a [`Backdrop`] is drawn).
#[derive(Clone, Debug, PartialEq)]
pub struct DensityGrid {
    /// The lower-left corner.
    pub min: Point,
    /// The upper-right corner.
    pub max: Point,
    /// Cells per side.
    pub side: usize,
    /// log density per cell, normalised so that Σ exp(log p) · cell area = 1.
    pub log_p: Vec<f64>,
}

impl DensityGrid {
    /// The cell centres, row by row from the top.
    #[must_use]
    pub fn centres(min: Point, max: Point, side: usize) -> Vec<Point> {
        let (hx, hy) = ((max[0] - min[0]) / side as f64, (max[1] - min[1]) / side as f64);
        let mut centres = Vec::with_capacity(side * side);
        for row in 0..side {
            let y = max[1] - (row as f64 + 0.5) * hy;
            centres.extend((0..side).map(|col| [min[0] + (col as f64 + 0.5) * hx, y]));
        }
        centres
    }

    /// The grid of unnormalised `log_values` at [`Self::centres`], normalised.
    #[must_use]
    pub fn from_log_values(min: Point, max: Point, side: usize, mut log_values: Vec<f64>) -> Self {
        let area = (max[0] - min[0]) * (max[1] - min[1]) / (side * side) as f64;
        let top = log_values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = log_values.iter().map(|l| (l - top).exp()).sum::<f64>() * area;
        let norm = top + total.ln();
        for l in &mut log_values {
            *l -= norm;
        }
        Self {
            min,
            max,
            side,
            log_p: log_values,
        }
    }

    fn cell_area(&self) -> f64 {
        (self.max[0] - self.min[0]) * (self.max[1] - self.min[1]) / (self.side * self.side) as f64
    }

    /// Σ p(x) f(x, log p(x)) · cell area.
    fn integrate(&self, f: impl Fn(Point, f64) -> f64) -> f64 {
        let area = self.cell_area();
        Self::centres(self.min, self.max, self.side)
            .into_iter()
            .zip(&self.log_p)
            .map(|(x, &l)| if l == f64::NEG_INFINITY { 0.0 } else { l.exp() * f(x, l) })
            .sum::<f64>()
            * area
    }

    /// The mean and the covariance [[xx, xy], [xy, yy]].
    #[must_use]
    pub fn moments(&self) -> (Point, [[f64; 2]; 2]) {
        let mean = [self.integrate(|x, _| x[0]), self.integrate(|x, _| x[1])];
        let c = |i: usize, j: usize| self.integrate(|x, _| (x[i] - mean[i]) * (x[j] - mean[j]));
        let xy = c(0, 1);
        (mean, [[c(0, 0), xy], [xy, c(1, 1)]])
    }

    /// The differential entropy −∫ p log p, in nats.
    #[must_use]
    pub fn entropy(&self) -> f64 {
        -self.integrate(|_, l| l)
    }

    /// KL(p ‖ N(mean, cov)), in nats.
    #[must_use]
    pub fn kl_to_gaussian(&self, mean: Point, cov: [[f64; 2]; 2]) -> f64 {
        let det = cov[0][0] * cov[1][1] - cov[0][1] * cov[1][0];
        if det <= 0.0 {
            return f64::INFINITY;
        }
        let inv = [[cov[1][1] / det, -cov[0][1] / det], [-cov[1][0] / det, cov[0][0] / det]];
        let log_norm = -(2.0 * std::f64::consts::PI).ln() - 0.5 * det.ln();
        self.integrate(|x, l| {
            let d = [x[0] - mean[0], x[1] - mean[1]];
            let quad = d[0] * (inv[0][0] * d[0] + inv[0][1] * d[1]) + d[1] * (inv[1][0] * d[0] + inv[1][1] * d[1]);
            l - (log_norm - 0.5 * quad)
        })
    }

    /// The density's square root as a backdrop, scaled to a peak of 1 (as the
    /// 2D scenes draw p_t: the root keeps a light mode visible beside a heavy one).
    #[must_use]
    pub fn backdrop(&self) -> Backdrop {
        let top = self.log_p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Backdrop {
            side: self.side,
            values: self.log_p.iter().map(|l| ((l - top) / 2.0).exp() as f32).collect(),
            min: self.min,
            max: self.max,
        }
    }
}
