//! The command line: the engine's functions behind clap subcommands.
//!
//! Every failure reaches the user as one line naming the problem, and a
//! non-zero exit; `run` never panics on bad input.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

mod bench_model;
mod evaluate;
mod figure;
mod lesson;
mod limits;
mod train;

use crate::diffusion::denoiser::NoisyClassifier;
use crate::diffusion::guidance::{GuidanceConfig, GuidanceKind, Guided};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{
    DdpmVariance, DpmSolverConfig, LangevinConfig, SamplerConfig, SamplerKind, build_sampler, sample_from_noise,
};
use crate::diffusion::timesteps::inference_timesteps;
use crate::diffusion::{Denoiser, NoiseRng, Schedule, ScheduleConfig, ScheduleKind, TimestepSpacing};
use crate::model::TrainedModel;

/// noisescope: watch a diffusion model think.
#[derive(Debug, Parser)]
#[command(name = "noisescope", version, about)]
pub struct Cli {
    /// What to do (default: open the explorer window).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the explorer window (also what no command does).
    Explore(ExploreArgs),
    /// Print a noise schedule as CSV: t,beta,alpha,alpha_bar,snr,log_snr,posterior_variance.
    Schedule(ScheduleArgs),
    /// Print the training timesteps an N-step sampler visits, in sampling order.
    Timesteps(TimestepsArgs),
    /// Draw samples with a sampler and write them as CSV (x,y,...).
    Sample(Box<SampleArgs>),
    /// Print each sampler's speed (steps/s) on the 2D mixture, or a network's (--model).
    Bench(BenchArgs),
    /// Train a denoising network (U-Net for images, MLP for 2D points).
    Train(Box<train::TrainArgs>),
    /// Train the small Fashion-MNIST classifier that `evaluate` judges samples with.
    TrainClassifier(evaluate::ClassifierArgs),
    /// Sample every class and report classifier accuracy and Fréchet distance.
    Evaluate(Box<evaluate::EvaluateArgs>),
    /// Rebuild a scene's figure without a window: CSV per series, PNG, text (--list: the ids).
    Figure(figure::FigureArgs),
    /// Lesson files: `convert OLD NEW` rewrites a lesson in the old format as TOML.
    Lesson(lesson::LessonArgs),
}

/// How the explorer opens.
#[derive(Debug, Args, Default)]
pub struct ExploreArgs {
    /// Open this lesson file at its first stop; a shipped lesson by its name
    /// (default, sohl-dickstein-2015) where no such file exists.
    #[arg(long, value_name = "FILE|NAME", conflicts_with = "scene")]
    pub lesson: Option<PathBuf>,
    /// Open this scene, by its stable id (a wrong id gets the list of them).
    #[arg(long, value_name = "ID")]
    pub scene: Option<String>,
    /// Open in presentation mode.
    #[arg(long)]
    pub present: bool,
    /// Open in the light theme (for a projector in a lit room).
    #[arg(long)]
    pub light: bool,
    /// The window's size in points, WIDTHxHEIGHT (for example 1280x720).
    #[arg(long, value_name = "WxH", value_parser = parse_window_size)]
    pub size: Option<[f32; 2]>,
    /// Write one CSV line per rendered frame here: frame,unix_ms,ui_ms,interval_ms.
    #[arg(long, value_name = "PATH")]
    pub frame_stats: Option<PathBuf>,
}

