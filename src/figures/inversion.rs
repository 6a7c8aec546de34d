//! DDIM inversion and interpolation (Song, Meng & Ermon 2021, §4.3 and §5.3).
//! Two data points, one from each of two modes, are run up to latents x_T by
//! deterministic DDIM backwards and decoded again; then latents spherically
//! interpolated between them are decoded: every interpolant lands on the data,
//! while the straight line between the points crosses empty space.

use std::sync::Arc;

use candle_core::Tensor;

use super::Inputs;
use super::common::{self, DETERMINISTIC, Frames, STOCHASTIC};
use super::data::{Backdrop, Figure, Panel, Point, Series};
use super::error::{FigureError, Result};
use crate::diffusion::NoiseRng;
use crate::diffusion::inversion::{ddim_invert, slerp_between_rows};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{SamplerConfig, build_sampler};
use crate::jobs::JobContext;

/// Interpolants, ends included.
pub const INTERPOLANTS: usize = 9;

/// Which points, how many steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Draws A (from the 0.7 mode) and B (from the 0.2 mode).
    pub seed: u64,
    /// DDIM steps each way.
    pub steps: usize,
    /// Invert two sample images with the U-Net instead of two points.
    pub images: bool,
    /// The first image (0 = T-shirt … 9 = ankle boot).
    pub a: usize,
    /// The second image.
    pub b: usize,
}

impl Default for Setup {
    /// Points: seed 3, 50 steps. Images: the T-shirt and the sneaker.
    fn default() -> Self {
        Self {
            seed: 3,
            steps: 50,
            images: false,
            a: 0,
            b: 7,
        }
    }
}

figure_setup!(Setup, {
    seed => "seed": "draws A and B (points)",
    steps => "steps": "DDIM steps each way, 1 to 1000 (points)",
    images => "images": "true: two sample images through the U-Net, 50 steps each way",
    a => "a": "the first image, 0 to 9 (images)",
    b => "b": "the second image, 0 to 9 (images)",
});

/// The inversion, the round trip and the interpolation.
#[derive(Clone, Debug, PartialEq)]
pub struct Inversion {
    /// DDIM steps each way.
    pub steps: usize,
    /// A and B.
    pub data: Vec<Point>,
    /// Their paths up to x_T (data first).
    pub up: Frames,
    /// The decoded paths of the interpolated latents (the ends decode A and B back).
    pub down: Frames,
    /// How far A and B came back from where they started.
    pub round_trip: [f64; 2],
    /// Each interpolant's end, in units of its nearest component's std.
    pub end_distances: Vec<f64>,
    /// The same for the midpoint of the straight line from A to B.
    pub midpoint_distance: f64,
    /// p_0, behind the paths.
    pub backdrop: Backdrop,
}

/// How many of its component's stds `p` lies from the nearest component mean.
fn distance_in_stds(mixture: &GaussianMixture, p: Point) -> f64 {
    mixture
        .components()
        .iter()
        .map(|c| (p[0] - c.mean[0]).hypot(p[1] - c.mean[1]) / c.std.max(f64::MIN_POSITIVE))
        .fold(f64::INFINITY, f64::min)
}

/// Inverts A and B, decodes them and the slerped latents between.
///
/// # Errors
/// A bad step count; cancelled.
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<Inversion> {
    let mixture = inputs.mixture.as_ref();
    let mut rng = NoiseRng::seed_from(setup.seed);
    let (a, _) = mixture.sample(1, Some(0), &mut rng)?;
    let (b, _) = mixture.sample(1, Some(1), &mut rng)?;
    let x0 = Tensor::cat(&[a, b], 0)?;
    let config = SamplerConfig {
        steps: setup.steps,
        ..SamplerConfig::default()
    };
    let mut sampler = build_sampler(&config, Arc::clone(&inputs.schedule))?;
    let levels = ddim_invert(mixture, sampler.schedule(), None, &x0, sampler.timesteps())?;
    let mut up = vec![common::points(&x0)?];
    for x in &levels {
        up.push(common::points(x)?);
    }
    let latent = levels
        .last()
        .ok_or_else(|| FigureError::Other("the inversion visited no level".into()))?;
    let start = slerp_between_rows(latent, INTERPOLANTS)?;
    let down = common::trace(sampler.as_mut(), mixture, None, &start, &mut rng, job)?;
    let ends = down.last().cloned().unwrap_or_default();
    let data = up[0].clone();
    let back = |i: usize, j: usize| (ends[j][0] - data[i][0]).hypot(ends[j][1] - data[i][1]);
    let midpoint = [
        f64::midpoint(data[0][0], data[1][0]),
        f64::midpoint(data[0][1], data[1][1]),
    ];
    Ok(Inversion {
        steps: setup.steps,
        round_trip: [back(0, 0), back(1, INTERPOLANTS - 1)],
        end_distances: ends.iter().map(|p| distance_in_stds(mixture, *p)).collect(),
        midpoint_distance: distance_in_stds(mixture, midpoint),
        data,
        up,
        down,
        backdrop: common::density_backdrop(mixture, 1.0)?,
    })
}

impl Inversion {
    /// How many interpolants landed within 3 std of a mode.
    #[must_use]
    pub fn on_data(&self) -> usize {
        self.end_distances.iter().filter(|d| **d < 3.0).count()
    }

    /// The inversion paths, the decoded interpolants and the straight line.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let ends = self.down.last().cloned().unwrap_or_default();
        let mut panel = Panel::plane(
            "data → x_T → data",
            vec![
                Series::line("straight line A → B", [150, 150, 150], self.data.clone()),
                Series::lines("inversion (data → x_T)", STOCHASTIC, common::paths(&self.up, 2)),
                Series::lines(
                    "decoding the interpolated latents",
                    DETERMINISTIC,
                    common::paths(&self.down, INTERPOLANTS),
                ),
                Series::points("decoded interpolants", DETERMINISTIC, ends),
                Series::points("A and B", [250, 210, 60], self.data.clone()),
            ],
        );
        panel.backdrop = Some(self.backdrop.clone());
        let mut figure = Figure {
            panels: vec![panel],
            ..Figure::default()
        };
        figure.number("A's round trip", self.round_trip[0], "data units");
        figure.number("B's round trip", self.round_trip[1], "data units");
        figure.number("interpolants on the data", self.on_data() as f64, "");
        figure.number("midpoint's distance", self.midpoint_distance, "std");
        figure
    }
}
