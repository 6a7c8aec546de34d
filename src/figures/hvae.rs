//! From the hierarchical VAE to diffusion (Luo 2022,
//! `shared/seeds/000_9adf4b751b0c0e64.txt`, lines 165–262; the VDM notes,
//! `003_929c35c151cde67d.txt`, lines 26–54). A Markovian HVAE with three
//! latent levels ([`crate::model::hvae`]) is trained on the blobs four times,
//! adding one of the three constraints each time:
//! 1. the plain HVAE, 4-dimensional latents, every encoder learned;
//! 2. the latents the data's size (2);
//! 3. the encoder fixed to q(x_t|x_{t−1}) = N(√α_t x_{t−1}, (1 − α_t) I), α_t = 0.9;
//! 4. α_t from the cosine schedule, so that q(x_T) ≈ N(0, I).
//!
//! Each stage shows what is still learned, its ELBO in Luo's three parts
//! (eq. 45) and its samples. The last stage is a 3-step diffusion model; the
//! figure ends with diffusion models at T = 2, 10, 100 and 1000, each with the
//! best mean (the exact posterior mean) and σ² = β_t: their bounds and samples,
//! against the data's entropy H, below which no model's −ELBO can go.

use std::sync::Arc;

use super::Inputs;
use super::common::{self, DETERMINISTIC, STOCHASTIC, check, density_backdrop};
use super::data::{Backdrop, Figure, Panel, Point, Series};
use super::error::{FigureError, Result};
use crate::data::Dataset;
use crate::diffusion::elbo::{Decoder, ElboConfig, elbo_terms};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{DdpmVariance, SamplerConfig, SamplerKind, build_sampler};
use crate::diffusion::{NoiseRng, Schedule, ScheduleConfig, ScheduleKind};
use crate::jobs::JobContext;
use crate::model::hvae::{Encoder, Hvae, HvaeConfig, HvaeStep};

/// The four stages, in the order the constraints are added.
pub const STAGES: [&str; 4] = [
    "HVAE (4-dim latents, learned encoders)",
    "+ latents the data's size",
    "+ fixed encoder N(√α x, (1−α) I), α = 0.9",
    "+ α_t so that q(x_T) → N(0, I)",
];
/// The diffusion models' T.
pub const DIFFUSION_STEPS: [usize; 4] = [2, 10, 100, 1000];
/// Latent levels of the HVAE.
pub const LEVELS: usize = 3;
/// α of stage 3's fixed encoder.
const FIXED_ALPHA: f64 = 0.9;
/// Held-out points of each stage's ELBO; data points of each diffusion bound.
const HELD_OUT: usize = 2000;
const BOUND_POINTS: usize = 200;
/// Samples drawn per model.
const SAMPLES: usize = 1000;
/// Samples and latents drawn on a plane.
const SHOWN: usize = 500;

/// The training, and what is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Training steps of each stage (batches of 128).
    pub steps: usize,
    /// Initialises the networks and draws the data and the noise.
    pub seed: u64,
    /// The stage drawn, 1 to 4.
    pub stage: usize,
    /// The diffusion model drawn: its T, one of 2, 10, 100, 1000.
    pub diffusion_steps: usize,
}

impl Default for Setup {
    /// 1000 steps per stage; stage 4 and T = 1000 drawn.
    fn default() -> Self {
        Self {
            steps: 1000,
            seed: 0,
            stage: 4,
            diffusion_steps: 1000,
        }
    }
}

figure_setup!(Setup, {
    steps => "steps": "training steps of each stage (batches of 128), 1 to 20000",
    seed => "seed": "initialises the networks and draws the data",
    stage => "stage": "the stage drawn: 1 HVAE, 2 same size, 3 fixed encoder, 4 diffusion",
    diffusion_steps => "diffusion-steps": "the diffusion model drawn: T = 2, 10, 100 or 1000",
});

/// A held-out mean with its standard error.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Estimate {
    /// The mean over held-out points (nats per data point).
    pub mean: f64,
    /// Its standard error.
    pub standard_error: f64,
}

