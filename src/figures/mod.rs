//! Every scene's figure, computed without a window.
//!
//! A figure module (`elbo.rs`) holds a plain `Copy`/`Clone` `Setup` (its
//! fields settable by name, [`setup::FigureSetup`]), a `compute` function of
//! that setup, the shared [`Inputs`] and a [`JobContext`] (cancel token and
//! progress), and the plain data it returns, with a `figure()` that lays the
//! data out as a [`Figure`]: panels of series, images and named numbers. Nothing
//! here imports egui or wgpu: the window's scene views (`app/theory/`) draw
//! the data, `noisescope figure` writes it as CSV, PNG and text ([`write`]),
//! and `tests/figures.rs` checks its numbers against exact answers.
//!
//! [`figure`] finds a figure by the scene registry's id ([`crate::scenes`]).

#[macro_use]
pub mod setup;
pub mod branching;
pub mod common;
pub mod cosine;
pub mod data;
pub mod density_grid;
pub mod distill;
pub mod dpm_solver;
pub mod edm;
pub mod elbo;
pub mod elbo_forms;
pub mod error;
pub mod eta;
pub mod evidence_gap;
pub mod flow_matching;
pub mod forward_images;
pub mod four_ways;
pub mod grid;
pub mod guidance;
pub mod hvae;
pub mod image_batch;
pub mod improved;
pub mod inpaint;
pub mod inversion;
pub mod inversion_images;
pub mod langevin;
pub mod latent_model;
pub mod learned;
pub mod loss_weights;
pub mod memorization;
pub mod mixture_2d;
pub mod ncsn;
pub mod render;
pub mod reverse_kernel;
pub mod sde_ode;
pub mod spacing;
pub mod step_vs_run;
pub mod train_2d;
pub mod tweedie;
pub mod vae;
pub mod vdm;
pub mod ve_process;
pub mod write;

use std::sync::Arc;

pub use data::{Figure, Number, Panel, Raster, Series};
pub use error::{FigureError, Result};
pub use setup::{FigureSetup, SetupKey};

use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::{Schedule, ScheduleConfig};
use crate::jobs::JobContext;
use crate::scenes::SceneId;

/// What the figures share: the exact mixture the 2D figures sample, and
/// DDPM's linear schedule with T = 1000.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// The three-blob mixture (weights 0.7 / 0.2 / 0.1).
    pub mixture: Arc<GaussianMixture>,
    /// The linear schedule, T = 1000 (Ho et al. 2020).
    pub schedule: Arc<Schedule>,
}

impl Inputs {
    /// The shipped mixture and the default schedule.
    ///
    /// # Errors
    /// Only if a file compiled into the binary is malformed.
    pub fn shipped() -> Result<Self> {
        Ok(Self {
            mixture: crate::assets::three_blobs()?,
            schedule: Arc::new(Schedule::new(&ScheduleConfig::default())?),
        })
    }
}

/// The figures, by scene: `Scene => module, how its data becomes a figure;`.
/// The matches are exhaustive: a scene added to the registry without a
/// figure does not compile.
macro_rules! figures {
    ($($scene:ident => $module:ident, $compute:expr;)*) => {
        /// Computes scene `id`'s figure with `settings` (`key`, `value`) applied
        /// over its default setup.
        ///
        /// # Errors
        /// An unknown key or bad value; the computation's failure.
        pub fn figure(
            id: SceneId,
            settings: &[(String, String)],
            inputs: &Inputs,
            job: &JobContext,
        ) -> Result<Figure> {
            match id {
                $(SceneId::$scene => {
                    let setup = setup::apply::<$module::Setup>(settings).map_err(|e| e.in_figure(id.id()))?;
                    let compute: fn(&$module::Setup, &Inputs, &JobContext) -> Result<Figure> = $compute;
                    compute(&setup, inputs, job)
                })*
            }
        }

        /// Scene `id`'s settings with their defaults.
        #[must_use]
        pub fn setup_keys(id: SceneId) -> Vec<SetupKey> {
            match id {
                $(SceneId::$scene => $module::Setup::default().keys(),)*
            }
        }
    };
}

