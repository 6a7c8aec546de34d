//! `noisescope train-classifier` and `noisescope evaluate`: how good are the
//! samples? Accuracy of class-conditional samples under a classifier trained
//! here, and the Fréchet distance of its features against the test set.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use candle_core::{Device, Tensor};
use clap::Args;

use super::train::{Progress, fashion_mnist};
use crate::data::idx::FASHION_MNIST_CLASSES;
use crate::diffusion::guidance::{GuidanceConfig, GuidanceKind, Guided, SigmaInterval};
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler, sample_from_noise};
use crate::diffusion::{NoiseRng, Schedule};
use crate::model::TrainedModel;
use crate::model::classifier::{Classifier, FEATURES};
use crate::model::quality::frechet_distance;

/// Options of `train-classifier`.
#[derive(Debug, Args)]
pub struct ClassifierArgs {
    /// Where to write the classifier.
    #[arg(long)]
    pub out: PathBuf,
    /// AdamW steps.
    #[arg(long, default_value_t = 3000)]
    pub steps: usize,
    /// Images per step.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Seed of the weights and the batches.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Options of `evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The trained image model.
    #[arg(long)]
    pub model: PathBuf,
    /// The classifier written by `train-classifier`.
    #[arg(long)]
    pub classifier: PathBuf,
    /// ddpm or ddim (any sampler works).
    #[arg(long, default_value = "ddim")]
    pub sampler: SamplerKind,
    /// Sampling steps.
    #[arg(long, default_value_t = 50)]
    pub steps: usize,
    /// Samples per class.
    #[arg(long, default_value_t = 50)]
    pub per_class: usize,
    /// Classifier-free guidance scale γ.
    #[arg(long, default_value_t = 3.0)]
    pub guidance: f64,
    /// Guide only where σ = √((1 − ᾱ)/ᾱ) lies in (LOW, HIGH], for example 0.3,5
    /// (Kynkäänniemi et al. 2024); elsewhere γ = 1. Default: every step.
    #[arg(long)]
    pub guidance_interval: Option<SigmaInterval>,
    /// Seed of the starting noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the samples as a PNG grid, one row per class.
    #[arg(long)]
    pub grid: Option<PathBuf>,
}

/// Trains the classifier on the training split and reports test accuracy.
pub fn train_classifier(args: &ClassifierArgs, out: &mut dyn std::io::Write) -> Result<()> {
    let train = fashion_mnist("train")?;
    let test = fashion_mnist("t10k")?;
    let mut progress = Progress::new(0, args.steps);
    let classifier = Classifier::train(&train, args.steps, args.batch, args.seed, |step, loss| {
        progress.show(step, loss);
    })?;
    progress.finish();
    classifier.save(&args.out)?;
    writeln!(
        out,
        "wrote {}: test accuracy {:.2}%",
        args.out.display(),
        100.0 * classifier.accuracy(&test)?
    )?;
    Ok(())
}

/// Samples every class, then prints per-class accuracy and the Fréchet distance.
/// The Fréchet distance of `samples` (`total` rows of `dims`) to the test set
/// in the classifier's features, and the same statistic for as many real
/// training images: the floor this sample size allows (the estimate is biased
/// upward for small sets). Returns (distance, real images used, floor).
fn frechet_with_floor(
    classifier: &Classifier,
    samples: &[f32],
    total: usize,
    dims: usize,
    test: &crate::data::Dataset,
) -> Result<(f64, usize, f64)> {
    let generated = Tensor::from_vec(samples.to_vec(), (total, dims), &Device::Cpu)?;
    let (fake, _) = classifier.forward(&generated)?;
    let real = Tensor::from_vec(test.rows.clone(), (test.len(), test.dims), &Device::Cpu)?;
    let (real, _) = classifier.forward(&real)?;
    let fd = frechet_distance(
        &fake.flatten_all()?.to_vec1()?,
        &real.flatten_all()?.to_vec1()?,
        FEATURES,
    )?;
    let train = fashion_mnist("train")?;
    let real_count = total.min(train.len());
    let reference = Tensor::from_vec(
        train.rows[..real_count * dims].to_vec(),
        (real_count, dims),
        &Device::Cpu,
    )?;
    let (reference, _) = classifier.forward(&reference)?;
    let floor = frechet_distance(
        &reference.flatten_all()?.to_vec1()?,
        &real.flatten_all()?.to_vec1()?,
        FEATURES,
    )?;
    Ok((fd, real_count, floor))
}