/// One stage's model.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// Every training step's terms.
    pub training: Vec<HvaeStep>,
    /// Held-out log p(x|z_1).
    pub reconstruction: Estimate,
    /// Held-out consistency terms' sum.
    pub consistency: Estimate,
    /// Held-out prior matching.
    pub prior_matching: Estimate,
    /// Held-out ELBO.
    pub elbo: Estimate,
    /// Learned numbers in the encoder and the decoder.
    pub parameters: (usize, usize),
    /// Ancestral samples.
    pub samples: Vec<Point>,
    /// The top latent z_T of held-out points (its first two coordinates).
    pub top_latents: Vec<Point>,
    /// Share of the samples within 3 standard deviations of a mode.
    pub on_data: f64,
}

/// One diffusion model with the best mean.
#[derive(Clone, Debug, PartialEq)]
pub struct Diffusion {
    /// T.
    pub steps: usize,
    /// −ELBO averaged over data points (nats per data point).
    pub bound: Estimate,
    /// Its prior term L_T, averaged.
    pub prior_nats: f64,
    /// DDPM samples.
    pub samples: Vec<Point>,
    /// Share of the samples within 3 standard deviations of a mode.
    pub on_data: f64,
}

/// What the scene shows.
#[derive(Clone, Debug, PartialEq)]
pub struct HvaeToDiffusion {
    /// The four stages.
    pub stages: Vec<Stage>,
    /// The diffusion models at each of [`DIFFUSION_STEPS`].
    pub diffusion: Vec<Diffusion>,
    /// Stage 4's α_t.
    pub cosine_alphas: Vec<f64>,
    /// The blobs' entropy H = −E[log p(x)] by 20 000 draws: the floor of every −ELBO.
    pub data_entropy: f64,
    /// What is drawn.
    pub setup: Setup,
    /// The data density behind the planes.
    pub backdrop: Backdrop,
}

/// Trains the four stages and computes the four diffusion models' bounds and samples.
///
/// # Errors
/// Steps outside 1..=20000, a stage outside 1..=4, a T not among 2, 10, 100,
/// 1000; cancelled.
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<HvaeToDiffusion> {
    check_setup(setup)?;
    let mixture = inputs.mixture.as_ref();
    let train = Dataset::from_mixture_samples(mixture, 5000, setup.seed, "the three blobs")?;
    let (held_out, _) = mixture.sample(HELD_OUT, None, &mut NoiseRng::seed_from(setup.seed + 1))?;
    let cosine = Schedule::new(&ScheduleConfig {
        kind: ScheduleKind::Cosine,
        train_steps: LEVELS,
        ..ScheduleConfig::default()
    })?;
    let cosine_alphas: Vec<f64> = (1..=LEVELS).map(|t| cosine.alpha(t)).collect();
    let encoders = [
        (4, Encoder::Learned),
        (2, Encoder::Learned),
        (2, Encoder::Fixed(vec![FIXED_ALPHA; LEVELS])),
        (2, Encoder::Fixed(cosine_alphas.clone())),
    ];
    let mut stages = Vec::with_capacity(encoders.len());
    for (k, (latent_dims, encoder)) in encoders.into_iter().enumerate() {
        let config = HvaeConfig {
            data_dims: 2,
            latent_dims,
            levels: LEVELS,
            hidden: 64,
            encoder,
            batch: 128,
        };
        let name = format!("stage {} of 4", k + 1);
        stages.push(train_stage(config, setup, &train, &held_out, mixture, &name, job)?);
    }
    let mut diffusion = Vec::with_capacity(DIFFUSION_STEPS.len());
    for steps in DIFFUSION_STEPS {
        job.report(format!("the diffusion model with T = {steps}"));
        diffusion.push(diffusion_model(steps, setup.seed, inputs, job)?);
    }
    let (draws, _) = mixture.sample(20_000, None, &mut NoiseRng::seed_from(setup.seed + 2))?;
    let log_p = mixture.log_density(&draws, 1.0)?;
    Ok(HvaeToDiffusion {
        stages,
        diffusion,
        cosine_alphas,
        data_entropy: -log_p.iter().sum::<f64>() / log_p.len().max(1) as f64,
        setup: *setup,
        backdrop: density_backdrop(mixture, 1.0)?,
    })
}

