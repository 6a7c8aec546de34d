//! The diffusion engine: pure maths over candle tensors.
//!
//! | module | what lives there |
//! |---|---|
//! | [`schedule`] | β_t, ᾱ_t, SNR, posterior coefficients; linear, scaled-linear, cosine, sigmoid; zero-terminal-SNR |
//! | [`timesteps`] | which t an N-step sampler visits (leading, trailing, linspace, log-SNR, Karras) |
//! | [`param`] | ε / x0 / v / score predictions and their exact conversions |
//! | [`denoiser`] | the [`Denoiser`] trait every model implements |
//! | [`mixture`] | exact Gaussian-mixture denoiser, noisy classifier, empirical optimal denoiser |
//! | [`guidance`] | classifier-free and classifier guidance as a denoiser wrapper |
//! | [`sampler`] | DDPM, DDIM, PF-ODE (Euler, Heun), reverse SDE, DPM-Solver++(2M), Langevin |
//! | [`coupling`] | data–noise couplings for flow matching: minibatch optimal transport (Hungarian method) |
//! | [`flow`] | flow matching: the straight path, velocity fields (exact mixture, any denoiser), Euler and Heun on the flow ODE |
//! | [`inversion`] | DDIM inversion (data → latent) and slerp between latents |
//! | [`inpaint`] | inpainting: the known pixels replaced after every reverse step |
//! | [`forward`] | the noising process step by step: closed form or Markov chain |
//! | [`elbo`] | L_T, L_{t−1}, L_0 and bits/dim |
//! | [`loss_weight`] | the ELBO's weight per t on the x0, ε, score and v errors, in SNR form |
//! | [`noise`] | the explicit, seeded RNG every stochastic function takes |

#[macro_use]
pub(crate) mod names;

pub mod coupling;
pub mod denoiser;
pub mod elbo;
pub mod error;
pub mod flow;
pub mod forward;
pub mod guidance;
pub mod inpaint;
pub mod inversion;
pub mod loss_weight;
pub mod mixture;
pub mod noise;
pub mod param;
pub mod sampler;
pub mod schedule;
pub mod timesteps;

pub use denoiser::{Denoiser, DenoiserOutput, NoiseLevel};
pub use error::{Error, Result};
pub use noise::NoiseRng;
pub use param::{AlphaBar, Prediction, PredictionType};
pub use schedule::{Schedule, ScheduleConfig, ScheduleKind};
pub use timesteps::TimestepSpacing;
