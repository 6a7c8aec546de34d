//! Lessons and sessions: views of the explorer in a small text file.
//!
//! A view is a scene, its run settings, the t on screen and a caption. A lesson
//! is an ordered list of views, stepped with PageDown / PageUp; a session is
//! the one view the window was left in. The format is meant to be written by
//! hand:
//!
//! ```text
//! # Comments start with #.
//! [stop]
//! title = The forward process
//! scene = images
//! t = 250
//! caption = x_t = √ᾱ_t x0 + √(1−ᾱ_t) ε: the image drowns in noise.
//!
//! [stop]
//! scene = 2d-mixture
//! sampler = ddpm
//! steps = 1000
//! ```
//!
//! Keys left out keep their defaults. Scenes are named by their stable id in
//! [`crate::scenes`] (`2d-mixture`, `ddim-inversion`, …); the older
//! `theory:` and a scene's title still load;
//! `model` is `unet` or `empirical` for the image batch, and a mixture JSON
//! path or `three-blobs` for the 2D scene.
//! A mistake is reported with its line number and the file is not used.

use std::fmt::Write as _;
use std::str::FromStr;

use super::controls::{Scene, Settings};
use crate::diffusion::forward::ForwardMode;
use crate::scenes::SceneId;
use crate::worker::Direction;

/// One saved view of the explorer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct View {
    /// A short title.
    pub title: String,
    /// The scene.
    pub scene: Scene,
    /// The model: `unet` or `empirical` for the image batch, a mixture JSON
    /// path or `three-blobs` for the 2D scene (`None`: keep the current one).
    pub model: Option<String>,
    /// The run settings.
    pub settings: Settings,
    /// The t to show once the run is there (`None`: follow the run).
    pub t: Option<usize>,
    /// What to say about it.
    pub caption: String,
}

/// A scene's name in files: its stable id in the registry.
#[must_use]
pub fn scene_name(scene: Scene) -> String {
    scene.id().id().to_owned()
}

/// A scene named by its stable id (`ddim-inversion`), or as lessons before
/// the registry named theory scenes: `theory:` and the scene's title.
fn parse_scene(value: &str) -> Result<Scene, String> {
    if let Some(title) = value.strip_prefix("theory:") {
        return SceneId::ALL
            .iter()
            .find(|s| s.title().eq_ignore_ascii_case(title.trim()))
            .map(|id| Scene::from_id(*id))
            .ok_or_else(|| format!("no theory scene is called '{title}'"));
    }
    SceneId::from_id(value).map(Scene::from_id).map_err(|e| e.to_string())
}

fn parse_number<T: FromStr>(key: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{key} must be a number, got '{value}'"))
}

fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::Reverse => "reverse",
        Direction::Forward(ForwardMode::ClosedForm) => "forward",
        Direction::Forward(ForwardMode::MarkovChain) => "forward-markov",
    }
}

/// Sets `key` of `view` from its text.
fn set(view: &mut View, key: &str, value: &str) -> Result<(), String> {
    let s = &mut view.settings;
    match key {
        "title" => view.title = value.to_owned(),
        "caption" => view.caption = value.to_owned(),
        "scene" => view.scene = parse_scene(value)?,
        "model" => view.model = Some(value.to_owned()),
        "t" => view.t = Some(parse_number(key, value)?),
        "schedule" => s.schedule.kind = value.parse()?,
        "train-steps" => s.schedule.train_steps = parse_number(key, value)?,
        "zero-terminal-snr" => s.schedule.zero_terminal_snr = parse_number(key, value)?,
        "sampler" => s.sampler.kind = value.parse()?,
        "steps" => s.sampler.steps = parse_number(key, value)?,
        "spacing" => s.sampler.spacing = value.parse()?,
        "eta" => s.sampler.eta = parse_number(key, value)?,
        "class" if value == "none" => s.class = None,
        "class" => s.class = Some(parse_number(key, value)?),
        "gamma" => s.guidance.scale = parse_number(key, value)?,
        "guidance" => s.guidance.kind = value.parse()?,
        "seed" => s.seed = parse_number(key, value)?,
        "batch" => s.batch = parse_number(key, value)?,
        "direction" => {
            s.direction = match value {
                "reverse" => Direction::Reverse,
                "forward" => Direction::Forward(ForwardMode::ClosedForm),
                "forward-markov" => Direction::Forward(ForwardMode::MarkovChain),
                other => {
                    return Err(format!(
                        "unknown direction '{other}' (reverse, forward or forward-markov)"
                    ));
                }
            }
        }
        other => return Err(format!("unknown key '{other}'")),
    }
    Ok(())
}