fn check_setup(setup: &Setup) -> Result<()> {
    if !(1..=20_000).contains(&setup.steps) {
        return Err(FigureError::bad_value(
            "steps",
            &setup.steps.to_string(),
            "must be 1 to 20000",
        ));
    }
    if !(1..=STAGES.len()).contains(&setup.stage) {
        return Err(FigureError::bad_value(
            "stage",
            &setup.stage.to_string(),
            "must be 1 to 4",
        ));
    }
    if !DIFFUSION_STEPS.contains(&setup.diffusion_steps) {
        return Err(FigureError::bad_value(
            "diffusion-steps",
            &setup.diffusion_steps.to_string(),
            "must be 2, 10, 100 or 1000",
        ));
    }
    Ok(())
}

fn estimate(x: &candle_core::Tensor) -> Result<Estimate> {
    let values: Vec<f64> = x.to_vec1::<f32>()?.into_iter().map(f64::from).collect();
    let (mean, standard_error) = common::mean_and_standard_error(&values);
    Ok(Estimate { mean, standard_error })
}

fn train_stage(
    config: HvaeConfig,
    setup: &Setup,
    train: &Dataset,
    held_out: &candle_core::Tensor,
    mixture: &GaussianMixture,
    name: &str,
    job: &JobContext,
) -> Result<Stage> {
    let batch = config.batch;
    let mut model = Hvae::new(config, setup.seed)?;
    let mut rng = NoiseRng::seed_from(setup.seed.wrapping_add(7));
    let mut training = Vec::with_capacity(setup.steps);
    for step in 1..=setup.steps {
        check(job)?;
        let x = crate::model::vae::batch(train, batch, &mut rng)?;
        let outcome = model.train_step(&x, &mut rng)?;
        if step % 100 == 0 {
            job.report(format!(
                "{name}: step {step} of {}, ELBO {:.2}",
                setup.steps,
                outcome.elbo()
            ));
        }
        training.push(outcome);
    }
    let draw = model.elbo_draw(held_out, &mut rng)?;
    let elbo = ((&draw.reconstruction + &draw.consistency)? + &draw.prior_matching)?;
    let top = draw.latents.last().map(|z| z.narrow(1, 0, 2)).transpose()?;
    let top_latents = match top {
        Some(z) => common::points(&z)?.into_iter().take(SHOWN).collect(),
        None => Vec::new(),
    };
    let samples = common::points(&model.sample(SAMPLES, &mut rng)?)?;
    Ok(Stage {
        training,
        reconstruction: estimate(&draw.reconstruction)?,
        consistency: estimate(&draw.consistency)?,
        prior_matching: estimate(&draw.prior_matching)?,
        elbo: estimate(&elbo)?,
        parameters: model.parameter_counts(),
        on_data: common::near_a_mode(mixture, &samples),
        samples,
        top_latents,
    })
}

