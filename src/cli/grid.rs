//! `grid`: the comparison grid without a window, as one PNG and a CSV of the
//! cells' distances to their T-step references ([`crate::figures::grid`]).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::limits;
use super::sample::CliModel;
use crate::diffusion::sampler::{SamplerConfig, SamplerKind};
use crate::diffusion::{ScheduleConfig, ScheduleKind};
use crate::figures::grid::{Axis, CellSettings, GridModel, GridSpec, distances_csv, grid_png, run_grid};
use crate::jobs::JobContext;

/// Options of `grid`.
#[derive(Debug, Args)]
pub struct GridArgs {
    /// The rows: KIND=V1,V2,… with KIND one of sampler, steps, eta, guidance, schedule, spacing.
    #[arg(long)]
    pub rows: String,
    /// The columns, as --rows (a different KIND).
    #[arg(long)]
    pub cols: String,
    /// gmm:PATH (exact mixture) or net:PATH (trained network).
    #[arg(long)]
    pub model: String,
    /// Where to write the grid's PNG.
    #[arg(long)]
    pub out: PathBuf,
    /// Where to write the distances (default: --out with .csv).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Samples per cell (the first four images are drawn).
    #[arg(long, default_value_t = 8)]
    pub n: usize,
    /// Draws x_T and the noise, the same for every cell.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The sampler where no axis sets it.
    #[arg(long, default_value = "ddim")]
    pub sampler: SamplerKind,
    /// The steps where no axis sets them.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// η where no axis sets it.
    #[arg(long, default_value_t = 0.0)]
    pub eta: f64,
    /// The class conditioned on (needed for guidance).
    #[arg(long)]
    pub class: Option<u32>,
    /// γ where no axis sets it.
    #[arg(long, default_value_t = 1.0)]
    pub guidance: f64,
    /// The schedule where no axis sets it (a network uses its own).
    #[arg(long, default_value = "linear")]
    pub schedule: ScheduleKind,
}

/// Runs `grid`: progress on standard error, then the PNG and the CSV.
pub fn grid(args: &GridArgs, out: &mut dyn std::io::Write) -> Result<()> {
    let rows: Axis = args.rows.parse().context("--rows")?;
    let cols: Axis = args.cols.parse().context("--cols")?;
    let csv = args.csv.clone().unwrap_or_else(|| args.out.with_extension("csv"));
    for (flag, path) in [("--out", &args.out), ("--csv", &csv)] {
        limits::check_writable(flag, path)?;
    }
    let model = CliModel::load(&args.model)?;
    limits::check_memory(
        "--n",
        args.n,
        limits::bytes_per_sample(model.dims(), matches!(model, CliModel::Network(_))),
    )?;
    let spec = GridSpec {
        rows,
        cols,
        base: CellSettings {
            sampler: SamplerConfig {
                kind: args.sampler,
                steps: args.steps,
                spacing: args.sampler.default_spacing(),
                eta: args.eta,
                ..SamplerConfig::default()
            },
            schedule: ScheduleConfig::of_kind(args.schedule),
            guidance: args.guidance,
        },
        samples: args.n,
        seed: args.seed,
        class: args.class,
    };
    let grid_model = GridModel {
        denoiser: model.denoiser(),
        classifier: model.classifier(),
        dims: model.dims(),
        own_schedule: model.own_schedule(),
    };
    let job = JobContext::foreground(true);
    let cells = run_grid(&spec, &grid_model, &job, |cell| {
        eprintln!(
            "cell ({}, {}): distance {:.4} to the {}-step reference",
            cell.row, cell.col, cell.distance, cell.reference_steps
        );
    })?;
    let model_name = std::path::Path::new(&args.model)
        .file_name()
        .map_or(args.model.as_str(), |n| n.to_str().unwrap_or(""));
    let title = format!(
        "{} × {} · {model_name} · {} samples, seed {}",
        args.rows, args.cols, args.n, args.seed
    );
    let image = grid_png(&title, &spec, &cells, grid_model.dims);
    crate::export::write_png(&args.out, &image).map_err(anyhow::Error::msg)?;
    crate::export::write_atomically(&csv, distances_csv(&spec, &cells).as_bytes())
        .with_context(|| format!("cannot write {}", csv.display()))?;
    writeln!(
        out,
        "wrote {} and {} ({} cells)",
        args.out.display(),
        csv.display(),
        cells.len()
    )?;
    Ok(())
}
