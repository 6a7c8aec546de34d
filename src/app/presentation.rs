//! Presentation mode (F5): full screen, type 1.6× larger, thicker curves, the
//! controls cut to what a lesson changes, and a caption strip with the step's
//! equation and numbers, for a room that sits far from the screen.

use std::sync::Arc;

use crate::diffusion::sampler::SamplerKind;
use crate::worker::{Direction, RunSettings};

/// How much larger every text style is while presenting.
pub const TEXT_SCALE: f32 = 1.6;
/// Curve width while presenting, in points (2 otherwise).
pub const LINE_WIDTH: f32 = 4.0;

/// Whether the window presents, and the styles (dark, light) to return to.
#[derive(Default)]
pub struct Presentation {
    normal_styles: Option<(Arc<egui::Style>, Arc<egui::Style>)>,
}

impl Presentation {
    /// Whether presentation mode is on.
    #[must_use]
    pub fn is_on(&self) -> bool {
        self.normal_styles.is_some()
    }

    /// Switches presentation mode on or off. Both themes' styles scale, so
    /// switching the theme while presenting keeps the large type.
    pub fn toggle(&mut self, ctx: &egui::Context) {
        if let Some((dark, light)) = self.normal_styles.take() {
            ctx.all_styles_mut(|style| {
                *style = if style.visuals.dark_mode {
                    (*dark).clone()
                } else {
                    (*light).clone()
                };
            });
            ctx.send_viewport_cmd(egui::ViewportCommand::Fullscreen(false));
            return;
        }
        let normal = (ctx.style_of(egui::Theme::Dark), ctx.style_of(egui::Theme::Light));
        ctx.all_styles_mut(|style| {
            for font in style.text_styles.values_mut() {
                font.size *= TEXT_SCALE;
            }
            style.spacing.interact_size *= TEXT_SCALE;
        });
        ctx.send_viewport_cmd(egui::ViewportCommand::Fullscreen(true));
        self.normal_styles = Some(normal);
    }
}

/// The numbers of the step on screen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepNumbers {
    /// The level t.
    pub t: usize,
    /// T.
    pub train_steps: usize,
    /// ᾱ_t.
    pub alpha_bar: f64,
    /// The std of the fresh noise the next step injects (0: deterministic).
    pub sigma: f64,
}

/// The equation the current run applies at every step.
#[must_use]
pub fn equation(settings: &RunSettings) -> &'static str {
    if matches!(settings.direction, Direction::Forward(_)) {
        return "x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε";
    }
    match settings.sampler.kind {
        SamplerKind::Ddpm | SamplerKind::Ddim => "x_s = √ᾱ_s x_θ + √(1 − ᾱ_s − σ_t²) ε_θ + σ_t z",
        SamplerKind::EulerOde | SamplerKind::HeunOde => "dx/dt = f(x, t) − ½ g(t)² ∇log p_t(x)",
        SamplerKind::ReverseSde => "dx = [f(x, t) − g(t)² ∇log p_t(x)] dt + g(t) dw_rev",
        SamplerKind::DpmSolverPp => "x_s = (σ_s/σ_t) x_t − α_s (e^(−h) − 1) D_t",
        SamplerKind::Langevin | SamplerKind::AnnealedLangevin => "x ← x + (α/2) ∇log p(x) + √α z",
        SamplerKind::EdmHeun => "dx/dσ = (x − D(x; σ))/σ, Heun steps in σ",
        SamplerKind::EdmStochastic => "σ_hat = σ(1 + γ), x += √(σ_hat² − σ²) ε, then a Heun step in σ",
    }
}

/// The caption strip: the equation, then t, ᾱ_t, SNR and σ_t.
pub fn caption_ui(ui: &mut egui::Ui, equation: &str, numbers: StepNumbers) {
    ui.horizontal_wrapped(|ui| {
        ui.label(egui::RichText::new(equation).strong());
        ui.separator();
        ui.label(
            egui::RichText::new(format!(
                "t = {} / {}   ᾱ_t = {:.4}   SNR = {}   σ_t = {:.4}",
                numbers.t,
                numbers.train_steps,
                numbers.alpha_bar,
                snr_text(numbers.alpha_bar),
                numbers.sigma
            ))
            .strong(),
        );
    });
}

/// SNR = ᾱ/(1 − ᾱ), readable at every t: ∞ at t = 0, powers of ten when large.
#[must_use]
pub fn snr_text(alpha_bar: f64) -> String {
    let noise = 1.0 - alpha_bar;
    if noise <= 0.0 {
        return "∞".into();
    }
    let snr = alpha_bar / noise;
    if snr >= 1e4 {
        format!("{snr:.3e}")
    } else {
        format!("{snr:.4}")
    }
}
