//! `noisescope bench --model`: a network's sampling and training speed, beside
//! an identical PyTorch model with the same weights when torch is installed.
//!
//! Speeds on these machines differ from month to month, so every figure is
//! also given as a ratio measured in the same run: GFLOP/s (counted from the
//! architecture, [`crate::model::flops`]) as a fraction of a large f32 matrix
//! product timed just before, the machine's practical limit.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use candle_core::Device;

use crate::data::Dataset;
use crate::diffusion::guidance::{GuidanceConfig, GuidanceKind, Guided};
use crate::diffusion::sampler::{SamplerConfig, build_sampler, sample_from_noise};
use crate::diffusion::{NoiseRng, Schedule};
use crate::model::TrainedModel;
use crate::model::flops::forward_flops_per_sample;
use crate::model::train::{TrainConfig, Trainer};

/// Side of the square product that measures the machine's f32 matmul rate.
const MATMUL_SIDE: usize = 2048;

/// Where the PyTorch twin of the networks lives, relative to the repository.
const TORCH_SCRIPT: &str = "tests/reference/torch_model.py";

/// Calls `f` until `min_secs` have passed (at least twice); returns calls per second.
fn rate(min_secs: f64, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    let started = Instant::now();
    let mut calls = 0u32;
    while calls < 2 || started.elapsed() < Duration::from_secs_f64(min_secs) {
        f()?;
        calls += 1;
    }
    Ok(f64::from(calls) / started.elapsed().as_secs_f64())
}

/// Peak resident memory of this process in MiB (Linux), if known.
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Prints candle's figures, then PyTorch's (or why there are none).
pub fn bench_model(path: &Path, python: &str, out: &mut dyn std::io::Write) -> Result<()> {
    let model = TrainedModel::load(path)?;
    let config = *model.config();
    let dims = config.sample_dims();
    let threads = rayon::current_num_threads();
    let rates = Rates {
        forward_flops: forward_flops_per_sample(&model) as f64,
        matmul_gflops: matmul_gflops(MATMUL_SIDE)?,
    };
    writeln!(
        out,
        "model {} ({} parameters, {:.4} GFLOP per sample per forward pass), {threads} threads",
        path.display(),
        parameter_count(&model),
        rates.forward_flops / 1e9
    )?;
    writeln!(
        out,
        "matmul {MATMUL_SIDE}x{MATMUL_SIDE} f32 (candle, gemm), this run: {:.1} GFLOP/s",
        rates.matmul_gflops
    )?;
    writeln!(out, "{}", Rates::HEADER)?;
    // All sampling first, then all training: a training phase leaves the
    // heap fragmented (its saved activations), which cost the batch-64
    // sampling after it a fifth of its speed when the two alternated.
    let batches = [1usize, 16, 32, 64];
    let mut sample_rates = Vec::with_capacity(batches.len());
    for &batch in &batches {
        let mut rng = NoiseRng::seed_from(1);
        let x = rng.randn((batch, dims), &Device::Cpu)?;
        let t: Vec<f64> = (0..batch)
            .map(|i| 1.0 + 999.0 * i as f64 / batch.max(2) as f64)
            .collect();
        sample_rates.push(rate(2.0, || {
            model.network().forward(&x, &t, None)?;
            Ok(())
        })?);
    }
    let mut candle = Vec::with_capacity(batches.len());
    for (&batch, sample) in batches.iter().zip(sample_rates) {
        let mut rng = NoiseRng::seed_from(1);
        let data = Dataset {
            name: "random".into(),
            dims,
            rows: rng.normal_vec(dims * 256),
            labels: (config.classes > 0).then(|| vec![0; 256]),
            classes: config.classes,
        };
        let train_config = TrainConfig {
            batch,
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(config, train_config, data)?;
        let train = rate(3.0, || {
            trainer.step()?;
            Ok(())
        })?;
        writeln!(out, "{}", rates.row("candle 0.11.1", batch, sample, train))?;
        candle.push((batch, sample, train));
    }
    ddim_timings(&model, out)?;
    if let Some(mib) = peak_memory_mib() {
        writeln!(out, "peak resident memory (candle, this process): {mib:.0} MiB")?;
    }
    torch_figures(path, python, &rates, &candle, out)
}

/// What turns steps/s into GFLOP/s and fractions of the same run's matmul.
struct Rates {
    /// Operations of one forward pass of one sample.
    forward_flops: f64,
    /// The f32 matmul rate measured in this run.
    matmul_gflops: f64,
}

impl Rates {
    const HEADER: &str = "framework,batch,sample_steps_per_sec,train_steps_per_sec,\
                          sample_gflop_per_sec,train_gflop_per_sec,sample_of_matmul,train_of_matmul";

    /// One CSV row. A sampling step is one forward pass of the batch; a
    /// training step is counted as three (forward and backward).
    fn row(&self, framework: &str, batch: usize, sample: f64, train: f64) -> String {
        let per_step = self.forward_flops * batch as f64 / 1e9;
        let (sample_gflops, train_gflops) = (sample * per_step, train * 3.0 * per_step);
        format!(
            "{framework},{batch},{sample:.3},{train:.3},{sample_gflops:.1},{train_gflops:.1},{:.3},{:.3}",
            sample_gflops / self.matmul_gflops,
            train_gflops / self.matmul_gflops
        )
    }
}

/// The best of five `side`² f32 products, in GFLOP/s (2 side³ per product).
fn matmul_gflops(side: usize) -> Result<f64> {
    let mut rng = NoiseRng::seed_from(9);
    let a = rng.randn((side, side), &Device::Cpu)?;
    let b = rng.randn((side, side), &Device::Cpu)?;
    a.matmul(&b)?;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let started = Instant::now();
        a.matmul(&b)?;
        best = best.min(started.elapsed().as_secs_f64());
    }
    Ok(2.0 * (side as f64).powi(3) / best / 1e9)
}

