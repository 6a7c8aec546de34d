//! Helpers shared by the kernels' unit tests.

use candle_core::{Device, Tensor};

/// A deterministic tensor of values in [−1, 1) that no kernel could get right by symmetry.
pub fn ramp(shape: &[usize], seed: usize) -> Tensor {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|i| (((i * 7919 + seed * 31) % 97) as f32 / 48.0) - 1.0)
        .collect();
    Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
}

/// The largest absolute difference between two tensors of one shape.
pub fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// Asserts that two backward passes gave each of `vars` the same gradient, to
/// 1e-5 of the reference's largest magnitude (or absolutely, below 1); returns
/// how many were compared.
pub fn assert_same_gradients<'a>(
    ours: &candle_core::backprop::GradStore,
    reference: &candle_core::backprop::GradStore,
    vars: impl IntoIterator<Item = &'a candle_core::Var>,
) -> usize {
    let mut compared = 0;
    for var in vars {
        let (a, b) = (ours.get(var).unwrap(), reference.get(var).unwrap());
        let scale = f64::from(b.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap()).max(1.0);
        assert!(
            f64::from(max_diff(a, b)) < 1e-5 * scale,
            "{:?}: {}",
            var.dims(),
            max_diff(a, b)
        );
        compared += 1;
    }
    compared
}
