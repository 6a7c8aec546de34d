//! `sample`: draw samples with any sampler, on the diffusion process or the flow path.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use candle_core::Tensor;
use clap::Args;

use super::{ScheduleArgs, limits};
use crate::diffusion::denoiser::NoisyClassifier;
use crate::diffusion::flow::{DenoiserField, FlowConfig, FlowSampler, FlowSolver, Process, VelocityField, run_flow};
use crate::diffusion::guidance::{GuidanceConfig, GuidanceKind, Guided, SigmaInterval};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::edm::EdmConfig;
use crate::diffusion::sampler::{
    DdpmVariance, DpmSolverConfig, LangevinConfig, SamplerConfig, SamplerKind, build_sampler, sample_from_noise,
};
use crate::diffusion::{Denoiser, NoiseRng, Schedule, ScheduleConfig, TimestepSpacing};
use crate::model::TrainedModel;

/// Options of `sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The model: gmm:PATH for the exact denoiser of a mixture JSON file,
    /// net:PATH (or PATH.safetensors) for a trained network (which uses its own schedule).
    #[arg(long)]
    pub model: String,
    /// diffusion (the VP process) or flow (the flow-matching path x_τ = (1 − τ) x_0 + τ ε).
    #[arg(long, default_value = "diffusion")]
    pub process: Process,
    /// Diffusion: ddpm, ddim (default), euler-ode, heun-ode, reverse-sde, dpm-solver++, langevin,
    /// annealed-langevin, edm-heun or edm-stochastic. Flow: euler (default) or heun.
    #[arg(long)]
    pub sampler: Option<String>,
    /// N, the number of sampling steps (noise levels for Langevin).
    #[arg(long, default_value_t = 50)]
    pub steps: usize,
    /// leading, trailing, linspace, log-snr (even in log-SNR), karras (Karras et al. σ, ρ = 7)
    /// or time-quadratic (√t even, DPM-Solver's). Default: time-quadratic for dpm-solver++,
    /// karras for edm-heun and edm-stochastic, leading for the others.
    #[arg(long)]
    pub spacing: Option<TimestepSpacing>,
    /// DPM-Solver++: take the step into the last level first order (true or false).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub lower_order_final: bool,
    /// edm-stochastic: S_churn, the noise added over the run.
    #[arg(long, default_value_t = EdmConfig::default().churn)]
    pub edm_churn: f64,
    /// edm-stochastic: S_tmin, no churn below this σ.
    #[arg(long, default_value_t = EdmConfig::default().sigma_min)]
    pub edm_sigma_min: f64,
    /// edm-stochastic: S_tmax, no churn above this σ.
    #[arg(long, default_value_t = EdmConfig::default().sigma_max)]
    pub edm_sigma_max: f64,
    /// edm-stochastic: S_noise, the added noise's scale.
    #[arg(long, default_value_t = EdmConfig::default().noise)]
    pub edm_noise: f64,
    /// DDIM's stochasticity η in [0, 1].
    #[arg(long, default_value_t = 0.0)]
    pub eta: f64,
    /// DDPM's reverse variance: small (β̃_t) or large (β_t).
    #[arg(long, default_value = "small", value_parser = parse_ddpm_variance)]
    pub ddpm_variance: DdpmVariance,
    /// Clip x̂0 to [−1, 1] at every step (image data only).
    #[arg(long)]
    pub clip_sample: bool,
    /// The number of samples.
    #[arg(long, default_value_t = 2000)]
    pub n: usize,
    /// The RNG seed; the same seed gives the same samples.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Condition on this class label.
    #[arg(long)]
    pub class: Option<u32>,
    /// The guidance scale γ (needs --class).
    #[arg(long)]
    pub guidance: Option<f64>,
    /// cfg (classifier-free) or classifier.
    #[arg(long, default_value = "cfg")]
    pub guidance_kind: GuidanceKind,
    /// Guide only where σ = √((1 − ᾱ)/ᾱ) lies in (LOW, HIGH], for example 0.3,5
    /// (Kynkäänniemi et al. 2024); elsewhere γ = 1. Default: every step.
    #[arg(long)]
    pub guidance_interval: Option<SigmaInterval>,
    /// Langevin updates per noise level.
    #[arg(long, default_value_t = LangevinConfig::default().steps_per_level)]
    pub langevin_steps_per_level: usize,
    /// Plain Langevin's step size.
    #[arg(long, default_value_t = LangevinConfig::default().step_size)]
    pub langevin_step_size: f64,
    /// Annealed Langevin's step size at level t is this × (1 − ᾱ_t).
    #[arg(long, default_value_t = LangevinConfig::default().annealed_step_scale)]
    pub annealed_step_scale: f64,
    /// The schedule.
    #[command(flatten)]
    pub schedule: ScheduleArgs,
    /// Where to write the CSV (default: standard output, unless --grid is given).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write image samples as a PNG grid, 8 to a row.
    #[arg(long)]
    pub grid: Option<PathBuf>,
}

