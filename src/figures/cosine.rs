//! Improved DDPM's cosine schedule (Nichol & Dhariwal 2021, eq. 17):
//! ᾱ_t = f(t)/f(0), f(t) = cos²(((t/T + s)/(1 + s)) · π/2), s = 0.008, against
//! DDPM's linear β_t from 10⁻⁴ to 0.02. The same image and the same noise,
//! x_t = √ᾱ_t x0 + √(1−ᾱ_t) ε, at the same t under both: the linear schedule has
//! destroyed the image long before t = T, so the last part of its chain is wasted.

use super::common::schedule_color;
use super::data::{Figure, Panel, Raster, Series};
use super::error::{FigureError, Result};
use crate::diffusion::{NoiseRng, Schedule, ScheduleConfig, ScheduleKind};

/// The t shown as images.
pub const SHOWN_T: [usize; 7] = [0, 100, 250, 400, 550, 700, 850];
/// √ᾱ_t below this: the image is gone (its signal is under a tenth of the noise's).
pub const GONE: f64 = 0.1;

/// Which image is noised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// The shipped sample image (0 = T-shirt … 9 = ankle boot).
    pub image: usize,
    /// The noise draw's seed.
    pub seed: u64,
}

impl Default for Setup {
    /// The T-shirt, noise seed 1.
    fn default() -> Self {
        Self { image: 0, seed: 1 }
    }
}

figure_setup!(Setup, {
    image => "image": "the sample image, 0 (T-shirt) to 9 (ankle boot)",
    seed => "seed": "the noise draw",
});

/// One schedule's row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The schedule.
    pub kind: ScheduleKind,
    /// √ᾱ_t for t = 0..=T.
    pub sqrt_alpha_bar: Vec<f64>,
    /// The share of t in 1..=T where √ᾱ_t < [`GONE`].
    pub share_gone: f64,
    /// x_t at each of [`SHOWN_T`], grey values.
    pub noised: Vec<Vec<f32>>,
}

/// Both schedules on one image.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// The image's name.
    pub image_name: String,
    /// Pixels per side.
    pub side: usize,
    /// Linear, then cosine.
    pub rows: Vec<Row>,
}

/// The share of t in 1..=T where √ᾱ_t < [`GONE`].
#[must_use]
pub fn share_gone(schedule: &Schedule) -> f64 {
    let big_t = schedule.train_steps();
    let gone = (1..=big_t).filter(|&t| schedule.alpha_bar(t).sqrt() < GONE).count();
    gone as f64 / big_t as f64
}

/// Noises the image at every shown t under each schedule, with one noise draw.
///
/// # Errors
/// An image number past the shipped ten.
pub fn compute(setup: &Setup) -> Result<Comparison> {
    let images = crate::assets::sample_images_gray();
    let (name, x0) = images.get(setup.image).ok_or_else(|| {
        FigureError::bad_value(
            "image",
            &setup.image.to_string(),
            format!("there are {} images", images.len()),
        )
    })?;
    let noise = NoiseRng::seed_from(setup.seed).normal_vec(x0.len());
    let mut rows = Vec::new();
    for kind in [ScheduleKind::Linear, ScheduleKind::Cosine] {
        let schedule = Schedule::new(&ScheduleConfig::of_kind(kind))?;
        let noised = SHOWN_T
            .iter()
            .map(|&t| {
                let ab = schedule.alpha_bar(t);
                let (a, s) = (ab.sqrt() as f32, (1.0 - ab).sqrt() as f32);
                x0.iter().zip(&noise).map(|(x, e)| a * x + s * e).collect()
            })
            .collect();
        rows.push(Row {
            kind,
            sqrt_alpha_bar: (0..=schedule.train_steps())
                .map(|t| schedule.alpha_bar(t).sqrt())
                .collect(),
            share_gone: share_gone(&schedule),
            noised,
        });
    }
    Ok(Comparison {
        image_name: name.clone(),
        side: x0.len().isqrt(),
        rows,
    })
}

impl Comparison {
    /// √ᾱ_t under both schedules, the images, and the share of T lost.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let mut series: Vec<Series> = self
            .rows
            .iter()
            .map(|row| {
                let points = row
                    .sqrt_alpha_bar
                    .iter()
                    .enumerate()
                    .map(|(t, v)| [t as f64, *v])
                    .collect();
                Series::line(format!("√ᾱ_t, {}", row.kind), schedule_color(row.kind), points)
            })
            .collect();
        let big_t = self
            .rows
            .first()
            .map_or(0, |r| r.sqrt_alpha_bar.len().saturating_sub(1));
        series.push(Series::line(
            "√ᾱ_t = 0.1",
            [150, 150, 150],
            vec![[0.0, GONE], [big_t as f64, GONE]],
        ));
        let mut figure = Figure {
            panels: vec![Panel {
                title: "√ᾱ_t: how much of the image is left".into(),
                x_label: "t (training step)".into(),
                y_label: "√ᾱ_t (signal scale)".into(),
                series,
                ..Panel::default()
            }],
            ..Figure::default()
        };
        for row in &self.rows {
            figure.number(
                format!("{}: share of T with the image gone", row.kind),
                100.0 * row.share_gone,
                "%",
            );
            for (t, values) in SHOWN_T.iter().zip(&row.noised) {
                let sqrt_alpha_bar = row.sqrt_alpha_bar.get(*t).copied().unwrap_or(0.0);
                figure.images.push(Raster {
                    name: format!("{} t = {t}, √ᾱ = {sqrt_alpha_bar:.2}", row.kind),
                    width: self.side,
                    values: values.clone(),
                });
            }
        }
        figure
    }
}