/// The diffusion model with T steps of the cosine schedule, the exact posterior
/// mean and σ² = β_t: its bound over 200 data points, and DDPM samples.
fn diffusion_model(steps: usize, seed: u64, inputs: &Inputs, job: &JobContext) -> Result<Diffusion> {
    let mixture = inputs.mixture.as_ref();
    let schedule = Arc::new(Schedule::new(&ScheduleConfig {
        kind: ScheduleKind::Cosine,
        train_steps: steps,
        ..ScheduleConfig::default()
    })?);
    let mut rng = NoiseRng::seed_from(seed.wrapping_add(11));
    let (x0, _) = mixture.sample(BOUND_POINTS, None, &mut rng)?;
    // σ² = β_t: on these blobs it bounds far better than β_post (see the
    // learned-variance scene), and the bound is what is compared.
    let config = ElboConfig {
        variance: DdpmVariance::Large,
        decoder: Decoder::Gaussian,
    };
    let keep_going = || !job.is_cancelled();
    let (mut bounds, mut prior) = (Vec::with_capacity(BOUND_POINTS), 0.0);
    for i in 0..BOUND_POINTS {
        let terms = elbo_terms(&schedule, mixture, &x0.get(i)?, None, config, &mut rng, &keep_going)?;
        prior += terms.prior_nats / BOUND_POINTS as f64;
        bounds.push(terms.total_nats());
    }
    let (mean, standard_error) = common::mean_and_standard_error(&bounds);
    let sampler_config = SamplerConfig {
        kind: SamplerKind::Ddpm,
        steps,
        ddpm_variance: DdpmVariance::Large,
        ..SamplerConfig::default()
    };
    let mut sampler = build_sampler(&sampler_config, schedule)?;
    let start = rng.randn((SAMPLES, 2), &candle_core::Device::Cpu)?;
    let samples = common::points(&common::run_to_end(sampler.as_mut(), mixture, &start, &mut rng, job)?)?;
    Ok(Diffusion {
        steps,
        bound: Estimate { mean, standard_error },
        prior_nats: prior,
        on_data: common::near_a_mode(mixture, &samples),
        samples,
    })
}

/// The bars' colours: reconstruction, consistency, prior matching, ELBO.
const TERM_COLORS: [[u8; 3]; 4] = [DETERMINISTIC, [120, 200, 110], STOCHASTIC, [200, 200, 200]];

impl HvaeToDiffusion {
    /// The diffusion model with T = `steps`, if computed.
    #[must_use]
    pub fn diffusion_at(&self, steps: usize) -> Option<&Diffusion> {
        self.diffusion.iter().find(|d| d.steps == steps)
    }

    fn plane(&self, title: String, series: Vec<Series>) -> Panel {
        let mut plane = Panel::plane(title, series);
        plane.backdrop = Some(self.backdrop.clone());
        plane
    }

