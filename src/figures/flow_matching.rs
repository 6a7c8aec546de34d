//! Flow matching and rectified flow (Lipman et al. 2023; Liu, Gong & Liu 2023;
//! minibatch OT: Tong et al. 2023), on the three-blob mixture.
//!
//! - **Paths.** From the same noise, the flow ODE dx/dτ = u(x, τ) on the path
//!   x_τ = (1 − τ) x_0 + τ ε, with the mixture's exact velocity, beside the
//!   diffusion probability-flow ODE's paths (exact score). Straightness is the
//!   end-to-end distance over the length travelled (1 = a straight line).
//! - **The velocity field** u(·, τ) at the τ shown, with the particles there.
//! - **Couplings.** Three flow MLPs trained alike: independent pairs of data
//!   and noise; minibatch optimal-transport pairs (each batch assigned by the
//!   Hungarian method); and reflow, trained on the first flow's own (noise,
//!   sample) pairs (Liu et al. §3.2), whose paths it straightens.
//! - **One step.** x_0 ≈ ε − u(ε, 1): a straight flow lands near the data in a
//!   single Euler step; the exact independent-coupling flow lands on E[x_0], the
//!   mixture's mean.

use candle_core::{Device, Tensor};

use super::Inputs;
use super::common::{self, Frames};
use super::data::{Figure, Panel, Point, Rgb, Series};
use super::error::{FigureError, Result};
use crate::data::Dataset;
use crate::diffusion::coupling::ot_paired_noise;
use crate::diffusion::flow::{
    DenoiserField, FlowConfig, FlowSampler, FlowSolver, VelocityField, run_flow, straightness,
};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler};
use crate::diffusion::{NoiseRng, PredictionType};
use crate::jobs::JobContext;
use crate::model::TrainedModel;
use crate::model::train::Trainer;

/// Particles per run (the statistics); the first [`PATHS`] are drawn.
const PARTICLES: usize = 1000;
/// Paths drawn per flow.
const PATHS: usize = 16;
/// Euler steps of every flow's path.
pub const FLOW_STEPS: usize = 50;
/// Heun steps of the probability-flow ODE.
const ODE_STEPS: usize = 100;
/// Rows per training batch.
const BATCH: usize = 128;
/// Rows per optimal-transport assignment: each batch is paired in blocks of
/// this many (the Hungarian method is O(n³); in 2D, blocks of 64 already pair
/// nearly as well as the whole batch).
const OT_BLOCK: usize = 64;
/// (noise, sample) pairs the reflow trains on.
const REFLOW_PAIRS: usize = 4000;
/// Points drawn per cloud (the statistics use all [`PARTICLES`]).
const SHOWN_POINTS: usize = 300;
/// Arrows along x.
const ARROWS_PER_SIDE: usize = 16;

/// The exact flow's colour, and the learned flows'.
const EXACT: Rgb = [100, 180, 250];
const PF_ODE: Rgb = [240, 150, 60];
const INDEPENDENT: Rgb = [240, 150, 60];
const OPTIMAL_TRANSPORT: Rgb = [120, 200, 110];
const REFLOW: Rgb = [230, 120, 200];

/// How long the flows train, and the τ shown.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Setup {
    /// Training steps of each of the three flows (batches of 128).
    pub steps: usize,
    /// Seeds the training runs and the noise.
    pub seed: u64,
    /// The flow time shown, 0 (data) to 1 (noise), as a step of [`FLOW_STEPS`].
    pub step: usize,
}

impl Default for Setup {
    /// 1500 steps, seed 0, half way (τ = 0.5).
    fn default() -> Self {
        Self {
            steps: 1500,
            seed: 0,
            step: FLOW_STEPS / 2,
        }
    }
}

figure_setup!(Setup, {
    steps => "steps": "training steps of each learned flow (batches of 128)",
    seed => "seed": "seeds the training runs and the noise",
    step => "step": "the flow step shown, 0 (τ = 1, noise) to 50 (τ = 0, data)",
});

