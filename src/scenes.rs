//! The one registry of scenes: each scene is declared once, here, with its
//! stable id, its chapter and its title. The window's navigator, the lesson
//! files, `explore --scene` and the tests all read this list, so a scene is
//! added with one line in [`scene_registry!`]'s call, and a scene the window
//! cannot build is a compile error (the app matches on [`SceneId`]
//! exhaustively).
//!
//! The module knows nothing of egui: it is plain data about the scenes.

/// A chapter of the course, in teaching order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Chapter {
    /// Before diffusion: latent variables, the ELBO and the VAE.
    Latent,
    /// How data becomes noise.
    Forward,
    /// Undoing it, and the bound that trains it.
    Reverse,
    /// What the network predicts, and the score.
    Score,
    /// How the reverse process is discretised.
    Samplers,
    /// Steering and editing samples.
    Guidance,
    /// Real networks, and what they learn.
    Models,
}

impl Chapter {
    /// Every chapter, in teaching order.
    pub const ALL: [Self; 7] = [
        Self::Latent,
        Self::Forward,
        Self::Reverse,
        Self::Score,
        Self::Samplers,
        Self::Guidance,
        Self::Models,
    ];

    /// The chapter's heading in the navigator.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Latent => "0 Latent variables and the ELBO",
            Self::Forward => "1 The forward process",
            Self::Reverse => "2 The reverse process and the ELBO",
            Self::Score => "3 Parameterizations and the score",
            Self::Samplers => "4 Samplers",
            Self::Guidance => "5 Guidance and editing",
            Self::Models => "6 Models and training",
        }
    }
}

/// Declares [`SceneId`], its table [`SceneId::ALL`] and its id, chapter and
/// title from one list, so no scene can be missing from any of them.
macro_rules! scene_registry {
    ($($variant:ident => $id:literal, $chapter:ident, $title:literal, $doc:literal;)*) => {
        /// Every scene of the window, in teaching order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum SceneId {
            $(#[doc = $doc] $variant,)*
        }

        impl SceneId {
            /// Every scene, in teaching order (chapter by chapter).
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The stable id lessons, `--scene` and `noisescope figure` use.
            #[must_use]
            pub fn id(self) -> &'static str {
                match self {
                    $(Self::$variant => $id,)*
                }
            }

            /// The chapter the scene belongs to.
            #[must_use]
            pub fn chapter(self) -> Chapter {
                match self {
                    $(Self::$variant => Chapter::$chapter,)*
                }
            }

            /// The scene's title in the navigator.
            #[must_use]
            pub fn title(self) -> &'static str {
                match self {
                    $(Self::$variant => $title,)*
                }
            }
        }
    };
}

