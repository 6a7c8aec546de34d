//! Tests of the worker: streaming, cancellation, forward runs, the ELBO event.

use super::*;
use crate::diffusion::sampler::SamplerKind;
use std::time::Duration;

fn spec(steps: usize) -> RunSpec {
    RunSpec {
        model: RunModel::Mixture(Arc::new(Arc::unwrap_or_clone(crate::assets::three_blobs().unwrap()))),
        settings: RunSettings {
            sampler: SamplerConfig {
                kind: SamplerKind::Ddpm,
                steps,
                ..SamplerConfig::default()
            },
            seed: 1,
            batch: 64,
            ..RunSettings::default()
        },
    }
}

/// Polls until the latest run's last event (its ELBO, or a failure) arrives.
fn collect_until_done(worker: &Worker) -> Vec<Event> {
    let mut all = Vec::new();
    for _ in 0..2000 {
        let events = worker.poll();
        let done = events
            .iter()
            .any(|e| matches!(e, Event::Elbo { .. } | Event::Failed { .. }));
        all.extend(events);
        if done {
            return all;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("the run did not finish");
}

#[test]
fn a_run_streams_every_step_then_finishes() {
    let mut worker = Worker::spawn(|| {}).unwrap();
    let id = worker.start(spec(20));
    let events = collect_until_done(&worker);
    assert!(matches!(&events[0], Event::Started { run_id, timesteps, .. } if *run_id == id && timesteps.len() == 20));
    let steps: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            Event::Step { frame, .. } => Some(frame.index),
            _ => None,
        })
        .collect();
    assert_eq!(steps, (0..20).collect::<Vec<_>>());
    let n = events.len();
    assert!(matches!(events[n - 2], Event::Finished { .. }));
    match &events[n - 1] {
        Event::Elbo {
            step_nats,
            bits_per_dim,
            ..
        } => {
            assert_eq!(step_nats.len(), 999);
            assert!(bits_per_dim.is_finite());
        }
        other => panic!("expected the ELBO last, got {other:?}"),
    }
}

#[test]
fn the_same_spec_gives_the_same_frames_and_elbo() {
    let mut worker = Worker::spawn(|| {}).unwrap();
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        worker.start(spec(50));
        let events = collect_until_done(&worker);
        outcomes.push(
            events
                .into_iter()
                .map(|e| format!("{:?}", strip_id(e)))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert_eq!(outcomes[0], outcomes[2]);
}

fn strip_id(event: Event) -> Event {
    match event {
        Event::Started {
            start_t,
            timesteps,
            x_start,
            dims,
            ..
        } => Event::Started {
            run_id: 0,
            start_t,
            timesteps,
            x_start,
            dims,
        },
        Event::Step { frame, .. } => Event::Step { run_id: 0, frame },
        Event::Finished { .. } => Event::Finished {
            run_id: 0,
            elapsed_secs: 0.0,
        },
        Event::Elbo {
            step_nats,
            bits_per_dim,
            ..
        } => Event::Elbo {
            run_id: 0,
            step_nats,
            bits_per_dim,
        },
        Event::Failed { message, .. } => Event::Failed { run_id: 0, message },
    }
}

#[test]
fn a_forward_run_starts_from_data_and_climbs_to_t() {
    let mut worker = Worker::spawn(|| {}).unwrap();
    let mut forward = spec(10);
    forward.settings.direction = Direction::Forward(ForwardMode::MarkovChain);
    worker.start(forward);
    let events = collect_until_done(&worker);
    match &events[0] {
        Event::Started { start_t, timesteps, .. } => {
            assert_eq!(*start_t, 0);
            assert!(timesteps.windows(2).all(|w| w[0] < w[1]), "ascending: {timesteps:?}");
            assert_eq!(timesteps.len(), 10);
        }
        other => panic!("expected Started, got {other:?}"),
    }
    let steps = events.iter().filter(|e| matches!(e, Event::Step { .. })).count();
    assert_eq!(steps, 10);
}

#[test]
fn a_new_run_cancels_the_old_and_hides_its_frames() {
    let mut worker = Worker::spawn(|| {}).unwrap();
    let old = worker.start(spec(1000));
    std::thread::sleep(Duration::from_millis(20));
    let new = worker.start(spec(10));
    let events = collect_until_done(&worker);
    assert!(events.iter().all(|e| e.run_id() == new), "an event of run {old} leaked");
    let steps = events.iter().filter(|e| matches!(e, Event::Step { .. })).count();
    assert_eq!(steps, 10);
}

#[test]
fn a_bad_spec_reports_one_line() {
    let mut worker = Worker::spawn(|| {}).unwrap();
    let mut bad = spec(10);
    bad.settings.sampler.eta = 3.0;
    worker.start(bad);
    let events = collect_until_done(&worker);
    match events.last() {
        Some(Event::Failed { message, .. }) => assert!(message.contains("eta"), "{message}"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// A model whose evaluation panics, as a bug in a network's forward pass would.
struct PanickingDenoiser;

impl Denoiser for PanickingDenoiser {
    fn prediction_type(&self) -> crate::diffusion::PredictionType {
        crate::diffusion::PredictionType::Epsilon
    }

    fn predict(
        &self,
        _x_t: &candle_core::Tensor,
        _level: crate::diffusion::denoiser::NoiseLevel,
        _labels: crate::diffusion::denoiser::Labels<'_>,
    ) -> crate::diffusion::Result<crate::diffusion::denoiser::DenoiserOutput> {
        panic!("the forward pass hit a bug")
    }
}

#[test]
fn a_panic_in_the_models_evaluation_fails_that_run_in_one_line_and_the_next_run_works() {
    let mut worker = Worker::spawn(|| {}).unwrap();
    let mut broken = spec(10);
    broken.model = RunModel::Network {
        net: Arc::new(PanickingDenoiser),
        data: Arc::new(Arc::unwrap_or_clone(crate::assets::three_blobs().unwrap())),
    };
    let failed_run = worker.start(broken);
    let events = collect_until_done(&worker);
    match events.last() {
        Some(Event::Failed { run_id, message }) => {
            assert_eq!(*run_id, failed_run);
            assert_eq!(message, "the run panicked: the forward pass hit a bug");
            assert!(!message.contains('\n'), "one line: {message}");
        }
        other => panic!("expected the panic as a failure, got {other:?}"),
    }
    // The same worker thread runs the next run to its end.
    worker.start(spec(10));
    let events = collect_until_done(&worker);
    let steps = events.iter().filter(|e| matches!(e, Event::Step { .. })).count();
    assert_eq!(steps, 10);
    assert!(matches!(events.last(), Some(Event::Elbo { .. })));
}