/// One flow run from the shared noise.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowRun {
    /// The particles after each step (frame 0: the noise).
    pub frames: Frames,
    /// Mean straightness over the particles.
    pub straightness: f64,
    /// One Euler step's samples, x_0 = ε − u(ε, 1).
    pub one_step: Vec<Point>,
    /// Fraction of the one-step samples within 2 std of a mode (2, not 3: the
    /// mixture's mean, where the exact flow's single step lands, is just under
    /// 3 std from the largest mode).
    pub one_step_near_modes: f64,
}

/// Everything the figure shows.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowMatching {
    /// The flow with the exact velocity.
    pub exact: FlowRun,
    /// The probability-flow ODE's particles (exact score, Heun), every other step.
    pub pf_ode: Frames,
    /// Its straightness.
    pub pf_ode_straightness: f64,
    /// (flow, PF-ODE) straightness with the largest mode alone as the data:
    /// without a choice of mode to make, the flow's paths are the straighter.
    pub one_mode_straightness: (f64, f64),
    /// The exact velocity at every arrow origin, per shown step 0..=[`FLOW_STEPS`].
    pub velocities: Vec<Vec<Point>>,
    /// Arrow origins.
    pub origins: Vec<Point>,
    /// The learned flows: independent coupling, minibatch OT, reflow.
    pub learned: [FlowRun; 3],
    /// Their training losses.
    pub losses: [Vec<Point>; 3],
    /// The step shown.
    pub shown: usize,
}

/// The learned flows' names, in [`FlowMatching::learned`]'s order.
pub const LEARNED: [&str; 3] = ["independent coupling", "minibatch OT coupling", "reflow"];

/// Trains the three flows and runs every flow from the same noise.
///
/// # Errors
/// No training steps or a step past [`FLOW_STEPS`]; a training failure; cancelled.
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<FlowMatching> {
    if setup.steps == 0 {
        return Err(FigureError::bad_value("steps", "0", "must be at least 1"));
    }
    if setup.step > FLOW_STEPS {
        return Err(FigureError::bad_value(
            "step",
            &setup.step.to_string(),
            format!("must be at most {FLOW_STEPS}"),
        ));
    }
    let mixture = inputs.mixture.as_ref();
    let noise = NoiseRng::seed_from(setup.seed + 1).randn((PARTICLES, 2), &Device::Cpu)?;
    job.report("the exact flow and the probability-flow ODE");
    let exact = flow_run(mixture, mixture, &noise, job)?;
    let pf_ode = probability_flow(inputs, &noise, job)?;
    let pf_ode_straightness = frames_straightness(&pf_ode)?;
    let one_mode_straightness = one_mode(inputs, &noise, job)?;
    let origins = common::arrow_grid(ARROWS_PER_SIDE);
    let velocities = exact_velocities(mixture, &origins)?;
    let (learned, losses) = learned_flows(setup, inputs, &noise, job)?;
    Ok(FlowMatching {
        exact,
        pf_ode,
        pf_ode_straightness,
        one_mode_straightness,
        velocities,
        origins,
        learned,
        losses,
        shown: setup.step,
    })
}

/// A flow's paths from `noise`, their straightness and its one-step samples.
fn flow_run(field: &dyn VelocityField, mixture: &GaussianMixture, noise: &Tensor, job: &JobContext) -> Result<FlowRun> {
    let sampler = FlowSampler::new(FlowConfig {
        solver: FlowSolver::Euler,
        steps: FLOW_STEPS,
    })?;
    let mut recorder = common::FrameRecorder::new(noise, job)?;
    let finished = run_flow(&sampler, field, None, noise, |out| recorder.record(&out.x_next))?;
    let frames = recorder.finish(finished.is_some())?;
    let one_step = common::points(&(noise - field.velocity(noise, 1.0, None)?)?)?;
    Ok(FlowRun {
        straightness: frames_straightness(&frames)?,
        one_step_near_modes: common::within_stds_of_a_mode(mixture, &one_step, 2.0),
        one_step,
        frames,
    })
}

