//! noisescope: watch a diffusion model think.
//!
//! The crate is layered one way (see `ARCHITECTURE.md`):
//! - [`diffusion`]: schedules, parameterizations, samplers, guidance, ELBO and
//!   the exact reference denoisers. It knows nothing of models or UI.
//! - [`cli`]: the command line over the same library functions.

pub mod cli;
pub mod diffusion;
