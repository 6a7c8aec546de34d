//! One output, four ways (Ho et al. 2020, eq. 15; Song et al. 2021; Salimans &
//! Ho 2022, §4). The exact denoiser's answer at one x_t, expressed as ε_θ, x_θ,
//! the score s_θ and v_θ by the engine's conversions, drawn as arrows from x_t.

use super::Inputs;
use super::common;
use super::data::{Figure, Panel, Point, Rgb, Series};
use super::error::{FigureError, Result};
use crate::diffusion::param::PredictionType;
use crate::diffusion::sampler::add_noise;
use crate::diffusion::{Denoiser, NoiseLevel, NoiseRng};

/// Where the prediction is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// The noise level t of the linear schedule.
    pub t: usize,
    /// Draws x0 and ε.
    pub seed: u64,
}

impl Default for Setup {
    /// t = 300.
    fn default() -> Self {
        Self { t: 300, seed: 2 }
    }
}

figure_setup!(Setup, {
    t => "t": "the noise level, 1 to T − 1",
    seed => "seed": "draws x0 and the noise",
});

/// The four parameterizations, their names and colours, in the order of [`FourWays::predictions`].
pub const KINDS: [(PredictionType, &str, Rgb); 4] = [
    (PredictionType::Epsilon, "ε_θ", [240, 150, 60]),
    (PredictionType::Sample, "x_θ", [120, 200, 110]),
    (PredictionType::Score, "s_θ", [100, 180, 250]),
    (PredictionType::Velocity, "v_θ", [230, 120, 200]),
];

/// x0, the noise, x_t and the four predictions.
#[derive(Clone, Debug, PartialEq)]
pub struct FourWays {
    /// The data point.
    pub x0: Point,
    /// The noise added.
    pub noise: Point,
    /// √ᾱ_t x0 + √(1−ᾱ_t) ε.
    pub x_t: Point,
    /// ᾱ_t.
    pub alpha_bar: f64,
    /// ε_θ, x_θ, s_θ, v_θ, in that order.
    pub predictions: [Point; 4],
}

/// The exact denoiser's prediction at one x_t, in all four forms.
///
/// # Errors
/// t outside 1..T.
pub fn compute(setup: &Setup, inputs: &Inputs) -> Result<FourWays> {
    let (mixture, schedule) = (&inputs.mixture, &inputs.schedule);
    if setup.t == 0 || setup.t >= schedule.train_steps() {
        return Err(FigureError::bad_value("t", &setup.t.to_string(), "must be in 1..T − 1"));
    }
    let mut rng = NoiseRng::seed_from(setup.seed);
    let (x0, _) = mixture.sample(1, None, &mut rng)?;
    let noise = rng.randn((1, 2), &candle_core::Device::Cpu)?;
    let x_t = add_noise(schedule, &x0, &noise, setup.t)?;
    let alpha_bar = schedule.alpha_bar(setup.t);
    let level = NoiseLevel {
        t: setup.t as f64,
        alpha_bar,
    };
    let out = mixture.predict(&x_t, level, None)?;
    let mut predictions = [[0.0; 2]; 4];
    for (slot, (kind, _, _)) in predictions.iter_mut().zip(KINDS) {
        *slot = first(&out.prediction.to_kind(kind, &x_t, alpha_bar)?.value)?;
    }
    Ok(FourWays {
        x0: first(&x0)?,
        noise: first(&noise)?,
        x_t: first(&x_t)?,
        alpha_bar,
        predictions,
    })
}

fn first(x: &candle_core::Tensor) -> Result<Point> {
    common::points(x)?
        .first()
        .copied()
        .ok_or_else(|| FigureError::Other("empty tensor".into()))
}

impl FourWays {
    /// Each prediction as the displacement it implies at x_t, in data units:
    /// √(1−ᾱ_t) ε_θ, √ᾱ_t x_θ − x_t, (1−ᾱ_t) s_θ and v_θ.
    #[must_use]
    pub fn displacements(&self) -> [Point; 4] {
        let (a, s) = (self.alpha_bar.sqrt(), (1.0 - self.alpha_bar).sqrt());
        let [eps, x0, score, v] = self.predictions;
        [
            [s * eps[0], s * eps[1]],
            [a * x0[0] - self.x_t[0], a * x0[1] - self.x_t[1]],
            [(1.0 - self.alpha_bar) * score[0], (1.0 - self.alpha_bar) * score[1]],
            v,
        ]
    }

    /// The arrows from x_t over the plane, and every vector as numbers.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let mut series = vec![
            Series::points("x0", [250, 210, 60], vec![self.x0]),
            Series::points("x_t", [150, 150, 150], vec![self.x_t]),
        ];
        for ((_, name, color), d) in KINDS.iter().zip(self.displacements()) {
            let tip = [self.x_t[0] + d[0], self.x_t[1] + d[1]];
            series.push(Series::arrows(*name, *color, &[self.x_t], &[tip]));
        }
        let mut figure = Figure {
            panels: vec![Panel::plane("the four predictions as arrows from x_t", series)],
            ..Figure::default()
        };
        figure.number("ᾱ_t", self.alpha_bar, "");
        for (name, p) in [("x0", self.x0), ("ε", self.noise), ("x_t", self.x_t)] {
            figure.number(format!("{name}.1"), p[0], "");
            figure.number(format!("{name}.2"), p[1], "");
        }
        for ((_, name, _), p) in KINDS.iter().zip(self.predictions) {
            figure.number(format!("{name}.1"), p[0], "");
            figure.number(format!("{name}.2"), p[1], "");
        }
        figure
    }
}
