//! The engine against numbers printed by Hugging Face diffusers
//! (`tests/reference/diffusers_tables.py`, output in `tests/data/`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{AffineEps, first_row, floats, ints, max_diff, reference, row};
use noisescope::diffusion::sampler::{DdpmVariance, DpmSolverConfig, SamplerConfig, SamplerKind, build_sampler_on};
use noisescope::diffusion::timesteps::{edm_sigma, inference_timesteps, karras_sigmas};
use noisescope::diffusion::{NoiseRng, Schedule, ScheduleConfig, ScheduleKind};

fn config_for(name: &str, case: &serde_json::Value) -> ScheduleConfig {
    let kind = match name.split('-').next().unwrap() {
        "scaled" => ScheduleKind::ScaledLinear,
        other => other.parse().unwrap(),
    };
    let custom = name.contains("custom");
    ScheduleConfig {
        kind,
        train_steps: case["train_steps"].as_u64().unwrap() as usize,
        beta_start: if custom { case["beta_start"].as_f64() } else { None },
        beta_end: if custom { case["beta_end"].as_f64() } else { None },
        zero_terminal_snr: name.ends_with("ztsnr"),
    }
}

#[test]
fn schedules_match_diffusers_to_1e9() {
    let reference = reference();
    let cases = reference["schedules"].as_object().unwrap();
    assert_eq!(cases.len(), 7);
    for (name, case) in cases {
        let schedule = Schedule::new(&config_for(name, case)).unwrap();
        let big_t = schedule.train_steps();
        let betas: Vec<f64> = (1..=big_t).map(|t| schedule.beta(t)).collect();
        let alpha_bars: Vec<f64> = (1..=big_t).map(|t| schedule.alpha_bar(t)).collect();
        let posterior: Vec<f64> = (1..=big_t).map(|t| schedule.posterior_variance(t)).collect();
        assert!(max_diff(&betas, &floats(&case["betas"])) < 1e-9, "{name}: betas");
        assert!(
            max_diff(&alpha_bars, &floats(&case["alpha_bars"])) < 1e-9,
            "{name}: alpha_bar"
        );
        assert!(
            max_diff(&posterior, &floats(&case["posterior_variance"])) < 1e-9,
            "{name}: posterior variance"
        );
    }
}

#[test]
fn zero_terminal_snr_ends_at_zero_signal() {
    let config = ScheduleConfig {
        zero_terminal_snr: true,
        ..ScheduleConfig::default()
    };
    let schedule = Schedule::new(&config).unwrap();
    assert!(schedule.alpha_bar(1000).abs() < 1e-15);
    assert_eq!(schedule.log_snr(1000), f64::NEG_INFINITY);
    let plain = Schedule::new(&ScheduleConfig::default()).unwrap();
    assert!(
        (schedule.alpha_bar(1) - plain.alpha_bar(1)).abs() < 1e-12,
        "√ᾱ_1 is kept"
    );
}

#[test]
fn timesteps_match_diffusers() {
    for case in reference()["timesteps"].as_array().unwrap() {
        let train_steps = case["train_steps"].as_u64().unwrap() as usize;
        let steps = case["steps"].as_u64().unwrap() as usize;
        let spacing = case["spacing"].as_str().unwrap().parse().unwrap();
        let schedule = Schedule::new(&ScheduleConfig {
            train_steps,
            ..ScheduleConfig::default()
        })
        .unwrap();
        let ours = inference_timesteps(&schedule, steps, spacing).unwrap();
        let theirs: Vec<usize> = ints(&case["timesteps"]).iter().map(|k| k + 1).collect();
        assert_eq!(ours, theirs, "T={train_steps} N={steps} {spacing}");
    }
}

fn linear() -> Arc<Schedule> {
    Arc::new(Schedule::new(&ScheduleConfig::default()).unwrap())
}

