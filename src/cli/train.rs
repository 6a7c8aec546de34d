//! `noisescope train`: fit a network to a data set, with progress, checkpoints and resume.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::data::toys::Toy;
use crate::data::{Dataset, idx};
use crate::diffusion::PredictionType;
use crate::diffusion::flow::Process;
use crate::model::optim::AdamWConfig;
use crate::model::train::{Loss, TimestepSampling, TrainConfig, Trainer};
use crate::model::{Architecture, MlpConfig, ModelConfig, UnetConfig};

use super::ScheduleArgs;

/// Options of `train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// fashion-mnist, fashion-mnist-test, a toy (two-moons, swiss-roll, checkerboard,
    /// rings), an IDX image file (labels beside it or --labels), a folder of
    /// PNG/JPEG images (resized to --image-size), or a mixture JSON.
    #[arg(long, default_value = "fashion-mnist")]
    pub data: String,
    /// The IDX label file for an IDX image file.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Side in pixels that a folder's images are resized to (a multiple of 4).
    #[arg(long, default_value_t = 28)]
    pub image_size: u32,
    /// Samples drawn from a toy or mixture.
    #[arg(long, default_value_t = 20_000)]
    pub toy_samples: usize,
    /// Where to write the trained (moving-average) weights.
    #[arg(long)]
    pub out: PathBuf,
    /// Optimisation steps in total (a resumed run continues up to this).
    #[arg(long, default_value_t = 5000)]
    pub steps: usize,
    /// Samples per step.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// AdamW's learning rate.
    #[arg(long, default_value_t = AdamWConfig::default().learning_rate)]
    pub lr: f64,
    /// After warm-up the learning rate falls along a half cosine to 0 at --steps
    /// (instead of staying constant).
    #[arg(long)]
    pub cosine_decay: bool,
    /// Start from this trained model's weights (its architecture must match the
    /// run's options) instead of fresh ones: to train a shipped model further.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// U-Net channels at full resolution (images) or MLP width (2D).
    #[arg(long)]
    pub channels: Option<usize>,
    /// Leave out the U-Net's self-attention at 7×7.
    #[arg(long)]
    pub no_attention: bool,
    /// What the network predicts: epsilon (default), x0 or v for diffusion;
    /// --objective flow predicts the flow velocity.
    #[arg(long)]
    pub prediction: Option<PredictionType>,
    /// diffusion (the DDPM objective) or flow (flow matching on x_τ = (1 − τ) x_0 + τ ε).
    #[arg(long, default_value = "diffusion")]
    pub objective: Process,
    /// Also learn the variance (Improved DDPM); use with --loss hybrid.
    #[arg(long)]
    pub learned_variance: bool,
    /// simple (L_simple), hybrid (L_simple + 0.001 L_vlb) or elbo (the MSE
    /// weighted per t by the ELBO's weight).
    #[arg(long, default_value = "simple")]
    pub loss: Loss,
    /// uniform or importance (Improved DDPM's loss-second-moment sampler).
    #[arg(long, default_value = "uniform")]
    pub timesteps: TimestepSampling,
    /// Probability of dropping a label to the null class (classifier-free guidance).
    #[arg(long, default_value_t = 0.1)]
    pub label_dropout: f64,
    /// Train unconditionally even when the data has labels.
    #[arg(long)]
    pub unconditional: bool,
    /// Decay of the weights' moving average.
    #[arg(long, default_value_t = 0.999)]
    pub ema_decay: f64,
    /// The seed of every random draw; the same seed gives the same weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The checkpoint file (default: the output with `.ckpt.safetensors`).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Steps between checkpoints.
    #[arg(long, default_value_t = 200)]
    pub checkpoint_every: usize,
    /// Ignore an existing checkpoint and start over.
    #[arg(long)]
    pub fresh: bool,
    /// The schedule.
    #[command(flatten)]
    pub schedule: ScheduleArgs,
}

