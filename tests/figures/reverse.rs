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
