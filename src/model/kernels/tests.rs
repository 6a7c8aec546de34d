//! Tests of the fused kernels against candle's own operations, forward and backward.

use candle_core::{Device, Var};

use super::*;
use crate::model::test_support::{max_diff, ramp};

/// Group norm (+ SiLU) written with candle's own differentiable ops.
fn reference_group_norm(x: &Tensor, gain: &Tensor, bias: &Tensor, groups: usize, silu: bool) -> Tensor {
    let (b, h, w, c) = x.dims4().unwrap();
    let grouped = x.reshape((b, h * w, groups, c / groups)).unwrap();
    let mean = grouped.mean_keepdim(3).unwrap().mean_keepdim(1).unwrap();
    let centred = grouped.broadcast_sub(&mean).unwrap();
    let var = centred.sqr().unwrap().mean_keepdim(3).unwrap().mean_keepdim(1).unwrap();
    let normed = centred
        .broadcast_div(&(var + f64::from(EPSILON)).unwrap().sqrt().unwrap())
        .unwrap();
    let y = normed
        .reshape((b, h, w, c))
        .unwrap()
        .broadcast_mul(gain)
        .unwrap()
        .broadcast_add(bias)
        .unwrap();
    if silu { y.silu().unwrap() } else { y }
}

#[test]
fn group_norm_matches_candle_ops_forward_and_backward() {
    for silu in [false, true] {
        let x = Var::from_tensor(&ramp(&[2, 3, 4, 6], 1)).unwrap();
        let gain = Var::from_tensor(&Tensor::new(&[1.0f32, 0.5, -1.0, 2.0, 1.5, 0.2], &Device::Cpu).unwrap()).unwrap();
        let bias = Var::from_tensor(&Tensor::new(&[0.1f32, -0.2, 0.3, 0.0, 0.5, -0.5], &Device::Cpu).unwrap()).unwrap();
        let weights = ramp(&[2, 3, 4, 6], 5);
        let ours = group_norm(&x, &gain, &bias, 3, silu).unwrap();
        let theirs = reference_group_norm(&x, &gain, &bias, 3, silu);
        assert!(max_diff(&ours, &theirs) < 1e-5);
        let g1 = (ours * &weights).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = (theirs * &weights).unwrap().sum_all().unwrap().backward().unwrap();
        for var in [&x, &gain, &bias] {
            let d = max_diff(g1.get(var).unwrap(), g2.get(var).unwrap());
            assert!(d < 1e-4, "silu {silu}: gradient differs by {d}");
        }
    }
}

#[test]
fn pooling_and_spreading_match_candle_ops_and_are_adjoint() {
    let x = Var::from_tensor(&ramp(&[2, 4, 6, 3], 2)).unwrap();
    let pooled = pool2x(&x).unwrap();
    let reference = x
        .reshape((2, 2, 2, 3, 2, 3))
        .unwrap()
        .mean_keepdim(4)
        .unwrap()
        .mean_keepdim(2)
        .unwrap();
    assert!(max_diff(&pooled, &reference.reshape((2, 2, 3, 3)).unwrap()) < 1e-6);
    let spread = spread2x(&x).unwrap();
    assert_eq!(spread.dims(), [2, 8, 12, 3]);
    assert_eq!(
        spread
            .get(1)
            .unwrap()
            .get(5)
            .unwrap()
            .get(7)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap(),
        x.get(1)
            .unwrap()
            .get(2)
            .unwrap()
            .get(3)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    );
    // <pool(x), y> = <x, pool*(y)>: the backward pass is the adjoint.
    let y = ramp(&[2, 2, 3, 3], 9);
    let grad = (pooled * &y).unwrap().sum_all().unwrap().backward().unwrap();
    let adjoint = grad.get(&x).unwrap();
    let lhs = (pool2x(&x).unwrap() * &y)
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let rhs = (x.as_tensor() * adjoint)
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!((lhs - rhs).abs() < 1e-4);
    let z = ramp(&[2, 8, 12, 3], 4);
    let grad = (spread2x(&x).unwrap() * &z)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let lhs = (spread2x(&x).unwrap() * &z)
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let rhs = (x.as_tensor() * grad.get(&x).unwrap())
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!((lhs - rhs).abs() < 1e-3);
}

#[test]
fn per_image_channel_shift_matches_broadcast_add() {
    let x = Var::from_tensor(&ramp(&[2, 3, 4, 5], 3)).unwrap();
    let s = Var::from_tensor(&Tensor::from_vec((0..10).map(|i| i as f32).collect(), (2, 5), &Device::Cpu).unwrap())
        .unwrap();
    let ours = add_per_image_channel(&x, &s).unwrap();
    let theirs = x.broadcast_add(&s.reshape((2, 1, 1, 5)).unwrap()).unwrap();
    assert!(max_diff(&ours, &theirs) < 1e-6);
    let w = ramp(&[2, 3, 4, 5], 8);
    let g1 = (ours * &w).unwrap().sum_all().unwrap().backward().unwrap();
    let g2 = (theirs * &w).unwrap().sum_all().unwrap().backward().unwrap();
    assert!(max_diff(g1.get(&s).unwrap(), g2.get(&s).unwrap()) < 1e-4);
    assert!(max_diff(g1.get(&x).unwrap(), g2.get(&x).unwrap()) < 1e-6);
}
