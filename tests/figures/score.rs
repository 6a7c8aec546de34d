//! Figures of the score chapter added with the first half of the theory:
//! Tweedie's formula against Bayes by importance sampling, written here; the
//! VE perturbation against a convolution by quadrature; NCSN's losses and pitfalls.

use noisescope::diffusion::NoiseRng;
use noisescope::figures::{self, Inputs};
use noisescope::jobs::JobContext;

#[test]
fn tweedies_formula_is_the_posterior_mean_and_the_best_guess() {
    let inputs = Inputs::shipped().unwrap();
    let setup = figures::tweedie::Setup {
        particles: 5,
        ..Default::default()
    };
    let tweedie = figures::tweedie::compute(&setup, &inputs, &JobContext::foreground(false)).unwrap();
    // From the score and by Bayes per component: the same to rounding.
    assert!(tweedie.largest_gap() < 1e-9, "{}", tweedie.largest_gap());

    // E[x0|x_t] by self-normalised importance sampling: x0 ~ p_0, weighted by
    // q(x_t|x0) = N(√ᾱ x0, (1−ᾱ) I).
    let (a, var) = (tweedie.alpha_bar.sqrt(), 1.0 - tweedie.alpha_bar);
    let (draws, _) = inputs
        .mixture
        .sample(200_000, None, &mut NoiseRng::seed_from(11))
        .unwrap();
    let draws = draws
        .to_dtype(candle_core::DType::F64)
        .unwrap()
        .to_vec2::<f64>()
        .unwrap();
    for (x_t, guess) in tweedie.x_t.iter().zip(&tweedie.tweedie) {
        let log_w: Vec<f64> = draws
            .iter()
            .map(|x0| -((x_t[0] - a * x0[0]).powi(2) + (x_t[1] - a * x0[1]).powi(2)) / (2.0 * var))
            .collect();
        let top = log_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = log_w.iter().map(|l| (l - top).exp()).collect();
        let total: f64 = w.iter().sum();
        let mean = [0, 1].map(|d| w.iter().zip(&draws).map(|(w, x0)| w * x0[d]).sum::<f64>() / total);
        let distance = (mean[0] - guess[0]).hypot(mean[1] - guess[1]);
        assert!(
            distance < 0.05,
            "x_t {x_t:?}: Tweedie {guess:?}, importance sampling {mean:?}"
        );
    }

    // The posterior mean is the least-squares guess: never worse than undoing
    // the scaling or ignoring x_t (up to the 2000 points' sampling error).
    for e in &tweedie.errors {
        assert!(e.posterior_mean <= e.naive * 1.01 + 1e-9, "{e:?}");
        assert!(e.posterior_mean <= e.data_mean * 1.01, "{e:?}");
    }
    let at_t = tweedie.errors_at_t;
    assert!(at_t.posterior_mean < 0.5 * at_t.naive.min(at_t.data_mean), "{at_t:?}");
}

/// p(y) of the shipped mixture, written here from its components.
fn mixture_density(components: &[noisescope::diffusion::mixture::Component], y: [f64; 2]) -> f64 {
    components
        .iter()
        .map(|c| {
            let var = c.std * c.std;
            let d2 = (y[0] - c.mean[0]).powi(2) + (y[1] - c.mean[1]).powi(2);
            c.weight * (-d2 / (2.0 * var)).exp() / (2.0 * std::f64::consts::PI * var)
        })
        .sum()
}

#[test]
fn the_ve_perturbation_is_the_mixture_convolved_with_a_gaussian() {
    let inputs = Inputs::shipped().unwrap();
    let components = inputs.mixture.components();
    // (p ∗ N(0, σ²))(x) = ∫ p(y) N(x − y; 0, σ² I) dy by the midpoint rule on
    // [−6, 6]², fine enough for the narrowest product of Gaussians here.
    let h = 0.02;
    let cells = (12.0 / h) as usize;
    let p: Vec<(f64, [f64; 2])> = (0..cells * cells)
        .map(|i| {
            let y = [
                -6.0 + h * ((i % cells) as f64 + 0.5),
                -6.0 + h * ((i / cells) as f64 + 0.5),
            ];
            (mixture_density(components, y), y)
        })
        .filter(|(density, _)| *density > 1e-300)
        .collect();
    for sigma in [0.1, 0.5, 2.0] {
        let ve = figures::ve_process::ve_mixture(&inputs.mixture, sigma).unwrap();
        for x in [[-2.0, -1.0], [0.3, 0.4], [2.2, -0.8], [0.0, 2.5], [3.0, 3.0]] {
            let kernel = |y: [f64; 2]| {
                let d2 = (x[0] - y[0]).powi(2) + (x[1] - y[1]).powi(2);
                (-d2 / (2.0 * sigma * sigma)).exp() / (2.0 * std::f64::consts::PI * sigma * sigma)
            };
            let integral: f64 = p.iter().map(|(density, y)| density * kernel(*y) * h * h).sum();
            let tensor = candle_core::Tensor::new(&[x], &candle_core::Device::Cpu).unwrap();
            let exact = ve.log_density(&tensor, 1.0).unwrap()[0].exp();
            assert!(
                (integral - exact).abs() <= 1e-6 * exact.max(1e-3),
                "σ {sigma}, x {x:?}: quadrature {integral}, p_σ {exact}"
            );
        }
    }
}

