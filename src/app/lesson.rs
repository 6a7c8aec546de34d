//! Lessons and sessions: views of the explorer in a small text file.
//!
//! A view is a scene, its run settings, the t on screen and a caption. A lesson
//! is an ordered list of views, stepped with PageDown / PageUp; a session is
//! the one view the window was left in. Both are TOML, read and written through
//! serde in [`super::lesson_file`]: one `[[stop]]` table per view, keys left
//! out keep their defaults. Scenes are named by their stable id in
//! [`crate::scenes`] (`2d-mixture`, `ddim-inversion`, …); `model` is `unet`, `flow-unet` or
//! `empirical` for the image batch, and a mixture JSON path or `three-blobs`
//! for the 2D scene. A mistake is reported with its line number and key, and
//! the file is not used.
//!
//! The format before TOML (`[stop]` sections of `key = value` lines, values
//! unquoted) still loads, through [`parse_legacy`];
//! `noisescope lesson convert OLD NEW` rewrites such a file as TOML.

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
    /// The model: `unet`, `flow-unet` or `empirical` for the image batch, a mixture JSON
    /// path or `three-blobs` for the 2D scene (`None`: keep the current one).
    pub model: Option<String>,
    /// The run settings.
    pub settings: Settings,
    /// The t to show once the run is there (`None`: follow the run).
    pub t: Option<usize>,
    /// What to say about it.
    pub caption: String,
}

impl View {
    /// Checks the view's values against the window's limits (the ones its
    /// controls can set), so a file cannot start a run the window could not.
    ///
    /// # Errors
    /// The first value out of range, in one line.
    pub fn check(&self) -> Result<(), String> {
        self.settings.check()?;
        match self.t {
            Some(t) if t > self.settings.schedule.train_steps => Err(format!(
                "t = {t} is outside 0 … train-steps ({})",
                self.settings.schedule.train_steps
            )),
            _ => Ok(()),
        }
    }
}

/// A scene's name in files: its stable id in the registry.
#[must_use]
pub fn scene_name(scene: Scene) -> String {
    scene.id().id().to_owned()
}

/// A scene named by its stable id (`ddim-inversion`), or as lessons before
/// the registry named theory scenes: `theory:` and the scene's title.
pub(super) fn parse_scene(value: &str) -> Result<Scene, String> {
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

/// A direction by its name in files.
///
/// # Errors
/// A name other than reverse, forward or forward-markov.
pub(super) fn parse_direction(value: &str) -> Result<Direction, String> {
    match value {
        "reverse" => Ok(Direction::Reverse),
        "forward" => Ok(Direction::Forward(ForwardMode::ClosedForm)),
        "forward-markov" => Ok(Direction::Forward(ForwardMode::MarkovChain)),
        other => Err(format!(
            "unknown direction '{other}' (reverse, forward or forward-markov)"
        )),
    }
}

/// A direction's name in files.
pub(super) fn direction_name(direction: Direction) -> &'static str {
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
        "guidance-interval" => s.guidance.interval = value.parse()?,
        "seed" => s.seed = parse_number(key, value)?,
        "batch" => s.batch = parse_number(key, value)?,
        "direction" => s.direction = parse_direction(value)?,
        other => return Err(format!("unknown key '{other}'")),
    }
    Ok(())
}

/// Whether `text` is in the format before TOML: it has a bare `[stop]` line.
fn is_legacy(text: &str) -> bool {
    text.lines().any(|line| line.trim() == "[stop]")
}

/// Reads a lesson, TOML or the older format; `source` names the file in errors.
///
/// # Errors
/// "SOURCE line N: problem" for the first mistake, or a file without stops.
pub fn parse(text: &str, source: &str) -> Result<Vec<View>, String> {
    let views = if is_legacy(text) {
        parse_legacy(text, source)
    } else {
        super::lesson_file::parse(text, source)
    }?;
    for (index, view) in views.iter().enumerate() {
        view.check().map_err(|e| format!("{source} stop {}: {e}", index + 1))?;
    }
    Ok(views)
}

pub use super::lesson_file::{write, write_session};

