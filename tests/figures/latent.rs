//! The first half of the theory (latent variables and the ELBO): each figure's
//! numbers against closed forms written out here, or numerical integrals
//! computed here.

use std::f64::consts::PI;

use noisescope::figures::Figure;
use noisescope::scenes::SceneId;

use super::{figure, value};

fn log_normal(x: f64, mean: f64, var: f64) -> f64 {
    -0.5 * ((2.0 * PI * var).ln() + (x - mean).powi(2) / var)
}

/// The Gaussian model p(z) = N(0, 1), p(x|z) = N(2z, 0.25): its evidence,
/// posterior, and, for q = N(m, s²), the ELBO and KL(q ‖ posterior), all in
/// closed form (Bishop, PRML eq. 2.115–2.117; the Gaussian KL).
struct GaussianModel {
    x: f64,
}

impl GaussianModel {
    const SLOPE: f64 = 2.0;
    const NOISE_VAR: f64 = 0.25;

    fn log_evidence(&self) -> f64 {
        log_normal(self.x, 0.0, Self::SLOPE * Self::SLOPE + Self::NOISE_VAR)
    }

    fn posterior(&self) -> (f64, f64) {
        let var = 1.0 / (1.0 + Self::SLOPE * Self::SLOPE / Self::NOISE_VAR);
        (var * Self::SLOPE * self.x / Self::NOISE_VAR, var)
    }

    fn elbo(&self, m: f64, s: f64) -> f64 {
        let reconstruction = -0.5 * (2.0 * PI * Self::NOISE_VAR).ln()
            - ((self.x - Self::SLOPE * m).powi(2) + Self::SLOPE * Self::SLOPE * s * s) / (2.0 * Self::NOISE_VAR);
        let prior = -0.5 * (2.0 * PI).ln() - (m * m + s * s) / 2.0;
        let entropy = 0.5 * (2.0 * PI * std::f64::consts::E * s * s).ln();
        reconstruction + prior + entropy
    }

    fn kl(&self, m: f64, s: f64) -> f64 {
        let (mean, var) = self.posterior();
        0.5 * ((var / (s * s)).ln() + (s * s + (m - mean).powi(2)) / var - 1.0)
    }
}

fn gap(settings: &[&str]) -> Figure {
    figure(SceneId::ElboGap, settings)
}

#[test]
fn the_elbo_and_the_kl_add_up_to_the_evidence_in_closed_form() {
    for (x, m, s) in [(0.5, 0.0, 1.0), (1.5, -1.0, 0.3), (-2.0, 2.0, 2.5), (0.5, 0.2, 0.05)] {
        let settings = [format!("x={x}"), format!("q-mean={m}"), format!("q-std={s}")];
        let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
        let figure = gap(&settings);
        let exact = GaussianModel { x };
        let what = format!("x = {x}, q = N({m}, {s}²)");
        assert!(
            (value(&figure, "log p(x)") - exact.log_evidence()).abs() < 1e-9,
            "{what}"
        );
        assert!((value(&figure, "ELBO") - exact.elbo(m, s)).abs() < 1e-6, "{what}");
        assert!(
            (value(&figure, "KL(q ‖ p(z|x))") - exact.kl(m, s)).abs() < 1e-6,
            "{what}"
        );
        assert!(value(&figure, "ELBO + KL − log p(x)").abs() < 1e-6, "{what}");
    }
}

#[test]
fn the_gap_closes_when_q_is_the_posterior_and_fitting_finds_it() {
    let exact = GaussianModel { x: 0.5 };
    let (mean, var) = exact.posterior();
    let at_posterior = gap(&[&format!("q-mean={mean}"), &format!("q-std={}", var.sqrt())]);
    assert!(value(&at_posterior, "KL(q ‖ p(z|x))").abs() < 1e-9);
    assert!((value(&at_posterior, "ELBO") - exact.log_evidence()).abs() < 1e-9);

    // 100 gradient steps from q = the prior reach the posterior.
    let fitted = gap(&["fit-steps=100"]);
    assert!(value(&fitted, "KL(q ‖ p(z|x))") < 1e-6);
    assert!((value(&fitted, "q's mean") - mean).abs() < 1e-3);
    assert!((value(&fitted, "q's standard deviation") - var.sqrt()).abs() < 1e-3);
}