impl ExploreArgs {
    /// Checks every flag before a window opens.
    ///
    /// # Errors
    /// One line naming the flag: an unreadable or broken lesson, an unknown
    /// scene, a frame-stats file that cannot be created.
    pub fn into_options(self) -> Result<crate::app::LaunchOptions> {
        let scene = self
            .scene
            .as_deref()
            .map(crate::scenes::SceneId::from_id)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--scene: {e}"))?;
        let lesson = match &self.lesson {
            Some(path) => {
                let shipped = path
                    .to_str()
                    .and_then(crate::assets::shipped_lesson)
                    .filter(|_| !path.exists());
                let (source, text) = match shipped {
                    Some(lesson) => (lesson.path.to_owned(), lesson.text.to_owned()),
                    None => {
                        let source = path.display().to_string();
                        let text = std::fs::read_to_string(path)
                            .map_err(|e| anyhow::anyhow!("--lesson {source}: cannot read: {e}"))?;
                        (source, text)
                    }
                };
                crate::app::lesson::parse(&text, &source).map_err(|e| anyhow::anyhow!("--lesson: {e}"))?;
                Some((source, text))
            }
            None => None,
        };
        let frame_stats = match &self.frame_stats {
            Some(path) => Some(
                std::fs::File::create(path)
                    .map_err(|e| anyhow::anyhow!("--frame-stats {}: cannot create: {e}", path.display()))?,
            ),
            None => None,
        };
        Ok(crate::app::LaunchOptions {
            lesson,
            scene,
            present: self.present,
            light: self.light,
            size: self.size,
            frame_stats,
        })
    }
}

/// `WIDTHxHEIGHT` in points, each 320 … 16384.
fn parse_window_size(s: &str) -> Result<[f32; 2], String> {
    let bad = || format!("expected WIDTHxHEIGHT with each in 320 … 16384, for example 1280x720, got '{s}'");
    let (width, height) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let size: [u32; 2] = [
        width.trim().parse().map_err(|_| bad())?,
        height.trim().parse().map_err(|_| bad())?,
    ];
    if size.iter().any(|v| !(320..=16384).contains(v)) {
        return Err(bad());
    }
    Ok(size.map(|v| v as f32))
}

/// The schedule options shared by several commands.
#[derive(Debug, Args, Clone, Copy)]
pub struct ScheduleArgs {
    /// linear, scaled-linear, cosine or sigmoid.
    #[arg(long, default_value = "linear")]
    pub schedule: ScheduleKind,
    /// T, the number of training steps.
    #[arg(long, default_value_t = 1000)]
    pub train_steps: usize,
    /// β at t = 1 (√β's start for scaled-linear). Default: the schedule's own.
    #[arg(long)]
    pub beta_start: Option<f64>,
    /// β at t = T (√β's end for scaled-linear). Default: the schedule's own.
    #[arg(long)]
    pub beta_end: Option<f64>,
    /// Rescale to zero terminal SNR (Lin et al. 2024).
    #[arg(long)]
    pub zero_terminal_snr: bool,
}

impl ScheduleArgs {
    pub(crate) fn config(self) -> ScheduleConfig {
        ScheduleConfig {
            kind: self.schedule,
            train_steps: self.train_steps,
            beta_start: self.beta_start,
            beta_end: self.beta_end,
            zero_terminal_snr: self.zero_terminal_snr,
        }
    }
}

/// Options of `timesteps`.
#[derive(Debug, Args)]
pub struct TimestepsArgs {
    /// The schedule (log-snr and karras spacing depend on it).
    #[command(flatten)]
    pub schedule: ScheduleArgs,
    /// N, the number of inference steps.
    #[arg(long, default_value_t = 50)]
    pub steps: usize,
    /// leading, trailing, linspace, log-snr or karras.
    #[arg(long, default_value = "leading")]
    pub spacing: TimestepSpacing,
}

/// Options of `sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The model: gmm:PATH for the exact denoiser of a mixture JSON file,
    /// net:PATH (or PATH.safetensors) for a trained network (which uses its own schedule).
    #[arg(long)]
    pub model: String,
    /// ddpm, ddim, euler-ode, heun-ode, reverse-sde, dpm-solver++, langevin or annealed-langevin.
    #[arg(long, default_value = "ddim")]
    pub sampler: SamplerKind,
    /// N, the number of sampling steps (noise levels for Langevin).
    #[arg(long, default_value_t = 50)]
    pub steps: usize,
    /// leading, trailing, linspace, log-snr (even in log-SNR) or karras (Karras et al. σ, ρ = 7).
    /// Default: log-snr for dpm-solver++, leading for the others.
    #[arg(long)]
    pub spacing: Option<TimestepSpacing>,
    /// DPM-Solver++: take the step into the last level first order (true or false).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub lower_order_final: bool,
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