#[test]
fn denoising_score_matching_is_the_epsilon_loss_and_ncsn_anneals_past_the_pitfalls() {
    let inputs = Inputs::shipped().unwrap();
    let ncsn = figures::ncsn::compute(
        &figures::ncsn::Setup::default(),
        &inputs,
        &JobContext::foreground(false),
    )
    .unwrap();
    for l in &ncsn.losses {
        // σ² E‖s_θ + (x̃ − x)/σ²‖² = E‖ε_θ − ε‖²: the same loss, to rounding.
        let scaled = l.sigma * l.sigma * l.dsm;
        assert!((scaled - l.epsilon_loss).abs() <= 1e-9 * scaled, "{l:?}");
        // Vincent (2011): DSM = ESM + C in expectation; here within 4 standard errors.
        let gap = l.dsm - l.esm - l.constant;
        assert!(gap.abs() <= 4.0 * l.identity_standard_error, "{l:?}");
    }
    // Pitfall 2: at σ_min the learned score is far worse off the data than on
    // it; at σ_max the noise has filled the plane and the two are alike.
    let (first, last) = (ncsn.losses[0], ncsn.losses[ncsn.losses.len() - 1]);
    assert!(last.plane_error > 10.0 * last.data_error(), "{last:?}");
    assert!(first.plane_error < 3.0 * first.data_error(), "{first:?}");

    // Pitfall 1: points (a 0-dimensional manifold) have E‖∇log p_σ‖² → 2/σ²;
    // the blobs level off at Σ_k w_k · 2/(s_k² + σ²) (well-separated components).
    let components = inputs.mixture.components();
    let [sigma, blobs, points] = ncsn.score_sizes[0];
    let blob_limit: f64 = components
        .iter()
        .map(|c| c.weight * 2.0 / (c.std * c.std + sigma * sigma))
        .sum();
    assert!(
        (points / (2.0 / (sigma * sigma)) - 1.0).abs() < 0.05,
        "{:?}",
        ncsn.score_sizes[0]
    );
    assert!((blobs / blob_limit - 1.0).abs() < 0.05, "{blobs} against {blob_limit}");

    // The VE and VP marginals' spread: Var_VE = Var_p(x1) + σ², Var_VP = ᾱ Var_VE
    // with ᾱ = 1/(1 + σ²); 2000 paths give the sd to about 1.6 %.
    let mean: f64 = components.iter().map(|c| c.weight * c.mean[0]).sum();
    let var = components
        .iter()
        .map(|c| c.weight * (c.std * c.std + c.mean[0] * c.mean[0]))
        .sum::<f64>()
        - mean * mean;
    for ((sigma, ve), vp) in ncsn.path_sigmas.iter().zip(&ncsn.ve_spread).zip(&ncsn.vp_spread) {
        let ve_exact = (var + sigma * sigma).sqrt();
        let vp_exact = ve_exact / (1.0 + sigma * sigma).sqrt();
        assert!(
            (ve / ve_exact - 1.0).abs() < 0.07,
            "σ {sigma}: VE sd {ve}, exact {ve_exact}"
        );
        assert!(
            (vp / vp_exact - 1.0).abs() < 0.07,
            "σ {sigma}: VP sd {vp}, exact {vp_exact}"
        );
    }

    // Pitfall 3: annealing recovers 0.7 / 0.2 / 0.1 (1000 particles: 4 standard
    // errors of the 0.7 share is 0.058); plain Langevin at σ_min keeps where it started.
    for (found, truth) in ncsn.annealed_fractions.iter().zip([0.7, 0.2, 0.1]) {
        assert!((found - truth).abs() < 0.06, "annealed {:?}", ncsn.annealed_fractions);
    }
    assert!(ncsn.plain_fractions[2] > 0.2, "plain {:?}", ncsn.plain_fractions);
}