#[test]
fn no_gaussian_closes_the_gap_of_a_two_mode_posterior() {
    // The evidence by the trapezoidal rule over z, here:
    // p(x) = ∫ N(x; z, 2) (½ N(z; −2, 0.36) + ½ N(z; 2, 0.36)) dz.
    let x = 0.5;
    let (lo, hi, n) = (-12.0, 12.0, 200_000);
    let h = (hi - lo) / f64::from(n);
    let integrand = |z: f64| {
        let prior = 0.5 * log_normal(z, -2.0, 0.36).exp() + 0.5 * log_normal(z, 2.0, 0.36).exp();
        log_normal(x, z, 2.0).exp() * prior
    };
    let evidence: f64 = (0..=n)
        .map(|i| {
            let end = i == 0 || i == n;
            integrand(lo + h * f64::from(i)) * if end { 0.5 } else { 1.0 }
        })
        .sum::<f64>()
        * h;
    let fitted = gap(&["prior=two-modes", "fit-steps=200"]);
    assert!((value(&fitted, "log p(x)") - evidence.ln()).abs() < 1e-6);
    assert!(value(&fitted, "ELBO + KL − log p(x)").abs() < 1e-6);
    // The best Gaussian sits on one mode; the other's mass is the gap.
    assert!(value(&fitted, "KL(q ‖ p(z|x))") > 0.1);
    assert!(value(&fitted, "q's standard deviation") < 0.7);
}

#[test]
fn monte_carlo_shows_jensens_inequality() {
    let figure = gap(&["samples=20000"]);
    let (elbo, evidence) = (value(&figure, "ELBO"), value(&figure, "log p(x)"));
    let mean_log_w = value(&figure, "Monte Carlo mean of log w");
    let error = value(&figure, "its standard error");
    assert!(
        (mean_log_w - elbo).abs() < 4.0 * error,
        "{mean_log_w} against {elbo} ± {error}"
    );
    // log of the mean of w tends to log p(x) (E_q[w] = p(x)), far above the ELBO.
    let log_mean_w = value(&figure, "log of the mean of w");
    assert!((log_mean_w - evidence).abs() < 0.05, "{log_mean_w} against {evidence}");
    assert!(log_mean_w > mean_log_w + 1.0);
}

#[test]
fn a_bad_spread_is_refused() {
    let inputs = noisescope::figures::Inputs::shipped().unwrap();
    let job = noisescope::jobs::JobContext::foreground(false);
    let settings = [("q-std".to_owned(), "0".to_owned())];
    let error = noisescope::figures::figure(SceneId::ElboGap, &settings, &inputs, &job).unwrap_err();
    assert!(error.to_string().contains("q-std"), "{error}");
}

#[test]
fn the_vaes_two_terms_match_the_formulas_and_a_monte_carlo_kl() {
    use candle_core::{Device, Tensor};
    use noisescope::diffusion::NoiseRng;
    use noisescope::model::vae::{Likelihood, Vae, VaeConfig};
    let config = VaeConfig {
        dims: 6,
        hidden: 8,
        ..VaeConfig::default()
    };
    let vae = Vae::new(config, 3).unwrap();
    let mut rng = NoiseRng::seed_from(5);
    let x_values: Vec<f32> = (0..4 * 6).map(|_| (2.0 * rng.uniform() - 1.0) as f32).collect();
    let x = Tensor::from_vec(x_values.clone(), (4, 6), &Device::Cpu).unwrap();
    let noise = rng.randn((4, 2), &Device::Cpu).unwrap();
    let (reconstruction, kl) = vae.terms(&x, &noise).unwrap();
    let (reconstruction, kl) = (reconstruction.to_vec1::<f32>().unwrap(), kl.to_vec1::<f32>().unwrap());
    let (mean, log_var) = vae.encode(&x).unwrap();
    let (mean, log_var) = (mean.to_vec2::<f32>().unwrap(), log_var.to_vec2::<f32>().unwrap());
    let noise = noise.to_vec2::<f32>().unwrap();
    for row in 0..4 {
        // KL(q ‖ N(0, I)) = E_q[log q(z) − log p(z)] by 200 000 draws, written here.
        let (mu, lv) = (&mean[row], &log_var[row]);
        let draws: Vec<f64> = (0..200_000)
            .map(|_| {
                (0..2)
                    .map(|d| {
                        let (m, v) = (f64::from(mu[d]), f64::from(lv[d]).exp());
                        let z = m + v.sqrt() * rng.normal();
                        log_normal(z, m, v) - log_normal(z, 0.0, 1.0)
                    })
                    .sum()
            })
            .collect();
        let n = draws.len() as f64;
        let estimate = draws.iter().sum::<f64>() / n;
        let spread = (draws.iter().map(|d| (d - estimate).powi(2)).sum::<f64>() / n).sqrt() / n.sqrt();
        let closed = f64::from(kl[row]);
        assert!(
            (estimate - closed).abs() < 4.0 * spread + 1e-6,
            "row {row}: KL {closed}, MC {estimate} ± {spread}"
        );

        // log p(x|z) of independent Bernoulli pixels at z = μ + σ ε, from the
        // decoder's probabilities: Σ x log p + (1 − x) log(1 − p), x in [0, 1].
        let z: Vec<f32> = (0..2).map(|d| mu[d] + (0.5 * lv[d]).exp() * noise[row][d]).collect();
        let z = Tensor::from_vec(z, (1, 2), &Device::Cpu).unwrap();
        let logits = vae.decode_raw(&z).unwrap().to_vec2::<f32>().unwrap();
        let expected: f64 = (0..6)
            .map(|j| {
                let target = (f64::from(x_values[row * 6 + j]) + 1.0) / 2.0;
                let p = 1.0 / (1.0 + (-f64::from(logits[0][j])).exp());
                target * p.ln() + (1.0 - target) * (1.0 - p).ln()
            })
            .sum();
        assert!(
            (f64::from(reconstruction[row]) - expected).abs() < 1e-4,
            "row {row}: {} against {expected}",
            reconstruction[row]
        );
    }
    // The Gaussian decoder: log N(x; decoder(z), s² I).
    let gaussian = Vae::new(
        VaeConfig {
            likelihood: Likelihood::Gaussian { std: 0.5 },
            ..config
        },
        3,
    )
    .unwrap();
    let z = Tensor::new(&[[0.3_f32, -1.2]], &Device::Cpu).unwrap();
    let decoded = gaussian.decode(&z).unwrap().to_vec2::<f32>().unwrap();
    let row = x.narrow(0, 0, 1).unwrap();
    let found = gaussian.log_likelihood(&row, &z).unwrap().to_vec1::<f32>().unwrap()[0];
    let expected: f64 = (0..6)
        .map(|j| log_normal(f64::from(x_values[j]), f64::from(decoded[0][j]), 0.25))
        .sum();
    assert!((f64::from(found) - expected).abs() < 1e-4, "{found} against {expected}");
}