#[test]
fn ddim_steps_match_diffusers() {
    let reference = reference();
    let ddim = &reference["ddim"];
    let model = AffineEps {
        offset: row(&floats(&ddim["offset"])),
    };
    let x = row(&floats(&ddim["sample"]));
    let timesteps = ints(&ddim["timesteps"]);
    for (eta, field) in [(0.0, "eta0"), (0.5, "eta_half_mean")] {
        let config = SamplerConfig {
            kind: SamplerKind::Ddim,
            eta,
            ..SamplerConfig::default()
        };
        let mut sampler = build_sampler_on(&config, linear(), timesteps.clone()).unwrap();
        for (index, expected) in ddim["single"].as_array().unwrap().iter().enumerate() {
            let mut rng = NoiseRng::seed_from(3);
            let z = rng.clone().randn_like(&x).unwrap();
            let out = sampler.step(&model, None, index, &x, &mut rng).unwrap();
            let mean = (&out.x_next - (z * out.noise_std).unwrap()).unwrap();
            let diff = max_diff(&first_row(&mean), &floats(&expected[field]));
            assert!(diff < 1e-5, "eta {eta}, t {}: {diff}", expected["t"]);
            if eta > 0.0 && out.t_next > 0 {
                let std = expected["eta_half_std"].as_f64().unwrap();
                assert!((out.noise_std - std).abs() < 1e-9, "eta std at t {}", expected["t"]);
            }
        }
    }
    let config = SamplerConfig::default();
    let mut sampler = build_sampler_on(&config, linear(), timesteps).unwrap();
    let mut x = x;
    for (index, expected) in ddim["trajectory"].as_array().unwrap().iter().enumerate() {
        x = sampler
            .step(&model, None, index, &x, &mut NoiseRng::seed_from(0))
            .unwrap()
            .x_next;
        assert!(
            max_diff(&first_row(&x), &floats(expected)) < 1e-4,
            "trajectory step {index}"
        );
    }
}

#[test]
fn ddpm_steps_match_diffusers() {
    let reference = reference();
    let model = AffineEps {
        offset: row(&floats(&reference["ddim"]["offset"])),
    };
    let x = row(&floats(&reference["ddim"]["sample"]));
    for case in reference["ddpm"].as_array().unwrap() {
        let variance = match case["variance"].as_str().unwrap() {
            "fixed_small" => DdpmVariance::Small,
            _ => DdpmVariance::Large,
        };
        let (t, t_prev) = (
            case["t"].as_u64().unwrap() as usize,
            case["t_prev"].as_u64().unwrap() as usize,
        );
        // A two-level sampler whose single step goes from t to t_prev (or to data).
        let timesteps = if t_prev >= 1 { vec![t, t_prev] } else { vec![t] };
        let config = SamplerConfig {
            kind: SamplerKind::Ddpm,
            ddpm_variance: variance,
            ..SamplerConfig::default()
        };
        let mut sampler = build_sampler_on(&config, linear(), timesteps).unwrap();
        let mut rng = NoiseRng::seed_from(5);
        let z = rng.clone().randn_like(&x).unwrap();
        let out = sampler.step(&model, None, 0, &x, &mut rng).unwrap();
        let mean = (&out.x_next - (z * out.noise_std).unwrap()).unwrap();
        let label = format!("{} t={t}", case["variance"]);
        assert!(
            max_diff(&first_row(&mean), &floats(&case["mean"])) < 1e-5,
            "{label}: mean"
        );
        let std = if t_prev == 0 {
            0.0
        } else {
            case["std"].as_f64().unwrap()
        };
        assert!(
            (out.noise_std - std).abs() < 1e-9,
            "{label}: std {} vs {std}",
            out.noise_std
        );
    }
}

#[test]
fn dpm_solver_pp_trajectories_match_diffusers() {
    let reference = reference();
    let model = AffineEps {
        offset: row(&floats(&reference["ddim"]["offset"])),
    };
    for case in reference["dpm_solver_pp"].as_array().unwrap() {
        let timesteps = ints(&case["timesteps"]);
        // diffusers' `lower_order_final` acts on the final step only at order 2.
        let config = SamplerConfig {
            kind: SamplerKind::DpmSolverPp,
            dpm_solver: DpmSolverConfig {
                lower_order_final: false,
            },
            ..SamplerConfig::default()
        };
        let mut sampler = build_sampler_on(&config, linear(), timesteps.clone()).unwrap();
        let mut x = row(&floats(&reference["ddim"]["sample"]));
        for (index, expected) in case["trajectory"].as_array().unwrap().iter().enumerate() {
            x = sampler
                .step(&model, None, index, &x, &mut NoiseRng::seed_from(0))
                .unwrap()
                .x_next;
            let diff = max_diff(&first_row(&x), &floats(expected));
            assert!(diff < 1e-4, "{} steps, step {index}: {diff}", timesteps.len());
        }
    }
}