fn frames_straightness(frames: &Frames) -> Result<f64> {
    let tensors = frames
        .iter()
        .map(|f| common::tensor_f64(f))
        .collect::<Result<Vec<_>>>()?;
    Ok(straightness(&tensors)?)
}

/// The probability-flow ODE from the same noise (x_T ≈ ε at ᾱ_T = 4·10⁻⁵).
fn probability_flow(inputs: &Inputs, noise: &Tensor, job: &JobContext) -> Result<Frames> {
    let config = SamplerConfig {
        kind: SamplerKind::HeunOde,
        steps: ODE_STEPS,
        ..SamplerConfig::default()
    };
    let mut sampler = build_sampler(&config, std::sync::Arc::clone(&inputs.schedule))?;
    let mut rng = NoiseRng::seed_from(0);
    let frames = common::trace(sampler.as_mut(), inputs.mixture.as_ref(), None, noise, &mut rng, job)?;
    Ok(frames.into_iter().step_by(ODE_STEPS / FLOW_STEPS).collect())
}

/// (flow, PF-ODE) straightness with the mixture's heaviest component alone.
fn one_mode(inputs: &Inputs, noise: &Tensor, job: &JobContext) -> Result<(f64, f64)> {
    let heaviest = inputs
        .mixture
        .components()
        .iter()
        .max_by(|a, b| a.weight.total_cmp(&b.weight))
        .cloned()
        .ok_or(FigureError::Cancelled)?;
    let alone = GaussianMixture::new(vec![heaviest])?;
    let flow = flow_run(&alone, &alone, noise, job)?;
    let single = Inputs {
        mixture: std::sync::Arc::new(alone),
        schedule: std::sync::Arc::clone(&inputs.schedule),
    };
    let ode = probability_flow(&single, noise, job)?;
    Ok((flow.straightness, frames_straightness(&ode)?))
}

/// u(origin, τ_k) at τ_k = 1 − k/[`FLOW_STEPS`] for every k.
fn exact_velocities(mixture: &GaussianMixture, origins: &[Point]) -> Result<Vec<Vec<Point>>> {
    let at = common::tensor_f64(origins)?;
    (0..=FLOW_STEPS)
        .map(|k| {
            let tau = 1.0 - k as f64 / FLOW_STEPS as f64;
            common::points(&mixture.velocity(&at, tau, None)?)
        })
        .collect()
}

/// The three learned flows and their losses.
fn learned_flows(
    setup: &Setup,
    inputs: &Inputs,
    noise: &Tensor,
    job: &JobContext,
) -> Result<([FlowRun; 3], [Vec<Point>; 3])> {
    let mixture = inputs.mixture.as_ref();
    let data = Dataset::from_mixture_samples(mixture, 5000, setup.seed, "the three-blob mixture")?;
    let (mut trainers, mut losses) = (Vec::new(), Vec::new());
    for (i, name) in LEARNED.iter().enumerate() {
        let (mut model, mut config) = common::mlp_2d(setup.seed + i as u64);
        model.prediction = PredictionType::FlowVelocity;
        config.batch = BATCH;
        trainers.push((name, Trainer::new(model, config, data.clone())?));
    }
    let mut rng = NoiseRng::seed_from(setup.seed + 7);
    let mut models = Vec::new();
    let mut runs = Vec::new();
    for (index, (name, mut trainer)) in trainers.into_iter().enumerate() {
        let mut curve = Vec::with_capacity(setup.steps);
        let reflow_pairs = match index {
            2 => Some(reflow_pairs(models.first(), inputs, &mut rng, job)?),
            _ => None,
        };
        for step in 1..=setup.steps {
            common::check(job)?;
            let report = match (index, &reflow_pairs) {
                (0, _) => trainer.step()?,
                (_, None) => {
                    let x0 = batch_of(&data, &mut rng)?;
                    let paired = ot_pairs_in_blocks(&x0, &rng.randn((BATCH, 2), &Device::Cpu)?)?;
                    trainer.step_on_pairs(&x0, &paired)?
                }
                (_, Some((samples, starts))) => {
                    let rows = Tensor::from_vec(data_rows(samples.dim(0)?, &mut rng), BATCH, &Device::Cpu)?;
                    trainer.step_on_pairs(&samples.index_select(&rows, 0)?, &starts.index_select(&rows, 0)?)?
                }
            };
            curve.push([step as f64, report.loss]);
            if step % 100 == 0 {
                job.report(format!(
                    "{name}: step {step} of {}, loss {:.4}",
                    setup.steps, report.loss
                ));
            }
        }
        let model = trainer.ema_model()?;
        let field = DenoiserField {
            denoiser: &model,
            schedule: &inputs.schedule,
        };
        runs.push(flow_run(&field, mixture, noise, job)?);
        losses.push(curve);
        models.push(model);
    }
    // Exactly one run and one curve per entry of LEARNED.
    let runs: [FlowRun; 3] = runs.try_into().map_err(|_| FigureError::Cancelled)?;
    let losses: [Vec<Point>; 3] = losses.try_into().map_err(|_| FigureError::Cancelled)?;
    Ok((runs, losses))
}

