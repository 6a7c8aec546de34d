//! Figures of the reverse-process chapter added with the first half of the
//! theory: the ELBO's loss weights against DDPM's eq. 12 and against the KL
//! of the two Gaussians, and DDPM's ablation in miniature.

use noisescope::diffusion::elbo::gaussian_kl;
use noisescope::diffusion::loss_weight::{elbo_weight, normalized_weights};
use noisescope::diffusion::{PredictionType, Schedule, ScheduleConfig, ScheduleKind};
use noisescope::scenes::SceneId;

use super::{figure, value};

#[test]
fn the_elbo_weights_are_ddpms_eq_12_and_the_kl_of_the_reverse_step() {
    for kind in ScheduleKind::ALL {
        let schedule = Schedule::new(&ScheduleConfig::of_kind(*kind)).unwrap();
        for t in [2, 3, 10, 100, 500, 999] {
            let (ab, ab_before) = (schedule.alpha_bar(t), schedule.alpha_bar(t - 1));
            let beta = 1.0 - ab / ab_before;
            let posterior_var = (1.0 - ab_before) / (1.0 - ab) * beta;
            // DDPM eq. 12 with σ_t² = β̃_t.
            let ddpm = beta * beta / (2.0 * posterior_var * (1.0 - beta) * (1.0 - ab));
            let epsilon = elbo_weight(&schedule, t, PredictionType::Epsilon);
            assert!(
                (epsilon / ddpm - 1.0).abs() < 1e-9,
                "{kind} t = {t}: {epsilon} vs {ddpm}"
            );

            // KL(q(x_{t−1}|x_t, x0) ‖ p(x_{t−1}|x_t) with x̂0) = w_x0 ‖x0 − x̂0‖²,
            // the means μ̃ = c0 x0 + ct x_t (DDPM eq. 7).
            let c0 = ab_before.sqrt() * beta / (1.0 - ab);
            let (x0, x0_hat) = ([0.3, -1.2], [0.1, -0.7]);
            let kl = gaussian_kl(
                &[c0 * x0[0], c0 * x0[1]],
                &[posterior_var; 2],
                &[c0 * x0_hat[0], c0 * x0_hat[1]],
                &[posterior_var; 2],
            );
            let squared: f64 = (0..2).map(|d| (x0[d] - x0_hat[d]).powi(2)).sum();
            let on_sample = elbo_weight(&schedule, t, PredictionType::Sample);
            assert!((on_sample * squared / kl - 1.0).abs() < 1e-9, "{kind} t = {t}");

            // The score s = −ε/√(1−ᾱ) and x0 = √ᾱ x_t − √(1−ᾱ) v carry the same term.
            let on_score = elbo_weight(&schedule, t, PredictionType::Score);
            assert!((on_score / ((1.0 - ab) * epsilon) - 1.0).abs() < 1e-9);
            let on_v = elbo_weight(&schedule, t, PredictionType::Velocity);
            assert!((on_v / ((1.0 - ab) * on_sample) - 1.0).abs() < 1e-9);
        }
        let normalized = normalized_weights(&schedule, PredictionType::Epsilon);
        assert_eq!(normalized.len(), schedule.train_steps());
        // L_simple moves weight to large t: the ELBO's is largest at small t.
        assert!(normalized[1] > 10.0 * normalized[500], "{kind}");
    }
}

#[test]
fn training_under_the_elbo_weight_fits_small_t_and_samples_worse() {
    let figure = figure(SceneId::LossWeights, &["steps=600"]);
    let number = |loss: &str, what: &str| value(&figure, &format!("{loss}: {what}"));
    let small = "mean relative ε error, t ≤ 30";
    let large = "mean relative ε error, t ≥ 300";
    // DDPM §4.2: the true bound's weight puts the network's effort at small t ...
    assert!(number("elbo", small) < number("simple", small));
    assert!(number("elbo", large) > 2.0 * number("simple", large));
    // ... and L_simple samples better.
    let off = "samples off the data";
    assert!(number("elbo", off) > number("simple", off));
}