/// Loads the data set named by `--data`.
/// Fashion-MNIST's `train` or `t10k` split from Debian's package.
pub(crate) fn fashion_mnist(split: &str) -> Result<Dataset> {
    // The reader's error names the file and, when it is missing, the package.
    let images = idx::fashion_mnist(split == "train")?;
    Ok(Dataset::from_images(&format!("fashion-mnist {split}"), &images))
}

fn load_data(args: &TrainArgs) -> Result<Dataset> {
    match args.data.as_str() {
        "fashion-mnist" => fashion_mnist("train"),
        "fashion-mnist-test" => fashion_mnist("t10k"),
        name => {
            if let Ok(toy) = name.parse::<Toy>() {
                return Ok(toy.sample(args.toy_samples, args.seed));
            }
            let path = Path::new(name);
            if path.extension().is_some_and(|e| e == "json") {
                return Ok(Dataset::from_mixture(path, args.toy_samples, args.seed)?);
            }
            if path.is_dir() {
                return Dataset::from_image_folder(path, args.image_size).map_err(anyhow::Error::msg);
            }
            if !path.exists() {
                bail!(
                    "unknown data '{name}' (expected fashion-mnist, a toy, an IDX file, a folder of images or a mixture JSON)"
                );
            }
            let labels = match &args.labels {
                Some(l) => l.clone(),
                None => idx::label_file_beside(path)
                    .with_context(|| format!("{name}: no label file beside it; pass --labels"))?,
            };
            Ok(Dataset::from_idx(path, &labels)?)
        }
    }
}

fn model_config(args: &TrainArgs, data: &Dataset) -> Result<ModelConfig> {
    let side = (data.dims as f64).sqrt().round() as usize;
    let architecture = if data.dims > 16 && side * side == data.dims {
        Architecture::Unet(UnetConfig {
            image_size: side,
            channels: args.channels.unwrap_or(UnetConfig::default().channels),
            attention: !args.no_attention,
            ..UnetConfig::default()
        })
    } else if data.dims <= 16 {
        Architecture::Mlp(MlpConfig {
            dims: data.dims,
            hidden: args.channels.unwrap_or(MlpConfig::default().hidden),
            ..MlpConfig::default()
        })
    } else {
        bail!(
            "{}: samples of {} values are neither points (≤ 16) nor square images",
            data.name,
            data.dims
        );
    };
    let prediction = match (args.objective, args.prediction) {
        (Process::Flow, None) => PredictionType::FlowVelocity,
        (Process::Flow, Some(kind)) if kind != PredictionType::FlowVelocity => {
            bail!("--objective flow predicts the flow velocity, not {kind}")
        }
        (_, kind) => kind.unwrap_or_default(),
    };
    let config = ModelConfig {
        architecture,
        classes: if args.unconditional { 0 } else { data.classes },
        prediction,
        learned_variance: args.learned_variance,
        schedule: args.schedule.config(),
    };
    config.validate()?;
    Ok(config)
}

