//! The fuzzers' entry points: one function per parser of outside input.
//!
//! Each takes arbitrary bytes, feeds them to the parser the way the window or
//! the command line does, and then checks what a good parse promises (a lesson
//! that loads writes back to the same lesson). It returns normally for every
//! input; a panic, a hang or a huge allocation is a bug the fuzzer reports.
//!
//! `fuzz/` runs them under libFuzzer (`bash fuzz/run`), and `cargo test`
//! smokes each with 10⁴ generated inputs (`tests/fuzz_smoke.rs`). Both list
//! the targets from [`TARGETS`].

use std::collections::HashMap;
use std::path::Path;

use clap::Parser as _;

use crate::app::lesson;
use crate::app::loaded_image::LoadedImage;
use crate::cli::{Cli, Command};
use crate::data::idx::parse_idx;
use crate::diffusion::Schedule;
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::timesteps::inference_timesteps;
use crate::figures::grid::Axis;
use crate::model::TrainedModel;
use crate::model::config::ModelConfig;
use crate::model::params::parse_safetensors;

/// One fuzz target: its name (the `fuzz/` binary and corpus folder) and its entry point.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// The name: `fuzz/fuzz_targets/NAME.rs` and `fuzz/corpus/NAME/`.
    pub name: &'static str,
    /// Feeds one input to the parser.
    pub run: fn(&[u8]),
}

/// Every parser of outside input.
pub const TARGETS: &[Target] = &[
    Target { name: "idx", run: idx },
    Target {
        name: "safetensors",
        run: safetensors,
    },
    Target {
        name: "model_metadata",
        run: model_metadata,
    },
    Target {
        name: "mixture_json",
        run: mixture_json,
    },
    Target {
        name: "lesson",
        run: lesson_file,
    },
    Target {
        name: "session",
        run: session_file,
    },
    Target {
        name: "image",
        run: image,
    },
    Target {
        name: "command_line",
        run: command_line,
    },
];

/// The largest single allocation a target may make for one input: the image
/// decoder's own limit, well under the command line's 8 GiB budget.
pub const ALLOCATION_LIMIT_BYTES: usize = 256 << 20;

/// An IDX file (Fashion-MNIST's format); the first byte picks the expected rank.
pub fn idx(bytes: &[u8]) {
    let Some((rank, rest)) = bytes.split_first() else {
        return;
    };
    if let Ok((shape, data)) = parse_idx(rest, rank % 4) {
        let count = shape.iter().try_fold(1_usize, |n, &side| n.checked_mul(side));
        assert_eq!(
            count,
            Some(data.len()),
            "the parsed shape {shape:?} disagrees with its data"
        );
    }
}

/// A weights file: the safetensors header, its tensors, and our metadata in it
/// (the model config that builds the network).
pub fn safetensors(bytes: &[u8]) {
    let path = Path::new("fuzz.safetensors");
    if let Ok((tensors, metadata)) = parse_safetensors(bytes, path) {
        let _ = TrainedModel::from_parts(tensors, &metadata, path);
    }
}

/// Our metadata alone, as `key=value` lines: the model config a weights file carries.
pub fn model_metadata(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let metadata: HashMap<String, String> = text
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if let Ok(config) = ModelConfig::from_metadata(&metadata) {
        let again = ModelConfig::from_metadata(&config.to_metadata());
        assert_eq!(
            again.ok(),
            Some(config),
            "a config read from metadata does not write back to itself"
        );
    }
}

/// A mixture JSON file (`sample --model gmm:FILE`, the window's mixture path).
pub fn mixture_json(bytes: &[u8]) {
    let _ = GaussianMixture::from_json(&String::from_utf8_lossy(bytes), "fuzz.json");
}

/// What a file that loads promises: written back, it loads as the same value.
fn round_trips<T: PartialEq + std::fmt::Debug, E: std::fmt::Debug>(
    bytes: &[u8],
    parse: impl Fn(&str, &str) -> Result<T, E>,
    write: impl Fn(&T) -> Result<String, E>,
) {
    let text = String::from_utf8_lossy(bytes);
    if let Ok(value) = parse(&text, "fuzz") {
        let written = write(&value).unwrap_or_default();
        let again = parse(&written, "written");
        assert_eq!(
            again.as_ref().ok(),
            Some(&value),
            "a loaded file does not write back: {again:?}"
        );
    }
}

/// A lesson file, TOML or the older format; a lesson that loads must write
/// back to a file that loads as the same lesson.
pub fn lesson_file(bytes: &[u8]) {
    round_trips(bytes, lesson::parse, |views| lesson::write(views));
}

/// A session file; one that loads must write back to the same session.
pub fn session_file(bytes: &[u8]) {
    round_trips(bytes, lesson::parse_session, lesson::write_session);
}

/// An image opened in the window (PNG, JPEG and the image crate's other formats).
pub fn image(bytes: &[u8]) {
    if let Ok(image) = LoadedImage::decode("fuzz.png", bytes) {
        let pixels = image.width as usize * image.height as usize;
        assert_eq!(
            image.rgba.len(),
            pixels * 4,
            "the decoded pixels disagree with the size"
        );
    }
}

/// The command line's numbers: arguments split at whitespace. `schedule` and
/// `timesteps` also build what they ask for (cheap under their limits); any
/// other command is parsed only, since running it would train or sample.
/// `axis` parses a grid axis (`--rows` and `--cols`).
pub fn command_line(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let mut words: Vec<&str> = text.split_whitespace().collect();
    if words.first() == Some(&"axis") {
        let _ = words.get(1).map(|axis| axis.parse::<Axis>());
        return;
    }
    words.insert(0, "noisescope");
    match Cli::try_parse_from(words).map(|cli| cli.command) {
        Ok(Some(Command::Schedule(args))) => {
            let _ = Schedule::new(&args.config());
        }
        Ok(Some(Command::Timesteps(args))) => {
            if let Ok(schedule) = Schedule::new(&args.schedule.config()) {
                let _ = inference_timesteps(&schedule, args.steps, args.spacing);
            }
        }
        _ => {}
    }
}