    fn terms_panel(&self) -> Panel {
        let names = ["reconstruction", "consistency", "prior matching", "ELBO"];
        let series = names
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let bars = self
                    .stages
                    .iter()
                    .enumerate()
                    .map(|(i, stage)| {
                        let value = [
                            stage.reconstruction,
                            stage.consistency,
                            stage.prior_matching,
                            stage.elbo,
                        ][k];
                        [(i + 1) as f64 + 0.2 * k as f64 - 0.3, value.mean]
                    })
                    .collect();
                Series::bars(*name, TERM_COLORS[k], bars)
            })
            .collect();
        Panel {
            title: "the ELBO in Luo's three parts, by stage".into(),
            x_label: "stage (1 HVAE … 4 diffusion)".into(),
            y_label: "nats (held out)".into(),
            series,
            ..Panel::default()
        }
    }

    fn training_panel(&self) -> Panel {
        let colors = [[150, 150, 150], [230, 120, 200], STOCHASTIC, DETERMINISTIC];
        let series = self
            .stages
            .iter()
            .enumerate()
            .map(|(k, stage)| {
                let points = stage
                    .training
                    .chunks(50)
                    .map(|c| {
                        let mean = c.iter().map(HvaeStep::elbo).sum::<f64>() / c.len() as f64;
                        [c.last().map_or(0.0, |s| s.step as f64), mean.max(-20.0)]
                    })
                    .collect();
                Series::line(format!("stage {}", k + 1), colors[k], points)
            })
            .collect();
        Panel {
            title: "training: each stage's ELBO (from −20)".into(),
            x_label: "training step".into(),
            y_label: "ELBO (nats)".into(),
            series,
            ..Panel::default()
        }
    }

    fn bound_panel(&self) -> Panel {
        let bounds = self
            .diffusion
            .iter()
            .map(|d| [(d.steps as f64).log10(), d.bound.mean])
            .collect();
        let ends = [0.0, 3.0];
        let mut series = vec![
            Series::line("−ELBO, best mean, σ² = β_t", DETERMINISTIC, bounds),
            Series::line(
                "H, the data's entropy",
                [150, 150, 150],
                ends.iter().map(|x| [*x, self.data_entropy]).collect(),
            ),
        ];
        if let Some(stage) = self.stages.last() {
            series.push(Series::points(
                "stage 4 (learned, T = 3)",
                STOCHASTIC,
                vec![[(LEVELS as f64).log10(), -stage.elbo.mean]],
            ));
        }
        Panel {
            title: "diffusion models' bound against T".into(),
            x_label: "log₁₀ T".into(),
            y_label: "−ELBO (nats)".into(),
            series,
            ..Panel::default()
        }
    }

    /// Row 1: stage `stage`'s samples and top latents, the T = `steps` diffusion
    /// model's samples. Row 2: the ELBO's parts by stage, training, bound against T.
    #[must_use]
    pub fn figure_at(&self, stage: usize, steps: usize) -> Figure {
        let index = stage.clamp(1, STAGES.len()) - 1;
        let chosen = self.stages.get(index);
        let shown = |points: &[Point]| points.iter().take(SHOWN).copied().collect::<Vec<_>>();
        let samples = chosen.map(|s| shown(&s.samples)).unwrap_or_default();
        let latents = chosen.map(|s| s.top_latents.clone()).unwrap_or_default();
        let diffusion = self.diffusion_at(steps).or(self.diffusion.last());
        let diffusion_samples = diffusion.map(|d| shown(&d.samples)).unwrap_or_default();
        let mut latent_panel = Panel::plane(
            format!("stage {}: the top latent z_{LEVELS} of held-out x", index + 1),
            vec![Series::points(
                "z_T ~ q(z_T|x) (first two coordinates)",
                [230, 120, 200],
                latents,
            )],
        );
        latent_panel.x_label = "z_T,1".into();
        latent_panel.y_label = "z_T,2".into();
        let mut figure = Figure {
            panels: vec![
                self.plane(
                    format!("stage {}: {}", index + 1, STAGES[index]),
                    vec![Series::points("samples", STOCHASTIC, samples)],
                ),
                latent_panel,
                self.plane(
                    format!("diffusion, T = {}: DDPM samples", diffusion.map_or(0, |d| d.steps)),
                    vec![Series::points("samples", DETERMINISTIC, diffusion_samples)],
                ),
                self.terms_panel(),
                self.training_panel(),
                self.bound_panel(),
            ],
            ..Figure::default()
        };
        self.numbers(&mut figure);
        figure
    }

    fn numbers(&self, figure: &mut Figure) {
        figure.number("H, the data's entropy", self.data_entropy, "nats");
        for (k, stage) in self.stages.iter().enumerate() {
            let n = k + 1;
            figure.number(format!("stage {n}: ELBO"), stage.elbo.mean, "nats");
            figure.number(
                format!("stage {n}: ELBO standard error"),
                stage.elbo.standard_error,
                "nats",
            );
            figure.number(format!("stage {n}: reconstruction"), stage.reconstruction.mean, "nats");
            figure.number(format!("stage {n}: consistency"), stage.consistency.mean, "nats");
            figure.number(format!("stage {n}: prior matching"), stage.prior_matching.mean, "nats");
            figure.number(
                format!("stage {n}: prior matching standard error"),
                stage.prior_matching.standard_error,
                "nats",
            );
            figure.number(format!("stage {n}: encoder parameters"), stage.parameters.0 as f64, "");
            figure.number(format!("stage {n}: decoder parameters"), stage.parameters.1 as f64, "");
            figure.number(format!("stage {n}: samples near a mode"), stage.on_data, "");
        }
        for d in &self.diffusion {
            figure.number(format!("T = {}: −ELBO", d.steps), d.bound.mean, "nats");
            figure.number(
                format!("T = {}: −ELBO standard error", d.steps),
                d.bound.standard_error,
                "nats",
            );
            figure.number(format!("T = {}: L_T", d.steps), d.prior_nats, "nats");
            figure.number(format!("T = {}: samples near a mode", d.steps), d.on_data, "");
        }
    }

    /// [`Self::figure_at`] what the setup draws.
    #[must_use]
    pub fn figure(&self) -> Figure {
        self.figure_at(self.setup.stage, self.setup.diffusion_steps)
    }
}