/// Options of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Points per run.
    #[arg(long, default_value_t = 2000)]
    pub n: usize,
    /// Steps per run.
    #[arg(long, default_value_t = 50)]
    pub steps: usize,
    /// The mixture to sample (default: the shipped three-blob mixture).
    #[arg(long)]
    pub mixture: Option<PathBuf>,
    /// Benchmark this trained network instead (sampling and training steps/s,
    /// DDIM-50 time, peak memory, and PyTorch's figures for the same weights).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The Python that runs the PyTorch side (needs torch and safetensors).
    #[arg(long, default_value = "python3")]
    pub python: String,
}

fn parse_ddpm_variance(s: &str) -> Result<DdpmVariance, String> {
    match s {
        "small" => Ok(DdpmVariance::Small),
        "large" => Ok(DdpmVariance::Large),
        other => Err(format!("unknown ddpm variance '{other}' (expected small or large)")),
    }
}

/// Runs the command line. Help and version print and succeed.
///
/// # Errors
/// Any bad input or failed write, as one line.
pub fn run<I, T>(args: I, stdout: &mut dyn std::io::Write) -> Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            write!(stdout, "{}", e.render())?;
            return Ok(());
        }
        Err(e) => {
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            bail!("{}", first.trim_start_matches("error: "));
        }
    };
    match cli.command.unwrap_or(Command::Explore(ExploreArgs::default())) {
        Command::Explore(args) => crate::app::launch(args.into_options()?),
        Command::Schedule(args) => write_schedule(args, stdout),
        Command::Timesteps(args) => {
            let ts = inference_timesteps(&Schedule::new(&args.schedule.config())?, args.steps, args.spacing)?;
            let text: String = ts.iter().map(|t| format!("{t}\n")).collect();
            stdout.write_all(text.as_bytes())?;
            Ok(())
        }
        Command::Sample(args) => sample(&args, stdout),
        Command::Bench(args) => bench(&args, stdout),
        Command::Train(args) => train::train(&args, stdout),
        Command::TrainClassifier(args) => evaluate::train_classifier(&args, stdout),
        Command::Evaluate(args) => evaluate::evaluate(&args, stdout),
        Command::Figure(args) => figure::figure(&args, stdout),
        Command::Lesson(args) => lesson::lesson(&args, stdout),
    }
}

