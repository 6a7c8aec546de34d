//! The comparison grid: one x_T and one noise stream through a grid of
//! sampler settings, AUTOMATIC1111's X/Y plot for diffusion's own knobs.
//!
//! Rows and columns are any two of sampler, steps, η, γ, schedule and spacing.
//! Every cell starts from the same x_T, drawn from the same seed, and its
//! stochastic samplers draw from the same stream; beside its result is its
//! distance to a reference: the same settings at T steps (1000 on the default
//! schedule), from the same x_T. The distance is the root mean square over
//! samples and dimensions of x − x_ref.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use candle_core::{Device, Tensor};

use super::Inputs;
use super::common::{VIEW_MAX, VIEW_MIN};
use super::data::{Figure, Raster};
use super::error::{FigureError, Result};
use crate::diffusion::denoiser::NoisyClassifier;
use crate::diffusion::guidance::{GuidanceConfig, GuidanceKind, Guided};
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler, run_sampler};
use crate::diffusion::{Denoiser, NoiseRng, Schedule, ScheduleConfig, ScheduleKind, TimestepSpacing};
use crate::jobs::JobContext;

/// What an axis varies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AxisKind {
    /// The sampler.
    #[default]
    Sampler,
    /// N, the sampling steps.
    Steps,
    /// DDIM's η.
    Eta,
    /// The guidance scale γ.
    Guidance,
    /// The noise schedule.
    Schedule,
    /// The timestep spacing.
    Spacing,
}

named_enum!(AxisKind, "grid axis", [Sampler => "sampler", Steps => "steps", Eta => "eta", Guidance => "guidance", Schedule => "schedule", Spacing => "spacing"]);

/// One value along an axis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AxisValue {
    /// A sampler.
    Sampler(SamplerKind),
    /// A step count.
    Steps(usize),
    /// An η.
    Eta(f64),
    /// A γ.
    Guidance(f64),
    /// A schedule.
    Schedule(ScheduleKind),
    /// A spacing.
    Spacing(TimestepSpacing),
}

impl std::fmt::Display for AxisValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sampler(kind) => write!(f, "{kind}"),
            Self::Steps(n) => write!(f, "{n} steps"),
            Self::Eta(eta) => write!(f, "η {eta}"),
            Self::Guidance(gamma) => write!(f, "γ {gamma}"),
            Self::Schedule(kind) => write!(f, "{kind}"),
            Self::Spacing(spacing) => write!(f, "{spacing}"),
        }
    }
}

impl AxisValue {
    /// The value alone, as the command line spells it ("10", "ddim").
    #[must_use]
    pub fn value_text(&self) -> String {
        match self {
            Self::Sampler(kind) => kind.to_string(),
            Self::Steps(n) => n.to_string(),
            Self::Eta(v) | Self::Guidance(v) => v.to_string(),
            Self::Schedule(kind) => kind.to_string(),
            Self::Spacing(spacing) => spacing.to_string(),
        }
    }
}

/// An axis: what it varies and its values, from `KIND=V1,V2,…`.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// What it varies.
    pub kind: AxisKind,
    /// Its values, in order.
    pub values: Vec<AxisValue>,
}

impl FromStr for Axis {
    type Err = FigureError;

    /// `sampler=ddim,dpm-solver++`, `steps=5,10,20`, `eta=0,1`, `guidance=1,3`,
    /// `schedule=linear,cosine`, `spacing=leading,trailing`.
    fn from_str(text: &str) -> Result<Self> {
        let bad = |reason: String| FigureError::Other(format!("axis '{text}': {reason}"));
        let (name, list) = text
            .split_once('=')
            .ok_or_else(|| bad(format!("expected KIND=V1,V2,… with KIND one of {}", kinds())))?;
        let kind: AxisKind = name
            .trim()
            .parse()
            .map_err(|_| bad(format!("unknown axis '{name}' (expected {})", kinds())))?;
        let values = list
            .split(',')
            .map(|v| parse_value(kind, v.trim()).map_err(|reason| bad(format!("'{}': {reason}", v.trim()))))
            .collect::<Result<Vec<_>>>()?;
        if values.is_empty() || list.trim().is_empty() {
            return Err(bad("needs at least one value".into()));
        }
        Ok(Self { kind, values })
    }
}