figures! {
    ElboGap => evidence_gap, |setup, _, job| Ok(evidence_gap::compute(setup, job)?.figure());
    Vae => vae, |setup, inputs, job| Ok(vae::compute(setup, inputs, job)?.figure());
    HvaeToDiffusion => hvae, |setup, inputs, job| Ok(hvae::compute(setup, inputs, job)?.figure());
    ImageForward => forward_images, |setup, _, _| forward_images::figure(setup);
    Mixture2D => mixture_2d, |setup, inputs, job| mixture_2d::figure(setup, inputs, job);
    ImageBatch => image_batch, |setup, _, job| image_batch::figure(setup, job);
    Train2D => train_2d, |setup, _, job| train_2d::figure(setup, job);
    Spacing => spacing, |setup, _, _| Ok(spacing::compute(setup)?.figure());
    CosineVsLinear => cosine, |setup, _, _| Ok(cosine::compute(setup)?.figure());
    ReverseKernel => reverse_kernel, |setup, inputs, job| Ok(reverse_kernel::compute(setup, inputs, job)?.figure());
    Elbo => elbo, |setup, inputs, job| Ok(elbo::compute(setup, inputs, job)?.figure());
    DdpmVsDdim => eta, |setup, inputs, job| Ok(eta::compute(setup, inputs, job)?.figure());
    Branching => branching, |setup, inputs, job| Ok(branching::compute(setup, inputs, job)?.figure());
    Langevin => langevin, |setup, inputs, job| Ok(langevin::compute(setup, inputs, job)?.figure());
    SdeVsOde => sde_ode, |setup, inputs, job| Ok(sde_ode::compute(setup, inputs, job)?.figure());
    Edm => edm, |setup, inputs, job| Ok(edm::compute(setup, inputs, job)?.figure());
    ComparisonGrid => grid, |setup, inputs, job| {
        let (spec, cells) = grid::compute(setup, inputs, job)?;
        Ok(grid::figure(&spec, &cells, inputs.mixture.dims()))
    };
    StepVsRun => step_vs_run, |setup, _, job| Ok(step_vs_run::compute(setup, job)?.figure());
    FlowMatching => flow_matching, |setup, inputs, job| Ok(flow_matching::compute(setup, inputs, job)?.figure());
    DpmSolver => dpm_solver, |setup, inputs, job| Ok(dpm_solver::compute(setup, inputs, job)?.figure());
    Guidance => guidance, |setup, inputs, job| Ok(guidance::compute(setup, inputs, job)?.figure());
    DdimInversion => inversion, |setup, inputs, job| if setup.images {
        Ok(inversion_images::compute((setup.a, setup.b), job)?.figure())
    } else {
        Ok(inversion::compute(setup, inputs, job)?.figure())
    };
    ElboForms => elbo_forms, |setup, inputs, job| Ok(elbo_forms::compute(setup, inputs, job)?.figure());
    LearnedVariance => improved, |setup, inputs, job| Ok(improved::compute(setup, inputs, job)?.figure());
    LossWeights => loss_weights, |setup, inputs, job| Ok(loss_weights::compute(setup, inputs, job)?.figure());
    VdmSchedule => vdm, |setup, inputs, job| Ok(vdm::compute(setup, inputs, job)?.figure());
    Distillation => distill, |setup, inputs, job| Ok(distill::compute(setup, inputs, job)?.figure());
    LearnedVsExact => learned, |setup, inputs, job| Ok(learned::compute(setup, inputs, job)?.figure());
    Memorization => memorization, |setup, _, job| Ok(memorization::compute(setup, job)?.figure());
    Inpainting => inpaint, |setup, _, job| Ok(inpaint::compute(setup, job)?.figure());
    FourWays => four_ways, |setup, inputs, _| Ok(four_ways::compute(setup, inputs)?.figure());
    Tweedie => tweedie, |setup, inputs, job| Ok(tweedie::compute(setup, inputs, job)?.figure());
    Ncsn => ncsn, |setup, inputs, job| Ok(ncsn::compute(setup, inputs, job)?.figure());
}