/// The exact reverse kernel q(x_s|x_t) of an isotropic mixture in closed form:
/// one Gaussian per component (Bishop, PRML eq. 2.116), (weight, mean, var).
fn closed_form_kernel(
    mixture: &noisescope::diffusion::mixture::GaussianMixture,
    ab_t: f64,
    ab_s: f64,
    x_t: [f64; 2],
) -> Vec<(f64, [f64; 2], f64)> {
    let (a, b) = ((ab_t / ab_s).sqrt(), 1.0 - ab_t / ab_s);
    let mut parts: Vec<(f64, [f64; 2], f64)> = mixture
        .components()
        .iter()
        .map(|c| {
            let prior_var = ab_s * c.std * c.std + 1.0 - ab_s;
            let var = 1.0 / (1.0 / prior_var + a * a / b);
            let mean = [0, 1].map(|d| var * (ab_s.sqrt() * c.mean[d] / prior_var + a * x_t[d] / b));
            let evidence_var = a * a * prior_var + b;
            let sq: f64 = (0..2).map(|d| (x_t[d] - a * ab_s.sqrt() * c.mean[d]).powi(2)).sum();
            let log_w = c.weight.ln() - evidence_var.ln() - sq / (2.0 * evidence_var);
            (log_w, mean, var)
        })
        .collect();
    let top = parts.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = parts.iter().map(|p| (p.0 - top).exp()).sum();
    for p in &mut parts {
        p.0 = (p.0 - top).exp() / total;
    }
    parts
}

#[test]
fn the_reverse_kernel_by_bayes_on_a_grid_is_the_closed_form_mixture() {
    use noisescope::diffusion::NoiseRng;
    use noisescope::figures::{Inputs, reverse_kernel};
    use noisescope::jobs::JobContext;

    let inputs = Inputs::shipped().unwrap();
    let kernel = reverse_kernel::compute(
        &reverse_kernel::Setup::default(),
        &inputs,
        &JobContext::foreground(false),
    )
    .unwrap();
    let schedule = inputs.schedule.as_ref();
    let (t, s) = (kernel.setup.t, kernel.setup.t - kernel.setup.delta);
    let parts = closed_form_kernel(
        &inputs.mixture,
        schedule.alpha_bar(t),
        schedule.alpha_bar(s),
        kernel.x_t,
    );

    // The grid's moments against the closed form's.
    let mean = [0, 1].map(|d| parts.iter().map(|(w, m, _)| w * m[d]).sum::<f64>());
    let second = |i: usize, j: usize| {
        parts
            .iter()
            .map(|(w, m, v)| w * (m[i] * m[j] + if i == j { *v } else { 0.0 }))
            .sum::<f64>()
            - mean[i] * mean[j]
    };
    let (grid_mean, grid_cov) = kernel.kernel.moments();
    for d in 0..2 {
        assert!((grid_mean[d] - mean[d]).abs() < 1e-4, "mean {grid_mean:?} vs {mean:?}");
        assert!(
            (kernel.exact_mean[d] - mean[d]).abs() < 1e-9,
            "Tweedie's mean {:?}",
            kernel.exact_mean
        );
        for e in 0..2 {
            assert!((grid_cov[d][e] - second(d, e)).abs() < 1e-3, "cov {grid_cov:?}");
        }
    }
    // All three modes carry weight here: the kernel is far from Gaussian.
    assert!(parts.iter().filter(|p| p.0 > 0.05).count() >= 2, "{parts:?}");

    // KL(q ‖ moment-matched Gaussian) by Monte Carlo from the closed form.
    let mut rng = NoiseRng::seed_from(5);
    let weights: Vec<f64> = parts.iter().map(|p| p.0).collect();
    let det = second(0, 0) * second(1, 1) - second(0, 1).powi(2);
    let (n, mut total, mut total_sq) = (40_000, 0.0, 0.0);
    for _ in 0..n {
        let (_, m, v) = parts[rng.categorical(&weights)];
        let x = [m[0] + v.sqrt() * rng.normal(), m[1] + v.sqrt() * rng.normal()];
        let log_q = parts
            .iter()
            .map(|(w, m, v)| {
                w * (-((x[0] - m[0]).powi(2) + (x[1] - m[1]).powi(2)) / (2.0 * v)).exp()
                    / (2.0 * std::f64::consts::PI * v)
            })
            .sum::<f64>()
            .ln();
        let d = [x[0] - mean[0], x[1] - mean[1]];
        let quad = (second(1, 1) * d[0] * d[0] - 2.0 * second(0, 1) * d[0] * d[1] + second(0, 0) * d[1] * d[1]) / det;
        let log_n = -(2.0 * std::f64::consts::PI).ln() - 0.5 * det.ln() - 0.5 * quad;
        total += log_q - log_n;
        total_sq += (log_q - log_n).powi(2);
    }
    let kl = total / f64::from(n);
    let error = ((total_sq / f64::from(n) - kl * kl) / f64::from(n)).sqrt();
    let grid_kl = kernel.at_delta.kl_best;
    assert!(
        (grid_kl - kl).abs() < 4.0 * error + 1e-3,
        "grid {grid_kl} vs Monte Carlo {kl} ± {error}"
    );
    assert!(grid_kl > 0.5, "{grid_kl}");

    // Small steps are Gaussian; the KL grows with Δ.
    let first = kernel.curve.first().unwrap();
    assert_eq!(first.delta, 1);
    assert!(first.kl_best < 1e-4 && first.kl_posterior_var < 1e-3, "{first:?}");
    assert!(kernel.curve.last().unwrap().kl_best > 100.0 * first.kl_best.max(1e-9));
}

