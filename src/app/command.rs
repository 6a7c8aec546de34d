//! "Copy as command": the `noisescope sample …` line that redraws the current
//! run from the command line (the same seed and settings give the same
//! numbers, bit for bit), so a figure from class can be rebuilt for slides.

use crate::diffusion::guidance::SigmaInterval;
use crate::diffusion::sampler::{DdpmVariance, LangevinConfig, SamplerKind};
use crate::worker::{Direction, RunSettings};

/// What the run samples from, as the command line names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandModel {
    /// A mixture JSON file (`gmm:PATH`).
    Mixture(String),
    /// A trained network (`net:PATH`).
    Network(String),
}

/// The command for `settings`, or why there is none.
///
/// # Errors
/// Runs the command line cannot redo: the forward process and DDPM's learned variance.
pub fn sample_command(settings: &RunSettings, model: &CommandModel) -> Result<String, String> {
    if matches!(settings.direction, Direction::Forward(_)) {
        return Err("the forward process has no sample command".into());
    }
    let sampler = &settings.sampler;
    let mut args = vec!["noisescope".to_owned(), "sample".to_owned()];
    let mut push = |flag: &str, value: String| {
        args.push(format!("--{flag}"));
        args.push(value);
    };
    let (model_arg, images) = match model {
        CommandModel::Mixture(path) => (shell_word(&format!("gmm:{path}")), false),
        CommandModel::Network(path) => (shell_word(&format!("net:{path}")), true),
    };
    push("model", model_arg);
    push("sampler", sampler.kind.name().to_owned());
    push("steps", sampler.steps.to_string());
    push("spacing", sampler.spacing.name().to_owned());
    if sampler.eta != 0.0 {
        push("eta", sampler.eta.to_string());
    }
    match sampler.ddpm_variance {
        DdpmVariance::Small => {}
        DdpmVariance::Large => push("ddpm-variance", "large".into()),
        DdpmVariance::Learned => return Err("DDPM's learned variance has no command-line flag".into()),
    }
    push("n", settings.batch.to_string());
    push("seed", settings.seed.to_string());
    if let Some(class) = settings.class {
        push("class", class.to_string());
        push("guidance", settings.guidance.scale.to_string());
        push("guidance-kind", settings.guidance.kind.name().to_owned());
        if settings.guidance.interval != SigmaInterval::default() {
            push("guidance-interval", settings.guidance.interval.to_string());
        }
    }
    if matches!(sampler.kind, SamplerKind::Langevin | SamplerKind::AnnealedLangevin) {
        let defaults = LangevinConfig::default();
        let langevin = sampler.langevin;
        if langevin != defaults {
            push("langevin-steps-per-level", langevin.steps_per_level.to_string());
            push("langevin-step-size", langevin.step_size.to_string());
            push("annealed-step-scale", langevin.annealed_step_scale.to_string());
        }
    }
    if !images {
        // A network samples on its own schedule; a mixture on the one chosen.
        let schedule = &settings.schedule;
        push("schedule", schedule.kind.name().to_owned());
        push("train-steps", schedule.train_steps.to_string());
        if let Some(start) = schedule.beta_start {
            push("beta-start", start.to_string());
        }
        if let Some(end) = schedule.beta_end {
            push("beta-end", end.to_string());
        }
    }
    if settings.schedule.zero_terminal_snr && !images {
        args.push("--zero-terminal-snr".into());
    }
    if images {
        args.push("--clip-sample".into());
        args.extend(["--grid".into(), "samples.png".into()]);
    } else {
        args.extend(["--out".into(), "samples.csv".into()]);
    }
    Ok(args.join(" "))
}

/// `word` as one shell word: quoted when it holds anything but plain path characters.
fn shell_word(word: &str) -> String {
    let plain = word.chars().all(|c| c.is_ascii_alphanumeric() || "/._:-+".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_run_is_one_plain_command() {
        let line = sample_command(
            &RunSettings::default(),
            &CommandModel::Mixture("assets/mixtures/three-blobs.json".into()),
        );
        assert_eq!(
            line.as_deref(),
            Ok(
                "noisescope sample --model gmm:assets/mixtures/three-blobs.json --sampler ddim --steps 50 \
                --spacing leading --n 2000 --seed 42 --schedule linear --train-steps 1000 --out samples.csv"
            )
        );
    }

    #[test]
    fn odd_paths_are_quoted_and_forward_runs_refused() {
        assert_eq!(shell_word("gmm:my blobs's.json"), "'gmm:my blobs'\\''s.json'");
        let forward = RunSettings {
            direction: Direction::Forward(crate::diffusion::forward::ForwardMode::ClosedForm),
            ..RunSettings::default()
        };
        assert!(sample_command(&forward, &CommandModel::Mixture("m.json".into())).is_err());
    }
}
