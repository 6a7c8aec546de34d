//! The theory scenes: each system of the theory as a figure you can change.
//! The 2D ones run on the exact three-blob mixture (weights 0.7 / 0.2 / 0.1),
//! whose score is known in closed form, so what a scene shows is the method
//! and not a model's error; the image ones use the shipped U-Net.
//!
//! | scene | file | shows |
//! |---|---|---|
//! | DDPM vs DDIM | [`eta`] | paths morphing with η, σ_t(η) |
//! | DDIM inversion | [`inversion`], [`inversion_images`] | data → latent → data; slerp between latents, on points and on images |
//! | Branching | [`branching`] | what is decided at step t |
//! | Four ways | [`four_ways`] | ε_θ, x_θ, score, v_θ and their conversions |
//! | Tweedie's formula | [`tweedie`] | E[x0\|x_t] from the score against Bayes; the best guess of x0 by t |
//! | Cosine vs linear | [`cosine`] | Improved DDPM's schedule: where linear has destroyed the image |
//! | Improved DDPM | [`improved`] | learned variance per t, importance sampling of t |
//! | Loss weights | [`loss_weights`] | the ELBO's weight per t on x0, ε, score, v; L_simple against the ELBO's weight, trained |
//! | VDM | [`vdm`] | a learned monotone log-SNR schedule |
//! | Langevin | [`langevin`] | plain vs annealed Langevin, score field per σ |
//! | Score matching and NCSN | [`ncsn`] | DSM = ε-loss = ESM + C; VE p_σ and annealed Langevin; VE vs VP paths; the three pitfalls |
//! | SDE vs ODE | [`sde_ode`] | reverse-SDE and probability-flow paths over p_t |
//! | EDM's σ view | [`edm`] | σ(t) of every schedule, Karras spacing, preconditioning, EDM's samplers |
//! | Step k of N against a k-step run | [`step_vs_run`] | the long run's x and x̂0 at step k beside the short run's samples, and the σ each reached |
//! | Comparison grid | [`grid`] | the same x_T through rows × columns of settings, cells as they finish, saved as PNG and CSV |
//! | Flow matching and rectified flow | [`flow_matching`] | flow paths against the PF-ODE's, the velocity field, couplings, reflow, one-step samples |
//! | DPM-Solver++ | [`dpm_solver`] | few-step paths, error against step count |
//! | Distillation | [`distill`] | progressive distillation 16 → 1 steps |
//! | Guidance | [`guidance`] | classifier and classifier-free guidance, γ |
//! | Inpainting | [`inpaint`] | the U-Net fills in hidden pixels |
//! | Memorization | [`memorization`] | the empirical denoiser copies, the U-Net does not |
//! | Learned vs exact | [`learned`] | a trained MLP's ε against the exact one, by t |
//! | ELBO and the evidence gap | [`evidence_gap`] | log p(x) = ELBO + KL on an exact posterior; Jensen by Monte Carlo |
//! | From the hierarchical VAE to diffusion | [`hvae`] | an HVAE, its three constraints one at a time; diffusion at T = 2, 10, 100, 1000 |
//! | A VAE trained live | [`vae`] | the ELBO's two terms over training, the 2D latent space, the decoder over it, samples beside diffusion's |
//! | The true reverse kernel | [`reverse_kernel`] | q(x_{t−Δ}\|x_t) by Bayes against its Gaussians; KL and entropy bounds against Δ |
//! | Two forms of one ELBO | [`elbo_forms`] | consistency vs denoising-matching estimates; Su's two noises vs one |
//! | ELBO | [`elbo`] | L_T, L_{t−1}, L_0, bits/dim, rate–distortion, zero terminal SNR |
//! | Spacing | [`spacing`] | the t leading, trailing and linspace visit |
//!
//! Each scene's figure is computed by its module in [`crate::figures`] (no
//! egui there), on a [`job::Computation`] thread; the file here is its view:
//! controls, the numbers in words, and [`view::panels_ui`] for the plots.

pub mod branching;
pub mod cosine;
pub mod distill;
pub mod dpm_solver;
pub mod edm;
pub mod elbo;
pub mod elbo_forms;
pub mod eta;
pub mod evidence_gap;
pub mod figure;
pub mod flow_matching;
pub mod four_ways;
pub mod grid;
pub mod guidance;
pub mod hvae;
pub mod improved;
pub mod inpaint;
pub mod inversion;
pub mod inversion_images;
pub mod job;
pub mod langevin;
pub mod learned;
pub mod loss_weights;
pub mod memorization;
pub mod ncsn;
pub mod reverse_kernel;
pub mod scene_figure;
pub mod sde_ode;
pub mod spacing;
pub mod step_vs_run;
pub mod tweedie;
pub mod vae;
pub mod vdm;
pub mod view;