/// Reads every `[stop]` of `text`; `source` names the file in errors.
///
/// # Errors
/// "SOURCE line N: problem" for the first bad line, or a file without stops.
pub fn parse(text: &str, source: &str) -> Result<Vec<View>, String> {
    let mut views: Vec<View> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let at = |problem: String| format!("{source} line {}: {problem}", index + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "[stop]" {
            views.push(View::default());
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| at(format!("expected 'key = value' or [stop], got '{line}'")))?;
        let view = views
            .last_mut()
            .ok_or_else(|| at("a setting before the first [stop]".into()))?;
        set(view, key.trim(), value.trim()).map_err(at)?;
    }
    if views.is_empty() {
        return Err(format!("{source}: no [stop] in the file"));
    }
    Ok(views)
}

/// Writes `views` in the format [`parse`] reads.
#[must_use]
pub fn write(views: &[View]) -> String {
    let mut text = String::from("# A noisescope lesson: one [stop] per view, stepped with PageDown / PageUp.\n");
    for view in views {
        let s = &view.settings;
        let _ = writeln!(text, "\n[stop]");
        if !view.title.is_empty() {
            let _ = writeln!(text, "title = {}", view.title);
        }
        let _ = writeln!(text, "scene = {}", scene_name(view.scene));
        if let Some(model) = &view.model {
            let _ = writeln!(text, "model = {model}");
        }
        let _ = writeln!(text, "schedule = {}", s.schedule.kind);
        let _ = writeln!(text, "train-steps = {}", s.schedule.train_steps);
        let _ = writeln!(text, "zero-terminal-snr = {}", s.schedule.zero_terminal_snr);
        let _ = writeln!(text, "sampler = {}", s.sampler.kind);
        let _ = writeln!(text, "steps = {}", s.sampler.steps);
        let _ = writeln!(text, "spacing = {}", s.sampler.spacing);
        let _ = writeln!(text, "eta = {}", s.sampler.eta);
        let class = s.class.map_or_else(|| "none".to_owned(), |c| c.to_string());
        let _ = writeln!(text, "class = {class}");
        let _ = writeln!(text, "gamma = {}", s.guidance.scale);
        let _ = writeln!(text, "guidance = {}", s.guidance.kind);
        let _ = writeln!(text, "seed = {}", s.seed);
        let _ = writeln!(text, "batch = {}", s.batch);
        let _ = writeln!(text, "direction = {}", direction_name(s.direction));
        if let Some(t) = view.t {
            let _ = writeln!(text, "t = {t}");
        }
        if !view.caption.is_empty() {
            let _ = writeln!(text, "caption = {}", view.caption);
        }
    }
    text
}

/// The view the window was left in, and its zoom.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// The view.
    pub view: View,
    /// egui's zoom factor (Ctrl + / Ctrl −).
    pub zoom: f32,
    /// The window's inner size in points, if known.
    pub window: Option<[f32; 2]>,
    /// The window's outer position on the desktop in points, if known.
    pub position: Option<[f32; 2]>,
    /// The light theme (for a projector in a lit room) rather than the dark one.
    pub light: bool,
}

/// A session file: `zoom = …` and `window = W x H`, then one `[stop]`.
#[must_use]
pub fn write_session(session: &Session) -> String {
    let mut text = format!("# The noisescope window as it was left.\nzoom = {}\n", session.zoom);
    if let Some([width, height]) = session.window {
        let _ = writeln!(text, "window = {width} x {height}");
    }
    if let Some([x, y]) = session.position {
        let _ = writeln!(text, "position = {x}, {y}");
    }
    let _ = writeln!(text, "theme = {}", if session.light { "light" } else { "dark" });
    text + &write(std::slice::from_ref(&session.view))
}