/// `noise` paired with `x0` by optimal transport within blocks of [`OT_BLOCK`] rows.
fn ot_pairs_in_blocks(x0: &Tensor, noise: &Tensor) -> Result<Tensor> {
    let blocks = (0..BATCH.div_ceil(OT_BLOCK))
        .map(|b| {
            let (start, len) = (b * OT_BLOCK, OT_BLOCK.min(BATCH - b * OT_BLOCK));
            Ok(ot_paired_noise(
                &x0.narrow(0, start, len)?,
                &noise.narrow(0, start, len)?,
            )?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Tensor::cat(&blocks, 0)?)
}

/// `BATCH` random rows of the data.
fn batch_of(data: &Dataset, rng: &mut NoiseRng) -> Result<Tensor> {
    let indices = data.random_indices(BATCH, rng);
    Ok(Tensor::from_vec(
        data.gather(&indices),
        (BATCH, data.dims),
        &Device::Cpu,
    )?)
}

/// `BATCH` random row numbers below `rows`.
fn data_rows(rows: usize, rng: &mut NoiseRng) -> Vec<u32> {
    (0..BATCH)
        .map(|_| {
            let row = ((rng.uniform() * rows as f64) as usize).min(rows.saturating_sub(1));
            u32::try_from(row).unwrap_or(0)
        })
        .collect()
}

/// (samples, noise) of the first flow's ODE from fresh noise: reflow's training pairs.
fn reflow_pairs(
    first: Option<&TrainedModel>,
    inputs: &Inputs,
    rng: &mut NoiseRng,
    job: &JobContext,
) -> Result<(Tensor, Tensor)> {
    let first = first.ok_or(FigureError::Cancelled)?;
    job.report(format!("reflow: the first flow's ODE from {REFLOW_PAIRS} noise draws"));
    let starts = rng.randn((REFLOW_PAIRS, 2), &Device::Cpu)?;
    let field = DenoiserField {
        denoiser: first,
        schedule: &inputs.schedule,
    };
    let sampler = FlowSampler::new(FlowConfig {
        solver: FlowSolver::Heun,
        steps: FLOW_STEPS / 2,
    })?;
    let samples = run_flow(&sampler, &field, None, &starts, |_| job.keep_going())?.ok_or(FigureError::Cancelled)?;
    Ok((samples, starts))
}

impl FlowMatching {
    /// Every panel at flow step `step` (τ = 1 − step/50).
    #[must_use]
    pub fn figure_at(&self, step: usize) -> Figure {
        let step = step.min(FLOW_STEPS);
        let tau = 1.0 - step as f64 / FLOW_STEPS as f64;
        let paths = |frames: &Frames| common::paths(frames, PATHS);
        // Where each drawn path is at the step shown.
        let now = |frames: &Frames| -> Vec<Point> {
            frames
                .get(step)
                .map(|f| f.iter().take(PATHS).copied().collect())
                .unwrap_or_default()
        };
        let shown = |points: &[Point]| points.iter().take(SHOWN_POINTS).copied().collect::<Vec<_>>();
        let mut panels = vec![Panel::plane(
            "the same noise: flow matching and the PF-ODE",
            vec![
                Series::lines(
                    format!("flow, exact u (straightness {:.3})", self.exact.straightness),
                    EXACT,
                    paths(&self.exact.frames),
                ),
                Series::lines(
                    format!("PF-ODE, exact score ({:.3})", self.pf_ode_straightness),
                    PF_ODE,
                    paths(&self.pf_ode),
                ),
                Series::points("flow at τ", EXACT, now(&self.exact.frames)),
                Series::points("PF-ODE at the same step", PF_ODE, now(&self.pf_ode)),
            ],
        )];
        let empty = Vec::new();
        let vectors = self.velocities.get(step).unwrap_or(&empty);
        // Arrows of the velocity over a tenth of the flow time, capped for readability.
        let scaled: Vec<Point> = vectors.iter().map(|v| [v[0] * 0.1, v[1] * 0.1]).collect();
        let tips = common::arrow_tips(&self.origins, &scaled, 0.5);
        let particles = self.exact.frames.get(step).map(|f| shown(f)).unwrap_or_default();
        panels.push(Panel::plane(
            format!("velocity u(x, τ) at τ = {tau:.2}"),
            vec![
                Series::arrows("0.1 u (capped)", [160, 160, 160], &self.origins, &tips),
                Series::points("particles at τ", EXACT, particles),
            ],
        ));
        let colors = [INDEPENDENT, OPTIMAL_TRANSPORT, REFLOW];
        let learned_paths = self
            .learned
            .iter()
            .zip(LEARNED)
            .zip(colors)
            .map(|((run, name), color)| {
                Series::lines(format!("{name} ({:.3})", run.straightness), color, paths(&run.frames))
            })
            .collect();
        panels.push(Panel::plane("learned flows from the same noise", learned_paths));
        let mut one_step: Vec<Series> = self
            .learned
            .iter()
            .zip(LEARNED)
            .zip(colors)
            .map(|((run, name), color)| {
                Series::points(
                    format!("{name} ({:.0}% near a mode)", 100.0 * run.one_step_near_modes),
                    color,
                    shown(&run.one_step),
                )
            })
            .collect();
        one_step.push(Series::points("exact u: E[x0]", EXACT, shown(&self.exact.one_step)));
        panels.push(Panel::plane("one Euler step: x0 = ε − u(ε, 1)", one_step));
        let mut figure = Figure {
            panels,
            ..Figure::default()
        };
        self.numbers(&mut figure, tau);
        figure
    }

    fn numbers(&self, figure: &mut Figure, tau: f64) {
        figure.number("τ shown", tau, "");
        figure.number("straightness: exact flow", self.exact.straightness, "");
        figure.number("straightness: PF-ODE", self.pf_ode_straightness, "");
        figure.number("straightness, one mode: exact flow", self.one_mode_straightness.0, "");
        figure.number("straightness, one mode: PF-ODE", self.one_mode_straightness.1, "");
        for (run, name) in self.learned.iter().zip(LEARNED) {
            figure.number(format!("straightness: {name}"), run.straightness, "");
            figure.number(format!("one step near a mode: {name}"), run.one_step_near_modes, "");
        }
        figure.number("one step near a mode: exact flow", self.exact.one_step_near_modes, "");
        for (curve, name) in self.losses.iter().zip(LEARNED) {
            figure.number(
                format!("final loss: {name}"),
                curve.last().map_or(f64::NAN, |p| p[1]),
                "",
            );
        }
    }

    /// [`Self::figure_at`] the setup's step.
    #[must_use]
    pub fn figure(&self) -> Figure {
        self.figure_at(self.shown)
    }
}