use std::collections::HashMap;
use std::sync::Arc;

use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::{Schedule, ScheduleConfig};
use crate::scenes::SceneId;

/// Which theory scene.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// The ELBO and the evidence gap.
    EvidenceGap,
    /// DDPM vs DDIM: η.
    Eta,
    /// DDIM inversion and interpolation.
    Inversion,
    /// Stochastic branching.
    Branching,
    /// ε_θ, x_θ, score and v_θ.
    FourWays,
    /// Tweedie's formula.
    Tweedie,
    /// Improved DDPM's cosine schedule against the linear one.
    Cosine,
    /// Two forms of one ELBO.
    ElboForms,
    /// Improved DDPM's learned variance and importance sampling.
    Improved,
    /// The ELBO's loss weights per t.
    LossWeights,
    /// VDM's learned schedule.
    Vdm,
    /// Langevin and annealed Langevin.
    Langevin,
    /// A VAE trained live.
    Vae,
    /// From the hierarchical VAE to diffusion.
    Hvae,
    /// Score matching and NCSN.
    Ncsn,
    /// Reverse SDE vs probability-flow ODE.
    SdeOde,
    /// Flow matching and rectified flow.
    FlowMatching,
    /// EDM's σ view.
    Edm,
    /// Step k of N against a k-step run.
    StepVsRun,
    /// The comparison grid.
    Grid,
    /// DPM-Solver++.
    DpmSolver,
    /// Progressive distillation.
    Distillation,
    /// Classifier and classifier-free guidance.
    Guidance,
    /// Inpainting with the U-Net.
    Inpaint,
    /// The empirical denoiser memorizes; the network does not.
    Memorization,
    /// A trained MLP against the exact score.
    LearnedVsExact,
    /// The true reverse kernel.
    ReverseKernel,
    /// The ELBO term by term.
    Elbo,
    /// Timestep spacing.
    Spacing,
}

impl Topic {
    /// The scene's entry in the registry ([`crate::scenes`]), which holds its
    /// id, chapter and title.
    #[must_use]
    pub fn id(self) -> SceneId {
        match self {
            Self::EvidenceGap => SceneId::ElboGap,
            Self::Eta => SceneId::DdpmVsDdim,
            Self::Inversion => SceneId::DdimInversion,
            Self::Branching => SceneId::Branching,
            Self::FourWays => SceneId::FourWays,
            Self::Tweedie => SceneId::Tweedie,
            Self::Cosine => SceneId::CosineVsLinear,
            Self::ElboForms => SceneId::ElboForms,
            Self::Improved => SceneId::LearnedVariance,
            Self::LossWeights => SceneId::LossWeights,
            Self::Vdm => SceneId::VdmSchedule,
            Self::Langevin => SceneId::Langevin,
            Self::Vae => SceneId::Vae,
            Self::Hvae => SceneId::HvaeToDiffusion,
            Self::Ncsn => SceneId::Ncsn,
            Self::SdeOde => SceneId::SdeVsOde,
            Self::FlowMatching => SceneId::FlowMatching,
            Self::Edm => SceneId::Edm,
            Self::StepVsRun => SceneId::StepVsRun,
            Self::Grid => SceneId::ComparisonGrid,
            Self::DpmSolver => SceneId::DpmSolver,
            Self::Distillation => SceneId::Distillation,
            Self::Guidance => SceneId::Guidance,
            Self::Inpaint => SceneId::Inpainting,
            Self::Memorization => SceneId::Memorization,
            Self::LearnedVsExact => SceneId::LearnedVsExact,
            Self::ReverseKernel => SceneId::ReverseKernel,
            Self::Elbo => SceneId::Elbo,
            Self::Spacing => SceneId::Spacing,
        }
    }