/// Runs `train`: progress on stderr, checkpoints every `--checkpoint-every` steps.
pub fn train(args: &TrainArgs, out: &mut dyn std::io::Write) -> Result<()> {
    if !(0.0..=1.0).contains(&args.label_dropout) {
        bail!("--label-dropout must be in [0, 1], got {}", args.label_dropout);
    }
    // Before any step: a run that cannot save its weights would lose them at the end.
    super::limits::check_writable("--out", &args.out)?;
    if let Some(checkpoint) = &args.checkpoint {
        super::limits::check_writable("--checkpoint", checkpoint)?;
    }
    let data = load_data(args)?;
    super::limits::check_memory(
        "--batch",
        args.batch,
        super::limits::bytes_per_sample(data.dims, data.dims > 16),
    )?;
    let model_config = model_config(args, &data)?;
    let config = TrainConfig {
        batch: args.batch,
        optimizer: AdamWConfig {
            learning_rate: args.lr,
            cosine_decay_steps: if args.cosine_decay { args.steps } else { 0 },
            ..AdamWConfig::default()
        },
        ema_decay: args.ema_decay,
        label_dropout: args.label_dropout,
        timestep_sampling: args.timesteps,
        loss: args.loss,
        seed: args.seed,
        ..TrainConfig::default()
    };
    let checkpoint = args
        .checkpoint
        .clone()
        .unwrap_or_else(|| args.out.with_extension("ckpt.safetensors"));
    let data_name = data.name.clone();
    let mut trainer = if checkpoint.exists() && !args.fresh {
        let trainer = crate::model::train::Trainer::resume(&checkpoint, model_config, config, data)?;
        writeln!(
            out,
            "resuming from {} at step {}",
            checkpoint.display(),
            trainer.step_count()
        )?;
        trainer
    } else if let Some(init) = &args.init {
        let mut trainer = Trainer::from_weights(init, model_config, config, data)?;
        // All the steps behind the starting weights, so a chain of runs adds up.
        let init_steps = trainer.model().total_training_steps();
        trainer.set_info("init", init.display().to_string());
        trainer.set_info(
            "init_steps",
            init_steps.map_or_else(|| "unknown".into(), |s| s.to_string()),
        );
        writeln!(out, "starting from the weights of {}", init.display())?;
        trainer
    } else {
        Trainer::new(model_config, config, data)?
    };
    trainer.set_info("data", data_name);
    trainer.set_info("seed", args.seed.to_string());
    trainer.set_info("batch", args.batch.to_string());
    trainer.set_info("learning_rate", args.lr.to_string());
    let lr_schedule = if args.cosine_decay { "cosine" } else { "constant" };
    trainer.set_info("learning_rate_schedule", lr_schedule.into());
    trainer.set_info("loss", args.loss.to_string());
    trainer.set_info("timestep_sampling", args.timesteps.to_string());
    trainer.set_info("label_dropout", args.label_dropout.to_string());
    let mut progress = Progress::new(trainer.step_count(), args.steps);
    let mut smoothed_loss = None;
    while trainer.step_count() < args.steps {
        let report = trainer.step()?;
        smoothed_loss = Some(smoothed_loss.map_or(report.loss, |s: f64| 0.98 * s + 0.02 * report.loss));
        progress.show(report.step, smoothed_loss.unwrap_or(report.loss));
        if report.step % args.checkpoint_every.max(1) == 0 || report.step == args.steps {
            trainer.save_checkpoint(&checkpoint)?;
        }
    }
    progress.finish();
    trainer.set_info("steps", trainer.step_count().to_string());
    let model = trainer.ema_model()?;
    model.save(&args.out)?;
    writeln!(out, "wrote {} ({} steps)", args.out.display(), trainer.step_count())?;
    Ok(())
}

/// A one-line progress bar on stderr: bar, step, loss, steps/s, ETA.
pub(crate) struct Progress {
    start_step: usize,
    total: usize,
    started: Instant,
    last_draw: Option<Instant>,
}

impl Progress {
    pub(crate) fn new(start_step: usize, total: usize) -> Self {
        Self {
            start_step,
            total,
            started: Instant::now(),
            last_draw: None,
        }
    }

    pub(crate) fn show(&mut self, step: usize, loss: f64) {
        if self.last_draw.is_some_and(|t| t.elapsed() < Duration::from_millis(500)) && step < self.total {
            return;
        }
        self.last_draw = Some(Instant::now());
        let elapsed_secs = self.started.elapsed().as_secs_f64();
        let steps_per_sec = (step - self.start_step) as f64 / elapsed_secs.max(1e-9);
        let eta_secs = (self.total.saturating_sub(step)) as f64 / steps_per_sec.max(1e-9);
        let filled = (30 * step / self.total.max(1)).min(30);
        eprint!(
            "\r[{}{}] step {step}/{} loss {loss:.4} {steps_per_sec:.2} steps/s ETA {}   ",
            "#".repeat(filled),
            ".".repeat(30 - filled),
            self.total,
            format_duration(eta_secs)
        );
        let _ = std::io::stderr().flush();
    }

    pub(crate) fn finish(&self) {
        eprintln!();
    }
}

/// "1h02m", "3m05s" or "12s".
fn format_duration(secs: f64) -> String {
    let secs = secs.round() as u64;
    match (secs / 3600, (secs / 60) % 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}