fn parse_ddpm_variance(s: &str) -> Result<DdpmVariance, String> {
    match s {
        "small" => Ok(DdpmVariance::Small),
        "large" => Ok(DdpmVariance::Large),
        other => Err(format!("unknown ddpm variance '{other}' (expected small or large)")),
    }
}

/// A model named on the command line.
pub(super) enum CliModel {
    Mixture(GaussianMixture),
    Network(Box<TrainedModel>),
}

impl CliModel {
    /// `gmm:PATH` (mixture JSON) or `net:PATH` / `PATH.safetensors` (trained network).
    pub(super) fn load(spec: &str) -> Result<Self> {
        if let Some(path) = spec.strip_prefix("gmm:") {
            return Ok(Self::Mixture(GaussianMixture::load(Path::new(path))?));
        }
        let path = spec.strip_prefix("net:").unwrap_or(spec);
        if spec.starts_with("net:") || path.ends_with(".safetensors") {
            return Ok(Self::Network(Box::new(TrainedModel::load(Path::new(path))?)));
        }
        bail!("unknown model '{spec}' (expected gmm:PATH to a mixture JSON file or net:PATH to trained weights)")
    }

    pub(super) fn denoiser(&self) -> &dyn Denoiser {
        match self {
            Self::Mixture(m) => m,
            Self::Network(n) => n.as_ref(),
        }
    }

    pub(super) fn classifier(&self) -> Option<&dyn NoisyClassifier> {
        match self {
            Self::Mixture(m) => Some(m),
            Self::Network(_) => None,
        }
    }

    pub(super) fn dims(&self) -> usize {
        match self {
            Self::Mixture(m) => m.dims(),
            Self::Network(n) => n.config().sample_dims(),
        }
    }

    /// A network samples on the schedule it was trained with; a mixture on the one asked for.
    fn schedule(&self, asked: ScheduleConfig) -> ScheduleConfig {
        self.own_schedule().unwrap_or(asked)
    }

    /// A network's own schedule; `None` for the mixture, which takes any.
    pub(super) fn own_schedule(&self) -> Option<ScheduleConfig> {
        match self {
            Self::Mixture(_) => None,
            Self::Network(n) => Some(n.config().schedule),
        }
    }
}

pub(super) fn sample(args: &SampleArgs, stdout: &mut dyn std::io::Write) -> Result<()> {
    if args.n == 0 {
        bail!("--n must be at least 1");
    }
    if args.guidance.is_some() && args.class.is_none() {
        bail!("--guidance needs --class");
    }
    if args.guidance_interval.is_some() && args.guidance.is_none() {
        bail!("--guidance-interval needs --guidance");
    }
    for (flag, path) in [("--out", &args.out), ("--grid", &args.grid)] {
        if let Some(path) = path {
            limits::check_writable(flag, path)?;
        }
    }
    let model = CliModel::load(&args.model)?;
    let network = matches!(model, CliModel::Network(_));
    limits::check_memory("--n", args.n, limits::bytes_per_sample(model.dims(), network))?;
    let schedule = Arc::new(Schedule::new(&model.schedule(args.schedule.config()))?);
    let guidance = GuidanceConfig {
        kind: args.guidance_kind,
        scale: args.guidance.unwrap_or(1.0),
        interval: args.guidance_interval.unwrap_or_default(),
    };
    let guided = Guided::new(model.denoiser(), model.classifier(), guidance)?;
    let labels = args.class.map(|y| vec![y; args.n]);
    let mut rng = NoiseRng::seed_from(args.seed);
    let dims = model.dims();
    let shape = [args.n, dims];
    let samples = match args.process {
        Process::Diffusion => {
            let mut sampler = build_sampler(&diffusion_config(args)?, schedule)?;
            sample_from_noise(sampler.as_mut(), &guided, labels.as_deref(), &shape, &mut rng)?
        }
        Process::Flow => {
            let sampler = FlowSampler::new(flow_config(args)?)?;
            let start = rng.randn(&shape, &candle_core::Device::Cpu)?;
            // The mixture's own velocity is exact in f64; guidance and networks go
            // through their denoiser at the matching VP level.
            let adapted = DenoiserField {
                denoiser: &guided,
                schedule: &schedule,
            };
            let field: &dyn VelocityField = match &model {
                CliModel::Mixture(mixture) if args.guidance.is_none() => mixture,
                _ => &adapted,
            };
            run_flow(
                &sampler,
                field,
                labels.as_deref(),
                &start,
                |_| ControlFlow::Continue(()),
            )?
            .context("the flow run was stopped")?
        }
    };
    write_samples(args, &samples, dims, stdout)
}

