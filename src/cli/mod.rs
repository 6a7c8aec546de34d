//! The command line: the engine's functions behind clap subcommands.
//!
//! Every failure reaches the user as one line naming the problem, and a
//! non-zero exit; `run` never panics on bad input.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand};

mod bench;
mod bench_model;
mod evaluate;
mod figure;
mod grid;
mod lesson;
mod limits;
mod sample;
mod train;

use crate::diffusion::timesteps::inference_timesteps;
use crate::diffusion::{Schedule, ScheduleConfig, ScheduleKind, TimestepSpacing};

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
    Sample(Box<sample::SampleArgs>),
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
    /// A comparison grid: the same x_T through rows × columns of sampler settings, as PNG and CSV.
    Grid(Box<grid::GridArgs>),
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
    /// leading, trailing, linspace, log-snr, karras or time-quadratic.
    #[arg(long, default_value = "leading")]
    pub spacing: TimestepSpacing,
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
        Command::Sample(args) => sample::sample(&args, stdout),
        Command::Bench(args) => bench::bench(&args, stdout),
        Command::Train(args) => train::train(&args, stdout),
        Command::TrainClassifier(args) => evaluate::train_classifier(&args, stdout),
        Command::Evaluate(args) => evaluate::evaluate(&args, stdout),
        Command::Figure(args) => figure::figure(&args, stdout),
        Command::Lesson(args) => lesson::lesson(&args, stdout),
        Command::Grid(args) => grid::grid(&args, stdout),
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