fn kinds() -> String {
    AxisKind::ALL
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_value(kind: AxisKind, value: &str) -> std::result::Result<AxisValue, String> {
    let number = |v: &str| v.parse::<f64>().map_err(|_| "not a number".to_owned());
    Ok(match kind {
        AxisKind::Sampler => AxisValue::Sampler(value.parse()?),
        AxisKind::Steps => match value.parse::<usize>() {
            Ok(n) if n > 0 => AxisValue::Steps(n),
            _ => return Err("steps must be a whole number of at least 1".into()),
        },
        AxisKind::Eta => match number(value)? {
            eta if (0.0..=1.0).contains(&eta) => AxisValue::Eta(eta),
            _ => return Err("η must lie in [0, 1]".into()),
        },
        AxisKind::Guidance => match number(value)? {
            gamma if gamma >= 0.0 && gamma.is_finite() => AxisValue::Guidance(gamma),
            _ => return Err("γ must be finite and at least 0".into()),
        },
        AxisKind::Schedule => AxisValue::Schedule(value.parse()?),
        AxisKind::Spacing => AxisValue::Spacing(value.parse()?),
    })
}

/// One cell's settings: everything a run of the grid needs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CellSettings {
    /// The sampler.
    pub sampler: SamplerConfig,
    /// The schedule (a network samples on its own).
    pub schedule: ScheduleConfig,
    /// γ (1: no guidance).
    pub guidance: f64,
}

impl CellSettings {
    /// These settings with `value` applied; a new sampler brings its own spacing.
    #[must_use]
    pub fn with(mut self, value: AxisValue) -> Self {
        match value {
            AxisValue::Sampler(kind) => {
                self.sampler.kind = kind;
                self.sampler.spacing = kind.default_spacing();
            }
            AxisValue::Steps(n) => self.sampler.steps = n,
            AxisValue::Eta(eta) => self.sampler.eta = eta,
            AxisValue::Guidance(gamma) => self.guidance = gamma,
            AxisValue::Schedule(kind) => self.schedule = ScheduleConfig::of_kind(kind),
            AxisValue::Spacing(spacing) => self.sampler.spacing = spacing,
        }
        self
    }
}

/// The whole grid.
#[derive(Clone, Debug, PartialEq)]
pub struct GridSpec {
    /// The rows' axis.
    pub rows: Axis,
    /// The columns' axis (a different one).
    pub cols: Axis,
    /// The settings both axes vary.
    pub base: CellSettings,
    /// Samples per cell.
    pub samples: usize,
    /// Draws x_T and every cell's noise.
    pub seed: u64,
    /// The class conditioned on (needed for γ ≠ 1).
    pub class: Option<u32>,
}

/// The model a grid samples.
#[derive(Clone, Copy)]
pub struct GridModel<'a> {
    /// The denoiser.
    pub denoiser: &'a dyn Denoiser,
    /// Its noisy classifier, if it has one (the exact mixture does).
    pub classifier: Option<&'a dyn NoisyClassifier>,
    /// Values per sample.
    pub dims: usize,
    /// A network's own schedule; `None` for a model that takes any (the mixture).
    pub own_schedule: Option<ScheduleConfig>,
}

/// One finished cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Its row and column.
    pub row: usize,
    /// See `row`.
    pub col: usize,
    /// The samples, row by row.
    pub samples: Vec<f32>,
    /// The RMS distance to the T-step reference.
    pub distance: f64,
    /// The number of reference steps.
    pub reference_steps: usize,
}

impl GridSpec {
    /// The settings of cell (row, col).
    #[must_use]
    pub fn settings(&self, row: usize, col: usize) -> CellSettings {
        let mut settings = self.base;
        if let Some(&v) = self.rows.values.get(row) {
            settings = settings.with(v);
        }
        if let Some(&v) = self.cols.values.get(col) {
            settings = settings.with(v);
        }
        settings
    }