fn parse_position(value: &str) -> Option<[f32; 2]> {
    let (x, y) = value.split_once(',')?;
    let position: [f32; 2] = [x.trim().parse().ok()?, y.trim().parse().ok()?];
    position.iter().all(|p| p.is_finite()).then_some(position)
}

fn parse_window(value: &str) -> Option<[f32; 2]> {
    let (width, height) = value.split_once('x')?;
    let size: [f32; 2] = [width.trim().parse().ok()?, height.trim().parse().ok()?];
    size.iter().all(|s| (200.0..=20_000.0).contains(s)).then_some(size)
}

/// Reads a session file written by [`write_session`].
///
/// # Errors
/// As [`parse`], and a zoom outside 0.5 … 3.
pub fn parse_session(text: &str, source: &str) -> Result<Session, String> {
    let mut zoom = 1.0;
    let mut window = None;
    let mut position = None;
    let mut light = false;
    let mut rest = Vec::new();
    let mut in_stop = false;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        in_stop |= trimmed == "[stop]";
        match trimmed.split_once('=') {
            Some((key, value)) if !in_stop && key.trim() == "zoom" => {
                zoom = value
                    .trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|z| (0.5..=3.0).contains(z))
                    .ok_or_else(|| format!("{source} line {}: zoom must lie in 0.5 … 3", index + 1))?;
                // Keep the line count, so later errors still name the right line.
                rest.push("");
            }
            Some((key, value)) if !in_stop && key.trim() == "position" => {
                position = Some(
                    parse_position(value)
                        .ok_or_else(|| format!("{source} line {}: position must be X, Y in points", index + 1))?,
                );
                rest.push("");
            }
            Some((key, value)) if !in_stop && key.trim() == "theme" => {
                light = match value.trim() {
                    "light" => true,
                    "dark" => false,
                    other => {
                        return Err(format!(
                            "{source} line {}: theme must be light or dark, got '{other}'",
                            index + 1
                        ));
                    }
                };
                rest.push("");
            }
            Some((key, value)) if !in_stop && key.trim() == "window" => {
                window =
                    Some(parse_window(value).ok_or_else(|| {
                        format!("{source} line {}: window must be WIDTH x HEIGHT in points", index + 1)
                    })?);
                rest.push("");
            }
            _ => rest.push(line),
        }
    }
    let view = parse(&rest.join("\n"), source)?.swap_remove(0);
    Ok(Session {
        view,
        zoom,
        window,
        position,
        light,
    })
}

/// A loaded lesson and where in it the class is.
#[derive(Clone, Debug, Default)]
pub struct Lesson {
    /// The stops.
    pub views: Vec<View>,
    /// The stop shown (`None`: not started).
    pub current: Option<usize>,
    /// The file it came from.
    pub source: String,
}

impl Lesson {
    /// Moves `by` stops (±1), staying inside the lesson; the view to show, if it moved.
    pub fn advance(&mut self, by: i64) -> Option<&View> {
        let last = self.views.len().checked_sub(1)?;
        let next = match self.current {
            None if by > 0 => 0,
            None => return None,
            Some(i) => usize::try_from(i64::try_from(i).ok()?.saturating_add(by).max(0))
                .ok()?
                .min(last),
        };
        if self.current == Some(next) {
            return None;
        }
        self.current = Some(next);
        self.views.get(next)
    }

