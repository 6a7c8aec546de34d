//! Lesson and session files as TOML, read and written through serde (the
//! `toml` crate: a teacher writes lessons by hand, and TOML is the format
//! Rust users already write by hand; its errors carry the line).
//!
//! ```toml
//! # Comments start with #.
//! [[stop]]
//! title = "The forward process"
//! scene = "images"
//! t = 250
//! caption = "x_t = √ᾱ_t x0 + √(1−ᾱ_t) ε: the image drowns in noise."
//!
//! [[stop]]
//! scene = "2d-mixture"
//! sampler = "ddpm"
//! steps = 1000
//! ```
//!
//! Each key is declared once, as a field of [`StopFile`]; serde derives both
//! the reader and the writer from it. A session is the same `[[stop]]` after
//! `zoom`, `window`, `position` and `theme`.

use std::fmt::Display;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use toml::Spanned;

use super::controls::{Scene, Settings};
use super::lesson::{Session, View, direction_name, parse_direction, parse_scene, scene_name};
use crate::diffusion::guidance::{GuidanceKind, SigmaInterval};
use crate::diffusion::sampler::SamplerKind;
use crate::diffusion::{ScheduleKind, TimestepSpacing};
use crate::worker::Direction;

/// A field read with its type's `FromStr` and written with its `Display`.
mod text {
    use super::{Deserialize, Deserializer, Display, FromStr, Serializer};

    pub fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr,
        T::Err: Display,
    {
        Option::<String>::deserialize(deserializer)?
            .map(|s| s.parse().map_err(serde::de::Error::custom))
            .transpose()
    }

    #[allow(clippy::ref_option, reason = "serde's `with` hands the field by reference")]
    pub fn serialize<S: Serializer, T: Display>(value: &Option<T>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => serializer.serialize_str(&v.to_string()),
            None => serializer.serialize_none(),
        }
    }
}

/// A scene by its stable id, or the older `theory:` and title.
#[derive(Clone, Copy, Debug, PartialEq)]
struct SceneName(Scene);

impl FromStr for SceneName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_scene(s).map(Self)
    }
}

impl Display for SceneName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&scene_name(self.0))
    }
}

/// `reverse`, `forward` or `forward-markov`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct DirectionName(Direction);

impl FromStr for DirectionName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_direction(s).map(Self)
    }
}

impl Display for DirectionName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(direction_name(self.0))
    }
}

/// A class number, or `"none"` for unconditional sampling.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
enum ClassValue {
    /// Condition on this class.
    Number(u32),
    /// `"none"`.
    Word(NoClass),
}

#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum NoClass {
    None,
}

/// One `[[stop]]`: every key a view can set, each optional (left out, it keeps its default).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StopFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(default, with = "text", skip_serializing_if = "Option::is_none")]
    scene: Option<SceneName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    #[serde(default, with = "text", skip_serializing_if = "Option::is_none")]
    schedule: Option<ScheduleKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    train_steps: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    zero_terminal_snr: Option<bool>,
    #[serde(default, with = "text", skip_serializing_if = "Option::is_none")]
    sampler: Option<SamplerKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    steps: Option<usize>,
    #[serde(default, with = "text", skip_serializing_if = "Option::is_none")]
    spacing: Option<TimestepSpacing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    eta: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    class: Option<ClassValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gamma: Option<f64>,
    #[serde(default, with = "text", skip_serializing_if = "Option::is_none")]
    guidance: Option<GuidanceKind>,
    #[serde(default, with = "text", skip_serializing_if = "Option::is_none")]
    guidance_interval: Option<SigmaInterval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    batch: Option<usize>,
    #[serde(default, with = "text", skip_serializing_if = "Option::is_none")]
    direction: Option<DirectionName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    caption: Option<String>,
}

impl StopFile {
    /// The view: the keys given over the defaults.
    fn into_view(self) -> View {
        let mut settings = Settings::default();
        let s = &mut settings;
        set(&mut s.schedule.kind, self.schedule);
        set(&mut s.schedule.train_steps, self.train_steps);
        set(&mut s.schedule.zero_terminal_snr, self.zero_terminal_snr);
        set(&mut s.sampler.kind, self.sampler);
        set(&mut s.sampler.steps, self.steps);
        set(&mut s.sampler.spacing, self.spacing);
        set(&mut s.sampler.eta, self.eta);
        set(&mut s.guidance.scale, self.gamma);
        set(&mut s.guidance.kind, self.guidance);
        set(&mut s.guidance.interval, self.guidance_interval);
        set(&mut s.seed, self.seed);
        set(&mut s.batch, self.batch);
        set(&mut s.direction, self.direction.map(|d| d.0));
        if let Some(class) = self.class {
            s.class = match class {
                ClassValue::Number(c) => Some(c),
                ClassValue::Word(NoClass::None) => None,
            };
        }
        View {
            title: self.title.unwrap_or_default(),
            scene: self.scene.map(|s| s.0).unwrap_or_default(),
            model: self.model,
            settings,
            t: self.t,
            caption: self.caption.unwrap_or_default(),
        }
    }

