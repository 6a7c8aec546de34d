//! The ELBO-and-the-evidence-gap scene's view; the figure is
//! [`crate::figures::evidence_gap`].

use egui::Slider;

use super::scene_figure::SceneFigure;
use super::view;
use super::{SceneContext, TheoryScene};
use crate::figures::evidence_gap::{self, EvidenceGap, Prior, Setup};

/// The ELBO-and-the-evidence-gap scene.
pub struct EvidenceGapScene {
    setup: Setup,
    /// Drawn in two rows of two panels.
    gap: SceneFigure<EvidenceGap>,
}

impl EvidenceGapScene {
    /// The Gaussian prior, q equal to the prior.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            setup: Setup::default(),
            gap: SceneFigure::new(context, EvidenceGap::figure, 2),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let setup = self.setup;
        self.gap.restart(move |_, job| evidence_gap::compute(&setup, job));
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui) {
        // Two short rows rather than one wrapped one: a slider with its text is
        // one widget, and a long row pushed the plots past the window's edge.
        ui.horizontal(|ui| {
            for prior in Prior::ALL {
                ui.selectable_value(&mut self.setup.prior, *prior, prior.name());
            }
            ui.add(Slider::new(&mut self.setup.x, -4.0..=4.0).text("x"));
            ui.add(Slider::new(&mut self.setup.fit_steps, 0..=200).text("gradient steps"));
        });
        ui.horizontal(|ui| {
            ui.add(Slider::new(&mut self.setup.q_mean, -4.0..=4.0).text("q's mean"));
            ui.add(
                Slider::new(&mut self.setup.q_std, 0.05..=3.0)
                    .logarithmic(true)
                    .text("q's spread"),
            );
            if ui
                .button("q = posterior")
                .on_hover_text("set q to the posterior's mean and spread")
                .clicked()
                && let Some(gap) = self.gap.value()
            {
                (self.setup.q_mean, self.setup.q_std) = gap.posterior_moments;
                self.setup.fit_steps = 0;
            }
        });
    }

    fn numbers_ui(ui: &mut egui::Ui, gap: &EvidenceGap) {
        ui.label(format!(
            "log p(x) = {:.4} = ELBO {:.4} + KL {:.4}   (residual {:.1e})",
            gap.log_evidence,
            gap.elbo,
            gap.kl,
            gap.elbo + gap.kl - gap.log_evidence
        ));
        let (mc_elbo, mc_error) = gap.monte_carlo_elbo();
        let (post_mean, post_std) = gap.posterior_moments;
        ui.label(format!(
            "{} draws z ~ q: mean of log w = {mc_elbo:.4} ± {mc_error:.4} (→ ELBO), log of mean w = {:.4} \
             (→ log p(x)).  q = N({:.3}, {:.3}²); posterior mean {post_mean:.3}, spread {post_std:.3}",
            gap.log_weights.len(),
            gap.log_mean_weight(gap.log_weights.len()),
            gap.q.mean,
            gap.q.std,
        ));
    }
}

impl TheoryScene for EvidenceGapScene {
    fn caption(&self) -> &'static str {
        "log p(x) = E_q[log p(x,z)/q(z|x)] + KL(q(z|x) ‖ p(z|x)) (Luo eq. 15): the ELBO is below the \
         evidence by exactly the KL, so raising the ELBO pulls q onto the posterior. With two modes no \
         Gaussian q closes the gap. Bottom right: Jensen, log E[w] ≥ E[log w], by Monte Carlo."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.gap.poll();
        let before = self.setup;
        self.controls_ui(ui);
        if self.setup != before {
            self.restart();
        }
        self.gap.status_ui(ui);
        if let Some(gap) = self.gap.value() {
            Self::numbers_ui(ui, gap);
        }
        if let Some((figure, textures)) = self.gap.parts() {
            view::panel_rows_ui(ui, "elbo-gap", &figure.panels, textures, 2, ui.available_height());
        }
    }
}
