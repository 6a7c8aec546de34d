//! The candle networks: weights files, training determinism and resume, a
//! trained model's statistics against an exact answer, and the shipped model.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use noisescope::data::Dataset;
use noisescope::diffusion::guidance::{GuidanceConfig, Guided};
use noisescope::diffusion::mixture::GaussianMixture;
use noisescope::diffusion::sampler::{SamplerConfig, build_sampler, sample_from_noise};
use noisescope::diffusion::{Denoiser, NoiseLevel, NoiseRng, PredictionType, Schedule, ScheduleConfig};
use noisescope::model::params::write_safetensors;
use noisescope::model::train::{TrainConfig, Trainer};
use noisescope::model::{Architecture, MlpConfig, ModelConfig, TrainedModel, UnetConfig};

mod common;

use common::max_abs_diff;

fn scratch(name: &str) -> PathBuf {
    common::scratch("model-tests", name)
}

fn mlp_config(hidden: usize, classes: usize) -> ModelConfig {
    ModelConfig {
        architecture: Architecture::Mlp(MlpConfig {
            dims: 2,
            hidden,
            layers: 3,
        }),
        classes,
        ..ModelConfig::default()
    }
}

fn tiny_unet(classes: usize, learned_variance: bool) -> ModelConfig {
    ModelConfig {
        architecture: Architecture::Unet(UnetConfig {
            image_size: 8,
            image_channels: 1,
            channels: 8,
            groups: 4,
            attention: true,
        }),
        classes,
        learned_variance,
        ..ModelConfig::default()
    }
}

/// Two blobs at x = ±1.5 with weights 0.7 / 0.3, labelled 0 and 1.
fn two_blobs() -> GaussianMixture {
    GaussianMixture::from_json(
        r#"{"components": [
            {"mean": [-1.5, 0.0], "std": 0.3, "weight": 0.7, "label": 0},
            {"mean": [1.5, 0.0], "std": 0.3, "weight": 0.3, "label": 1}]}"#,
        "two-blobs",
    )
    .unwrap()
}

fn blob_data(n: usize) -> Dataset {
    let mixture = two_blobs();
    let (points, origins) = mixture.sample(n, None, &mut NoiseRng::seed_from(5)).unwrap();
    Dataset {
        name: "two-blobs".into(),
        dims: 2,
        rows: points.flatten_all().unwrap().to_vec1().unwrap(),
        labels: Some(origins.iter().map(|&k| k as u32).collect()),
        classes: 2,
    }
}

fn weights(model: &TrainedModel) -> BTreeMap<String, Vec<f32>> {
    model
        .params()
        .vars()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().flatten_all().unwrap().to_vec1().unwrap()))
        .collect()
}

#[test]
fn a_saved_model_loads_back_and_gives_the_same_output() {
    let model = TrainedModel::fresh(tiny_unet(3, true), 11).unwrap();
    let path = scratch("roundtrip.safetensors");
    model.save(&path).unwrap();
    let loaded = TrainedModel::load(&path).unwrap();
    assert_eq!(loaded.config(), model.config());
    let x = NoiseRng::seed_from(1).randn((2, 64), &Device::Cpu).unwrap();
    let level = NoiseLevel {
        t: 300.0,
        alpha_bar: 0.5,
    };
    let a = model.predict(&x, level, Some(&[0, 2])).unwrap();
    let b = loaded.predict(&x, level, Some(&[0, 2])).unwrap();
    assert_eq!(max_abs_diff(&a.prediction.value, &b.prediction.value), 0.0);
    // The learned variance comes out as an interpolation weight in [−1, 1].
    let v = b
        .variance_interp
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert!(v.iter().all(|v| v.abs() <= 1.0));
}

#[test]
fn bad_weights_files_are_named_errors() {
    let model = TrainedModel::fresh(mlp_config(16, 0), 1).unwrap();
    let good = scratch("good.safetensors");
    model.save(&good).unwrap();
    let bytes = std::fs::read(&good).unwrap();

    let truncated = scratch("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let text = scratch("text.safetensors");
    std::fs::write(&text, "this is not a weights file").unwrap();
    let missing = scratch("does-not-exist.safetensors");
    for path in [&truncated, &text, &missing] {
        let err = TrainedModel::load(path)
            .err()
            .expect("a bad file is an error")
            .to_string();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }

    // The same tensors, but metadata claiming a wider network: a shape mismatch.
    let mut metadata = mlp_config(32, 0).to_metadata();
    metadata.insert("training.data".into(), "none".into());
    let tensors: BTreeMap<String, Tensor> = model
        .params()
        .vars()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    let mismatched = scratch("mismatched.safetensors");
    write_safetensors(&mismatched, &tensors, metadata).unwrap();
    let err = TrainedModel::load(&mismatched).err().unwrap().to_string();
    assert!(err.contains("has shape") && err.contains("needs"), "{err}");

    // A tensor the network does not have.
    let mut extra = tensors.clone();
    extra.insert(
        "stray".into(),
        Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu).unwrap(),
    );
    let with_extra = scratch("extra.safetensors");
    write_safetensors(&with_extra, &extra, mlp_config(16, 0).to_metadata()).unwrap();
    let err = TrainedModel::load(&with_extra).err().unwrap().to_string();
    assert!(err.contains("'stray' does not belong"), "{err}");
}

