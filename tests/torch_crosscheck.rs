//! The same weights and inputs give the same outputs in candle and in PyTorch
//! (`tests/reference/torch_model.py`, an independent re-implementation).
//! PyTorch is a 5 GB install, so these tests are ignored by a plain
//! `cargo test` (which lists them as ignored, never as passed); `bash .ci/run`
//! installs torch in a virtual environment and runs them with `--ignored`.
//! Once asked for, they fail when torch is missing: they never pass without
//! running. `NOISESCOPE_PYTHON` names the interpreter (default `python3`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use candle_core::{Device, Tensor};
use noisescope::diffusion::NoiseRng;
use noisescope::model::params::{read_safetensors, write_safetensors};
use noisescope::model::{Architecture, MlpConfig, ModelConfig, TrainedModel};

fn python() -> String {
    std::env::var("NOISESCOPE_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Fails the test, saying why, when torch cannot be used here.
fn require_torch() {
    if let Some(reason) = torch_missing() {
        panic!(
            "PyTorch is not available to {} ({reason}); set NOISESCOPE_PYTHON",
            python()
        );
    }
}

/// `Some(reason)` when torch cannot be used here.
fn torch_missing() -> Option<String> {
    match Command::new(python())
        .args(["-c", "import torch, safetensors"])
        .output()
    {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
                .to_owned(),
        ),
        Err(e) => Some(format!("{}: {e}", python())),
    }
}

mod common;

fn scratch(name: &str) -> PathBuf {
    common::scratch("torch", name)
}

/// Runs the model in candle and in PyTorch on the same rows; returns the max
/// absolute differences of the prediction and of the variance output.
fn compare(config: ModelConfig, seed: u64, t: &[f64], labels: &[u32]) -> (f32, f32) {
    let model = TrainedModel::fresh(config, seed).unwrap();
    // A fresh network zero-initialises its output layer (its prediction would
    // be 0 everywhere); random weights make every layer count.
    let mut rng = NoiseRng::seed_from(seed + 2);
    for var in model.params().vars().values() {
        let noise = (rng.randn(var.shape(), &Device::Cpu).unwrap() * 0.1).unwrap();
        var.set(&noise).unwrap();
    }
    let rows = t.len();
    let x = NoiseRng::seed_from(seed + 1)
        .randn((rows, config.sample_dims()), &Device::Cpu)
        .unwrap();
    let out = model.network().forward(&x, t, Some(labels)).unwrap();
    let scale = out
        .prediction
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(scale > 0.1, "the outputs must not be trivially small ({scale})");
    eprintln!("largest output: {scale}");

    let weights = scratch(&format!("weights-{seed}.safetensors"));
    model.save(&weights).unwrap();
    let inputs = scratch(&format!("inputs-{seed}.safetensors"));
    let mut tensors = BTreeMap::new();
    tensors.insert("x".to_owned(), x);
    let t32: Vec<f32> = t.iter().map(|&v| v as f32).collect();
    tensors.insert("t".to_owned(), Tensor::from_vec(t32, rows, &Device::Cpu).unwrap());
    let ids: Vec<i64> = labels.iter().map(|&l| i64::from(l)).collect();
    tensors.insert("labels".to_owned(), Tensor::from_vec(ids, rows, &Device::Cpu).unwrap());
    write_safetensors(&inputs, &tensors, Default::default()).unwrap();
    let outputs = scratch(&format!("outputs-{seed}.safetensors"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/torch_model.py");
    let status = Command::new(python())
        .arg(script)
        .args([
            "check",
            weights.to_str().unwrap(),
            inputs.to_str().unwrap(),
            outputs.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success(), "the PyTorch script failed");
    let (theirs, _) = read_safetensors(&outputs).unwrap();
    let diff = common::max_abs_diff;
    let prediction = diff(&out.prediction, &theirs["prediction"]);
    let variance = match (&out.variance_interp, theirs.get("variance")) {
        (Some(ours), Some(theirs)) => diff(ours, theirs),
        (None, None) => 0.0,
        _ => panic!("one side has a variance output and the other not"),
    };
    (prediction, variance)
}

#[test]
#[ignore = "needs PyTorch (5 GB): bash .ci/run installs it and runs these with --ignored"]
fn the_unet_matches_pytorch() {
    require_torch();
    // The shipped architecture, with the learned-variance head too; labels
    // include the null class (10).
    let config = ModelConfig {
        learned_variance: true,
        classes: 10,
        ..ModelConfig::default()
    };
    let (prediction, variance) = compare(config, 3, &[1.0, 500.0, 1000.0], &[0, 7, 10]);
    eprintln!("U-Net: max |candle − PyTorch| = {prediction:e} (prediction), {variance:e} (variance)");
    assert!(prediction < 1e-4, "prediction differs by {prediction}");
    assert!(variance < 1e-4, "variance differs by {variance}");
}

#[test]
#[ignore = "needs PyTorch (5 GB): bash .ci/run installs it and runs these with --ignored"]
fn the_mlp_matches_pytorch() {
    require_torch();
    let config = ModelConfig {
        architecture: Architecture::Mlp(MlpConfig::default()),
        classes: 2,
        ..ModelConfig::default()
    };
    let (prediction, _) = compare(config, 4, &[3.0, 250.0, 999.0, 1.0], &[0, 1, 2, 1]);
    eprintln!("MLP: max |candle − PyTorch| = {prediction:e}");
    assert!(prediction < 1e-4, "prediction differs by {prediction}");
}

/// `bench --model`'s count of one forward pass against PyTorch's
/// `FlopCounterMode` on the PyTorch twin, for a U-Net with and without
/// attention, at another width and size, and for the MLP.
#[test]
#[ignore = "needs PyTorch (5 GB): bash .ci/run installs it and runs these with --ignored"]
fn the_flop_count_matches_pytorchs_counter() {
    use noisescope::model::UnetConfig;
    use noisescope::model::flops::forward_flops_per_sample;
    require_torch();
    let unet = |channels, image_size, attention| {
        Architecture::Unet(UnetConfig {
            channels,
            image_size,
            attention,
            ..UnetConfig::default()
        })
    };
    for (seed, architecture) in [
        (5, unet(32, 28, true)),
        (6, unet(16, 16, false)),
        (7, unet(48, 32, true)),
        (8, Architecture::Mlp(MlpConfig::default())),
    ] {
        let config = ModelConfig {
            architecture,
            classes: 10,
            ..ModelConfig::default()
        };
        let model = TrainedModel::fresh(config, seed).unwrap();
        let weights = scratch(&format!("flops-{seed}.safetensors"));
        model.save(&weights).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/torch_model.py");
        let out = Command::new(python())
            .arg(script)
            .args(["flops", weights.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let theirs: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert_eq!(forward_flops_per_sample(&model), theirs, "{architecture:?}");
    }
}
