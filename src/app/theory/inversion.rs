//! The DDIM-inversion scene's view: on points, the figure is
//! [`crate::figures::inversion`]; on images, [`super::inversion_images`].

use super::job::Computation;
use super::view::{self, FigureCache, Textures};
use super::{SceneContext, TheoryScene};
use crate::figures::inversion::{self, INTERPOLANTS, Inversion, Setup};

/// The DDIM step counts offered (each way).
const STEP_CHOICES: [usize; 3] = [10, 50, 200];

/// What is inverted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Points,
    Images,
}

/// The inversion scene.
pub struct InversionScene {
    mode: Mode,
    /// Built when first shown: it runs the U-Net.
    images: Option<super::inversion_images::ImageInversion>,
    setup: Setup,
    context: SceneContext,
    result: Computation<Inversion>,
    textures: Textures,
    /// The figure, laid out once per result (and shown step).
    laid_out: FigureCache<()>,
}

impl InversionScene {
    /// Inverts one point of the 0.7 mode and one of the 0.2 mode.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            mode: Mode::Points,
            images: None,
            setup: Setup::default(),
            context: context.clone(),
            result: Computation::default(),
            textures: Textures::default(),
            laid_out: FigureCache::default(),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let (setup, inputs) = (self.setup, self.context.inputs.clone());
        self.result.restart(&self.context.repaint, move |job| {
            inversion::compute(&setup, &inputs, job).map_err(String::from)
        });
    }
}

impl TheoryScene for InversionScene {
    fn caption(&self) -> &'static str {
        "DDIM inversion runs x_t = √ᾱ_t x_θ + √(1−ᾱ_t) ε_θ upwards, from a data point to its latent x_T; \
         DDIM decodes it back. Latents interpolated along a great circle, sin((1−λ)θ)/sin θ · x_T^A + \
         sin(λθ)/sin θ · x_T^B, decode to points on the data."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.mode, Mode::Points, "2D points (exact model)");
            ui.selectable_value(&mut self.mode, Mode::Images, "Images (the U-Net)");
        });
        if self.mode == Mode::Images {
            let repaint = self.context.repaint.clone();
            self.images
                .get_or_insert_with(|| super::inversion_images::ImageInversion::new(&repaint))
                .ui(ui);
            return;
        }
        if self.result.poll() {
            self.laid_out.clear();
            self.textures.clear();
        }
        let before = self.setup;
        ui.horizontal(|ui| {
            for steps in STEP_CHOICES {
                ui.selectable_value(&mut self.setup.steps, steps, format!("{steps} steps"));
            }
            ui.add(egui::DragValue::new(&mut self.setup.seed).prefix("Seed "));
            self.result.status_ui(ui);
        });
        if self.setup != before {
            self.restart();
        }
        let Some(r) = self.result.value() else {
            return;
        };
        ui.label(format!(
            "round trip (invert, then decode with {} DDIM steps): A comes back {:.4} away, B {:.4}",
            r.steps, r.round_trip[0], r.round_trip[1]
        ));
        ui.label(format!(
            "slerp interpolants: {} of {INTERPOLANTS} land within 3 std of a mode; the straight line's midpoint lies {:.1} std from the nearest mode",
            r.on_data(),
            r.midpoint_distance
        ));
        let panels = &self.laid_out.get((), || r.figure()).panels;
        view::panels_ui(
            ui,
            "inversion",
            panels,
            &mut self.textures,
            ui.available_height().max(150.0),
        );
    }
}
