//! The window's background painted by the render pass's clear, not by egui.
//!
//! On a software renderer (lavapipe, llvmpipe) every pixel egui paints runs
//! its textured fragment shader: about 30 ms for one 1280×720 window's worth
//! (`examples/raster_costs.rs`). The panels' fills covered half the window
//! every frame. Clearing costs next to nothing, so in a real window the clear
//! colour is the panel colour and the panels paint no fill.
//!
//! A test harness that clears to transparent keeps the painted fills, so its
//! snapshots show the panels as the window does.

/// Whether egui paints the panels' fill or the clear does.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Background {
    /// The panels paint their fill (what egui does; test harnesses need it).
    #[default]
    Painted,
    /// The clear paints it: the dark and the light theme's panel colours.
    Cleared {
        /// The dark theme's panel fill.
        dark: egui::Color32,
        /// The light theme's panel fill.
        light: egui::Color32,
    },
}

impl Background {
    /// Takes the panel fill out of both themes of `ctx`; the colours to clear with.
    #[must_use]
    pub fn clear_instead_of_painting(ctx: &egui::Context) -> Self {
        let take = |theme| {
            let mut fill = egui::Color32::TRANSPARENT;
            ctx.style_mut_of(theme, |style| {
                fill = std::mem::replace(&mut style.visuals.panel_fill, egui::Color32::TRANSPARENT);
            });
            fill
        };
        let dark = take(egui::Theme::Dark);
        let light = take(egui::Theme::Light);
        Self::Cleared { dark, light }
    }

    /// The colour the window is cleared with, in gamma space as eframe wants it.
    #[must_use]
    pub fn clear_color(self, visuals: &egui::Visuals) -> [f32; 4] {
        match self {
            // eframe's own default.
            Self::Painted => egui::Color32::from_rgba_unmultiplied(12, 12, 12, 180).to_normalized_gamma_f32(),
            Self::Cleared { dark, light } => if visuals.dark_mode { dark } else { light }.to_normalized_gamma_f32(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clearing_takes_each_themes_panel_fill_and_clears_with_it() {
        let ctx = egui::Context::default();
        let dark = ctx.style_of(egui::Theme::Dark).visuals.panel_fill;
        let light = ctx.style_of(egui::Theme::Light).visuals.panel_fill;
        assert_ne!(dark, light);
        let background = Background::clear_instead_of_painting(&ctx);
        for theme in [egui::Theme::Dark, egui::Theme::Light] {
            assert_eq!(ctx.style_of(theme).visuals.panel_fill, egui::Color32::TRANSPARENT);
        }
        assert_eq!(
            background.clear_color(&egui::Visuals::dark()),
            dark.to_normalized_gamma_f32()
        );
        assert_eq!(
            background.clear_color(&egui::Visuals::light()),
            light.to_normalized_gamma_f32()
        );
    }
}