    /// The scene's title (the registry's).
    #[must_use]
    pub fn title(self) -> &'static str {
        self.id().title()
    }

    fn build(self, context: &SceneContext) -> Box<dyn TheoryScene> {
        match self {
            Self::EvidenceGap => Box::new(evidence_gap::EvidenceGapScene::new(context)),
            Self::Eta => Box::new(eta::EtaScene::new(context)),
            Self::Inversion => Box::new(inversion::InversionScene::new(context)),
            Self::Branching => Box::new(branching::BranchingScene::new(context)),
            Self::FourWays => Box::new(four_ways::FourWaysScene::new(context)),
            Self::Tweedie => Box::new(tweedie::TweedieScene::new(context)),
            Self::Cosine => Box::new(cosine::CosineScene::new(context)),
            Self::ElboForms => Box::new(elbo_forms::ElboFormsScene::new(context)),
            Self::Improved => Box::new(improved::ImprovedScene::new(context)),
            Self::LossWeights => Box::new(loss_weights::LossWeightsScene::new(context)),
            Self::Vdm => Box::new(vdm::VdmScene::new(context)),
            Self::Langevin => Box::new(langevin::LangevinScene::new(context)),
            Self::Vae => Box::new(vae::VaeScene::new(context)),
            Self::Hvae => Box::new(hvae::HvaeScene::new(context)),
            Self::Ncsn => Box::new(ncsn::NcsnScene::new(context)),
            Self::SdeOde => Box::new(sde_ode::SdeOdeScene::new(context)),
            Self::FlowMatching => Box::new(flow_matching::FlowMatchingScene::new(context)),
            Self::Edm => Box::new(edm::EdmScene::new(context)),
            Self::StepVsRun => Box::new(step_vs_run::StepVsRunScene::new(context)),
            Self::Grid => Box::new(grid::GridScene::new(context)),
            Self::DpmSolver => Box::new(dpm_solver::DpmSolverScene::new(context)),
            Self::Distillation => Box::new(distill::DistillScene::new(context)),
            Self::Guidance => Box::new(guidance::GuidanceScene::new(context)),
            Self::Inpaint => Box::new(inpaint::InpaintScene::new(context)),
            Self::Memorization => Box::new(memorization::MemorizationScene::new(context)),
            Self::LearnedVsExact => Box::new(learned::LearnedScene::new(context)),
            Self::ReverseKernel => Box::new(reverse_kernel::ReverseKernelScene::new(context)),
            Self::Elbo => Box::new(elbo::ElboScene::new(context)),
            Self::Spacing => Box::new(spacing::SpacingScene::new(context)),
        }
    }
}

/// What every scene is built with.
#[derive(Clone)]
pub struct SceneContext {
    /// Wakes the UI when a computation finishes.
    pub repaint: egui::Context,
    /// The exact mixture the 2D scenes sample.
    pub mixture: Arc<GaussianMixture>,
    /// The linear schedule, T = 1000 (Ho et al. 2020).
    pub schedule: Arc<Schedule>,
    /// The same two, as the figures take them.
    pub inputs: crate::figures::Inputs,
}

/// One theory scene.
pub trait TheoryScene {
    /// What the scene shows, with the equation it illustrates.
    fn caption(&self) -> &'static str;

    /// Draws the scene's own controls and figures.
    fn ui(&mut self, ui: &mut egui::Ui);
}

/// The theory scenes, each built when first shown and kept, so a lesson that
/// comes back to one finds its figure (and its trained model) still there.
pub struct TheoryScenes {
    context: SceneContext,
    built: HashMap<Topic, Box<dyn TheoryScene>>,
}

impl TheoryScenes {
    /// Scenes over `mixture`; none is built yet.
    ///
    /// # Errors
    /// Never in practice: the default schedule is valid.
    pub fn new(repaint: egui::Context, mixture: Arc<GaussianMixture>) -> crate::diffusion::Result<Self> {
        let schedule = Arc::new(Schedule::new(&ScheduleConfig::default())?);
        let inputs = crate::figures::Inputs {
            mixture: Arc::clone(&mixture),
            schedule: Arc::clone(&schedule),
        };
        Ok(Self {
            context: SceneContext {
                repaint,
                mixture,
                schedule,
                inputs,
            },
            built: HashMap::new(),
        })
    }

    /// Draws `topic`, building it (and starting its computation) if it is new.
    pub fn ui(&mut self, ui: &mut egui::Ui, topic: Topic) {
        let context = &self.context;
        let scene = self.built.entry(topic).or_insert_with(|| topic.build(context));
        ui.heading(topic.title());
        ui.label(egui::RichText::new(scene.caption()).size(15.0));
        ui.separator();
        scene.ui(ui);
    }
}
