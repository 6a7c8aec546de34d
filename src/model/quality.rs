//! Sample quality: the Fréchet distance between two sets of feature vectors
//! (Heusel et al. 2017, eq. 6):
//!
//! FD = ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½),
//!
//! with matrix square roots from a cyclic Jacobi eigendecomposition (symmetric
//! matrices, f64; the feature width is small, so O(n³) sweeps are cheap).

use super::error::{Error, Result};

/// Mean and covariance (n − 1 normalised) of `rows` of width `dims`.
fn moments(rows: &[f32], dims: usize) -> (Vec<f64>, Vec<f64>) {
    let n = rows.len() / dims;
    let mut mean = vec![0.0; dims];
    for row in rows.chunks_exact(dims) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut cov = vec![0.0; dims * dims];
    for row in rows.chunks_exact(dims) {
        let centred: Vec<f64> = row.iter().zip(&mean).map(|(&v, m)| f64::from(v) - m).collect();
        for i in 0..dims {
            for j in i..dims {
                cov[i * dims + j] += centred[i] * centred[j];
            }
        }
    }
    let scale = 1.0 / (n.max(2) - 1) as f64;
    for i in 0..dims {
        for j in i..dims {
            let v = cov[i * dims + j] * scale;
            cov[i * dims + j] = v;
            cov[j * dims + i] = v;
        }
    }
    (mean, cov)
}

/// Eigenvalues and eigenvectors (columns of the returned row-major matrix) of a
/// symmetric `n × n` matrix, by cyclic Jacobi rotations.
#[must_use]
pub fn symmetric_eigen(matrix: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = matrix.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..60 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        let scale: f64 = (0..n).map(|i| a[i * n + i].powi(2)).sum::<f64>().max(1e-300);
        if off <= 1e-24 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                // The rotation that zeroes a[p][q] (Golub & Van Loan, Algorithm 8.5.1).
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + theta.hypot(1.0));
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / t.hypot(1.0);
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

/// The square root of a symmetric positive semi-definite matrix (negative
/// eigenvalues from rounding are taken as 0).
#[must_use]
pub fn psd_sqrt(matrix: &[f64], n: usize) -> Vec<f64> {
    let (values, vectors) = symmetric_eigen(matrix, n);
    let roots: Vec<f64> = values.iter().map(|&l| l.max(0.0).sqrt()).collect();
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = (0..n).map(|k| vectors[i * n + k] * roots[k] * vectors[j * n + k]).sum();
        }
    }
    out
}

fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            for j in 0..n {
                out[i * n + j] += aik * b[k * n + j];
            }
        }
    }
    out
}

/// The Fréchet distance between feature sets `a` and `b` (rows of width `dims`).
///
/// # Errors
/// Fewer than two rows in either set.
pub fn frechet_distance(a: &[f32], b: &[f32], dims: usize) -> Result<f64> {
    if a.len() < 2 * dims || b.len() < 2 * dims {
        return Err(Error::Data(
            "the Fréchet distance needs at least two samples per set".into(),
        ));
    }
    let (mu_a, cov_a) = moments(a, dims);
    let (mu_b, cov_b) = moments(b, dims);
    let root_a = psd_sqrt(&cov_a, dims);
    let middle = matmul(&matmul(&root_a, &cov_b, dims), &root_a, dims);
    // Symmetrise away rounding before the second square root.
    let middle: Vec<f64> = (0..dims * dims)
        .map(|ij| 0.5 * (middle[ij] + middle[(ij % dims) * dims + ij / dims]))
        .collect();
    let (values, _) = symmetric_eigen(&middle, dims);
    let cross: f64 = values.iter().map(|&l| l.max(0.0).sqrt()).sum();
    let mean_term: f64 = mu_a.iter().zip(&mu_b).map(|(x, y)| (x - y).powi(2)).sum();
    let trace = |c: &[f64]| (0..dims).map(|i| c[i * dims + i]).sum::<f64>();
    Ok(mean_term + trace(&cov_a) + trace(&cov_b) - 2.0 * cross)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::NoiseRng;

    #[test]
    fn eigen_decomposition_rebuilds_the_matrix() {
        let m = [4.0, 1.0, 0.5, 1.0, 3.0, -0.2, 0.5, -0.2, 1.0];
        let (values, vectors) = symmetric_eigen(&m, 3);
        for i in 0..3 {
            for j in 0..3 {
                let rebuilt: f64 = (0..3)
                    .map(|k| vectors[i * 3 + k] * values[k] * vectors[j * 3 + k])
                    .sum();
                assert!((rebuilt - m[i * 3 + j]).abs() < 1e-10);
            }
        }
        let root = psd_sqrt(&m, 3);
        let squared = matmul(&root, &root, 3);
        assert!(squared.iter().zip(&m).all(|(a, b)| (a - b).abs() < 1e-10));
    }

    #[test]
    fn frechet_distance_of_gaussians_matches_the_closed_form() {
        // N(μ, diag(s²)) against N(0, I): FD = ‖μ‖² + Σ (s − 1)².
        let mut rng = NoiseRng::seed_from(1);
        let (n, dims) = (40_000, 3);
        let mean = [1.0, -0.5, 0.0];
        let std = [2.0, 1.0, 0.5];
        let a: Vec<f32> = (0..n * dims)
            .map(|i| (mean[i % dims] + std[i % dims] * rng.normal()) as f32)
            .collect();
        let b: Vec<f32> = (0..n * dims).map(|_| rng.normal() as f32).collect();
        let exact = 1.25 + (1.0 + 0.0 + 0.25);
        let fd = frechet_distance(&a, &b, dims).unwrap();
        assert!((fd - exact).abs() < 0.05, "FD {fd}, exact {exact}");
        assert!(frechet_distance(&b, &b, dims).unwrap().abs() < 1e-9);
    }
}