pub fn evaluate(args: &EvaluateArgs, out: &mut dyn std::io::Write) -> Result<()> {
    if args.per_class < 2 {
        bail!("--per-class must be at least 2 (the Fréchet distance needs a covariance)");
    }
    let model = TrainedModel::load(&args.model)?;
    let classifier = Classifier::load(&args.classifier)?;
    let config = *model.config();
    if config.classes == 0 {
        bail!(
            "{} is unconditional: evaluation samples each class",
            args.model.display()
        );
    }
    if classifier.dims() != config.sample_dims() {
        bail!(
            "{} classifies rows of {} values; {} makes {}",
            args.classifier.display(),
            classifier.dims(),
            args.model.display(),
            config.sample_dims()
        );
    }
    let test = fashion_mnist("t10k")?;
    let schedule = Arc::new(Schedule::new(&config.schedule)?);
    let sampler_config = SamplerConfig {
        kind: args.sampler,
        steps: args.steps,
        clip_sample: true,
        ..SamplerConfig::default()
    };
    let guidance = GuidanceConfig {
        kind: GuidanceKind::ClassifierFree,
        scale: args.guidance,
        interval: args.guidance_interval.unwrap_or_default(),
    };
    let guided = Guided::new(&model, None, guidance)?;
    let dims = config.sample_dims();
    let mut rng = NoiseRng::seed_from(args.seed);
    writeln!(
        out,
        "{} {} steps, γ = {}{}, {} samples per class",
        args.sampler,
        args.steps,
        args.guidance,
        args.guidance_interval
            .map(|interval| format!(" for σ in ({interval}]"))
            .unwrap_or_default(),
        args.per_class
    )?;
    writeln!(out, "class,name,accuracy")?;
    let started = Instant::now();
    // Every class in one batch: `per_class` rows of class 0, then of class 1, ...
    let total = config.classes * args.per_class;
    let labels: Vec<u32> = (0..total)
        .map(|i| u32::try_from(i / args.per_class))
        .collect::<Result<_, _>>()?;
    let mut sampler = build_sampler(&sampler_config, Arc::clone(&schedule))?;
    let x = sample_from_noise(sampler.as_mut(), &guided, Some(&labels), &[total, dims], &mut rng)?;
    let sampling_secs = started.elapsed().as_secs_f64();
    let predicted = classifier.predict(&x)?;
    let mut right_total = 0;
    for class in 0..config.classes {
        let rows = class * args.per_class..(class + 1) * args.per_class;
        let right = rows.filter(|&i| predicted[i] == labels[i]).count();
        right_total += right;
        let name = FASHION_MNIST_CLASSES.get(class).copied().unwrap_or("?");
        let accuracy = right as f64 / args.per_class as f64;
        writeln!(out, "{class},{name},{:.1}%", 100.0 * accuracy)?;
    }
    let samples = x.flatten_all()?.to_vec1::<f32>()?;
    let accuracy = right_total as f64 / total as f64;
    let (fd, real_count, floor) = frechet_with_floor(&classifier, &samples, total, dims, &test)?;
    writeln!(out, "all,,{:.1}%", 100.0 * accuracy)?;
    writeln!(
        out,
        "Fréchet distance (classifier features, {total} samples vs {} test images): {fd:.3} \
         ({real_count} real training images: {floor:.3})",
        test.len()
    )?;
    writeln!(out, "sampling took {sampling_secs:.1} s")?;
    if let Some(path) = &args.grid {
        let side = u32::try_from(dims.isqrt())?;
        let count = u32::try_from(total)?;
        let per_row = u32::try_from(args.per_class.min(16))?;
        // One row per class: the first `per_row` samples of each.
        let rows: Vec<f32> = samples
            .chunks(args.per_class * dims)
            .flat_map(|class| class[..per_row as usize * dims].iter().copied())
            .collect();
        let image = crate::export::image_grid(
            &rows,
            side,
            side,
            per_row,
            per_row * u32::try_from(config.classes)?.min(count),
        );
        crate::export::write_png(path, &crate::export::enlarge(&image, 2)).map_err(anyhow::Error::msg)?;
        writeln!(out, "wrote {}", path.display())?;
    }
    Ok(())
}
