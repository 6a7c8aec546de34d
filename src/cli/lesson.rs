//! `noisescope lesson convert OLD NEW`: a lesson in the format before TOML
//! (`[stop]` sections of unquoted `key = value` lines) rewritten as TOML.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

/// What to do with lesson files.
#[derive(Debug, Args)]
pub struct LessonArgs {
    /// The action.
    #[command(subcommand)]
    pub action: LessonAction,
}

/// The lesson actions.
#[derive(Debug, Subcommand)]
pub enum LessonAction {
    /// Rewrite a lesson (old format or TOML) as TOML, every stop's settings spelled out.
    Convert {
        /// The lesson to read.
        old: PathBuf,
        /// Where to write it (written to a temporary file, then renamed).
        new: PathBuf,
    },
}

/// Runs a lesson action.
///
/// # Errors
/// An unreadable or broken lesson (one line with its line number), an unwritable target.
pub fn lesson(args: &LessonArgs, stdout: &mut dyn std::io::Write) -> Result<()> {
    match &args.action {
        LessonAction::Convert { old, new } => {
            let source = old.display().to_string();
            let text = std::fs::read_to_string(old).with_context(|| format!("cannot read {source}"))?;
            let views = crate::app::lesson::parse(&text, &source).map_err(anyhow::Error::msg)?;
            let converted = crate::app::lesson::write(&views).map_err(anyhow::Error::msg)?;
            crate::export::write_atomically(new, converted.as_bytes())
                .with_context(|| format!("cannot write {}", new.display()))?;
            writeln!(stdout, "{}: {} stops, as TOML", new.display(), views.len())?;
            Ok(())
        }
    }
}