#[test]
fn a_vae_on_the_blobs_bounds_the_true_likelihood_and_blurs_what_diffusion_keeps() {
    use noisescope::diffusion::NoiseRng;
    use noisescope::figures::{self, Inputs};
    use noisescope::jobs::JobContext;
    let inputs = Inputs::shipped().unwrap();
    let setup = figures::vae::Setup {
        data: figures::vae::VaeData::Blobs,
        ..Default::default()
    };
    let run = figures::vae::compute(&setup, &inputs, &JobContext::foreground(false)).unwrap();
    // Jensen on the same draws: log mean w ≥ mean log w.
    assert!(
        run.iwae_bound >= run.iwae_points_elbo,
        "{} < {}",
        run.iwae_bound,
        run.iwae_points_elbo
    );
    // The model's log-likelihood cannot beat the data's own density on average
    // (Gibbs): the bound stays below E[log p_data(x)] = −H, here by 200 000
    // draws of the exact mixture (200 held-out points: ± 0.1 nats of sampling).
    let (draws, _) = inputs
        .mixture
        .sample(200_000, None, &mut NoiseRng::seed_from(9))
        .unwrap();
    let log_p = inputs.mixture.log_density(&draws, 1.0).unwrap();
    let neg_entropy = log_p.iter().sum::<f64>() / log_p.len() as f64;
    assert!(
        run.iwae_bound < neg_entropy + 0.3,
        "bound {} above −H = {neg_entropy}",
        run.iwae_bound
    );
    // Training raised the ELBO, and the latent space keeps the modes apart.
    let first = run.steps[..50].iter().map(|s| s.elbo()).sum::<f64>() / 50.0;
    assert!(
        run.final_mean(|s| s.elbo()) > first + 1.0,
        "{first} → {}",
        run.final_mean(|s| s.elbo())
    );
    assert!(run.latent_accuracy > 0.95, "{}", run.latent_accuracy);
    // The VAE's Gaussian decoder blurs the blobs; diffusion's samples stay on them.
    assert!(run.diffusion_on_data > 0.95, "{}", run.diffusion_on_data);
    assert!(
        run.vae_on_data < run.diffusion_on_data,
        "{} vs {}",
        run.vae_on_data,
        run.diffusion_on_data
    );
}

