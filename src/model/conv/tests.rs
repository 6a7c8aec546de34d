use candle_core::{D, Var};

use super::*;
use crate::model::test_support::{max_diff, ramp};

/// The whole batch's im2col matrix from candle's own pad/narrow/cat (slow, obviously right).
fn im2col3x3(x: &Tensor) -> Tensor {
    let (b, h, w, c) = x.dims4().unwrap();
    let padded = x.pad_with_zeros(1, 1, 1).unwrap().pad_with_zeros(2, 1, 1).unwrap();
    let mut cols = Vec::new();
    for dy in 0..3 {
        for dx in 0..3 {
            cols.push(padded.narrow(1, dy, h).unwrap().narrow(2, dx, w).unwrap());
        }
    }
    cols.push(Tensor::ones((b, h, w, 1), x.dtype(), x.device()).unwrap());
    Tensor::cat(&cols, D::Minus1)
        .unwrap()
        .reshape((b * h * w, 9 * c + 1))
        .unwrap()
}

#[test]
fn the_kernel_gradient_is_bitwise_the_same_on_any_number_of_threads() {
    // 8 images of 20×20 in bands of 11 and 9 rows: 16 bands, two to each of the 8 runs.
    let x = Var::from_tensor(&ramp(&[8, 20, 20, 3], 4)).unwrap();
    let kernel = Var::from_tensor(&(ramp(&[28, 5], 5) * 0.1).unwrap()).unwrap();
    let weights = ramp(&[8, 20, 20, 5], 6);
    let kernel_grad = |threads: usize| -> Vec<f32> {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let out = conv3x3(&x, &kernel).unwrap();
            let grads = (out * &weights).unwrap().sum_all().unwrap().backward().unwrap();
            grads.get(&kernel).unwrap().flatten_all().unwrap().to_vec1().unwrap()
        })
    };
    let one = kernel_grad(1);
    for threads in [2, 3, 4] {
        assert_eq!(kernel_grad(threads), one, "{threads} threads");
    }
}

#[test]
fn blocked_convolution_matches_whole_batch_im2col_forward_and_backward() {
    // 2 images of 17×19 (646 pixels: blocks straddle images) with 5 channels.
    let x = Var::from_tensor(&ramp(&[2, 17, 19, 5], 1)).unwrap();
    let kernel = Var::from_tensor(&(ramp(&[46, 7], 2) * 0.1).unwrap()).unwrap();
    let ours = conv3x3(&x, &kernel).unwrap();
    let theirs = im2col3x3(&x).matmul(&kernel).unwrap().reshape((2, 17, 19, 7)).unwrap();
    assert!(max_diff(&ours, &theirs) < 1e-5);
    let weights = ramp(&[2, 17, 19, 7], 3);
    let g1 = (ours * &weights).unwrap().sum_all().unwrap().backward().unwrap();
    let g2 = (theirs * &weights).unwrap().sum_all().unwrap().backward().unwrap();
    assert!(max_diff(g1.get(&x).unwrap(), g2.get(&x).unwrap()) < 1e-4);
    assert!(max_diff(g1.get(&kernel).unwrap(), g2.get(&kernel).unwrap()) < 1e-3);
}
