//! `noisescope figure`: any scene's figure rebuilt without a window, written
//! as CSV (one file per series), PNG and text.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::figures::{self, Inputs};
use crate::jobs::JobContext;
use crate::scenes::SceneId;

/// Which figure, with which setup, to where.
#[derive(Debug, Args)]
pub struct FigureArgs {
    /// The scene's stable id (`figure --list` prints them).
    #[arg(value_name = "ID", required_unless_present = "list")]
    pub id: Option<String>,
    /// Print every figure's id, title and settings, and exit.
    #[arg(long)]
    pub list: bool,
    /// The figure's seed (the same as `--set seed=N`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// One of the figure's settings, KEY=VALUE (repeatable; `--list` names them).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    pub settings: Vec<(String, String)>,
    /// The folder to write into (created if missing).
    #[arg(long, value_name = "DIR", required_unless_present = "list")]
    pub out: Option<PathBuf>,
}

fn parse_setting(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.trim().to_owned(), value.trim().to_owned())),
        _ => Err(format!("'{text}' is not KEY=VALUE")),
    }
}

/// Runs `figure`.
///
/// # Errors
/// An unknown id, key or value; a folder that cannot be written; the figure's failure.
pub fn figure(args: &FigureArgs, out: &mut dyn std::io::Write) -> Result<()> {
    if args.list {
        return list(out);
    }
    let (Some(id), Some(dir)) = (&args.id, &args.out) else {
        bail!("give a figure ID and --out DIR (or --list)");
    };
    let scene = SceneId::from_id(id)?;
    let mut settings = args.settings.clone();
    if let Some(seed) = args.seed {
        settings.insert(0, ("seed".into(), seed.to_string()));
    }
    let inputs = Inputs::shipped()?;
    let job = JobContext::foreground(true);
    let figure = figures::figure(scene, &settings, &inputs, &job)?;
    let mut setup = figures::setup_keys(scene);
    for key in &mut setup {
        if let Some((_, value)) = settings.iter().rev().find(|(k, _)| k == key.key) {
            key.value.clone_from(value);
        }
    }
    let about = figures::write::Described {
        id: scene.id(),
        title: scene.title(),
        setup: &setup,
    };
    let written = figures::write::write_figure(dir, about, &figure)?;
    for path in written {
        writeln!(out, "{}", path.display()).context("cannot write to standard output")?;
    }
    Ok(())
}

/// Every figure: its id, its title, and its settings with their defaults.
fn list(out: &mut dyn std::io::Write) -> Result<()> {
    for scene in SceneId::ALL {
        writeln!(out, "{:<24} {}", scene.id(), scene.title())?;
        for key in figures::setup_keys(*scene) {
            writeln!(out, "{:<24}   --set {}={}  ({})", "", key.key, key.value, key.help)?;
        }
    }
    Ok(())
}