#[test]
fn the_reverse_steps_entropy_keeps_sohl_dicksteins_lower_bound() {
    use noisescope::figures::{Inputs, reverse_kernel};
    use noisescope::jobs::JobContext;

    let inputs = Inputs::shipped().unwrap();
    let setup = reverse_kernel::Setup {
        t: 300,
        delta: 100,
        seed: 1,
    };
    let kernel = reverse_kernel::compute(&setup, &inputs, &JobContext::foreground(false)).unwrap();
    for a in &kernel.curve {
        assert!(a.entropy_lower <= a.entropy + 1e-6, "{a:?}");
        // The upper bound holds exactly where the forward step raised the entropy.
        assert_eq!(a.entropy <= a.entropy_upper + 1e-9, a.entropy_growth >= -1e-9, "{a:?}");
    }
    // H(x_s|x_t) from the marginals against its definition, E over x_t ~ p_t of
    // the entropy of q(x_s|x_t), here by Monte Carlo over x_t.
    let schedule = inputs.schedule.as_ref();
    let (ab_t, ab_s) = (schedule.alpha_bar(300), schedule.alpha_bar(200));
    let mut rng = noisescope::diffusion::NoiseRng::seed_from(9);
    let (x0, _) = inputs.mixture.sample(300, None, &mut rng).unwrap();
    let x0 = x0.to_dtype(candle_core::DType::F64).unwrap().to_vec2::<f64>().unwrap();
    let entropies: Vec<f64> = x0
        .iter()
        .map(|x| {
            let x_t = [0, 1].map(|d| ab_t.sqrt() * x[d] + (1.0 - ab_t).sqrt() * rng.normal());
            reverse_kernel::kernel_grid(&inputs.mixture, ab_t, ab_s, x_t)
                .unwrap()
                .entropy()
        })
        .collect();
    let n = entropies.len() as f64;
    let mean = entropies.iter().sum::<f64>() / n;
    let error = (entropies.iter().map(|h| (h - mean).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt();
    let from_marginals = kernel.at_delta.entropy;
    assert!(
        (mean - from_marginals).abs() < 4.0 * error + 1e-3,
        "{mean} ± {error} vs {from_marginals}"
    );
}

#[test]
fn the_two_forms_of_the_elbo_share_their_mean_and_not_their_variance() {
    use noisescope::figures::{Inputs, elbo_forms};
    use noisescope::jobs::JobContext;

    let inputs = Inputs::shipped().unwrap();
    let forms = elbo_forms::compute(&elbo_forms::Setup::default(), &inputs, &JobContext::foreground(false)).unwrap();
    let [consistency, denoising, chain, literal] = &forms.forms;
    let agree = |a: &elbo_forms::Estimates, b: &elbo_forms::Estimates| {
        let ((ma, ea), (mb, eb)) = (a.mean_and_error(), b.mean_and_error());
        (ma - mb).abs() < 4.0 * ea.hypot(eb)
    };
    assert!(
        agree(consistency, denoising),
        "{:?} vs {:?}",
        consistency.mean_and_error(),
        denoising.mean_and_error()
    );
    assert!(
        agree(chain, denoising),
        "{:?} vs {:?}",
        chain.mean_and_error(),
        denoising.mean_and_error()
    );
    // Two latents per term against one: the consistency form is noisier.
    assert!(forms.variance_ratio() > 1.5, "{}", forms.variance_ratio());
    // The tutorial's closed-form consistency KL integrates out an x_t that
    // x_{t+1} depends on: far below the bound.
    assert!(!agree(literal, denoising) && literal.mean_and_error().0 < denoising.mean_and_error().0);

    // Su: two noises or one merged noise, the same loss on average, the merged one steadier.
    let [two, merged] = &forms.losses;
    assert!(
        agree(two, merged),
        "{:?} vs {:?}",
        two.mean_and_error(),
        merged.mean_and_error()
    );
    assert!(forms.loss_variance_ratio() > 10.0, "{}", forms.loss_variance_ratio());
}
