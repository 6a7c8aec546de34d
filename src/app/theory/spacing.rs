//! Timestep spacing (Lin et al. 2024, Table 2): which t an N-step sampler
//! visits out of T. Pure schedule arithmetic, computed as it is drawn.

use egui::{Color32, Slider};
use egui_plot::{Legend, Plot, Points};

use super::{SceneContext, TheoryScene};
use crate::diffusion::TimestepSpacing;
use crate::diffusion::timesteps::inference_timesteps;

/// The spacing scene.
pub struct SpacingScene {
    steps: usize,
    train_steps: usize,
}

impl SpacingScene {
    /// N = 10 of T = 1000, where leading never reaches t = T.
    #[must_use]
    pub fn new(_context: &SceneContext) -> Self {
        Self {
            steps: 10,
            train_steps: 1000,
        }
    }
}

fn color(spacing: TimestepSpacing) -> Color32 {
    match spacing {
        TimestepSpacing::Leading => Color32::from_rgb(240, 150, 60),
        TimestepSpacing::Trailing => Color32::from_rgb(100, 180, 250),
        TimestepSpacing::Linspace => Color32::from_rgb(120, 200, 110),
    }
}

/// "901, 801, …, 1" for at most 12 values, else the ends and the count.
fn visited_text(timesteps: &[usize]) -> String {
    if timesteps.len() <= 12 {
        timesteps.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    } else {
        let first = timesteps.first().copied().unwrap_or(0);
        let last = timesteps.last().copied().unwrap_or(0);
        format!("{first}, …, {last} ({} values)", timesteps.len())
    }
}

impl TheoryScene for SpacingScene {
    fn caption(&self) -> &'static str {
        "Which t do N sampling steps visit out of T? leading: t = i·⌊T/N⌋ + 1 (never reaches T \
         unless N divides T); trailing: t = round(T − i·T/N) (always starts at T, the pure noise \
         the sampler starts from); linspace: t = round(i·(T−1)/(N−1)) + 1."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.add(Slider::new(&mut self.steps, 1..=100).text("N (sampling steps)"));
            ui.add(
                Slider::new(&mut self.train_steps, 10..=1000)
                    .text("T (training steps)")
                    .logarithmic(true),
            );
        });
        self.steps = self.steps.min(self.train_steps);
        let rows: Vec<(TimestepSpacing, Vec<usize>)> = TimestepSpacing::ALL
            .iter()
            .filter_map(|&s| {
                inference_timesteps(self.train_steps, self.steps, s)
                    .ok()
                    .map(|t| (s, t))
            })
            .collect();
        for (spacing, timesteps) in &rows {
            ui.colored_label(color(*spacing), format!("{spacing}: t = {}", visited_text(timesteps)));
        }
        Plot::new("visited timesteps")
            .legend(Legend::default())
            .x_axis_label("t (training step)")
            .include_x(0.0)
            .include_y(-0.5)
            .include_y(2.5)
            .show_y(false)
            .show(ui, |plot_ui| {
                for (row, (spacing, timesteps)) in rows.iter().enumerate() {
                    let points: Vec<[f64; 2]> = timesteps.iter().map(|&t| [t as f64, row as f64]).collect();
                    plot_ui.points(
                        Points::new(spacing.to_string(), points)
                            .radius(4.0)
                            .color(color(*spacing)),
                    );
                }
            });
    }
}