    /// Refuses a grid that cannot run, in one line.
    ///
    /// # Errors
    /// The same axis twice, no samples, γ without a class, a schedule axis
    /// for a network, or a step count beyond T.
    pub fn check(&self, model: &GridModel<'_>) -> Result<()> {
        let refuse = |text: String| Err(FigureError::Other(text));
        if self.rows.kind == self.cols.kind {
            return refuse(format!(
                "--rows and --cols both vary {}; choose two different axes",
                self.rows.kind
            ));
        }
        if self.samples == 0 {
            return refuse("--n must be at least 1".into());
        }
        let axes = [self.rows.kind, self.cols.kind];
        if (axes.contains(&AxisKind::Guidance) || self.base.guidance != 1.0) && self.class.is_none() {
            return refuse("guidance needs --class".into());
        }
        if axes.contains(&AxisKind::Schedule) && model.own_schedule.is_some() {
            return refuse("a network samples on its own schedule: the schedule axis needs a gmm: model".into());
        }
        for row in 0..self.rows.values.len() {
            for col in 0..self.cols.values.len() {
                let settings = self.settings(row, col);
                let train_steps = model.own_schedule.unwrap_or(settings.schedule).train_steps;
                if settings.sampler.steps > train_steps {
                    return refuse(format!(
                        "{} steps is more than the schedule's T = {train_steps}",
                        settings.sampler.steps
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Runs every cell, row by row, handing each to `on_cell` as it finishes.
///
/// # Errors
/// A grid [`GridSpec::check`] refuses; a sampler's failure; cancelled.
pub fn run_grid(
    spec: &GridSpec,
    model: &GridModel<'_>,
    job: &JobContext,
    mut on_cell: impl FnMut(&Cell),
) -> Result<Vec<Cell>> {
    spec.check(model)?;
    let shape = [spec.samples, model.dims];
    let x_start = NoiseRng::seed_from(spec.seed).randn(&shape[..], &Device::Cpu)?;
    let mut references: HashMap<String, (Tensor, usize)> = HashMap::new();
    let mut cells = Vec::new();
    let total = spec.rows.values.len() * spec.cols.values.len();
    for row in 0..spec.rows.values.len() {
        for col in 0..spec.cols.values.len() {
            let settings = spec.settings(row, col);
            job.report(format!(
                "cell {} of {total}: {}",
                cells.len() + 1,
                cell_label(spec, row, col)
            ));
            let result = sample(spec, model, settings, &x_start, job)?;
            let reference_settings = reference_of(settings, model);
            let key = format!("{reference_settings:?}");
            if !references.contains_key(&key) {
                job.report(format!(
                    "the {}-step reference of cell {}",
                    reference_settings.sampler.steps,
                    cells.len() + 1
                ));
                let reference = sample(spec, model, reference_settings, &x_start, job)?;
                references.insert(key.clone(), (reference, reference_settings.sampler.steps));
            }
            let (reference, reference_steps) = &references[&key];
            let cell = Cell {
                row,
                col,
                distance: rms_distance(&result, reference)?,
                samples: result.flatten_all()?.to_vec1::<f32>()?,
                reference_steps: *reference_steps,
            };
            on_cell(&cell);
            cells.push(cell);
        }
    }
    Ok(cells)
}

/// The same settings at T steps.
fn reference_of(settings: CellSettings, model: &GridModel<'_>) -> CellSettings {
    let train_steps = model.own_schedule.unwrap_or(settings.schedule).train_steps;
    CellSettings {
        sampler: SamplerConfig {
            steps: train_steps,
            ..settings.sampler
        },
        ..settings
    }
}

/// One cell's samples from `x_start`, its noise from the grid's seed.
fn sample(
    spec: &GridSpec,
    model: &GridModel<'_>,
    settings: CellSettings,
    x_start: &Tensor,
    job: &JobContext,
) -> Result<Tensor> {
    let schedule = Arc::new(Schedule::new(&model.own_schedule.unwrap_or(settings.schedule))?);
    let mut sampler = build_sampler(&settings.sampler, schedule)?;
    let guidance = GuidanceConfig {
        kind: GuidanceKind::ClassifierFree,
        scale: settings.guidance,
        ..GuidanceConfig::default()
    };
    let guided = Guided::new(model.denoiser, model.classifier, guidance)?;
    let labels = spec.class.map(|y| vec![y; spec.samples]);
    // x_T is shared; the noise stream after it is the same for every cell.
    let mut rng = NoiseRng::seed_from(spec.seed.wrapping_add(1));
    run_sampler(sampler.as_mut(), &guided, labels.as_deref(), x_start, &mut rng, |_| {
        job.keep_going()
    })?
    .ok_or(FigureError::Cancelled)
}

fn rms_distance(a: &Tensor, b: &Tensor) -> Result<f64> {
    let mean_square: f32 = (a - b)?.sqr()?.mean_all()?.to_scalar()?;
    Ok(f64::from(mean_square).sqrt())
}

/// "ddim · 10 steps".
#[must_use]
pub fn cell_label(spec: &GridSpec, row: usize, col: usize) -> String {
    let name = |axis: &Axis, i: usize| axis.values.get(i).map(ToString::to_string).unwrap_or_default();
    format!("{} · {}", name(&spec.rows, row), name(&spec.cols, col))
}

/// Images shown per cell (the first of the batch).
const IMAGES_PER_CELL: usize = 4;
/// A 2D cell's histogram side.
const HISTOGRAM_SIDE: usize = 64;

/// The grid as a PNG: column labels above, row labels at the left, each cell
/// captioned with its distance to the reference.
#[must_use]
pub fn grid_png(title: &str, spec: &GridSpec, cells: &[Cell], dims: usize) -> image::RgbaImage {
    let labels = |axis: &Axis| axis.values.iter().map(ToString::to_string).collect::<Vec<_>>();
    let rasters: Vec<Raster> = cells
        .iter()
        .map(|cell| Raster {
            name: format!("d = {:.4}", cell.distance),
            ..cell_raster(&cell.samples, dims)
        })
        .collect();
    super::render::render_grid(title, &labels(&spec.rows), &labels(&spec.cols), &rasters)
}

/// The scene's grid: its axes as text, the model, the samples per cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Setup {
    /// The rows, `KIND=V1,V2,…`.
    pub rows: String,
    /// The columns.
    pub cols: String,
    /// Samples per cell.
    pub samples: usize,
    /// Draws x_T.
    pub seed: u64,
}

impl Default for Setup {
    /// Three samplers × four step counts, 2000 points of the mixture.
    fn default() -> Self {
        Self {
            rows: "sampler=ddim,dpm-solver++,heun-ode".into(),
            cols: "steps=5,10,20,50".into(),
            samples: 2000,
            seed: 1,
        }
    }
}

figure_setup!(Setup, {
    rows => "rows": "the rows, KIND=V1,V2 (sampler, steps, eta, guidance, schedule, spacing)",
    cols => "cols": "the columns, as rows",
    samples => "samples": "samples per cell",
    seed => "seed": "draws x_T",
});

impl Setup {
    /// The grid on the exact mixture, unguided, DDIM at 20 steps where no axis says.
    ///
    /// # Errors
    /// An axis that does not parse.
    pub fn spec(&self) -> Result<GridSpec> {
        Ok(GridSpec {
            rows: self.rows.parse()?,
            cols: self.cols.parse()?,
            base: CellSettings {
                sampler: SamplerConfig {
                    steps: 20,
                    ..SamplerConfig::default()
                },
                schedule: ScheduleConfig::default(),
                guidance: 1.0,
            },
            samples: self.samples,
            seed: self.seed,
            class: None,
        })
    }
}

/// The default grid on the mixture, for `noisescope figure comparison-grid`.
///
/// # Errors
/// A bad axis; a sampler failure; cancelled.
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<(GridSpec, Vec<Cell>)> {
    let spec = setup.spec()?;
    let model = GridModel {
        denoiser: inputs.mixture.as_ref(),
        classifier: Some(inputs.mixture.as_ref()),
        dims: inputs.mixture.dims(),
        own_schedule: None,
    };
    let cells = run_grid(&spec, &model, job, |_| {})?;
    Ok((spec, cells))
}

/// The cells as rasters, the grid's columns to a row, each distance a number.
#[must_use]
pub fn figure(spec: &GridSpec, cells: &[Cell], dims: usize) -> Figure {
    let mut figure = Figure {
        images: cells
            .iter()
            .map(|cell| Raster {
                name: format!("d = {:.3}", cell.distance),
                ..cell_raster(&cell.samples, dims)
            })
            .collect(),
        image_columns: spec.cols.values.len(),
        ..Figure::default()
    };
    for cell in cells {
        figure.number(
            format!("{}: distance", cell_label(spec, cell.row, cell.col)),
            cell.distance,
            "",
        );
    }
    figure
}

/// A cell's picture: the first four images two by two, or a histogram of the points.
#[must_use]
pub fn cell_raster(samples: &[f32], dims: usize) -> Raster {
    let side = dims.isqrt();
    if side * side == dims && dims >= 16 {
        return image_tiles(samples, side);
    }
    let mut counts = vec![0_u32; HISTOGRAM_SIDE * HISTOGRAM_SIDE];
    for p in samples.chunks_exact(dims.max(1)).filter(|p| p.len() >= 2) {
        let at = |v: f32, lo: f64, hi: f64| ((f64::from(v) - lo) / (hi - lo) * HISTOGRAM_SIDE as f64).floor();
        let (x, y) = (at(p[0], VIEW_MIN[0], VIEW_MAX[0]), at(p[1], VIEW_MIN[1], VIEW_MAX[1]));
        if (0.0..HISTOGRAM_SIDE as f64).contains(&x) && (0.0..HISTOGRAM_SIDE as f64).contains(&y) {
            // Rows from the top: y grows upwards.
            let (col, row) = (x as usize, HISTOGRAM_SIDE - 1 - y as usize);
            counts[row * HISTOGRAM_SIDE + col] += 1;
        }
    }
    let most = counts.iter().copied().max().unwrap_or(1).max(1);
    Raster {
        name: String::new(),
        width: HISTOGRAM_SIDE,
        // √ of the count, so a sparse tail still shows.
        values: counts
            .iter()
            .map(|&c| -1.0 + 2.0 * (f64::from(c) / f64::from(most)).sqrt() as f32)
            .collect(),
    }
}

/// The first [`IMAGES_PER_CELL`] images, two by two.
fn image_tiles(samples: &[f32], side: usize) -> Raster {
    let dims = side * side;
    let per_row = 2;
    let width = per_row * side;
    let mut values = vec![-1.0_f32; width * width];
    for (i, image) in samples.chunks_exact(dims).take(IMAGES_PER_CELL).enumerate() {
        let (tile_x, tile_y) = ((i % per_row) * side, (i / per_row) * side);
        for (row, pixels) in image.chunks_exact(side).enumerate() {
            let start = (tile_y + row) * width + tile_x;
            values[start..start + side].copy_from_slice(pixels);
        }
    }
    Raster {
        name: String::new(),
        width,
        values,
    }
}

/// `row,col,row_value,col_value,distance,reference_steps`, one line per cell.
#[must_use]
pub fn distances_csv(spec: &GridSpec, cells: &[Cell]) -> String {
    let mut text = format!(
        "row,col,{},{},distance,reference_steps\n",
        spec.rows.kind, spec.cols.kind
    );
    let name = |axis: &Axis, i: usize| axis.values.get(i).map(AxisValue::value_text).unwrap_or_default();
    for cell in cells {
        text.push_str(&format!(
            "{},{},{},{},{},{}\n",
            cell.row,
            cell.col,
            name(&spec.rows, cell.row),
            name(&spec.cols, cell.col),
            cell.distance,
            cell.reference_steps
        ));
    }
    text
}