#[test]
fn add_noise_matches_diffusers() {
    let reference = reference();
    let schedule = Schedule::new(&ScheduleConfig::of_kind(ScheduleKind::Cosine)).unwrap();
    let x0 = row(&floats(&reference["ddim"]["sample"]));
    let noise = row(&floats(&reference["ddim"]["offset"]));
    for case in reference["add_noise"].as_array().unwrap() {
        let t = case["t"].as_u64().unwrap() as usize;
        let ours = noisescope::diffusion::sampler::add_noise(&schedule, &x0, &noise, t).unwrap();
        assert!(max_diff(&first_row(&ours), &floats(&case["noised"])) < 1e-6, "t={t}");
    }
}

#[test]
fn karras_and_log_snr_levels_match_diffusers() {
    let schedule = linear();
    for case in reference()["spaced_levels"].as_array().unwrap() {
        let steps = case["steps"].as_u64().unwrap() as usize;
        let spacing = case["spacing"].as_str().unwrap().parse().unwrap();
        let ours = inference_timesteps(&schedule, steps, spacing).unwrap();
        assert_eq!(ours, ints(&case["timesteps"]), "N={steps} {spacing}");
    }
}

#[test]
fn karras_sigmas_and_their_fractional_t_match_diffusers_heun() {
    let schedule = linear();
    let big_t = schedule.train_steps();
    for case in reference()["edm"]["karras"].as_array().unwrap() {
        let steps = case["steps"].as_u64().unwrap() as usize;
        let ours = karras_sigmas(edm_sigma(&schedule, 1), edm_sigma(&schedule, big_t), steps);
        let theirs = floats(&case["sigmas"]);
        let relative = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a / b - 1.0).abs())
            .fold(0.0, f64::max);
        assert!(relative < 1e-9, "N={steps}: σ off by {relative:e} (relative)");
        let fractional: Vec<f64> = ours
            .iter()
            .map(|s| schedule.fractional_t((1.0 + s * s).recip()))
            .collect();
        let diff = max_diff(&fractional, &floats(&case["fractional_t"]));
        assert!(diff < 1e-6, "N={steps}: fractional t off by {diff:e}");
    }
}

#[test]
fn edm_heun_trajectory_matches_diffusers_heun() {
    let reference = reference();
    let case = &reference["edm"]["heun"];
    let model = AffineEps {
        offset: row(&floats(&reference["ddim"]["offset"])),
    };
    let timesteps = ints(&case["timesteps"]);
    let config = SamplerConfig {
        kind: SamplerKind::EdmHeun,
        ..SamplerConfig::default()
    };
    let mut sampler = build_sampler_on(&config, linear(), timesteps).unwrap();
    // diffusers works on x̃ = x/√ᾱ; our sampler on the VP point x = x̃/√(1 + σ²).
    let sigmas = floats(&case["sigmas"]);
    let to_vp = |sigma: f64| (1.0 + sigma * sigma).sqrt().recip();
    let start: Vec<f64> = floats(&case["start"]).iter().map(|v| v * to_vp(sigmas[0])).collect();
    let mut x = row(&start);
    for (index, expected) in case["trajectory"].as_array().unwrap().iter().enumerate() {
        x = sampler
            .step(&model, None, index, &x, &mut NoiseRng::seed_from(0))
            .unwrap()
            .x_next;
        let scaled: Vec<f64> = floats(expected).iter().map(|v| v * to_vp(sigmas[index + 1])).collect();
        let diff = max_diff(&first_row(&x), &scaled);
        assert!(diff < 1e-4, "level {index}: {diff:e}");
    }
}
