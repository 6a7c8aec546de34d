//! `noisescope bench --model`: a network's sampling and training speed, beside
//! an identical PyTorch model with the same weights when torch is installed.

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
use crate::model::train::{TrainConfig, Trainer};

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
    writeln!(
        out,
        "model {} ({} parameters), {threads} threads",
        path.display(),
        parameter_count(&model)
    )?;
    writeln!(out, "framework,batch,sample_steps_per_sec,train_steps_per_sec")?;
    // All sampling first, then all training: a training phase leaves the
    // heap fragmented (its saved activations), which cost the batch-64
    // sampling after it a fifth of its speed when the two alternated.
    let batches = [1usize, 16, 64];
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
        writeln!(out, "candle 0.11.1,{batch},{sample:.3},{train:.3}")?;
    }
    ddim_timings(&model, out)?;
    if let Some(mib) = peak_memory_mib() {
        writeln!(out, "peak resident memory (candle, this process): {mib:.0} MiB")?;
    }
    torch_figures(path, python, out)
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

fn torch_figures(path: &Path, python: &str, out: &mut dyn std::io::Write) -> Result<()> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(TORCH_SCRIPT);
    let result = Command::new(python).arg(&script).arg("bench").arg(path).output();
    match result {
        Ok(output) if output.status.success() => {
            let text = String::from_utf8_lossy(&output.stdout);
            // Skip the script's own header: the columns are the ones above.
            for line in text.lines().skip(1) {
                writeln!(out, "{line}")?;
            }
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
