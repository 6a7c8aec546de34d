//! Step k of an N-step run against a k-step run: why step 10 of a 50-step run
//! does not look like a 10-step run (AUTOMATIC1111's issues #415, #1237, #1808).
//!
//! Both runs start from the same x_T with the same sampler. After k of N steps
//! the long run stands at t_k of its own spacing, still noisy; the k-step run
//! has visited its whole spacing and stands at t = 0. What a preview shows at
//! step k is the long run's x̂0 there, a blurred guess, not the short run's
//! sample. The σ = √((1 − ᾱ)/ᾱ) each has reached is plotted step by step.

use std::sync::Arc;

use super::data::{Figure, Panel, Raster, Series};
use super::error::{FigureError, Result};
use crate::diffusion::guidance::{GuidanceConfig, GuidanceKind, Guided};
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, StepOutput, build_sampler, run_sampler};
use crate::diffusion::timesteps::edm_sigma;
use crate::diffusion::{NoiseRng, Schedule};
use crate::jobs::JobContext;

/// The classes sampled, one image each (T-shirt, trouser, sneaker, ankle boot).
const LABELS: [u32; 4] = [0, 1, 7, 9];

/// The two runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// N, the long run's steps.
    pub total_steps: usize,
    /// k, the step compared (and the short run's steps).
    pub step: usize,
    /// Draws x_T and any noise.
    pub seed: u64,
}

impl Default for Setup {
    /// Step 10 of 50 against a 10-step run.
    fn default() -> Self {
        Self {
            total_steps: 50,
            step: 10,
            seed: 3,
        }
    }
}

figure_setup!(Setup, {
    total_steps => "total-steps": "N, the long run's steps",
    step => "step": "k, the step compared and the short run's steps",
    seed => "seed": "draws x_T",
});

/// What the comparison shows.
#[derive(Clone, Debug, PartialEq)]
pub struct StepVsRun {
    /// The long run's x at step k, one image per label.
    pub long_x: Vec<Vec<f32>>,
    /// Its x̂0 there (what a preview shows).
    pub long_x0: Vec<Vec<f32>>,
    /// The k-step run's samples.
    pub short_x: Vec<Vec<f32>>,
    /// σ after each step of the long run (index 0: x_T).
    pub long_sigma: Vec<f64>,
    /// Of the short run.
    pub short_sigma: Vec<f64>,
    /// The level the long run reached at step k.
    pub long_t: usize,
    /// Image side.
    pub side: usize,
    /// k.
    pub step: usize,
}

/// Both runs of the shipped U-Net with DDIM from one x_T.
///
/// # Errors
/// k outside 1..=N or N beyond T; the model does not load; cancelled.
pub fn compute(setup: &Setup, job: &JobContext) -> Result<StepVsRun> {
    if setup.step == 0 || setup.step > setup.total_steps {
        return Err(FigureError::bad_value(
            "step",
            &setup.step.to_string(),
            format!("must lie in 1..={}", setup.total_steps),
        ));
    }
    let net = crate::model::shipped::fashion_mnist()?;
    let schedule = Arc::new(Schedule::new(&net.config().schedule)?);
    let guided = Guided::new(
        &net,
        None,
        GuidanceConfig {
            kind: GuidanceKind::ClassifierFree,
            scale: 1.0,
            ..GuidanceConfig::default()
        },
    )?;
    let dims = net.config().sample_dims();
    let start = NoiseRng::seed_from(setup.seed).randn((LABELS.len(), dims), &candle_core::Device::Cpu)?;
    let rows = |x: &candle_core::Tensor| -> Result<Vec<Vec<f32>>> { Ok(x.to_vec2::<f32>()?) };
    let run = |steps: usize, keep_at: usize| -> Result<(Vec<f64>, Option<StepOutput>)> {
        let config = SamplerConfig {
            kind: SamplerKind::Ddim,
            steps,
            clip_sample: true,
            ..SamplerConfig::default()
        };
        let mut sampler = build_sampler(&config, Arc::clone(&schedule))?;
        let mut sigmas = vec![edm_sigma(&schedule, sampler.timesteps()[0])];
        let mut kept = None;
        let mut rng = NoiseRng::seed_from(setup.seed + 1);
        run_sampler(sampler.as_mut(), &guided, Some(&LABELS), &start, &mut rng, |out| {
            job.report(format!("{steps}-step run: step {} of {steps}", out.index + 1));
            sigmas.push(if out.t_next == 0 {
                0.0
            } else {
                edm_sigma(&schedule, out.t_next)
            });
            if out.index + 1 == keep_at {
                kept = Some(out.clone());
            }
            job.keep_going()
        })?
        .ok_or(FigureError::Cancelled)?;
        Ok((sigmas, kept))
    };
    let (long_sigma, long_kept) = run(setup.total_steps, setup.step)?;
    let (short_sigma, short_kept) = run(setup.step, setup.step)?;
    let (long, short) = (
        long_kept.ok_or(FigureError::Cancelled)?,
        short_kept.ok_or(FigureError::Cancelled)?,
    );
    Ok(StepVsRun {
        long_x: rows(&long.x_next)?,
        long_x0: rows(&long.x0_hat)?,
        short_x: rows(&short.x_next)?,
        long_sigma,
        short_sigma,
        long_t: long.t_next,
        side: dims.isqrt(),
        step: setup.step,
    })
}

