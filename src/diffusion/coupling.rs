//! Couplings of data and noise for flow matching.
//!
//! Flow matching pairs each x_0 with an independent ε; the marginal paths then
//! cross, and the learned flow curves. Pairing a minibatch by optimal transport
//! instead, the assignment minimising Σ‖x_0,i − ε_σ(i)‖² (Tong et al. 2023,
//! "Improving and generalizing flow-based generative models with minibatch
//! optimal transport"; Pooladian et al. 2023), straightens the paths. The
//! assignment is the Hungarian method (Kuhn 1955, in the O(n³) form with
//! potentials).

use candle_core::{DType, Tensor};

use super::error::{Result, invalid};

/// The permutation σ minimising Σ_i cost[i][σ(i)] over a square cost matrix.
///
/// # Errors
/// A matrix that is not square, or a cost that is not finite.
pub fn optimal_assignment(cost: &[Vec<f64>]) -> Result<Vec<usize>> {
    let n = cost.len();
    if cost.iter().any(|row| row.len() != n) {
        return Err(invalid("an assignment needs a square cost matrix"));
    }
    if cost.iter().flatten().any(|c| !c.is_finite()) {
        return Err(invalid("assignment costs must be finite"));
    }
    // 1-based arrays with a sentinel column 0, as in the classic formulation:
    // u, v the row and column potentials, matched[j] the row assigned to column j.
    let (mut u, mut v) = (vec![0.0; n + 1], vec![0.0; n + 1]);
    let mut matched = vec![0_usize; n + 1];
    let mut way = vec![0_usize; n + 1];
    for row in 1..=n {
        matched[0] = row;
        let mut column = 0;
        let mut min_slack = vec![f64::INFINITY; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[column] = true;
            let i = matched[column];
            let (mut delta, mut next) = (f64::INFINITY, 0);
            for j in 1..=n {
                if used[j] {
                    continue;
                }
                let slack = cost[i - 1][j - 1] - u[i] - v[j];
                if slack < min_slack[j] {
                    min_slack[j] = slack;
                    way[j] = column;
                }
                if min_slack[j] < delta {
                    delta = min_slack[j];
                    next = j;
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[matched[j]] += delta;
                    v[j] -= delta;
                } else {
                    min_slack[j] -= delta;
                }
            }
            column = next;
            if matched[column] == 0 {
                break;
            }
        }
        // Flip the augmenting path back to the root.
        while column != 0 {
            let previous = way[column];
            matched[column] = matched[previous];
            column = previous;
        }
    }
    let mut assignment = vec![0; n];
    for j in 1..=n {
        assignment[matched[j] - 1] = j - 1;
    }
    Ok(assignment)
}

/// `noise`'s rows reordered so that row i pairs with `x0`'s row i by minibatch
/// optimal transport (squared Euclidean cost).
///
/// # Errors
/// Tensors of different shapes; tensor failures.
pub fn ot_paired_noise(x0: &Tensor, noise: &Tensor) -> Result<Tensor> {
    if x0.shape() != noise.shape() {
        return Err(invalid(format!(
            "data {:?} and noise {:?} must have the same shape",
            x0.dims(),
            noise.dims()
        )));
    }
    let rows = |t: &Tensor| -> Result<Vec<Vec<f64>>> { Ok(t.flatten_from(1)?.to_dtype(DType::F64)?.to_vec2()?) };
    let (data, eps) = (rows(x0)?, rows(noise)?);
    let cost: Vec<Vec<f64>> = data
        .iter()
        .map(|x| {
            eps.iter()
                .map(|e| x.iter().zip(e).map(|(a, b)| (a - b).powi(2)).sum())
                .collect()
        })
        .collect();
    let assignment = optimal_assignment(&cost)?;
    let order: Vec<u32> = assignment
        .iter()
        .map(|&j| u32::try_from(j).unwrap_or(u32::MAX))
        .collect();
    let index = Tensor::from_vec(order, assignment.len(), noise.device())?;
    Ok(noise.index_select(&index, 0)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every permutation of 0..n, for the brute-force check.
    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![vec![]];
        }
        let mut all = Vec::new();
        for p in permutations(n - 1) {
            for slot in 0..n {
                let mut q = p.clone();
                q.insert(slot, n - 1);
                all.push(q);
            }
        }
        all
    }

    #[test]
    fn the_assignment_is_the_cheapest_permutation() {
        let mut rng = crate::diffusion::NoiseRng::seed_from(3);
        for n in 1..=6 {
            let cost: Vec<Vec<f64>> = (0..n).map(|_| (0..n).map(|_| rng.uniform() * 10.0).collect()).collect();
            let total = |p: &[usize]| p.iter().enumerate().map(|(i, &j)| cost[i][j]).sum::<f64>();
            let best = permutations(n).iter().map(|p| total(p)).fold(f64::INFINITY, f64::min);
            let found = optimal_assignment(&cost).unwrap();
            let mut sorted = found.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "a permutation");
            assert!(
                (total(&found) - best).abs() < 1e-9,
                "n = {n}: {} vs {best}",
                total(&found)
            );
        }
    }

    #[test]
    fn ot_pairing_shortens_the_pairs() {
        let mut rng = crate::diffusion::NoiseRng::seed_from(4);
        let device = candle_core::Device::Cpu;
        let x0 = (rng.randn((64, 2), &device).unwrap() + 3.0).unwrap();
        let noise = rng.randn((64, 2), &device).unwrap();
        let paired = ot_paired_noise(&x0, &noise).unwrap();
        let cost = |e: &Tensor| -> f32 {
            (&x0 - e)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar()
                .unwrap()
        };
        assert!(cost(&paired) < cost(&noise), "{} vs {}", cost(&paired), cost(&noise));
        // The same rows, reordered.
        let sum = |t: &Tensor| -> f32 { t.sum_all().unwrap().to_scalar().unwrap() };
        assert!((sum(&paired) - sum(&noise)).abs() < 1e-3);
    }
}
