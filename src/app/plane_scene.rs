//! The 2D mixture scene's own state, as egui's demo app gives each of its
//! apps one: the model the scene samples (the exact mixture, or a network from
//! Train 2D in its place), its name and classes, and the view that draws it.
//! The run it streams is the explorer's ([`super::stream`]), shared with the
//! image batch.

use std::sync::Arc;

use super::train_scene::TrainedPlaneModel;
use super::viewer::PlaneViewer;
use crate::diffusion::Denoiser;
use crate::diffusion::mixture::GaussianMixture;
use crate::worker::RunModel;

/// The 2D mixture scene.
pub struct PlaneScene {
    /// Draws the particles, the density, the score and the x0 estimates.
    pub viewer: PlaneViewer,
    /// The exact mixture: the model when no network stands in, and the density drawn.
    pub mixture: Arc<GaussianMixture>,
    /// The classes the model knows (0: unconditional only).
    pub classes: u32,
    /// The exact mixture's name (the model shown when no network stands in).
    pub name: String,
    /// A network from Train 2D sampling in place of the exact mixture.
    pub network: Option<TrainedPlaneModel>,
}

impl PlaneScene {
    /// The scene sampling `mixture`, called `name`.
    #[must_use]
    pub fn new(mixture: Arc<GaussianMixture>, name: String) -> Self {
        Self {
            viewer: PlaneViewer::new(Arc::clone(&mixture)),
            classes: class_count(&mixture),
            mixture,
            name,
            network: None,
        }
    }

    /// Makes `mixture` the model again (any network leaves), framed anew.
    pub fn use_mixture(&mut self, mixture: Arc<GaussianMixture>, name: String) {
        *self = Self::new(mixture, name);
    }

    /// Makes `network` the model in the mixture's place.
    pub fn use_network(&mut self, network: TrainedPlaneModel) {
        self.classes = u32::try_from(network.net.config().classes).unwrap_or(0);
        self.network = Some(network);
    }

    /// What a run of this scene samples from.
    #[must_use]
    pub fn run_model(&self) -> RunModel {
        match &self.network {
            Some(plane) => RunModel::Network {
                net: plane.net.clone(),
                data: Arc::clone(&plane.data),
            },
            None => RunModel::Mixture(Arc::clone(&self.mixture)),
        }
    }
}

/// The number of classes a mixture's labels name (0 when unlabelled).
#[must_use]
pub fn class_count(mixture: &GaussianMixture) -> u32 {
    u32::try_from(mixture.num_classes()).unwrap_or(0)
}
