//! The ELBO term by term (Ho et al. 2020, eq. 5), for one x0 of the mixture
//! under its exact denoiser: L_T = KL(q(x_T|x0) ‖ N(0, I)), each
//! L_{t−1} = KL(q(x_{t−1}|x_t, x0) ‖ p(x_{t−1}|x_t)), and L_0 = −log p(x0|x1),
//! in bits per dimension. Along the reverse process, the bits spent so far
//! (rate) against the error of x_θ (distortion) is DDPM's Figure 5. Lin et al.'s
//! zero-terminal-SNR rescaling makes √ᾱ_T = 0 and so L_T = 0.

use std::sync::Arc;

use egui_plot::{Bar, BarChart, Legend, Line, Plot, PlotPoints};

use super::figure;
use super::job::Computation;
use super::{SceneContext, TheoryScene};
use crate::diffusion::elbo::{Decoder, ElboConfig, ElboTerms, elbo_terms};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::{Denoiser, NoiseLevel, NoiseRng, Schedule, ScheduleConfig, ScheduleKind};

/// Bars for the L_{t−1} terms, each summing T / BINS of them.
const BINS: usize = 10;
/// Rate–distortion is measured every this many t.
const RD_EVERY: usize = 10;
/// Noise draws averaged per rate–distortion point.
const RD_DRAWS: usize = 64;

/// What the bound is computed for.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Setup {
    kind: ScheduleKind,
    zero_terminal_snr: bool,
    seed: u64,
}

/// The bound and the rate–distortion curve.
pub struct Bound {
    terms: ElboTerms,
    /// √ᾱ_T of the schedule used.
    sqrt_alpha_bar_last: f64,
    /// (rate in bits, RMS distortion) from t = T down to t = 1.
    rate_distortion: Vec<[f64; 2]>,
    x0: [f64; 2],
}

/// The ELBO scene.
pub struct ElboScene {
    context: SceneContext,
    setup: Setup,
    bound: Computation<Bound>,
}

impl ElboScene {
    /// The linear schedule, no rescaling.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            context: context.clone(),
            setup: Setup {
                kind: ScheduleKind::Linear,
                zero_terminal_snr: false,
                seed: 1,
            },
            bound: Computation::default(),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let setup = self.setup;
        let mixture = Arc::clone(&self.context.mixture);
        self.bound.restart(&self.context.repaint, move |cancel| {
            let config = ScheduleConfig {
                zero_terminal_snr: setup.zero_terminal_snr,
                ..ScheduleConfig::of_kind(setup.kind)
            };
            let schedule = Schedule::new(&config).map_err(figure::message)?;
            let mut rng = NoiseRng::seed_from(setup.seed);
            let (x0, _) = mixture.sample(1, None, &mut rng).map_err(figure::message)?;
            let x0 = x0.squeeze(0).map_err(figure::message)?;
            let elbo = ElboConfig {
                decoder: Decoder::Gaussian,
                ..ElboConfig::default()
            };
            let keep_going = || !cancel.is_cancelled();
            let terms = elbo_terms(&schedule, mixture.as_ref(), &x0, None, elbo, &mut rng, &keep_going)
                .map_err(figure::message)?;
            let point = figure::points(&x0.unsqueeze(0).map_err(figure::message)?)?;
            let x0 = point.first().copied().unwrap_or_default();
            let rate_distortion = rate_distortion(&mixture, &schedule, &terms, x0, &mut rng)?;
            Ok(Bound {
                sqrt_alpha_bar_last: schedule.alpha_bar(schedule.train_steps()).sqrt(),
                terms,
                rate_distortion,
                x0,
            })
        });
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            for kind in [ScheduleKind::Linear, ScheduleKind::Cosine] {
                ui.selectable_value(&mut self.setup.kind, kind, kind.name());
            }
            ui.checkbox(&mut self.setup.zero_terminal_snr, "zero terminal SNR");
            ui.add(egui::DragValue::new(&mut self.setup.seed).prefix("x0 seed "));
        });
    }
}

