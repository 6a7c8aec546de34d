//! noisescope: watch a diffusion model think.
//!
//! The crate is layered one way (see `ARCHITECTURE.md`):
//! - [`diffusion`]: schedules, parameterizations, samplers, guidance, ELBO and
//!   the exact reference denoisers. It knows nothing of models or UI.
//! - [`data`]: data sets on disk (IDX: Fashion-MNIST, MNIST).
//! - [`worker`]: the job thread that runs the engine and streams each step.
//! - [`render`]: wgpu pipelines and paint callbacks (no panels).
//! - [`scenes`]: the registry of scenes: stable ids, chapters, titles.
//! - [`app`]: the eframe window and its panels.
//! - [`export`]: CSV, PNG and GIF writers shared by the window and the command line.
//! - [`cli`]: the command line over the same library functions.

// First: its `named_enum!` macro is used by the modules below.
#[macro_use]
pub mod diffusion;

pub mod app;
pub mod assets;
pub mod cli;
pub mod data;
pub mod export;
pub mod figures;
pub mod fuzzing;
pub mod jobs;
pub mod live_training;
pub mod model;
pub mod render;
pub mod scenes;
pub mod worker;
