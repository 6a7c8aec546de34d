use super::*;

/// Deterministic values in [−1, 1) (a linear congruential generator).
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// The input pixel (y + dy − 1, x + dx − 1) of image `b`, channel `c`, or 0 outside.
fn pixel(x: &[f32], t: Tiling, b: usize, y: isize, xx: isize, c: usize) -> f64 {
    if y < 0 || xx < 0 || y >= t.height as isize || xx >= t.width as isize {
        return 0.0;
    }
    f64::from(x[((b * t.height + y as usize) * t.width + xx as usize) * t.channels + c])
}

/// The convolution by its definition, in f64: out[b, y, x, o] = bias[o] +
/// Σ_{dy, dx, c} in[b, y + dy − 1, x + dx − 1, c] · K[(dy, dx, c), o].
fn convolution_by_definition(x: &[f32], kernel: &[f32], t: Tiling, batch: usize, outputs: usize) -> Vec<f64> {
    let mut out = Vec::new();
    for b in 0..batch {
        for y in 0..t.height {
            for xx in 0..t.width {
                for o in 0..outputs {
                    let mut sum = f64::from(kernel[9 * t.channels * outputs + o]);
                    for tap in 0..9 {
                        for c in 0..t.channels {
                            let input = pixel(x, t, b, (y + tap / 3) as isize - 1, (xx + tap % 3) as isize - 1, c);
                            sum += input * f64::from(kernel[(tap * t.channels + c) * outputs + o]);
                        }
                    }
                    out.push(sum);
                }
            }
        }
    }
    out
}

/// dL/dK[(dy, dx, c), o] = Σ_{b, y, x} in[b, y + dy − 1, x + dx − 1, c] · G[b, y, x, o], in f64.
fn kernel_gradient_by_definition(x: &[f32], grad: &[f32], t: Tiling, batch: usize, outputs: usize) -> Vec<f64> {
    let mut dk = vec![0f64; 9 * t.channels * outputs];
    for b in 0..batch {
        for y in 0..t.height {
            for xx in 0..t.width {
                for tap in 0..9 {
                    for c in 0..t.channels {
                        let input = pixel(x, t, b, (y + tap / 3) as isize - 1, (xx + tap % 3) as isize - 1, c);
                        for o in 0..outputs {
                            let g = f64::from(grad[((b * t.height + y) * t.width + xx) * outputs + o]);
                            dk[(tap * t.channels + c) * outputs + o] += input * g;
                        }
                    }
                }
            }
        }
    }
    dk
}

fn assert_close(got: &[f32], want: &[f64], tolerance: f64) {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (f64::from(*g) - w).abs() <= tolerance * scale,
            "value {i}: {g} against {w}"
        );
    }
}

/// Even and odd sides (an odd side's last tile is half outside), several
/// images per block and several blocks per image, and channel counts that
/// are and are not whole 8-lane registers (the transforms' two paths).
const SHAPES: [(usize, usize, usize, usize, usize); 5] = [
    (3, 28, 28, 4, 5),
    (5, 7, 7, 6, 3),
    (2, 5, 6, 3, 2),
    (2, 14, 14, 12, 10),
    (9, 7, 7, 16, 24),
];

/// Runs `check` on each of [`SHAPES`] with its own seed: the tiling, the batch and the output channels.
fn for_each_shape(check: impl Fn(Tiling, usize, usize, u64)) {
    for (seed, (batch, height, width, channels, outputs)) in SHAPES.into_iter().enumerate() {
        let tiling = Tiling {
            height,
            width,
            channels,
        };
        check(tiling, batch, outputs, seed as u64);
    }
}

#[test]
fn the_convolution_is_the_definitions_up_to_rounding() {
    for_each_shape(|t, batch, outputs, seed| {
        let x = values(batch * t.height * t.width * t.channels, seed);
        let kernel = values((9 * t.channels + 1) * outputs, 100 + seed);
        let u = transform_kernel(&kernel, t.channels, outputs);
        let out = forward(t, &x, &u, &kernel[9 * t.channels * outputs..], batch);
        assert_close(&out, &convolution_by_definition(&x, &kernel, t, batch, outputs), 1e-5);
    });
}

#[test]
fn the_kernel_gradient_is_the_definitions_up_to_rounding() {
    for_each_shape(|t, batch, outputs, seed| {
        let x = values(batch * t.height * t.width * t.channels, seed);
        let grad = values(batch * t.height * t.width * outputs, 200 + seed);
        let dk = kernel_gradient(t, &x, &grad, batch, outputs);
        assert_close(&dk, &kernel_gradient_by_definition(&x, &grad, t, batch, outputs), 1e-5);
    });
}

#[test]
fn the_kernel_gradient_is_bitwise_the_same_on_any_number_of_threads() {
    let t = Tiling {
        height: 14,
        width: 14,
        channels: 8,
    };
    let batch = 9;
    let images = values(batch * 14 * 14 * 8, 1);
    let grad = values(batch * 14 * 14 * 6, 2);
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
        pool.map(|pool| pool.install(|| kernel_gradient(t, &images, &grad, batch, 6)))
    };
    let one = on(1);
    assert!(one.is_ok());
    assert_eq!(one.ok(), on(3).ok());
}