/// Rate (bits spent from L_T down to step t) and the RMS error of x_θ(x_t) over
/// [`RD_DRAWS`] noise draws, every [`RD_EVERY`] t.
fn rate_distortion(
    mixture: &GaussianMixture,
    schedule: &Schedule,
    terms: &ElboTerms,
    x0: [f64; 2],
    rng: &mut NoiseRng,
) -> Result<Vec<[f64; 2]>, String> {
    let big_t = schedule.train_steps();
    let mut rate_nats = terms.prior_nats;
    let mut curve = Vec::new();
    for t in (1..=big_t).rev() {
        if t < big_t {
            // Reaching level t spent L_t (the term of step t + 1).
            rate_nats += terms.step_term(t + 1).unwrap_or(0.0);
        }
        if t % RD_EVERY != 0 && t != 1 {
            continue;
        }
        let alpha_bar = schedule.alpha_bar(t);
        let (a, s) = (alpha_bar.sqrt(), (1.0 - alpha_bar).sqrt());
        let x_t: Vec<[f64; 2]> = (0..RD_DRAWS)
            .map(|_| [a * x0[0] + s * rng.normal(), a * x0[1] + s * rng.normal()])
            .collect();
        let x_t = figure::tensor(&x_t)?;
        let level = NoiseLevel { t: t as f64, alpha_bar };
        let out = mixture.predict(&x_t, level, None).map_err(figure::message)?;
        let x0_hat = figure::points(&out.prediction.x0(&x_t, alpha_bar).map_err(figure::message)?)?;
        let squared: f64 = x0_hat
            .iter()
            .map(|e| (e[0] - x0[0]).powi(2) + (e[1] - x0[1]).powi(2))
            .sum();
        let distortion = (squared / (2.0 * RD_DRAWS as f64)).sqrt();
        curve.push([rate_nats / std::f64::consts::LN_2, distortion]);
    }
    Ok(curve)
}

/// Nats of the whole bound for `dims` dimensions → bits per dimension.
fn bits_per_dim(nats: f64, dims: usize) -> f64 {
    nats / (dims as f64 * std::f64::consts::LN_2)
}

fn bars(terms: &ElboTerms) -> Vec<Bar> {
    let dims = terms.dims;
    let per_bin = terms.step_nats.len().div_ceil(BINS).max(1);
    let mut bars = vec![Bar::new(0.0, bits_per_dim(terms.decoder_nats, dims)).name("L_0")];
    for (i, chunk) in terms.step_nats.chunks(per_bin).enumerate() {
        let first_t = i * per_bin + 2;
        let last_t = first_t + chunk.len() - 1;
        bars.push(
            Bar::new((i + 1) as f64, bits_per_dim(chunk.iter().sum(), dims))
                .name(format!("L_(t−1), t = {first_t}..{last_t}")),
        );
    }
    bars.push(Bar::new((BINS + 1) as f64, bits_per_dim(terms.prior_nats, dims)).name("L_T"));
    bars
}

impl TheoryScene for ElboScene {
    fn caption(&self) -> &'static str {
        "−log p(x0) ≤ L_T + Σ L_{t−1} + L_0, with L_T = KL(q(x_T|x0) ‖ N(0,I)), L_{t−1} = \
         KL(q(x_{t−1}|x_t,x0) ‖ p(x_{t−1}|x_t)), L_0 = −log p(x0|x1). Bars in bits/dim for one x0; \
         right: bits spent against the error of x_θ along the reverse process (DDPM, Fig. 5)."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.bound.poll();
        let before = self.setup;
        self.controls_ui(ui);
        if self.setup != before {
            self.restart();
        }
        let Some(bound) = self.bound.value() else {
            self.bound.status_ui(ui);
            return;
        };
        let terms = &bound.terms;
        let dims = terms.dims;
        let steps: f64 = terms.step_nats.iter().sum();
        ui.horizontal(|ui| {
            ui.label(format!("x0 = ({:.2}, {:.2})", bound.x0[0], bound.x0[1]));
            ui.label(format!("√ᾱ_T = {:.4}", bound.sqrt_alpha_bar_last));
            self.bound.status_ui(ui);
        });
        ui.label(format!(
            "total {:.4} bits/dim = L_T {:.3e} + Σ L_(t−1) {:.4} + L_0 {:.4}",
            terms.bits_per_dim(),
            bits_per_dim(terms.prior_nats, dims),
            bits_per_dim(steps, dims),
            bits_per_dim(terms.decoder_nats, dims)
        ));
        let size = egui::vec2(ui.available_width() / 2.0 - 8.0, ui.available_height().max(150.0));
        ui.horizontal(|ui| {
            Plot::new("elbo bars")
                .width(size.x)
                .height(size.y)
                .legend(Legend::default())
                .x_axis_label("L_0 · L_(t−1) in 10 groups of t · L_T")
                .y_axis_label("bits/dim")
                .show(ui, |plot_ui| {
                    plot_ui.bar_chart(BarChart::new("terms", bars(terms)).color(figure::DETERMINISTIC));
                });
            Plot::new("rate distortion")
                .width(size.x)
                .height(size.y)
                .legend(Legend::default())
                .x_axis_label("rate: bits spent from t = T")
                .y_axis_label("distortion: RMS error of x_θ")
                .show(ui, |plot_ui| {
                    plot_ui.line(
                        Line::new("reverse process", PlotPoints::from(bound.rate_distortion.clone()))
                            .color(figure::STOCHASTIC)
                            .width(2.0),
                    );
                });
        });
    }
}