    /// Every key of `view` (the settings in full, so the file says what it shows).
    fn from_view(view: &View) -> Self {
        let s = &view.settings;
        Self {
            title: (!view.title.is_empty()).then(|| view.title.clone()),
            scene: Some(SceneName(view.scene)),
            model: view.model.clone(),
            schedule: Some(s.schedule.kind),
            train_steps: Some(s.schedule.train_steps),
            zero_terminal_snr: Some(s.schedule.zero_terminal_snr),
            sampler: Some(s.sampler.kind),
            steps: Some(s.sampler.steps),
            spacing: Some(s.sampler.spacing),
            eta: Some(s.sampler.eta),
            class: Some(s.class.map_or(ClassValue::Word(NoClass::None), ClassValue::Number)),
            gamma: Some(s.guidance.scale),
            guidance: Some(s.guidance.kind),
            // Written only when set, so lessons that guide every level read as before.
            guidance_interval: (s.guidance.interval != SigmaInterval::default()).then_some(s.guidance.interval),
            seed: Some(s.seed),
            batch: Some(s.batch),
            direction: Some(DirectionName(s.direction)),
            t: view.t,
            caption: (!view.caption.is_empty()).then(|| view.caption.clone()),
        }
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct LessonFile {
    #[serde(default)]
    stop: Vec<StopFile>,
}

/// "SOURCE line N: key: problem" for a TOML error.
fn one_line(error: &toml::de::Error, text: &str, source: &str) -> String {
    let message = error.message().replace('\n', " ");
    let Some(span) = error.span() else {
        return format!("{source}: {message}");
    };
    let start = span.start.min(text.len());
    let line = text[..start].matches('\n').count() + 1;
    let key = text
        .lines()
        .nth(line - 1)
        .and_then(|l| l.split_once('='))
        .map(|(key, _)| key.trim())
        .filter(|key| !key.is_empty() && !key.starts_with('['));
    match key {
        Some(key) if !message.contains(&format!("`{key}`")) => format!("{source} line {line}: {key}: {message}"),
        _ => format!("{source} line {line}: {message}"),
    }
}

/// Reads every `[[stop]]` of a TOML lesson; `source` names the file in errors.
///
/// # Errors
/// "SOURCE line N: …" for the first mistake, or a file without stops.
pub fn parse(text: &str, source: &str) -> Result<Vec<View>, String> {
    let file: LessonFile = toml::from_str(text).map_err(|e| one_line(&e, text, source))?;
    if file.stop.is_empty() {
        return Err(format!("{source}: no [[stop]] in the file"));
    }
    Ok(file.stop.into_iter().map(StopFile::into_view).collect())
}

/// `views` as a TOML lesson that [`parse`] reads back.
///
/// # Errors
/// A value TOML cannot hold (none of the settings' types should produce one);
/// never an empty lesson written over a good one.
pub fn write(views: &[View]) -> Result<String, String> {
    let file = LessonFile {
        stop: views.iter().map(StopFile::from_view).collect(),
    };
    let body = toml::to_string(&file).map_err(|e| format!("the lesson cannot be written as TOML: {e}"))?;
    Ok(format!(
        "# A noisescope lesson: one [[stop]] per view, stepped with PageDown / PageUp.\n\n{body}"
    ))
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum Theme {
    #[default]
    Dark,
    Light,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct SessionFile {
    zoom: Spanned<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    window: Option<Spanned<[f32; 2]>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    position: Option<Spanned<[f32; 2]>>,
    #[serde(default)]
    theme: Theme,
    stop: Vec<StopFile>,
}

/// A session as TOML: the window's zoom, size, place and theme, then its one `[[stop]]`.
///
/// # Errors
/// As [`write`].
pub fn write_session(session: &Session) -> Result<String, String> {
    let file = SessionFile {
        zoom: Spanned::new(0..0, session.zoom),
        window: session.window.map(|w| Spanned::new(0..0, w)),
        position: session.position.map(|p| Spanned::new(0..0, p)),
        theme: if session.light { Theme::Light } else { Theme::Dark },
        stop: vec![StopFile::from_view(&session.view)],
    };
    let body = toml::to_string(&file).map_err(|e| format!("the session cannot be written as TOML: {e}"))?;
    Ok(format!("# The noisescope window as it was left.\n{body}"))
}

/// "SOURCE line N: problem" at a spanned value.
fn at<T>(value: &Spanned<T>, text: &str, source: &str, problem: &str) -> String {
    let line = text[..value.span().start.min(text.len())].matches('\n').count() + 1;
    format!("{source} line {line}: {problem}")
}

/// Reads a session written by [`write_session`].
///
/// # Errors
/// As [`parse`]; a zoom outside 0.5 … 3; a window outside 200 … 20 000
/// points; a position that is not finite; not exactly one stop.
pub fn parse_session(text: &str, source: &str) -> Result<Session, String> {
    let file: SessionFile = toml::from_str(text).map_err(|e| one_line(&e, text, source))?;
    if !(0.5..=3.0).contains(file.zoom.get_ref()) {
        return Err(at(&file.zoom, text, source, "zoom must lie in 0.5 … 3"));
    }
    if let Some(window) = &file.window
        && !window.get_ref().iter().all(|s| (200.0..=20_000.0).contains(s))
    {
        return Err(at(
            window,
            text,
            source,
            "window must be [WIDTH, HEIGHT] in points, 200 to 20000",
        ));
    }
    if let Some(position) = &file.position
        && !position.get_ref().iter().all(|p| p.is_finite())
    {
        return Err(at(position, text, source, "position must be [X, Y] in points"));
    }
    let mut stops = file.stop;
    if stops.len() != 1 {
        return Err(format!(
            "{source}: a session has one [[stop]], this one has {}",
            stops.len()
        ));
    }
    Ok(Session {
        view: stops.swap_remove(0).into_view(),
        zoom: *file.zoom.get_ref(),
        window: file.window.map(Spanned::into_inner),
        position: file.position.map(Spanned::into_inner),
        light: file.theme == Theme::Light,
    })
}