#[test]
fn a_vae_on_fashion_mnist_learns_a_latent_space_that_sorts_the_classes() {
    let figure = figure(SceneId::Vae, &["steps=400"]);
    // The best constant image, independent Bernoulli pixels at the training
    // set's mean: what a decoder that ignored z would score.
    let train = noisescope::data::idx::fashion_mnist(true).unwrap();
    let test = noisescope::data::idx::fashion_mnist(false).unwrap();
    let pixels = train.rows * train.cols;
    let mut mean = vec![0.0_f64; pixels];
    for (i, p) in train.pixels.iter().enumerate() {
        mean[i % pixels] += f64::from(*p) / 255.0 / train.len() as f64;
    }
    let images = 200;
    let baseline: f64 = test.pixels[..images * pixels]
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (x, m) = (f64::from(*p) / 255.0, mean[i % pixels].clamp(1e-6, 1.0 - 1e-6));
            x * m.ln() + (1.0 - x) * (1.0 - m).ln()
        })
        .sum::<f64>()
        / images as f64;
    let elbo = value(&figure, "ELBO on the same points");
    assert!(elbo > baseline + 50.0, "ELBO {elbo}, constant image {baseline}");
    assert!(value(&figure, "importance-weighted bound (64 draws)") >= elbo);
    // Ten classes, chance 0.1.
    let accuracy = value(&figure, "latent nearest-centroid accuracy");
    assert!(accuracy > 0.4, "{accuracy}");
    assert_eq!(figure.images.len(), 3);
}

#[test]
fn each_constraint_turns_the_hierarchical_vae_into_diffusion_and_more_steps_tighten_the_bound() {
    use noisescope::diffusion::NoiseRng;
    use noisescope::figures::{self, Inputs};
    use noisescope::jobs::JobContext;
    let inputs = Inputs::shipped().unwrap();
    let run = figures::hvae::compute(&Default::default(), &inputs, &JobContext::foreground(false)).unwrap();
    let components = inputs.mixture.components();
    // H = −E[log p_data] by 200 000 draws; no model's −ELBO is below it (Gibbs).
    let (draws, _) = inputs
        .mixture
        .sample(200_000, None, &mut NoiseRng::seed_from(4))
        .unwrap();
    let log_p = inputs.mixture.log_density(&draws, 1.0).unwrap();
    let entropy = -log_p.iter().sum::<f64>() / log_p.len() as f64;
    for (k, stage) in run.stages.iter().enumerate() {
        assert!(
            -stage.elbo.mean >= entropy - 4.0 * stage.elbo.standard_error,
            "stage {}: −ELBO {} below H = {entropy}",
            k + 1,
            -stage.elbo.mean
        );
    }
    // What is learned: both chains, then a smaller one, then no encoder at all.
    let params: Vec<(usize, usize)> = run.stages.iter().map(|s| s.parameters).collect();
    assert!(params[0].0 > params[1].0 && params[1].0 > 0, "{params:?}");
    assert_eq!((params[2].0, params[3].0), (0, 0), "{params:?}");

    // Stage 3's fixed encoder, α = 0.9 at each of 3 levels: the prior-matching term is
    // −E KL(N(√α z_2, (1−α) I) ‖ N(0, I)) = −½ (d(1−α) + α E‖z_2‖² − d − d ln(1−α)),
    // with E‖z_2‖² = α² E‖x‖² + (1 − α²) d.
    let second_moment: f64 = components
        .iter()
        .map(|c| c.weight * (c.mean[0].powi(2) + c.mean[1].powi(2) + 2.0 * c.std * c.std))
        .sum();
    let (alpha, d) = (0.9_f64, 2.0);
    let z_moment = alpha * alpha * second_moment + (1.0 - alpha * alpha) * d;
    let exact = -0.5 * (d * (1.0 - alpha) + alpha * z_moment - d - d * (1.0 - alpha).ln());
    let third = &run.stages[2].prior_matching;
    assert!(
        (third.mean - exact).abs() < 4.0 * third.standard_error,
        "stage 3 prior matching {third:?}, exact {exact}"
    );
    // Stage 4's α_t reach q(x_T) ≈ N(0, I): the term all but vanishes.
    assert!(
        run.stages[3].prior_matching.mean.abs() < 0.05,
        "{:?}",
        run.stages[3].prior_matching
    );
    let alpha_bar_last: f64 = run.cosine_alphas.iter().product();
    assert!(alpha_bar_last < 1e-2, "{:?}", run.cosine_alphas);

    // Diffusion with the best mean: the bound falls with T towards H, never below it.
    let bounds: Vec<f64> = run.diffusion.iter().map(|d| d.bound.mean).collect();
    assert!(bounds[0] > bounds[1] + 0.3 && bounds[1] > bounds[2] + 0.1, "{bounds:?}");
    for d in &run.diffusion {
        assert!(
            d.bound.mean >= entropy - 4.0 * d.bound.standard_error,
            "T = {}: {:?}",
            d.steps,
            d.bound
        );
    }
    assert!(
        bounds[3] - entropy < 0.4,
        "T = 1000: {} against H = {entropy}",
        bounds[3]
    );
    let last = run.diffusion.last().unwrap();
    assert!(
        last.on_data > 0.95 && run.diffusion[0].on_data < last.on_data,
        "{:?}",
        run.diffusion.iter().map(|d| d.on_data).collect::<Vec<_>>()
    );
}