impl StepVsRun {
    /// The σ curves, then three rows of images: the long run's x and x̂0 at
    /// step k, and the short run's samples.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let curve = |sigmas: &[f64]| -> Vec<[f64; 2]> {
            sigmas
                .iter()
                .enumerate()
                .map(|(i, s)| [i as f64, (s.max(1e-3)).log10()])
                .collect()
        };
        let n = self.long_sigma.len() - 1;
        let at_k = |sigmas: &[f64]| {
            vec![[
                self.step as f64,
                sigmas.get(self.step).copied().unwrap_or(0.0).max(1e-3).log10(),
            ]]
        };
        let panel = Panel {
            title: format!(
                "σ reached after each step (0 drawn at 10⁻³): step {} of {n} against a {}-step run",
                self.step, self.step
            ),
            x_label: "step".into(),
            y_label: "log₁₀ σ".into(),
            series: vec![
                Series::lines(format!("{n}-step run"), [100, 180, 250], vec![curve(&self.long_sigma)]),
                Series::lines(
                    format!("{}-step run", self.step),
                    [240, 150, 60],
                    vec![curve(&self.short_sigma)],
                ),
                Series::points(
                    format!("{n}-step run at step {}", self.step),
                    [100, 180, 250],
                    at_k(&self.long_sigma),
                ),
                Series::points(
                    format!("{}-step run at its end", self.step),
                    [240, 150, 60],
                    at_k(&self.short_sigma),
                ),
            ],
            ..Panel::default()
        };
        let raster = |name: String, values: &[f32]| Raster {
            name,
            width: self.side,
            values: values.to_vec(),
        };
        let mut images = Vec::new();
        let (k, t) = (self.step, self.long_t);
        images.extend(
            self.long_x
                .iter()
                .map(|v| raster(format!("{n} steps: x at step {k}, t = {t}"), v)),
        );
        images.extend(
            self.long_x0
                .iter()
                .map(|v| raster(format!("{n} steps: predicted x0 at step {k}"), v)),
        );
        images.extend(self.short_x.iter().map(|v| raster(format!("{k} steps: the sample"), v)));
        let mut figure = Figure {
            panels: vec![panel],
            images,
            image_columns: LABELS.len(),
            ..Figure::default()
        };
        figure.number(
            format!("σ of the {n}-step run at step k"),
            self.long_sigma.get(self.step).copied().unwrap_or(f64::NAN),
            "",
        );
        figure.number("t of the long run at step k", self.long_t as f64, "");
        figure.number(
            "σ of the k-step run at its end",
            self.short_sigma.last().copied().unwrap_or(f64::NAN),
            "",
        );
        figure
    }
}
