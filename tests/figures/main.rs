//! The scenes' figures, computed by the library without a window or a GPU,
//! their numbers checked against exact or independent answers (the papers'
//! formulas, diffusers' spacing rules, the mixture's weights); and
//! `noisescope figure` run for every figure with small settings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod beyond;
mod command;
#[path = "../common/mod.rs"]
mod common;
mod latent;
mod reverse;
mod score;

use noisescope::diffusion::TimestepSpacing;
use noisescope::figures::{self, Figure, Inputs};
use noisescope::jobs::JobContext;
use noisescope::scenes::SceneId;

/// `id`'s figure with `settings` (`key=value`).
fn figure(id: SceneId, settings: &[&str]) -> Figure {
    let settings: Vec<(String, String)> = settings
        .iter()
        .map(|s| {
            let (k, v) = s.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let inputs = Inputs::shipped().unwrap();
    figures::figure(id, &settings, &inputs, &JobContext::foreground(false)).unwrap()
}

fn value(figure: &Figure, name: &str) -> f64 {
    figure
        .value(name)
        .unwrap_or_else(|| panic!("no number {name:?} in {:?}", figure.numbers))
}

#[test]
fn spacing_visits_the_timesteps_diffusers_does() {
    // diffusers (0-based k, here t = k + 1) for T = 1000, N = 10.
    let spacings = figures::spacing::compute(&figures::spacing::Setup::default()).unwrap();
    let expected = [
        (
            TimestepSpacing::Leading,
            vec![901, 801, 701, 601, 501, 401, 301, 201, 101, 1],
        ),
        (
            TimestepSpacing::Trailing,
            vec![1000, 900, 800, 700, 600, 500, 400, 300, 200, 100],
        ),
        (
            TimestepSpacing::Linspace,
            vec![1000, 889, 778, 667, 556, 445, 334, 223, 112, 1],
        ),
    ];
    assert_eq!(spacings.rows[..3], expected);
    // log-snr, karras and time-quadratic run from t = T to t = 1 (their spacing in
    // λ, σ and √t is tested in src/diffusion/timesteps.rs).
    for (rule, visited) in &spacings.rows[3..] {
        assert_eq!((visited.len(), visited[0], visited[9]), (10, 1000, 1), "{rule}");
    }
    let figure = figure(SceneId::Spacing, &["steps=10"]);
    assert_eq!(value(&figure, "trailing: first t"), 1000.0);
    assert_eq!(figure.panels[0].series.len(), 6);
}

#[test]
fn the_cosine_schedule_keeps_the_image_longer_than_the_linear_one() {
    // √ᾱ_t < 0.1 on 1..=1000, from Ho et al.'s linear β and Nichol & Dhariwal's
    // eq. 17 with β clipped at 0.999.
    let gone =
        |alpha_bar: &dyn Fn(usize) -> f64| (1..=1000).filter(|&t| alpha_bar(t).sqrt() < 0.1).count() as f64 / 10.0;
    let f = |t: usize| {
        ((t as f64 / 1000.0 + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2)
            .cos()
            .powi(2)
    };
    let cosine = |t: usize| {
        (1..=t)
            .map(|i| 1.0 - (1.0 - f(i) / f(i - 1)).min(0.999))
            .product::<f64>()
    };
    let (linear_share, cosine_share) = (gone(&common::linear_alpha_bar), gone(&cosine));
    assert!(linear_share > 2.0 * cosine_share, "{linear_share} vs {cosine_share}");
    let figure = figure(SceneId::CosineVsLinear, &["image=3"]);
    for (kind, share) in [("linear", linear_share), ("cosine", cosine_share)] {
        let shown = value(&figure, &format!("{kind}: share of T with the image gone"));
        assert!((shown - share).abs() < 1e-9, "{kind}: {shown} vs {share}");
    }
    // x_t = √ᾱ_t x0 + √(1−ᾱ_t) ε with one ε: at t = 0 the image itself.
    let dress = &noisescope::assets::sample_images_gray()[3].1;
    assert_eq!(&figure.images[0].values, dress);
    assert_eq!(figure.images.len(), 14);
}

#[test]
fn the_elbo_adds_up_and_zero_terminal_snr_removes_l_t() {
    let figure = figure(SceneId::Elbo, &[]);
    assert!((value(&figure, "√ᾱ_T") - common::linear_alpha_bar(1000).sqrt()).abs() < 1e-9);
    let (total, prior) = (value(&figure, "total"), value(&figure, "L_T"));
    let parts = prior + value(&figure, "Σ L_(t−1)") + value(&figure, "L_0");
    assert!((total - parts).abs() < 1e-9, "{total} vs {parts}");
    // L_T = KL(N(√ᾱ_T x0, 1 − ᾱ_T) ‖ N(0, 1)) per dimension, in bits.
    let ab = common::linear_alpha_bar(1000);
    let (x, y) = (value(&figure, "x0.x"), value(&figure, "x0.y"));
    let kl = 0.5 * (ab * (x * x + y * y) / 2.0 + (1.0 - ab) - 1.0 - (1.0 - ab).ln());
    assert!(
        (prior - kl / std::f64::consts::LN_2).abs() < 1e-6,
        "L_T {prior} vs {}",
        kl / std::f64::consts::LN_2
    );
    let rescaled = self::figure(SceneId::Elbo, &["zero-terminal-snr=true"]);
    assert_eq!(value(&rescaled, "√ᾱ_T"), 0.0);
    assert_eq!(value(&rescaled, "L_T"), 0.0);
}

#[test]
fn the_four_parameterizations_agree_with_the_exact_score() {
    let f = figures::four_ways::compute(&figures::four_ways::Setup::default(), &Inputs::shipped().unwrap()).unwrap();
    assert!((f.alpha_bar - common::linear_alpha_bar(300)).abs() < 1e-9);
    let (a, s) = (f.alpha_bar.sqrt(), (1.0 - f.alpha_bar).sqrt());
    // x_t = √ᾱ_t x0 + √(1−ᾱ_t) ε.
    for d in 0..2 {
        assert!((f.x_t[d] - (a * f.x0[d] + s * f.noise[d])).abs() < 1e-5, "{f:?}");
    }
    let [eps, x0, score, v] = f.predictions;
    for d in 0..2 {
        assert!((x0[d] - (f.x_t[d] - s * eps[d]) / a).abs() < 1e-4, "x_θ {x0:?}");
        assert!((score[d] + eps[d] / s).abs() < 1e-4, "s_θ {score:?}");
        assert!((v[d] - (a * eps[d] - s * x0[d])).abs() < 1e-4, "v_θ {v:?}");
    }
    // The score is the mixture's own ∇log p_t at x_t.
    let exact = common::three_blobs()
        .score(&common::row(&f.x_t), f.alpha_bar, None)
        .unwrap();
    let exact = common::first_row(&exact);
    for d in 0..2 {
        assert!(
            (score[d] - exact[d]).abs() < 1e-3 * (1.0 + exact[d].abs()),
            "s_θ {score:?} vs exact {exact:?}"
        );
    }
    let figure = figure(SceneId::FourWays, &["t=300"]);
    assert_eq!(value(&figure, "s_θ.1"), score[0]);
}

#[test]
fn eta_turns_smooth_ddim_paths_into_jittery_ddpm_ones() {
    let smooth = figure(SceneId::DdpmVsDdim, &["eta=0"]);
    let jittery = figure(SceneId::DdpmVsDdim, &["eta=1"]);
    let (smooth_length, jittery_length) = (value(&smooth, "mean path length"), value(&jittery, "mean path length"));
    assert!(
        jittery_length > 1.3 * smooth_length,
        "path length {smooth_length} at η = 0, {jittery_length} at η = 1"
    );
    assert_eq!(value(&smooth, "σ at the first step"), 0.0);
    // σ at η = 1 is √β_post between the first two visited levels (981 → 961, leading spacing).
    assert_eq!(value(&jittery, "first step's t"), 981.0);
    let (ab_t, ab_s) = (common::linear_alpha_bar(981), common::linear_alpha_bar(961));
    let expected = ((1.0 - ab_s) / (1.0 - ab_t) * (1.0 - ab_t / ab_s)).sqrt();
    let sigma = value(&jittery, "σ at the first step");
    assert!((sigma - expected).abs() < 1e-6, "σ {sigma} vs {expected}");
}

#[test]
fn branching_late_in_the_run_no_longer_changes_the_outcome() {
    let figure = figure(SceneId::Branching, &[]);
    let late = value(&figure, "same mode from t = 11");
    assert!(late >= 95.0, "{late} % at t = 11");
    let early = value(&figure, "same mode from t = 991");
    assert!(
        early < 90.0,
        "{early} % at t = 991: the outcome was decided from pure noise"
    );
}

const TRUE_WEIGHTS: [f64; 3] = [0.7, 0.2, 0.1];

/// The three mode weights a figure reports under `prefix` ("annealed").
fn weights(figure: &Figure, prefix: &str) -> Vec<f64> {
    (1..=3)
        .map(|k| value(figure, &format!("{prefix}: weight of mode {k}")))
        .collect()
}

fn assert_weights(found: &[f64], tolerance: f64, what: &str) {
    assert_eq!(found.len(), 3, "{what}: {found:?}");
    for (w, truth) in found.iter().zip(TRUE_WEIGHTS) {
        assert!(
            (w - truth).abs() <= tolerance,
            "{what}: weights {found:?}, true {TRUE_WEIGHTS:?}"
        );
    }
}

#[test]
fn annealed_langevin_recovers_the_weights_and_plain_langevin_does_not() {
    let figure = figure(SceneId::Langevin, &[]);
    // 1000 particles: 4 standard errors of a 0.7 share is 0.058.
    assert_weights(&weights(&figure, "annealed"), 0.06, "annealed Langevin");
    let plain = weights(&figure, "plain");
    let worst = plain
        .iter()
        .zip(TRUE_WEIGHTS)
        .map(|(w, t)| (w - t).abs())
        .fold(0.0, f64::max);
    assert!(worst > 0.15, "plain Langevin matched the weights: {plain:?}");
}

#[test]
fn the_sde_and_the_ode_end_with_the_same_weights() {
    let figure = figure(SceneId::SdeVsOde, &[]);
    assert_weights(&weights(&figure, "SDE"), 0.06, "reverse SDE");
    assert_weights(&weights(&figure, "ODE"), 0.06, "probability-flow ODE");
}

#[test]
fn dpm_solver_converges_at_second_order_and_ddim_at_first() {
    let figure = figure(SceneId::DpmSolver, &[]);
    let errors = |steps: usize| {
        ["DPM-Solver++(2M)", "DDIM (η = 0)", "Euler ODE"]
            .map(|name| value(&figure, &format!("{name} error at {steps} steps")))
    };
    let (at_twenty, at_fifty) = (errors(20), errors(50));
    assert!(
        at_twenty[0] < 0.5 * at_twenty[1] && at_twenty[1] < at_twenty[2],
        "{at_twenty:?}"
    );
    // Observed order p from error ∝ N^−p between 20 and 50 steps.
    let order = |i: usize| (at_twenty[i] / at_fifty[i]).ln() / (50.0_f64 / 20.0).ln();
    assert!(
        order(0) > 1.6,
        "DPM-Solver++ order {}: {at_twenty:?} → {at_fifty:?}",
        order(0)
    );
    assert!(
        (0.6..1.4).contains(&order(1)),
        "DDIM order {}: {at_twenty:?} → {at_fifty:?}",
        order(1)
    );
}

#[test]
fn guidance_at_one_samples_the_class_and_larger_gamma_sharpens_it() {
    // Class 1: the blob at (2, −1) with std 0.25 and weight 0.2.
    let stats = |settings: &[&str]| {
        let figure = figure(SceneId::Guidance, settings);
        [
            "share in the class",
            "offset of the mean",
            "per-axis spread",
            "the class's own std",
        ]
        .map(|n| value(&figure, n))
    };
    let [share, offset, spread, alone] = stats(&["gamma=1"]);
    assert_eq!(alone, 0.25);
    assert!(share > 97.0 && offset < 0.05, "{share} {offset}");
    assert!((spread / alone - 1.0).abs() < 0.15, "spread {spread}");
    // γ = 3 sharpens the class (p(x|y) p(y|x)^(γ−1)) and pushes it from the others;
    // γ = 8 pushes it much further: the samples leave the data.
    let three = stats(&["gamma=3"]);
    assert!(three[2] < 0.75 * spread && three[1] > 0.2, "γ = 3: {three:?}");
    let sharp = stats(&["gamma=8"]);
    assert!(
        sharp[2] < 0.75 * spread && sharp[1] > 1.5 * three[1],
        "γ = 8: {sharp:?}"
    );
    // Exact parts: both rules give the same guided score.
    let free = stats(&["gamma=8", "kind=cfg"]);
    assert!(
        (free[2] - sharp[2]).abs() < 0.02,
        "classifier {sharp:?} vs classifier-free {free:?}"
    );
    // Guided only where σ ≤ 0.5, each blob is already wholly its class's:
    // p_t(y | x) ≈ 1 there, so even γ = 8 leaves the class as γ = 1 samples it.
    let late = stats(&["gamma=8", "interval=0,0.5"]);
    assert!(
        late[0] > 97.0 && late[1] < 0.05 && (late[2] / alone - 1.0).abs() < 0.15,
        "γ = 8 below σ = 0.5: {late:?}"
    );
    let unconditional = stats(&["gamma=0"]);
    assert!(
        (unconditional[0] - 20.0).abs() < 6.0,
        "γ = 0 is unconditional: {unconditional:?}"
    );
}

#[test]
fn ddim_inversion_round_trips_and_slerp_stays_on_the_data() {
    let round_trip = |steps: &str| {
        let figure = figure(SceneId::DdimInversion, &[steps]);
        value(&figure, "A's round trip").max(value(&figure, "B's round trip"))
    };
    let (coarse, fine) = (round_trip("steps=10"), round_trip("steps=200"));
    // The inversion is exact only as the steps shrink: ε_θ(x_s, t) stands in for ε_θ(x_t, t).
    assert!(
        fine < 0.02 && fine < 0.5 * coarse,
        "10 steps: {coarse}, 200 steps: {fine}"
    );
    let figure = figure(SceneId::DdimInversion, &[]);
    assert_eq!(value(&figure, "interpolants on the data"), 9.0);
    // The straight line between the two modes crosses empty space.
    assert!(value(&figure, "midpoint's distance") > 3.0);
}

#[test]
fn improved_ddpm_learns_a_variance_and_samples_t_by_importance() {
    let figure = figure(SceneId::LearnedVariance, &[]);
    let learned = value(&figure, "bound with learned variance");
    let (small, large) = (value(&figure, "bound with β_post"), value(&figure, "bound with β_t"));
    // The learned variance does at least as well as the better fixed choice
    // (here β_t: the mixture's modes are wide next to the noise at small t).
    assert!(
        learned < small.min(large) * 1.01,
        "learned {learned}, β_post {small}, β_t {large}"
    );
    assert!(value(&figure, "p(t ≤ 100)") > 0.1);
}

#[test]
fn vdm_learns_a_schedule_with_the_same_loss_and_less_variance() {
    let figure = figure(SceneId::VdmSchedule, &[]);
    let stats = |name: &str| {
        (
            value(&figure, &format!("{name}: loss mean")),
            value(&figure, &format!("{name}: loss std")),
        )
    };
    let learned = stats("learned (VDM)");
    let initial = stats("linear in log SNR (VDM's start)");
    let ddpm = stats("DDPM linear β");
    // VDM eq. 19: the same end points, the same expected loss (within 4 standard errors).
    for other in [initial, ddpm] {
        let error = 4.0 * (learned.1.powi(2) + other.1.powi(2)).sqrt() / 8192.0_f64.sqrt();
        assert!((learned.0 - other.0).abs() < error, "means {learned:?} vs {other:?}");
    }
    assert!(
        learned.1 < initial.1,
        "the learned schedule's std {} is not below its start's {}",
        learned.1,
        initial.1
    );
}

#[test]
fn a_distilled_one_step_student_beats_one_step_ddim() {
    let figure = figure(SceneId::Distillation, &[]);
    let student = value(&figure, "1 step: distilled student's distance");
    let naive = value(&figure, "1 step: exact model's distance");
    // One DDIM step lands every point on E[x0 | x_T], near the data's mean;
    // the distilled student keeps them apart.
    assert!(student < 0.5 * naive, "student {student}, one-step DDIM {naive}");
    // 500 points: the weights within 4 standard errors (0.06 for the 0.7 share).
    assert_weights(&weights(&figure, "1 step"), 0.07, "the one-step student");
}

#[test]
fn a_trained_mlp_approaches_the_exact_score() {
    let figure = figure(SceneId::LearnedVsExact, &[]);
    let (median, worst) = (
        value(&figure, "median relative ε error"),
        value(&figure, "worst relative ε error"),
    );
    // Relative to E‖ε‖², the size of what it predicts: an MLP trained for 1500 steps
    // is within a few percent at most t, and nowhere off by the size of ε itself.
    assert!(median < 0.05, "median {median}");
    assert!(worst < 0.5, "worst {worst}");
}

#[test]
fn the_empirical_denoiser_copies_its_training_images_and_the_unet_does_not() {
    let figure = figure(SceneId::Memorization, &[]);
    let copies = value(&figure, "empirical denoiser: mean distance");
    let made = value(&figure, "U-Net: mean distance");
    let held_out = value(&figure, "held-out: mean distance");
    assert!(
        copies < 0.02,
        "the empirical denoiser's samples are {copies} from their nearest training image"
    );
    // New images: about as far from the training set as real unseen ones.
    assert!(
        made > 0.5 * held_out && made > 0.05,
        "U-Net {made}, held-out {held_out}"
    );
    assert_eq!(figure.images.len(), 36);
}

#[test]
fn inpainting_keeps_the_known_pixels_and_fills_in_the_hidden_ones() {
    let figure = figure(SceneId::Inpainting, &[]);
    assert_eq!(value(&figure, "known pixels: max |x − x0|"), 0.0);
    let inpainted = value(&figure, "hidden pixels: RMS error, inpainted");
    let free = value(&figure, "hidden pixels: RMS error, free samples");
    // The visible half of the T-shirt pins down the hidden half far better than
    // the class alone does.
    assert!(inpainted < 0.8 * free, "inpainted {inpainted}, free {free}");
    // The sampler sees the known half only: the hidden half is NaN.
    let seen = &figure.images[1].values;
    assert_eq!(seen.iter().filter(|v| v.is_nan()).count(), 28 * 14);
}

#[test]
fn ddim_inversion_round_trips_an_image_through_the_unet() {
    let figure = figure(SceneId::DdimInversion, &["images=true"]);
    let (a, b) = (value(&figure, "A's round trip"), value(&figure, "B's round trip"));
    // Pixels span [−1, 1]: a round trip within a few hundredths is the same image.
    assert!(a < 0.1 && b < 0.1, "A {a}, B {b}");
    assert_eq!(figure.images.len(), 9);
}

#[test]
fn the_forward_process_on_an_image_follows_the_closed_form() {
    let figure = figure(SceneId::ImageForward, &["image=7"]);
    let sneaker = &noisescope::assets::sample_images_gray()[7].1;
    assert_eq!(&figure.images[0].values, sneaker, "t = 0 is the image itself");
    assert!((value(&figure, "√ᾱ at t = 1000") - common::linear_alpha_bar(1000).sqrt()).abs() < 1e-9);
    assert!((value(&figure, "√ᾱ at t = 300") - common::linear_alpha_bar(300).sqrt()).abs() < 1e-9);
    // x_300 = √ᾱ x0 + √(1−ᾱ) ε: its correlation with x0 is about √ᾱ·σ_x0 / σ_x300.
    let x_300 = &figure.images[3].values;
    let (a, s) = (
        common::linear_alpha_bar(300).sqrt(),
        (1.0 - common::linear_alpha_bar(300)).sqrt(),
    );
    let noise: Vec<f64> = x_300
        .iter()
        .zip(sneaker)
        .map(|(x, x0)| (f64::from(*x) - a * f64::from(*x0)) / s)
        .collect();
    let mean = noise.iter().sum::<f64>() / noise.len() as f64;
    let var = noise.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / noise.len() as f64;
    // 784 draws of N(0, 1): mean within 4/√784, variance within 4·√(2/784).
    assert!(
        mean.abs() < 4.0 / 28.0 && (var - 1.0).abs() < 4.0 * (2.0_f64 / 784.0).sqrt(),
        "ε: mean {mean}, var {var}"
    );
}

#[test]
fn the_2d_mixture_samples_the_mixtures_weights() {
    let figure = figure(SceneId::Mixture2D, &[]);
    // 2000 particles: 4 standard errors of a 0.7 share is 0.041.
    assert_weights(&weights(&figure, "x_0"), 0.045, "DDIM-50 on the exact mixture");
}

#[test]
fn an_image_batch_is_clipped_to_the_pixel_range() {
    let figure = figure(SceneId::ImageBatch, &["steps=5", "batch=3", "class=1"]);
    assert_eq!(figure.images.len(), 3);
    for image in &figure.images {
        assert_eq!((image.width, image.height()), (28, 28));
        // DDIM's last step returns the clipped x̂0.
        assert!(image.values.iter().all(|v| (-1.0..=1.0).contains(v)), "{}", image.name);
        assert!(image.name.starts_with("Trouser"), "{}", image.name);
    }
}

#[test]
fn a_2d_model_trained_on_two_moons_samples_near_the_moons() {
    let figure = figure(SceneId::Train2D, &["steps=600"]);
    let samples = &figure.panels[1].series[1].lines[0];
    let data = noisescope::data::toys::Toy::TwoMoons.sample(5000, 0);
    let nearest = |p: &[f64; 2]| {
        data.rows
            .chunks_exact(2)
            .map(|d| (f64::from(d[0]) - p[0]).hypot(f64::from(d[1]) - p[1]))
            .fold(f64::INFINITY, f64::min)
    };
    let mut distances: Vec<f64> = samples.iter().map(nearest).collect();
    distances.sort_by(f64::total_cmp);
    // N(0, I) itself lies a median ~0.3 from the moons; a trained model much closer.
    let median = distances[distances.len() / 2];
    assert!(median < 0.1, "median distance of a sample from the data: {median}");
}

#[test]
fn a_bad_setting_names_the_key() {
    let inputs = Inputs::shipped().unwrap();
    let job = JobContext::foreground(false);
    let unknown = figures::figure(SceneId::Elbo, &[("steps".into(), "3".into())], &inputs, &job).unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "elbo has no setting 'steps' (it has: schedule, zero-terminal-snr, seed)"
    );
    let bad = figures::figure(SceneId::Elbo, &[("schedule".into(), "quadratic".into())], &inputs, &job).unwrap_err();
    assert!(bad.to_string().starts_with("--set schedule=quadratic: "), "{bad}");
}
