//! Keyboard control, so a lesson can be run without the mouse: what each key
//! does is read here once per frame, and applied by the app.

/// Every shortcut, in the order the help overlay lists them.
pub const SHORTCUTS: [(&str, &str); 15] = [
    ("Space", "play / pause"),
    ("← / →", "one step back / forward"),
    ("Shift + ← / →", "ten steps back / forward"),
    ("Home / End", "go to x_0 / x_T"),
    ("0 … 9", "pick that class"),
    ("[ / ]", "guidance γ down / up by 0.5"),
    (
        "PageDown / PageUp",
        "next / previous lesson stop (starts the default lesson)",
    ),
    ("Ctrl + PageDown / PageUp", "next / previous scene"),
    ("F5", "presentation mode on / off"),
    ("C", "controls: fold / unfold"),
    ("P", "plots and timeline: fold / unfold"),
    ("L", "light / dark theme"),
    ("F12", "frame times: median and p99 of the last 120 frames"),
    ("Ctrl + / Ctrl −", "zoom the whole window in / out"),
    ("?", "show / hide this list"),
];

/// What the keys pressed this frame ask for.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct KeyActions {
    /// Toggle playback.
    pub toggle_play: bool,
    /// Frames to move (negative: back).
    pub step: i64,
    /// Go to the frame of x_0.
    pub to_data: bool,
    /// Go to the frame of x_T.
    pub to_noise: bool,
    /// Condition on this class.
    pub class: Option<u32>,
    /// Change γ by this much.
    pub gamma_delta: f64,
    /// Toggle the shortcut list.
    pub toggle_help: bool,
    /// Toggle presentation mode.
    pub toggle_presentation: bool,
    /// Close overlays (Escape).
    pub escape: bool,
    /// Lesson stops to move (PageDown +1, PageUp −1).
    pub lesson_step: i64,
    /// Scenes to move in teaching order (Ctrl + PageDown +1, Ctrl + PageUp −1).
    pub scene_step: i64,
    /// Fold or unfold the controls.
    pub toggle_controls: bool,
    /// Fold or unfold the side strip (plots and timeline).
    pub toggle_strip: bool,
    /// Switch between the light and dark themes.
    pub toggle_theme: bool,
    /// Show or hide the frame times.
    pub toggle_frame_stats: bool,
}

const DIGITS: [egui::Key; 10] = [
    egui::Key::Num0,
    egui::Key::Num1,
    egui::Key::Num2,
    egui::Key::Num3,
    egui::Key::Num4,
    egui::Key::Num5,
    egui::Key::Num6,
    egui::Key::Num7,
    egui::Key::Num8,
    egui::Key::Num9,
];

/// Reads this frame's shortcuts (none while a text field has the keyboard).
#[must_use]
pub fn read(ctx: &egui::Context) -> KeyActions {
    if ctx.egui_wants_keyboard_input() {
        return KeyActions::default();
    }
    ctx.input(|input| {
        let pressed = |key| input.key_pressed(key);
        let stride = if input.modifiers.shift { 10 } else { 1 };
        let plain = input.modifiers.is_none();
        let mut actions = KeyActions {
            toggle_play: pressed(egui::Key::Space),
            to_data: pressed(egui::Key::Home),
            to_noise: pressed(egui::Key::End),
            toggle_help: pressed(egui::Key::Questionmark),
            toggle_presentation: pressed(egui::Key::F5),
            escape: pressed(egui::Key::Escape),
            // Letters alone: Ctrl + C and the like keep their usual meaning.
            toggle_controls: plain && pressed(egui::Key::C),
            toggle_strip: plain && pressed(egui::Key::P),
            toggle_theme: plain && pressed(egui::Key::L),
            toggle_frame_stats: pressed(egui::Key::F12),
            ..KeyActions::default()
        };
        if pressed(egui::Key::ArrowRight) {
            actions.step += stride;
        }
        if pressed(egui::Key::ArrowLeft) {
            actions.step -= stride;
        }
        // With Ctrl the page keys move between scenes, without it between lesson stops.
        let pages = if input.modifiers.command {
            &mut actions.scene_step
        } else {
            &mut actions.lesson_step
        };
        if pressed(egui::Key::PageDown) {
            *pages += 1;
        }
        if pressed(egui::Key::PageUp) {
            *pages -= 1;
        }
        if pressed(egui::Key::OpenBracket) {
            actions.gamma_delta -= 0.5;
        }
        if pressed(egui::Key::CloseBracket) {
            actions.gamma_delta += 0.5;
        }
        actions.class = DIGITS
            .iter()
            .position(|key| pressed(*key))
            .and_then(|k| u32::try_from(k).ok());
        actions
    })
}

/// The `?` overlay: every shortcut in a window over the scene.
pub fn help_ui(ctx: &egui::Context, open: &mut bool) {
    egui::Window::new("Keyboard shortcuts")
        .open(open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
        .show(ctx, |ui| {
            egui::Grid::new("shortcuts").striped(true).show(ui, |ui| {
                for (key, what) in SHORTCUTS {
                    ui.strong(key);
                    ui.label(what);
                    ui.end_row();
                }
            });
        });
}