fn write_schedule(args: ScheduleArgs, out: &mut dyn std::io::Write) -> Result<()> {
    let schedule = Schedule::new(&args.config())?;
    let mut text = String::from("t,beta,alpha,alpha_bar,snr,log_snr,posterior_variance\n");
    for t in 1..=schedule.train_steps() {
        writeln!(
            text,
            "{t},{},{},{},{},{},{}",
            schedule.beta(t),
            schedule.alpha(t),
            schedule.alpha_bar(t),
            schedule.snr(t),
            schedule.log_snr(t),
            schedule.posterior_variance(t)
        )?;
    }
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// A model named on the command line.
enum CliModel {
    Mixture(GaussianMixture),
    Network(Box<TrainedModel>),
}

impl CliModel {
    /// `gmm:PATH` (mixture JSON) or `net:PATH` / `PATH.safetensors` (trained network).
    fn load(spec: &str) -> Result<Self> {
        if let Some(path) = spec.strip_prefix("gmm:") {
            return Ok(Self::Mixture(GaussianMixture::load(Path::new(path))?));
        }
        let path = spec.strip_prefix("net:").unwrap_or(spec);
        if spec.starts_with("net:") || path.ends_with(".safetensors") {
            return Ok(Self::Network(Box::new(TrainedModel::load(Path::new(path))?)));
        }
        bail!("unknown model '{spec}' (expected gmm:PATH to a mixture JSON file or net:PATH to trained weights)")
    }

    fn denoiser(&self) -> &dyn Denoiser {
        match self {
            Self::Mixture(m) => m,
            Self::Network(n) => n.as_ref(),
        }
    }

    fn classifier(&self) -> Option<&dyn NoisyClassifier> {
        match self {
            Self::Mixture(m) => Some(m),
            Self::Network(_) => None,
        }
    }

    fn dims(&self) -> usize {
        match self {
            Self::Mixture(m) => m.dims(),
            Self::Network(n) => n.config().sample_dims(),
        }
    }

    /// A network samples on the schedule it was trained with; a mixture on the one asked for.
    fn schedule(&self, asked: ScheduleConfig) -> ScheduleConfig {
        match self {
            Self::Mixture(_) => asked,
            Self::Network(n) => n.config().schedule,
        }
    }
}

fn sample(args: &SampleArgs, stdout: &mut dyn std::io::Write) -> Result<()> {
    if args.n == 0 {
        bail!("--n must be at least 1");
    }
    if args.guidance.is_some() && args.class.is_none() {
        bail!("--guidance needs --class");
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
    let config = SamplerConfig {
        kind: args.sampler,
        steps: args.steps,
        spacing: args.spacing.unwrap_or(args.sampler.default_spacing()),
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
    };
    let mut sampler = build_sampler(&config, schedule)?;
    let guidance = GuidanceConfig {
        kind: args.guidance_kind,
        scale: args.guidance.unwrap_or(1.0),
    };
    let guided = Guided::new(model.denoiser(), model.classifier(), guidance)?;
    let labels = args.class.map(|y| vec![y; args.n]);
    let mut rng = NoiseRng::seed_from(args.seed);
    let dims = model.dims();
    let samples = sample_from_noise(sampler.as_mut(), &guided, labels.as_deref(), &[args.n, dims], &mut rng)?;
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
        Some(path) => std::fs::write(path, csv).with_context(|| format!("cannot write {}", path.display()))?,
        None if args.grid.is_none() => stdout.write_all(csv.as_bytes())?,
        None => {}
    }
    Ok(())
}

fn bench(args: &BenchArgs, out: &mut dyn std::io::Write) -> Result<()> {
    if let Some(path) = &args.model {
        return bench_model::bench_model(path, &args.python, out);
    }
    let mixture = match &args.mixture {
        Some(path) => GaussianMixture::load(path)?,
        None => Arc::unwrap_or_clone(crate::assets::three_blobs()?),
    };
    let schedule = Arc::new(Schedule::new(&ScheduleConfig::default())?);
    writeln!(
        out,
        "sampler,points,steps,seconds,steps_per_sec,model_evals_per_step (2D mixture, {} components)",
        mixture.components().len()
    )?;
    for &kind in SamplerKind::ALL {
        let config = SamplerConfig {
            kind,
            steps: args.steps,
            ..SamplerConfig::default()
        };
        let mut sampler = build_sampler(&config, Arc::clone(&schedule))?;
        let counting = CountingDenoiser::new(&mixture);
        let mut rng = NoiseRng::seed_from(0);
        let started = Instant::now();
        sample_from_noise(sampler.as_mut(), &counting, None, &[args.n, mixture.dims()], &mut rng)?;
        let elapsed_secs = started.elapsed().as_secs_f64();
        let steps = args.steps as f64;
        writeln!(
            out,
            "{kind},{},{},{elapsed_secs:.4},{:.1},{:.1}",
            args.n,
            args.steps,
            steps / elapsed_secs,
            counting.calls() as f64 / steps
        )?;
    }
    Ok(())
}

/// Counts model evaluations, so the bench shows what a step costs.
struct CountingDenoiser<'a> {
    inner: &'a dyn Denoiser,
    calls: std::sync::atomic::AtomicUsize,
}

impl<'a> CountingDenoiser<'a> {
    fn new(inner: &'a dyn Denoiser) -> Self {
        Self {
            inner,
            calls: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Denoiser for CountingDenoiser<'_> {
    fn prediction_type(&self) -> crate::diffusion::PredictionType {
        self.inner.prediction_type()
    }

    fn predict(
        &self,
        x_t: &candle_core::Tensor,
        level: crate::diffusion::NoiseLevel,
        labels: crate::diffusion::denoiser::Labels<'_>,
    ) -> crate::diffusion::Result<crate::diffusion::DenoiserOutput> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.predict(x_t, level, labels)
    }
}
