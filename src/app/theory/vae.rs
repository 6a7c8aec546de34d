//! The VAE-trained-live scene's view; the figure is [`crate::figures::vae`].

use super::scene_figure::SceneFigure;
use super::view::{self, Textures};
use super::{SceneContext, TheoryScene};
use crate::figures::Figure;
use crate::figures::vae::{self, Setup, VaeData, VaeRun};

/// The VAE scene.
pub struct VaeScene {
    setup: Setup,
    figure: SceneFigure<VaeRun>,
}

impl VaeScene {
    /// Fashion-MNIST, 1500 steps.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            setup: Setup::default(),
            // Textures: the latent panel, the decoded grid, the training panel, the samples.
            figure: SceneFigure::new(context, VaeRun::figure, 4),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let setup = self.setup;
        self.figure
            .restart(move |inputs, job| vae::compute(&setup, inputs, job));
    }

    fn numbers_ui(ui: &mut egui::Ui, figure: &Figure, data: VaeData) {
        let number = |name: &str| figure.value(name).unwrap_or(f64::NAN);
        ui.label(format!(
            "ELBO {:.2} = reconstruction {:.2} − prior matching {:.2} nats (last 50 steps).  Held out: ELBO {:.2}, \
             importance-weighted bound {:.2} (≤ log p(x); the gap is what the Gaussian q misses).",
            number("ELBO (last 50 steps)"),
            number("reconstruction (last 50 steps)"),
            number("prior matching (last 50 steps)"),
            number("ELBO on the same points"),
            number("importance-weighted bound (64 draws)"),
        ));
        let weights = |who: &str| {
            (1..=3)
                .map(|k| format!("{:.2}", number(&format!("{who}: weight of mode {k}"))))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        let accuracy = number("latent nearest-centroid accuracy");
        match data {
            VaeData::FashionMnist => ui.label(format!(
                "Classes by nearest centroid in the 2D latent space: {:.0} % right (chance 10 %).",
                100.0 * accuracy
            )),
            VaeData::Blobs => ui.label(format!(
                "Near a mode: VAE samples {:.0} %, diffusion {:.0} %.  Mode weights: VAE {}, diffusion {}, true 0.70 / 0.20 / 0.10.",
                100.0 * number("VAE samples near a mode"),
                100.0 * number("diffusion samples near a mode"),
                weights("VAE"),
                weights("diffusion"),
            )),
        };
    }

    /// The latent space and the decoded grid large, the training curves
    /// beside them, and both models' samples under the curves.
    fn images_layout_ui(ui: &mut egui::Ui, figure: &Figure, textures: &mut [Textures]) {
        let [latent, grid, training, samples] = textures else {
            return;
        };
        let (width, height) = (ui.available_width(), ui.available_height().max(300.0));
        let spacing = ui.spacing().item_spacing.x;
        let square = (height - 24.0).min((width - 2.0 * spacing) * 0.36);
        ui.horizontal_top(|ui| {
            ui.allocate_ui(egui::vec2(square, height), |ui| {
                view::panels_ui(ui, "vae-latent", &figure.panels[..1], latent, square);
            });
            ui.vertical(|ui| view::images_ui(ui, &figure.images[..1], grid, 1, square - 24.0));
            ui.vertical(|ui| {
                let rest = ui.available_width();
                view::panels_ui(ui, "vae-training", &figure.panels[1..], training, height * 0.45);
                let side = ((rest - spacing) / 2.0).min(height * 0.55 - 40.0);
                view::images_ui(ui, &figure.images[1..], samples, 2, side);
            });
        });
    }
}

impl TheoryScene for VaeScene {
    fn caption(&self) -> &'static str {
        "A VAE (Luo, §VAE): an encoder q(z|x) = N(μ(x), σ²(x)), a decoder p(x|z) and the prior N(0, I), trained \
         on the ELBO = reconstruction − prior matching with z = μ + σ ⊙ ε. Its 2D latent space, the decoder \
         over a grid of it, and its samples beside a diffusion model's."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.figure.poll();
        let before = self.setup;
        ui.horizontal(|ui| {
            egui::ComboBox::from_label("data")
                .selected_text(self.setup.data.name())
                .show_ui(ui, |ui| {
                    for &data in VaeData::ALL {
                        ui.selectable_value(&mut self.setup.data, data, data.name());
                    }
                });
            view::training_ui(ui, &mut self.setup.steps, &mut self.setup.seed, 5000);
            self.figure.status_ui(ui);
        });
        if self.setup != before {
            self.restart();
        }
        let data = self.figure.value().map(|run| run.data);
        let Some((figure, textures)) = self.figure.parts() else {
            return;
        };
        let Some(data) = data else {
            return;
        };
        Self::numbers_ui(ui, figure, data);
        match data {
            VaeData::FashionMnist => Self::images_layout_ui(ui, figure, textures),
            VaeData::Blobs => {
                let height = ui.available_height().max(200.0);
                if let Some(first) = textures.first_mut() {
                    view::panels_ui(ui, "vae-blobs", &figure.panels, first, height);
                }
            }
        }
    }
}