/// The named diffusion sampler, or its one-line error.
fn diffusion_kind(args: &SampleArgs) -> Result<SamplerKind> {
    let Some(name) = &args.sampler else {
        return Ok(SamplerKind::default());
    };
    name.parse().map_err(|_| match name.parse::<FlowSolver>() {
        Ok(_) => anyhow::anyhow!("--sampler {name} runs on the flow path; add --process flow"),
        Err(_) => anyhow::anyhow!("unknown sampler '{name}' (expected one of {})", names(SamplerKind::ALL)),
    })
}

/// The named flow solver, or its one-line error.
fn flow_config(args: &SampleArgs) -> Result<FlowConfig> {
    let solver = match &args.sampler {
        None => FlowSolver::default(),
        Some(name) => name.parse().map_err(|_| match name.parse::<SamplerKind>() {
            Ok(_) => anyhow::anyhow!(
                "--sampler {name} is a diffusion sampler; --process flow takes {}",
                names(FlowSolver::ALL)
            ),
            Err(_) => anyhow::anyhow!(
                "unknown sampler '{name}' (--process flow takes {})",
                names(FlowSolver::ALL)
            ),
        })?,
    };
    Ok(FlowConfig {
        solver,
        steps: args.steps,
    })
}

fn names<T: std::fmt::Display>(all: &[T]) -> String {
    all.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn diffusion_config(args: &SampleArgs) -> Result<SamplerConfig> {
    let kind = diffusion_kind(args)?;
    Ok(SamplerConfig {
        kind,
        steps: args.steps,
        spacing: args.spacing.unwrap_or(kind.default_spacing()),
        eta: args.eta,
        ddpm_variance: args.ddpm_variance,
        clip_sample: args.clip_sample,
        langevin: LangevinConfig {
            steps_per_level: args.langevin_steps_per_level,
            annealed_step_scale: args.annealed_step_scale,
            step_size: args.langevin_step_size,
        },
        dpm_solver: DpmSolverConfig {
            lower_order_final: args.lower_order_final,
        },
        edm: EdmConfig {
            churn: args.edm_churn,
            sigma_min: args.edm_sigma_min,
            sigma_max: args.edm_sigma_max,
            noise: args.edm_noise,
        },
    })
}

/// The samples as CSV (to --out or standard output) and, with --grid, as images.
fn write_samples(args: &SampleArgs, samples: &Tensor, dims: usize, stdout: &mut dyn std::io::Write) -> Result<()> {
    let values = samples.flatten_all()?.to_vec1::<f32>()?;
    if let Some(grid) = &args.grid {
        let side = u32::try_from(dims.isqrt()).unwrap_or(0);
        if (side * side) as usize != dims || dims < 16 {
            bail!("--grid needs square images; these samples have {dims} values");
        }
        let count = u32::try_from(args.n).unwrap_or(u32::MAX);
        let image = crate::export::image_grid(&values, side, side, count.min(8), count);
        crate::export::write_png(grid, &crate::export::enlarge(&image, 2)).map_err(anyhow::Error::msg)?;
    }
    let csv = crate::export::points_csv(&values, dims);
    match &args.out {
        Some(path) => crate::export::write_atomically(path, csv.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?,
        None if args.grid.is_none() => stdout.write_all(csv.as_bytes())?,
        None => {}
    }
    Ok(())
}