#[test]
fn classes_out_of_range_and_wrong_shapes_are_errors() {
    let model = TrainedModel::fresh(tiny_unet(3, false), 2).unwrap();
    let x = Tensor::zeros((1, 64), candle_core::DType::F32, &Device::Cpu).unwrap();
    let level = NoiseLevel {
        t: 10.0,
        alpha_bar: 0.9,
    };
    let err = model.predict(&x, level, Some(&[4])).err().unwrap().to_string();
    assert!(err.contains("class 4 is out of range"), "{err}");
    // Label 3 is the null class of classifier-free guidance: allowed.
    assert!(model.predict(&x, level, Some(&[3])).is_ok());
    let wrong = Tensor::zeros((1, 63), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert!(model.predict(&wrong, level, None).is_err());
}

/// A trainer on the 2D blobs after `steps` steps.
fn blob_trainer_after(config: TrainConfig, steps: usize) -> Trainer {
    let mut trainer = Trainer::new(mlp_config(32, 2), config, blob_data(500)).unwrap();
    for _ in 0..steps {
        trainer.step().unwrap();
    }
    trainer
}

#[test]
fn training_is_deterministic_and_resumes_exactly() {
    let config = TrainConfig {
        batch: 64,
        seed: 9,
        ..TrainConfig::default()
    };
    let straight = blob_trainer_after(config, 6);
    let first_half = blob_trainer_after(config, 3);
    let checkpoint = scratch("resume.ckpt.safetensors");
    first_half.save_checkpoint(&checkpoint).unwrap();
    drop(first_half);
    let mut resumed = Trainer::resume(&checkpoint, mlp_config(32, 2), config, blob_data(500)).unwrap();
    assert_eq!(resumed.step_count(), 3);
    for _ in 0..3 {
        resumed.step().unwrap();
    }
    assert_eq!(weights(straight.model()), weights(resumed.model()));
    assert_eq!(
        weights(&straight.ema_model().unwrap()),
        weights(&resumed.ema_model().unwrap())
    );

    let other_seed = TrainConfig { seed: 10, ..config };
    let different = blob_trainer_after(other_seed, 6);
    assert_ne!(weights(straight.model()), weights(different.model()));

    let err = Trainer::resume(&checkpoint, mlp_config(16, 2), config, blob_data(500))
        .err()
        .unwrap();
    assert!(err.to_string().contains("different model config"), "{err}");
}

#[test]
fn training_can_start_from_a_saved_model() {
    let config = TrainConfig {
        batch: 64,
        seed: 3,
        ..TrainConfig::default()
    };
    let saved = blob_trainer_after(config, 4).ema_model().unwrap();
    let path = scratch("init.safetensors");
    saved.save(&path).unwrap();
    let mut further = Trainer::from_weights(&path, mlp_config(32, 2), config, blob_data(500)).unwrap();
    assert_eq!(further.step_count(), 0);
    assert_eq!(
        weights(further.model()),
        weights(&saved),
        "it starts at the file's weights"
    );
    assert_eq!(weights(&further.ema_model().unwrap()), weights(&saved));
    further.step().unwrap();
    assert_ne!(weights(further.model()), weights(&saved), "and trains them");

    let err = Trainer::from_weights(&path, mlp_config(16, 2), config, blob_data(500))
        .err()
        .unwrap();
    assert!(err.to_string().contains("init.safetensors"), "{err}");
}

/// Fraction of samples on the right (x > 0), and its standard error.
fn right_fraction(model: &dyn Denoiser, schedule: &ScheduleConfig, n: usize) -> (f64, f64) {
    let schedule = std::sync::Arc::new(Schedule::new(schedule).unwrap());
    let mut sampler = build_sampler(&SamplerConfig::default(), schedule).unwrap();
    let guided = Guided::new(model, None, GuidanceConfig::default()).unwrap();
    let mut rng = NoiseRng::seed_from(77);
    let x = sample_from_noise(sampler.as_mut(), &guided, None, &[n, 2], &mut rng).unwrap();
    let xs = x.to_vec2::<f32>().unwrap();
    let right = xs.iter().filter(|p| p[0] > 0.0).count() as f64 / n as f64;
    (right, (0.3 * 0.7 / n as f64).sqrt())
}

#[test]
fn a_trained_mlp_reproduces_the_mixture_weights() {
    let config = TrainConfig {
        batch: 256,
        seed: 3,
        ..TrainConfig::default()
    };
    let model_config = ModelConfig {
        prediction: PredictionType::Epsilon,
        ..mlp_config(64, 0)
    };
    let mut trainer = Trainer::new(model_config, config, blob_data(4000)).unwrap();
    for _ in 0..1500 {
        trainer.step().unwrap();
    }
    let model = trainer.ema_model().unwrap();
    let (right, se) = right_fraction(&model, &model_config.schedule, 3000);
    eprintln!("right-hand weight {right:.3} ± {se:.3} (exact 0.3)");
    // The exact answer is 0.3; a learned score is allowed a few points of bias.
    assert!(
        (right - 0.3).abs() < 0.04 + 4.0 * se,
        "right-hand weight {right}, expected 0.3"
    );
}

#[test]
fn the_shipped_model_denoises_real_images() {
    let model = noisescope::model::shipped::fashion_mnist().unwrap();
    let config = *model.config();
    assert!(matches!(config.architecture, Architecture::Unet(u) if u.image_size == 28));
    assert_eq!(config.classes, 10);
    // A built-in test image (a sneaker, class 7), noised to t = 200.
    let png =
        image::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/images/fashion-mnist-test-0009-sneaker.png"))
            .unwrap()
            .to_luma8();
    let x0: Vec<f32> = png.pixels().map(|p| f32::from(p.0[0]) / 127.5 - 1.0).collect();
    let x0 = Tensor::from_vec(x0, (1, 784), &Device::Cpu).unwrap();
    let schedule = Schedule::new(&config.schedule).unwrap();
    let t = 200;
    let alpha_bar = schedule.alpha_bar(t);
    let noise = NoiseRng::seed_from(4).randn((1, 784), &Device::Cpu).unwrap();
    let x_t = ((&x0 * alpha_bar.sqrt()).unwrap() + (&noise * (1.0 - alpha_bar).sqrt()).unwrap()).unwrap();
    let out = model
        .predict(&x_t, NoiseLevel { t: t as f64, alpha_bar }, Some(&[7]))
        .unwrap();
    let x0_hat = out.prediction.x0(&x_t, alpha_bar).unwrap();
    let error = |x: &Tensor| {
        (x - &x0)
            .unwrap()
            .sqr()
            .unwrap()
            .mean_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    let naive = (&x_t / alpha_bar.sqrt()).unwrap();
    // x_t/√ᾱ is the unbiased guess with no model; the network must beat it clearly.
    assert!(
        error(&x0_hat) < 0.5 * error(&naive),
        "x̂0 error {} vs {}",
        error(&x0_hat),
        error(&naive)
    );
}

#[test]
fn a_batch_of_levels_in_one_pass_equals_row_by_row() {
    let model = TrainedModel::fresh(tiny_unet(3, true), 5).unwrap();
    let x = NoiseRng::seed_from(2).randn((3, 64), &Device::Cpu).unwrap();
    let levels = [
        NoiseLevel {
            t: 1.0,
            alpha_bar: 0.99,
        },
        NoiseLevel {
            t: 500.0,
            alpha_bar: 0.1,
        },
        NoiseLevel {
            t: 1000.0,
            alpha_bar: 1e-4,
        },
    ];
    let labels = [0, 3, 2];
    let batched = model.predict_rows(&x, &levels, Some(&labels)).unwrap();
    for (row, level) in levels.iter().enumerate() {
        let single = model
            .predict(&x.narrow(0, row, 1).unwrap(), *level, Some(&labels[row..=row]))
            .unwrap();
        let diff = max_abs_diff(
            &batched.prediction.value.narrow(0, row, 1).unwrap(),
            &single.prediction.value,
        );
        assert!(diff < 1e-5, "row {row} differs by {diff}");
    }
}

#[test]
fn only_the_hybrid_loss_trains_the_learned_variance() {
    use noisescope::model::train::Loss;
    let model_config = ModelConfig {
        learned_variance: true,
        ..mlp_config(32, 0)
    };
    // The output layer's last two columns produce the variance interpolation.
    let variance_columns = |model: &TrainedModel| {
        let w = model.params().vars()["mlp.output.weight"]
            .as_tensor()
            .narrow(1, 2, 2)
            .unwrap();
        w.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    };
    let variance_after = |loss: Loss| {
        let config = TrainConfig {
            batch: 64,
            loss,
            seed: 1,
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(model_config, config, blob_data(500)).unwrap();
        let before = variance_columns(trainer.model());
        for _ in 0..30 {
            trainer.step().unwrap();
        }
        let after = variance_columns(trainer.model());
        before
            .iter()
            .zip(&after)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    };
    // L_simple never sees the variance output (its mean is all it regresses),
    // so the weights that make it get no gradient; the hybrid loss's L_vlb moves them.
    assert_eq!(variance_after(Loss::Simple), 0.0);
    assert!(variance_after(Loss::Hybrid) > 1e-4);
}
