//! The navigator: one compact menu of every registered scene under its
//! chapter's heading, the current one highlighted, beside the window's
//! toggles (shortcuts, presentation, theme). It sits at the top of the
//! controls panel, so it costs the figure no height. It reads
//! [`crate::scenes`] alone: a new registry entry appears here with no change.

use super::controls::Scene;
use crate::scenes::{Chapter, SceneId};

/// The menu button's label.
pub const MENU_LABEL: &str = "Scenes ☰";

/// What the header asked for this frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NavigatorRequests {
    /// Show this scene.
    pub scene: Option<Scene>,
    /// Toggle the shortcut list.
    pub help: bool,
    /// Toggle presentation mode.
    pub present: bool,
    /// Toggle the light theme.
    pub theme: bool,
    /// Fold the controls panel.
    pub fold: bool,
}

/// The header of the open controls panel: the scene menu, where the scene
/// sits in the course, and the window's toggles.
pub fn header_ui(ui: &mut egui::Ui, current: Scene, light: bool) -> NavigatorRequests {
    let mut requests = NavigatorRequests::default();
    ui.horizontal_wrapped(|ui| {
        requests.scene = scene_menu_ui(ui, current, MENU_LABEL);
        if ui.button("‹").on_hover_text("previous scene (Ctrl + PageUp)").clicked() {
            requests.scene = Some(Scene::from_id(current.id().step(-1)));
        }
        if ui.button("›").on_hover_text("next scene (Ctrl + PageDown)").clicked() {
            requests.scene = Some(Scene::from_id(current.id().step(1)));
        }
        requests.fold = ui.button("◀ Hide").on_hover_text("fold the controls (C)").clicked();
    });
    let id = current.id();
    ui.add(egui::Label::new(egui::RichText::new(format!("{} › {}", id.chapter().title(), id.title())).strong()).wrap());
    ui.horizontal_wrapped(|ui| {
        requests.help = ui.button("Keys (?)").on_hover_text("every keyboard shortcut").clicked();
        requests.present = ui
            .button("Present (F5)")
            .on_hover_text("full screen, large type, a caption with the step's numbers")
            .clicked();
        let theme = if light { "Dark (L)" } else { "Light (L)" };
        requests.theme = ui
            .button(theme)
            .on_hover_text("a light theme for a projector in a lit room")
            .clicked();
    });
    requests
}

/// The folded controls: a thin strip with the scene menu and the way back.
pub fn folded_ui(ui: &mut egui::Ui, current: Scene) -> NavigatorRequests {
    let fold = ui.button("▶").on_hover_text("show the controls (C)").clicked();
    NavigatorRequests {
        fold,
        scene: scene_menu_ui(ui, current, "☰"),
        ..NavigatorRequests::default()
    }
}

/// The menu of every scene under its chapter, behind a button called
/// `label`; the one picked, if any.
fn scene_menu_ui(ui: &mut egui::Ui, current: Scene, label: &str) -> Option<Scene> {
    let mut picked = None;
    ui.menu_button(label, |ui| {
        // Three columns of whole chapters, as even in height as the order
        // allows, so that every scene shows at once at 720 px, even in
        // presentation mode's larger type.
        let screen_height = ui.ctx().content_rect().height();
        egui::ScrollArea::vertical()
            .max_height(screen_height - 48.0)
            .show(ui, |ui| {
                ui.horizontal_top(|ui| {
                    for column in balanced_columns(&Chapter::ALL, 3) {
                        ui.vertical(|ui| {
                            for chapter in column {
                                chapter_ui(ui, *chapter, current, &mut picked);
                            }
                        });
                    }
                });
            });
    })
    .response
    .on_hover_text("every scene, chapter by chapter");
    picked
}

/// `chapters` in order, cut into at most `columns` runs whose tallest (a
/// heading and its scenes per chapter) is as short as possible.
fn balanced_columns(chapters: &[Chapter], columns: usize) -> Vec<&[Chapter]> {
    let rows = |run: &[Chapter]| -> usize { run.iter().map(|c| 1 + SceneId::in_chapter(*c).count()).sum() };
    // Every way to cut, by brute force: there are only a handful of chapters.
    let mut best: (usize, Vec<&[Chapter]>) = (rows(chapters), vec![chapters]);
    let mut cuts = vec![0_usize; columns.saturating_sub(1)];
    cut_ways(chapters.len(), &mut cuts, 0, 1, &mut |cuts| {
        let mut runs = Vec::with_capacity(cuts.len() + 1);
        let mut start = 0;
        for &cut in cuts.iter().chain(std::iter::once(&chapters.len())) {
            runs.push(&chapters[start..cut]);
            start = cut;
        }
        let tallest = runs.iter().map(|r| rows(r)).max().unwrap_or(0);
        if tallest < best.0 {
            best = (tallest, runs);
        }
    });
    best.1
}

/// Calls `visit` with every increasing choice of cut points in `from..len`.
fn cut_ways(len: usize, cuts: &mut [usize], index: usize, from: usize, visit: &mut dyn FnMut(&[usize])) {
    if index == cuts.len() {
        visit(cuts);
        return;
    }
    for cut in from..len {
        cuts[index] = cut;
        cut_ways(len, cuts, index + 1, cut + 1, visit);
    }
}

/// One chapter's heading and its scenes; a click sets `picked`.
fn chapter_ui(ui: &mut egui::Ui, chapter: Chapter, current: Scene, picked: &mut Option<Scene>) {
    ui.label(egui::RichText::new(chapter.title()).strong());
    ui.indent(chapter, |ui| {
        for id in SceneId::in_chapter(chapter) {
            if ui.selectable_label(current.id() == id, id.title()).clicked() {
                *picked = Some(Scene::from_id(id));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_columns_keep_the_order_and_even_out_the_height() {
        let columns = balanced_columns(&Chapter::ALL, 3);
        assert!(columns.len() <= 3);
        let flat: Vec<Chapter> = columns.iter().flat_map(|c| c.iter().copied()).collect();
        assert_eq!(flat, Chapter::ALL.to_vec(), "every chapter once, in order");
        let rows = |run: &[Chapter]| -> usize { run.iter().map(|c| 1 + SceneId::in_chapter(*c).count()).sum() };
        let tallest = columns.iter().map(|c| rows(c)).max().unwrap();
        // Shorter than three chapters to a column, the layout before (whose
        // middle column ran off a 720 px window once the Samplers chapter grew).
        let fixed = Chapter::ALL.chunks(3).map(rows).max().unwrap();
        assert!(tallest < fixed, "{tallest} rows against {fixed}");
    }
}