fn parameter_count(model: &TrainedModel) -> usize {
    model.params().vars().values().map(|v| v.elem_count()).sum()
}

/// DDIM-50 runs timed per setting.
const DDIM_RUNS: usize = 3;

/// Wall time of DDIM-50 for 16 samples, unguided and with classifier-free guidance γ = 3.
fn ddim_timings(model: &TrainedModel, out: &mut dyn std::io::Write) -> Result<()> {
    let config = *model.config();
    let schedule = Arc::new(Schedule::new(&config.schedule)?);
    for (label, class) in [("unguided", None), ("CFG γ = 3, class 0", Some(0u32))] {
        let guidance = GuidanceConfig {
            kind: GuidanceKind::ClassifierFree,
            scale: if class.is_some() { 3.0 } else { 1.0 },
            ..GuidanceConfig::default()
        };
        let guided = Guided::new(model, None, guidance)?;
        let labels = class.map(|c| vec![c; 16]);
        // The median of three runs: one run on a shared machine is a noisy figure.
        let mut secs = Vec::with_capacity(DDIM_RUNS);
        for _ in 0..DDIM_RUNS {
            let mut sampler = build_sampler(&SamplerConfig::default(), Arc::clone(&schedule))?;
            let started = Instant::now();
            sample_from_noise(
                sampler.as_mut(),
                &guided,
                labels.as_deref(),
                &[16, config.sample_dims()],
                &mut NoiseRng::seed_from(0),
            )?;
            secs.push(started.elapsed().as_secs_f64());
        }
        let runs: Vec<String> = secs.iter().map(|s| format!("{s:.2}")).collect();
        secs.sort_by(f64::total_cmp);
        writeln!(
            out,
            "DDIM-50, batch 16, {label}: {:.2} s (median of {DDIM_RUNS} runs: {} s)",
            secs[DDIM_RUNS / 2],
            runs.join(", ")
        )?;
    }
    Ok(())
}

/// PyTorch's rows, completed like candle's, then candle ÷ PyTorch per batch.
/// `candle` holds (batch, sampling steps/s, training steps/s).
fn torch_figures(
    path: &Path,
    python: &str,
    rates: &Rates,
    candle: &[(usize, f64, f64)],
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(TORCH_SCRIPT);
    let result = Command::new(python).arg(&script).arg("bench").arg(path).output();
    match result {
        Ok(output) if output.status.success() => {
            let text = String::from_utf8_lossy(&output.stdout);
            // Skip the script's own header: the columns are the ones above,
            // completed here with the same FLOP count and the same matmul.
            let mut ratios = Vec::new();
            for line in text.lines().skip(1) {
                match parse_torch_row(line) {
                    Some((framework, batch, sample, train)) => {
                        writeln!(out, "{}", rates.row(framework, batch, sample, train))?;
                        if let Some((_, ours, ours_train)) = candle.iter().find(|(b, ..)| *b == batch) {
                            ratios.push(format!(
                                "batch {batch}: sampling {:.2}, training {:.2}",
                                ours / sample,
                                ours_train / train
                            ));
                        }
                    }
                    None => writeln!(out, "{line}")?,
                }
            }
            writeln!(out, "candle ÷ PyTorch, this run: {}", ratios.join("; "))?;
        }
        Ok(output) => {
            let reason = String::from_utf8_lossy(&output.stderr);
            let last = reason.lines().last().unwrap_or("no output");
            writeln!(out, "pytorch: not measured ({python}: {last})")?;
        }
        Err(e) => writeln!(out, "pytorch: not measured ({python}: {e})").context("writing")?,
    }
    Ok(())
}

/// `framework,batch,sample_steps_per_sec,train_steps_per_sec`, as the script prints it.
fn parse_torch_row(line: &str) -> Option<(&str, usize, f64, f64)> {
    let mut fields = line.split(',');
    let framework = fields.next()?;
    let batch = fields.next()?.parse().ok()?;
    let sample = fields.next()?.parse().ok()?;
    let train = fields.next()?.parse().ok()?;
    fields.next().is_none().then_some((framework, batch, sample, train))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_counts_three_forward_passes_per_training_step() {
        let rates = Rates {
            forward_flops: 1e8,
            matmul_gflops: 100.0,
        };
        // 10 sampling steps/s of 16 samples: 16 GFLOP/s; 5 training steps/s: 3 × 8 = 24.
        assert_eq!(rates.row("x", 16, 10.0, 5.0), "x,16,10.000,5.000,16.0,24.0,0.160,0.240");
        assert_eq!(Rates::HEADER.split(',').count(), 8);
    }

    #[test]
    fn torch_rows_parse_and_other_lines_pass_through() {
        assert_eq!(
            parse_torch_row("pytorch 2.5.1,64,3.250,1.125"),
            Some(("pytorch 2.5.1", 64, 3.25, 1.125))
        );
        assert_eq!(parse_torch_row("pytorch matmul 2048x2048 f32: 150.2 GFLOP/s"), None);
    }
}
