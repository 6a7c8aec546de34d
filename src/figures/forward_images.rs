//! The images scene without a window: the forward process on a shipped
//! Fashion-MNIST image, x_t = √ᾱ_t x0 + √(1−ᾱ_t) ε with one ε (Ho et al.
//! 2020, eq. 4), at eleven t from 0 to T; and the signal and noise scales.

use super::common::schedule_color;
use super::data::{Figure, Panel, Raster, Series};
use super::error::{FigureError, Result};
use crate::diffusion::{NoiseRng, Schedule, ScheduleConfig, ScheduleKind};

/// Which image, which schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// The shipped sample image (0 = T-shirt … 9 = ankle boot).
    pub image: usize,
    /// The noise schedule.
    pub schedule: ScheduleKind,
    /// Draws ε.
    pub seed: u64,
}

impl Default for Setup {
    /// The T-shirt under the linear schedule.
    fn default() -> Self {
        Self {
            image: 0,
            schedule: ScheduleKind::Linear,
            seed: 1,
        }
    }
}

figure_setup!(Setup, {
    image => "image": "the sample image, 0 (T-shirt) to 9 (ankle boot)",
    schedule => "schedule": "linear, scaled-linear, cosine or sigmoid",
    seed => "seed": "draws the noise",
});

/// x_t at t = 0, T/10, …, T, and √ᾱ_t, √(1−ᾱ_t) over t.
///
/// # Errors
/// An image number past the shipped ten.
pub fn figure(setup: &Setup) -> Result<Figure> {
    let images = crate::assets::sample_images_gray();
    let (name, x0) = images
        .get(setup.image)
        .ok_or_else(|| FigureError::bad_value("image", &setup.image.to_string(), "must be 0 to 9"))?;
    let schedule = Schedule::new(&ScheduleConfig::of_kind(setup.schedule))?;
    let noise = NoiseRng::seed_from(setup.seed).normal_vec(x0.len());
    let big_t = schedule.train_steps();
    let mut figure = Figure {
        image_columns: 11,
        ..Figure::default()
    };
    for k in 0..=10 {
        let t = k * big_t / 10;
        let ab = schedule.alpha_bar(t);
        let (a, s) = (ab.sqrt() as f32, (1.0 - ab).sqrt() as f32);
        figure.images.push(Raster {
            name: format!("{name} t = {t}"),
            width: x0.len().isqrt(),
            values: x0.iter().zip(&noise).map(|(x, e)| a * x + s * e).collect(),
        });
        figure.number(format!("√ᾱ at t = {t}"), ab.sqrt(), "");
    }
    let curve = |f: &dyn Fn(f64) -> f64| (0..=big_t).map(|t| [t as f64, f(schedule.alpha_bar(t))]).collect();
    figure.panels.push(Panel {
        title: format!("signal and noise under the {} schedule", setup.schedule),
        x_label: "t (training step)".into(),
        y_label: "scale of x0 and of ε in x_t".into(),
        series: vec![
            Series::line("√ᾱ_t (signal)", schedule_color(setup.schedule), curve(&f64::sqrt)),
            Series::line("√(1−ᾱ_t) (noise)", [150, 150, 150], curve(&|ab| (1.0 - ab).sqrt())),
        ],
        ..Panel::default()
    });
    Ok(figure)
}