/// Reads every `[stop]` of a lesson in the format before TOML.
///
/// # Errors
/// "SOURCE line N: problem" for the first bad line, or a file without stops.
pub fn parse_legacy(text: &str, source: &str) -> Result<Vec<View>, String> {
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

/// Reads a session file, TOML or the older format.
///
/// # Errors
/// As [`parse`], and a zoom outside 0.5 … 3.
pub fn parse_session(text: &str, source: &str) -> Result<Session, String> {
    let session = if is_legacy(text) {
        parse_session_legacy(text, source)
    } else {
        super::lesson_file::parse_session(text, source)
    }?;
    session.view.check().map_err(|e| format!("{source}: {e}"))?;
    Ok(session)
}

/// Reads a session file in the format before TOML.
///
/// # Errors
/// As [`parse_legacy`], and a zoom outside 0.5 … 3.
fn parse_session_legacy(text: &str, source: &str) -> Result<Session, String> {
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
    let view = parse_legacy(&rest.join("\n"), source)?.swap_remove(0);
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
        assert_eq!(parse(&write(&views).unwrap(), "written").unwrap(), views);
    }

    #[test]
    fn a_guidance_interval_round_trips_and_a_bad_one_names_its_line() {
        let views = parse("[[stop]]\nclass = 1\ngamma = 3\nguidance-interval = \"0,3\"\n", "x").unwrap();
        let interval = views[0].settings.guidance.interval;
        assert_eq!((interval.low, interval.high), (0.0, 3.0));
        assert_eq!(parse(&write(&views).unwrap(), "written").unwrap(), views);
        let error = parse("[[stop]]\nguidance-interval = \"3,1\"\n", "x").unwrap_err();
        assert!(error.starts_with("x line 2: ") && error.contains("LOW,HIGH"), "{error}");
    }

    #[test]
    fn a_mistake_names_its_line_and_key() {
        let text = "# lesson\n[[stop]]\nscene = \"images\"\nsampler = \"ddim\"\n\n[[stop]]\nsteps = \"fifty\"\n";
        let error = parse(text, "my.lesson").unwrap_err();
        assert!(error.starts_with("my.lesson line 7: steps: "), "{error}");
        let error = parse("[[stop]]\nsampler = \"ddim2\"\n", "x").unwrap_err();
        assert!(
            error.starts_with("x line 2: sampler: ") && error.contains("ddim2"),
            "{error}"
        );
        let error = parse("[[stop]]\nscene = \"images\"\ncolour = \"red\"\n", "x").unwrap_err();
        assert!(error.starts_with("x line 3: ") && error.contains("colour"), "{error}");
        let error = parse("[[stop]]\nscene = \"theory:nope\"\n", "x").unwrap_err();
        assert!(error.starts_with("x line 2: scene: "), "{error}");
        assert!(parse("# empty\n", "x").unwrap_err().contains("no [[stop]]"));
        assert_eq!(
            parse("[[stop]]\nclass = \"none\"\n[[stop]]\nclass = 3\n", "x")
                .unwrap()
                .iter()
                .map(|v| v.settings.class)
                .collect::<Vec<_>>(),
            [None, Some(3)]
        );
    }

    #[test]
    fn values_past_the_windows_limits_are_refused_when_the_file_loads() {
        let error = parse(
            "[[stop]]\nscene = \"2d-mixture\"\n[[stop]]\nbatch = 100000000000\n",
            "big.lesson",
        );
        assert_eq!(
            error.unwrap_err(),
            "big.lesson stop 2: batch = 100000000000 is outside 1 … 8000"
        );
        let error = parse("[stop]\ntrain-steps = 100000000\n", "old.lesson").unwrap_err();
        assert!(
            error.starts_with("old.lesson stop 1: train-steps = 100000000"),
            "{error}"
        );
        let error = parse("[[stop]]\nt = 5000\n", "x").unwrap_err();
        assert_eq!(error, "x stop 1: t = 5000 is outside 0 … train-steps (1000)");
        let error = parse_session("zoom = 1.0\n[[stop]]\neta = nan\n", "s.session").unwrap_err();
        assert!(error.starts_with("s.session: eta = NaN"), "{error}");
    }

    #[test]
    fn a_lesson_in_the_old_format_still_loads_and_converts() {
        let old = "# lesson\n[stop]\ntitle = Old\nscene = images\nsampler = ddpm\nt = 250\ncaption = x = y\n";
        let views = parse(old, "old.lesson").unwrap();
        assert_eq!((views[0].title.as_str(), views[0].t), ("Old", Some(250)));
        assert_eq!(
            views[0].settings.sampler.kind,
            crate::diffusion::sampler::SamplerKind::Ddpm
        );
        let converted = write(&views).unwrap();
        assert!(converted.contains("[[stop]]") && !is_legacy(&converted), "{converted}");
        assert_eq!(parse(&converted, "new.toml").unwrap(), views);
        // The old format's own mistakes still name their line.
        assert_eq!(
            parse("[stop]\nscene = images\nsteps = fifty\n", "my.lesson").unwrap_err(),
            "my.lesson line 3: steps must be a number, got 'fifty'"
        );
        assert!(
            parse_legacy("scene = images", "x")
                .unwrap_err()
                .starts_with("x line 1: a setting before")
        );
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
        })
        .unwrap();
        let session = parse_session(&text, "session").unwrap();
        assert_eq!(session.zoom, 1.25);
        assert_eq!(session.window, Some([1600.0, 900.0]));
        assert_eq!(session.position, Some([40.0, 30.0]));
        assert!(session.light);
        assert_eq!(session.view.scene, view.scene);
        assert_eq!(session.view.t, Some(120));
        let refused = |text: &str| parse_session(text, "s").unwrap_err();
        assert!(refused("zoom = 1\ntheme = \"grey\"\n[[stop]]\n").contains("line 2"));
        assert!(refused("zoom = 9.0\n[[stop]]\n").starts_with("s line 1: zoom"));
        assert!(refused("zoom = 1.0\nwindow = [10.0, 10.0]\n[[stop]]\n").starts_with("s line 2: window"));
        assert!(refused("zoom = 1.0\n[[stop]]\ncolour = \"red\"\n").contains("line 3"));
        assert!(refused("zoom = 1.0\n").contains("stop"));
        // A session in the old format still loads.
        let old = parse_session("zoom = 1.5\ntheme = light\n[stop]\nscene = images\n", "s").unwrap();
        assert!(old.light && (old.zoom - 1.5).abs() < 1e-6);
        assert!(
            parse_session("theme = grey\n[stop]\n", "s")
                .unwrap_err()
                .contains("line 1: theme")
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