scene_registry! {
    ElboGap => "elbo-gap", Latent, "ELBO and the evidence gap", "log p(x) = ELBO + KL(q(z|x) ‖ p(z|x)) on a model with an exact posterior.";
    Vae => "vae", Latent, "A VAE trained live", "An encoder, a decoder and a 2D latent trained on the ELBO: the latent space, the decoder over it, samples beside a diffusion model's.";
    HvaeToDiffusion => "hvae-to-diffusion", Latent, "From the hierarchical VAE to diffusion", "A Markovian HVAE, then its three constraints one at a time, until it is a diffusion model; diffusion at T = 2, 10, 100, 1000.";
    ImageForward => "images", Forward, "Images", "The forward process on an image, schedules compared.";
    CosineVsLinear => "cosine-vs-linear", Forward, "Cosine vs linear", "Improved DDPM's cosine schedule against the linear one.";
    Spacing => "timestep-spacing", Forward, "Timestep spacing", "Which t leading, trailing, linspace, log-SNR, Karras and time-quadratic spacing visit.";
    Mixture2D => "2d-mixture", Reverse, "2D mixture", "Particles of a 2D mixture, sampled live.";
    ReverseKernel => "reverse-kernel", Reverse, "The true reverse kernel", "q(x_{t−Δ}|x_t) by Bayes against its Gaussians: Gaussian only for small steps.";
    Elbo => "elbo", Reverse, "ELBO", "The ELBO term by term.";
    ElboForms => "elbo-forms", Reverse, "Two forms of one ELBO", "Consistency against denoising-matching terms, and Su's merged noise: one mean, two variances.";
    LearnedVariance => "learned-variance", Reverse, "Learned variance", "Improved DDPM's learned variance and importance sampling.";
    LossWeights => "loss-weights", Reverse, "Loss weights", "The ELBO's weight per t on the x0, ε, score and v errors, against L_simple's.";
    VdmSchedule => "vdm-schedule", Reverse, "VDM schedule", "VDM's learned schedule.";
    FourWays => "four-parameterizations", Score, "Four parameterizations", "ε_θ, x_θ, score and v_θ.";
    Tweedie => "tweedie", Score, "Tweedie's formula", "E[x0|x_t] = (x_t + (1−ᾱ_t)∇log p_t(x_t))/√ᾱ_t: the best guess of x0.";
    Langevin => "langevin", Score, "Langevin", "Plain and annealed Langevin dynamics.";
    Ncsn => "ncsn", Score, "Score matching and NCSN", "Denoising score matching is the ε-loss; the VE perturbation p ∗ N(0, σ²), annealed Langevin on it, and the pitfalls of naive score matching.";
    LearnedVsExact => "learned-vs-exact", Score, "Learned vs exact", "A trained MLP against the exact score.";
    DdpmVsDdim => "ddpm-vs-ddim", Samplers, "DDPM vs DDIM", "DDPM against DDIM: η.";
    SdeVsOde => "sde-vs-ode", Samplers, "SDE vs ODE", "The reverse SDE against the probability-flow ODE.";
    FlowMatching => "flow-matching", Samplers, "Flow matching and rectified flow", "The straight path x_τ = (1 − τ) x_0 + τ ε: its exact velocity, paths straighter than the PF-ODE's, couplings, reflow and one-step samples.";
    Edm => "edm", Samplers, "EDM's σ view", "Every schedule as σ = √((1 − ᾱ)/ᾱ); Karras ρ = 7 spacing; the preconditioning c_skip, c_out, c_in, c_noise; EDM's Heun and stochastic samplers.";
    StepVsRun => "step-vs-run", Samplers, "Step k of N against a k-step run", "Why step 10 of a 50-step run does not look like a 10-step run: the noise level each has reached.";
    ComparisonGrid => "comparison-grid", Samplers, "Comparison grid", "The same x_T through rows × columns of sampler, steps, η, γ, schedule or spacing, each cell against its T-step reference.";
    DpmSolver => "dpm-solver", Samplers, "DPM-Solver++", "DPM-Solver++ in few steps.";
    Distillation => "distillation", Samplers, "Distillation", "Progressive distillation.";
    DdimInversion => "ddim-inversion", Samplers, "DDIM inversion", "DDIM inversion and interpolation.";
    Branching => "branching", Samplers, "Branching", "Stochastic branching: what is decided at step t.";
    Guidance => "guidance", Guidance, "Guidance (γ)", "Classifier and classifier-free guidance.";
    Inpainting => "inpainting", Guidance, "Inpainting", "Inpainting with the U-Net.";
    ImageBatch => "image-batch", Models, "Image batch", "A batch of images sampled by the reverse process.";
    Train2D => "train-2d", Models, "Train 2D", "Training a 2D model live.";
    Memorization => "memorization", Models, "Memorization", "The empirical denoiser memorizes; the network does not.";
}

impl SceneId {
    /// The scene with stable id `id`.
    ///
    /// # Errors
    /// No scene has that id; the message lists the ids.
    pub fn from_id(id: &str) -> Result<Self, UnknownScene> {
        Self::ALL
            .iter()
            .copied()
            .find(|scene| scene.id() == id)
            .ok_or_else(|| UnknownScene(id.to_owned()))
    }

    /// The scene `offset` places after this one in teaching order, wrapping round.
    #[must_use]
    pub fn step(self, offset: i64) -> Self {
        let count = i64::try_from(Self::ALL.len()).unwrap_or(1);
        let here = Self::ALL.iter().position(|s| *s == self).unwrap_or(0);
        let here = i64::try_from(here).unwrap_or(0);
        let next = usize::try_from((here + offset).rem_euclid(count)).unwrap_or(0);
        Self::ALL[next]
    }

    /// The scenes of `chapter`, in order.
    pub fn in_chapter(chapter: Chapter) -> impl Iterator<Item = Self> {
        Self::ALL
            .iter()
            .copied()
            .filter(move |scene| scene.chapter() == chapter)
    }
}

/// A scene id that names no scene.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no scene is called '{0}' (the scenes: {list})", list = all_ids())]
pub struct UnknownScene(pub String);

/// Every stable id, comma-separated.
#[must_use]
pub fn all_ids() -> String {
    SceneId::ALL.iter().map(|s| s.id()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for scene in SceneId::ALL {
            let id = scene.id();
            assert!(seen.insert(id), "{id} twice");
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{id} is not kebab-case"
            );
            assert_eq!(SceneId::from_id(id), Ok(*scene));
        }
        assert!(SceneId::from_id("nope").is_err());
    }

    #[test]
    fn scenes_come_chapter_by_chapter_and_every_chapter_has_one() {
        let chapters: Vec<Chapter> = SceneId::ALL.iter().map(|s| s.chapter()).collect();
        assert!(chapters.windows(2).all(|w| w[0] <= w[1]), "out of chapter order");
        for chapter in Chapter::ALL {
            assert!(SceneId::in_chapter(chapter).count() > 0, "{chapter:?} is empty");
        }
    }

    #[test]
    fn stepping_wraps_round_both_ways() {
        let first = SceneId::ALL[0];
        let last = SceneId::ALL[SceneId::ALL.len() - 1];
        assert_eq!(first.step(-1), last);
        assert_eq!(last.step(1), first);
        assert_eq!(first.step(1), SceneId::ALL[1]);
    }
}