    /// "stop 3 of 8: title".
    #[must_use]
    pub fn position_text(&self) -> String {
        match self.current.and_then(|i| self.views.get(i).map(|v| (i, v))) {
            Some((i, view)) => format!("stop {} of {}: {}", i + 1, self.views.len(), view.title),
            None => format!("{} stops, not started (PageDown)", self.views.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_lesson_visits_every_scene_and_the_second_one_parses() {
        let views = parse(crate::assets::DEFAULT_LESSON.text, crate::assets::DEFAULT_LESSON.path).unwrap();
        for id in crate::scenes::SceneId::ALL {
            assert!(
                views.iter().any(|v| v.scene.id() == *id),
                "the default lesson never shows {}",
                id.id()
            );
        }
        for shipped in crate::assets::SHIPPED_LESSONS {
            let lesson = shipped.lesson;
            assert!(!parse(lesson.text, lesson.path).unwrap().is_empty(), "{}", shipped.name);
        }
    }

    #[test]
    fn the_default_lesson_parses_and_round_trips() {
        let views = parse(crate::assets::DEFAULT_LESSON.text, crate::assets::DEFAULT_LESSON.path).unwrap();
        assert!(views.len() >= 8, "{} stops", views.len());
        assert_eq!(parse(&write(&views), "written").unwrap(), views);
    }

    #[test]
    fn a_mistake_names_its_line() {
        let text = "# lesson\n[stop]\nscene = images\nsampler = ddim\n\n[stop]\nsteps = fifty\n";
        assert_eq!(
            parse(text, "my.lesson").unwrap_err(),
            "my.lesson line 7: steps must be a number, got 'fifty'"
        );
        assert!(
            parse("scene = images", "x")
                .unwrap_err()
                .starts_with("x line 1: a setting before")
        );
        assert!(
            parse("[stop]\nscene = theory:nope", "x")
                .unwrap_err()
                .contains("line 2")
        );
        assert!(parse("# empty\n", "x").unwrap_err().contains("no [stop]"));
    }

    #[test]
    fn scenes_load_by_stable_id_and_by_their_old_labels() {
        for id in SceneId::ALL {
            assert_eq!(parse_scene(id.id()).unwrap().id(), *id);
            let old = format!("theory:{}", id.title());
            assert_eq!(parse_scene(&old).unwrap().id(), *id);
        }
        assert_eq!(
            parse_scene("theory:DDPM vs DDIM").unwrap(),
            Scene::Theory(super::super::theory::Topic::Eta)
        );
        assert!(parse_scene("ddim").unwrap_err().contains("no scene is called 'ddim'"));
    }

    #[test]
    fn a_session_round_trips_and_a_broken_one_is_refused() {
        let view = View {
            scene: Scene::Theory(super::super::theory::Topic::Langevin),
            t: Some(120),
            ..View::default()
        };
        let text = write_session(&Session {
            view: view.clone(),
            zoom: 1.25,
            window: Some([1600.0, 900.0]),
            position: Some([40.0, 30.0]),
            light: true,
        });
        let session = parse_session(&text, "session").unwrap();
        assert_eq!(session.zoom, 1.25);
        assert_eq!(session.window, Some([1600.0, 900.0]));
        assert_eq!(session.position, Some([40.0, 30.0]));
        assert!(session.light);
        assert!(
            parse_session("theme = grey\n[stop]\n", "s")
                .unwrap_err()
                .contains("line 1: theme")
        );
        assert_eq!(session.view.scene, view.scene);
        assert_eq!(session.view.t, Some(120));
        assert!(parse_session("zoom = 9\n[stop]\n", "s").unwrap_err().contains("line 1"));
        assert!(
            parse_session("zoom = 1\n[stop]\ncolour = red\n", "s")
                .unwrap_err()
                .contains("line 3")
        );
    }

    #[test]
    fn stepping_stays_inside_the_lesson() {
        let mut lesson = Lesson {
            views: vec![View::default(); 2],
            ..Lesson::default()
        };
        assert!(lesson.advance(-1).is_none());
        assert!(lesson.advance(1).is_some());
        assert_eq!(lesson.current, Some(0));
        assert!(lesson.advance(1).is_some());
        assert!(lesson.advance(1).is_none());
        assert_eq!(lesson.current, Some(1));
        assert!(lesson.advance(-1).is_some());
        assert_eq!(lesson.current, Some(0));
    }
}
