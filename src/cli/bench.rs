//! `bench`: every sampler's speed on the 2D mixture (`--model`: a network's, in `bench_model`).

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;

use super::{BenchArgs, bench_model};
use crate::diffusion::flow::{FlowConfig, FlowSampler, FlowSolver, run_flow};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler, sample_from_noise};
use crate::diffusion::{Denoiser, NoiseRng, Schedule, ScheduleConfig};

pub(super) fn bench(args: &BenchArgs, out: &mut dyn std::io::Write) -> Result<()> {
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
            spacing: kind.default_spacing(),
            ..SamplerConfig::default()
        };
        let mut sampler = build_sampler(&config, Arc::clone(&schedule))?;
        let counting = CountingDenoiser::new(&mixture);
        let mut rng = NoiseRng::seed_from(0);
        let started = Instant::now();
        sample_from_noise(sampler.as_mut(), &counting, None, &[args.n, mixture.dims()], &mut rng)?;
        write_row(
            out,
            &kind.to_string(),
            args,
            started.elapsed().as_secs_f64(),
            counting.calls(),
        )?;
    }
    for &solver in FlowSolver::ALL {
        let sampler = FlowSampler::new(FlowConfig {
            solver,
            steps: args.steps,
        })?;
        let start = NoiseRng::seed_from(0).randn(&[args.n, mixture.dims()], &candle_core::Device::Cpu)?;
        let started = Instant::now();
        run_flow(&sampler, &mixture, None, &start, |_| ControlFlow::Continue(()))?;
        let name = format!("flow-{solver}");
        write_row(out, &name, args, started.elapsed().as_secs_f64(), sampler.evaluations())?;
    }
    Ok(())
}

/// One CSV row: sampler, points, steps, seconds, steps/s, evaluations per step.
fn write_row(
    out: &mut dyn std::io::Write,
    name: &str,
    args: &BenchArgs,
    elapsed_secs: f64,
    evaluations: usize,
) -> Result<()> {
    let steps = args.steps as f64;
    writeln!(
        out,
        "{name},{},{},{elapsed_secs:.4},{:.1},{:.1}",
        args.n,
        args.steps,
        steps / elapsed_secs,
        evaluations as f64 / steps
    )?;
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
