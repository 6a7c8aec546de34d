//! The timestep-spacing scene's view; the figure is [`crate::figures::spacing`].

use egui::Slider;

use super::view::{self, Textures};
use super::{SceneContext, TheoryScene};
use crate::figures::spacing::{self, Setup, Spacings, visited_text};

/// The spacing scene.
pub struct SpacingScene {
    setup: Setup,
    /// The figure of `setup` (pure arithmetic: computed as the controls move).
    spacings: Option<(Setup, Result<Spacings, String>)>,
    textures: Textures,
}

impl SpacingScene {
    /// N = 10 of T = 1000.
    #[must_use]
    pub fn new(_context: &SceneContext) -> Self {
        Self {
            setup: Setup::default(),
            spacings: None,
            textures: Textures::default(),
        }
    }
}

impl TheoryScene for SpacingScene {
    fn caption(&self) -> &'static str {
        "Which t do N sampling steps visit out of T? leading: t = i·⌊T/N⌋ + 1 (never reaches T \
         unless N divides T); trailing: t = round(T − i·T/N) (always starts at T, the pure noise \
         the sampler starts from); linspace: t = round(i·(T−1)/(N−1)) + 1. log-snr and karras \
         follow the schedule: the t nearest to even steps in log SNR (DPM-Solver's choice), or \
         in σ^(1/7) with σ = √((1−ᾱ)/ᾱ) (Karras et al. 2022, eq. 5; EDM's choice). time-quadratic: \
         √t even from √T to 1 (DPM-Solver's time_quadratic; DPM-Solver++'s default here)."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.add(Slider::new(&mut self.setup.steps, 1..=100).text("N (sampling steps)"));
            ui.add(
                Slider::new(&mut self.setup.train_steps, 10..=1000)
                    .text("T (training steps)")
                    .logarithmic(true),
            );
        });
        self.setup.steps = self.setup.steps.min(self.setup.train_steps);
        if self.spacings.as_ref().is_none_or(|(s, _)| *s != self.setup) {
            self.spacings = Some((self.setup, spacing::compute(&self.setup).map_err(String::from)));
        }
        let Some((_, result)) = &self.spacings else {
            return;
        };
        match result {
            Ok(spacings) => {
                for (rule, timesteps) in &spacings.rows {
                    let text = format!("{rule}: t = {}", visited_text(timesteps));
                    ui.colored_label(view::color(spacing::color(*rule)), text);
                }
                let figure = spacings.figure();
                view::panels_ui(ui, "spacing", &figure.panels, &mut self.textures, ui.available_height());
            }
            Err(message) => {
                ui.colored_label(ui.visuals().error_fg_color, message);
            }
        }
    }
}
