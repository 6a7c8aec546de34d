//! A network with its time and class embeddings, and the [`Denoiser`] a
//! trained one becomes.
//!
//! Inputs and outputs are flat rows `[B, dims]`, the engine's convention; the
//! U-Net reshapes them to `[B, H, W, C]` inside. The class embedding has one
//! extra row, the null class ∅ of classifier-free guidance (Ho & Salimans 2022):
//! a missing label, or label = `classes`, selects it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{D, Device, Tensor};

use super::config::{Architecture, ModelConfig};
use super::error::{Error, Result, weights_error};
use super::layers::{Linear, sinusoidal_embedding};
use super::mlp::Mlp;
use super::params::{Init, ParamStore, Scope, read_safetensors, write_safetensors};
use super::unet::Unet;
use crate::diffusion::denoiser::Labels;
use crate::diffusion::param::{flow_scale, flow_time};
use crate::diffusion::{AlphaBar, Denoiser, DenoiserOutput, NoiseLevel, Prediction, PredictionType};

/// Width of the sinusoidal features of t before the embedding MLP.
const TIME_FEATURES: usize = 64;

enum Body {
    Mlp(Mlp),
    Unet(Box<Unet>),
}

/// The network's raw answer for a batch.
pub struct NetworkOutput {
    /// The prediction, `[B, dims]`, in the config's parameterization.
    pub prediction: Tensor,
    /// The learned-variance interpolation in [−1, 1], `[B, dims]`, if the model has one.
    pub variance_interp: Option<Tensor>,
}

/// A denoising network of either architecture.
pub struct Network {
    config: ModelConfig,
    time: [Linear; 2],
    classes: Option<Tensor>,
    body: Body,
}

impl Network {
    /// Builds the network, taking parameters from `scope`.
    ///
    /// # Errors
    /// An invalid config, or a loaded file that does not fit.
    pub fn new(config: ModelConfig, scope: &mut Scope<'_>) -> Result<Self> {
        config.validate()?;
        let width = Self::embedding_width(&config);
        let outputs = if config.learned_variance { 2 } else { 1 };
        let body = match &config.architecture {
            Architecture::Mlp(mlp) => Body::Mlp(Mlp::new(&mut scope.sub("mlp"), mlp, outputs * mlp.dims)?),
            Architecture::Unet(unet) => Body::Unet(Box::new(Unet::new(
                &mut scope.sub("unet"),
                unet,
                width,
                outputs * unet.image_channels,
            )?)),
        };
        let classes = if config.classes > 0 {
            Some(scope.param("class_embedding", &[config.classes + 1, width], Init::Normal(1.0))?)
        } else {
            None
        };
        let mut time = scope.sub("time");
        Ok(Self {
            time: [
                Linear::new(&mut time.sub(0), TIME_FEATURES, width, false)?,
                Linear::new(&mut time.sub(1), width, width, false)?,
            ],
            classes,
            body,
            config,
        })
    }

    fn embedding_width(config: &ModelConfig) -> usize {
        match config.architecture {
            Architecture::Mlp(mlp) => mlp.hidden,
            Architecture::Unet(unet) => 4 * unet.channels,
        }
    }

    /// The config it was built from.
    #[must_use]
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The embedding of each row's t and class: `[B, E]`.
    fn embedding(&self, t: &[f64], labels: Labels<'_>) -> Result<Tensor> {
        let features = sinusoidal_embedding(t, TIME_FEATURES)?;
        let mut embedding = self.time[1].forward(&self.time[0].forward(&features)?.silu()?)?;
        if let Some(table) = &self.classes {
            let null = u32::try_from(self.config.classes).unwrap_or(u32::MAX);
            let ids: Vec<u32> = match labels {
                Some(labels) => labels.to_vec(),
                None => vec![null; t.len()],
            };
            if let Some(bad) = ids.iter().find(|&&id| id > null) {
                return Err(Error::Config(format!(
                    "class {bad} is out of range (the model has {} classes)",
                    self.config.classes
                )));
            }
            let ids = Tensor::from_vec(ids, t.len(), &Device::Cpu)?;
            embedding = (embedding + table.embedding(&ids)?)?;
        } else if labels.is_some() {
            return Err(Error::Config("this model is unconditional: it takes no class".into()));
        }
        Ok(embedding)
    }

    /// Evaluates the network on rows `x` (`[B, dims]`) at per-row timesteps `t`.
    ///
    /// # Errors
    /// Wrong shapes, a class out of range, tensor failures.
    pub fn forward(&self, x: &Tensor, t: &[f64], labels: Labels<'_>) -> Result<NetworkOutput> {
        let (batch, dims) = x.dims2()?;
        if dims != self.config.sample_dims() || t.len() != batch || labels.is_some_and(|l| l.len() != batch) {
            return Err(Error::Config(format!(
                "the network takes [batch, {}] with one t (and label) per row, got [{batch}, {dims}] and {} t",
                self.config.sample_dims(),
                t.len()
            )));
        }
        let embedding = self.embedding(t, labels)?;
        let raw = match (&self.body, &self.config.architecture) {
            (Body::Mlp(mlp), _) => mlp.forward(x, &embedding)?,
            (Body::Unet(unet), Architecture::Unet(shape)) => {
                let side = shape.image_size;
                let image = x.reshape((batch, side, side, shape.image_channels))?;
                let out = unet.forward(&image, &embedding)?;
                let channels = out.dim(D::Minus1)?;
                // Back to rows: the prediction's channels first, then the variance's.
                let per_part = side * side * shape.image_channels;
                if channels == shape.image_channels {
                    out.reshape((batch, per_part))?
                } else {
                    let prediction = out
                        .narrow(D::Minus1, 0, shape.image_channels)?
                        .reshape((batch, per_part))?;
                    let variance = out
                        .narrow(D::Minus1, shape.image_channels, shape.image_channels)?
                        .reshape((batch, per_part))?;
                    Tensor::cat(&[prediction, variance], 1)?
                }
            }
            (Body::Unet(_), Architecture::Mlp(_)) => return Err(Error::Config("architecture mismatch".into())),
        };
        if self.config.learned_variance {
            Ok(NetworkOutput {
                prediction: raw.narrow(1, 0, dims)?,
                variance_interp: Some(raw.narrow(1, dims, dims)?.tanh()?),
            })
        } else {
            Ok(NetworkOutput {
                prediction: raw,
                variance_interp: None,
            })
        }
    }
}

/// A trained network loaded from (or saved as) a safetensors file.
pub struct TrainedModel {
    network: Network,
    store: ParamStore,
    /// The file's other metadata (data set, training steps, command...).
    pub info: BTreeMap<String, String>,
}

impl TrainedModel {
    /// Optimiser steps behind these weights in all: this file's run plus those
    /// of the model it started from (`train --init`), when the file says.
    #[must_use]
    pub fn total_training_steps(&self) -> Option<u64> {
        let steps = |key: &str| self.info.get(key).and_then(|v| v.parse::<u64>().ok());
        let own = steps("training.steps")?;
        Some(own + steps("training.init_steps").unwrap_or(0))
    }

    /// A freshly initialised model from `seed`.
    ///
    /// # Errors
    /// An invalid config.
    pub fn fresh(config: ModelConfig, seed: u64) -> Result<Self> {
        let mut store = ParamStore::fresh(seed);
        let network = Network::new(config, &mut store.root())?;
        Ok(Self {
            network,
            store,
            info: BTreeMap::new(),
        })
    }

    /// Rebuilds a model from tensors and metadata (a weights file's contents),
    /// for inference.
    ///
    /// # Errors
    /// [`Error::Weights`] naming `path` when the metadata or tensors do not fit.
    pub fn from_parts(
        tensors: HashMap<String, Tensor>,
        metadata: &HashMap<String, String>,
        path: &Path,
    ) -> Result<Self> {
        Self::from_parts_for(tensors, metadata, path, false)
    }

    /// As [`Self::from_parts`]; `trainable` keeps the graph for training.
    pub(crate) fn from_parts_for(
        tensors: HashMap<String, Tensor>,
        metadata: &HashMap<String, String>,
        path: &Path,
        trainable: bool,
    ) -> Result<Self> {
        let config = ModelConfig::from_metadata(metadata).map_err(|e| weights_error(path, e.to_string()))?;
        let mut store = ParamStore::loaded(tensors, path, trainable);
        let network = Network::new(config, &mut store.root())?;
        store.finish()?;
        let info = metadata
            .iter()
            .filter(|(k, _)| k.starts_with("training."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Self { network, store, info })
    }

    /// Loads a weights file written by [`Self::save`].
    ///
    /// # Errors
    /// [`Error::Weights`] naming the file: unreadable, corrupt, or for another network.
    pub fn load(path: &Path) -> Result<Self> {
        let (tensors, metadata) = read_safetensors(path)?;
        Self::from_parts(tensors, &metadata, path)
    }

    /// Writes the weights with the config and [`Self::info`] as metadata.
    ///
    /// # Errors
    /// [`Error::Weights`] if the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_safetensors(path, &self.store.tensors(), self.metadata())
    }

    /// The network.
    #[must_use]
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The parameters, by name.
    #[must_use]
    pub fn params(&self) -> &ParamStore {
        &self.store
    }

    /// The config.
    #[must_use]
    pub fn config(&self) -> &ModelConfig {
        self.network.config()
    }

    /// The metadata a file of this model carries: its config and [`Self::info`].
    #[must_use]
    pub fn metadata(&self) -> HashMap<String, String> {
        let mut metadata = self.config().to_metadata();
        metadata.extend(self.info.iter().map(|(k, v)| (k.clone(), v.clone())));
        metadata
    }

    /// The network at per-row levels, as a [`DenoiserOutput`].
    ///
    /// A flow-matching network sees the flow path's point x_τ = c x_t at its
    /// time τ · [`super::train::FLOW_TIME_INPUT`] (c and τ from ᾱ, as in
    /// [`crate::diffusion::param`]); every other network sees x_t at t.
    fn predict_at(
        &self,
        x_t: &Tensor,
        levels: &[NoiseLevel],
        labels: Labels<'_>,
    ) -> crate::diffusion::Result<DenoiserOutput> {
        let to_error = |e: Error| crate::diffusion::Error::InvalidConfig(e.to_string());
        let out = if self.config().prediction == PredictionType::FlowVelocity {
            let scales: Vec<f64> = levels.iter().map(|l| flow_scale(l.alpha_bar)).collect();
            let x_tau = AlphaBar::PerRow(&scales).scale(x_t, |c| c)?;
            let time: Vec<f64> = levels
                .iter()
                .map(|l| flow_time(l.alpha_bar) * super::train::FLOW_TIME_INPUT)
                .collect();
            self.network.forward(&x_tau, &time, labels).map_err(to_error)?
        } else {
            let t: Vec<f64> = levels.iter().map(|l| l.t).collect();
            self.network.forward(x_t, &t, labels).map_err(to_error)?
        };
        Ok(DenoiserOutput {
            prediction: Prediction::new(self.config().prediction, out.prediction),
            variance_interp: out.variance_interp,
        })
    }
}

impl Denoiser for TrainedModel {
    fn prediction_type(&self) -> PredictionType {
        self.config().prediction
    }

    fn predict(&self, x_t: &Tensor, level: NoiseLevel, labels: Labels<'_>) -> crate::diffusion::Result<DenoiserOutput> {
        self.predict_at(x_t, &vec![level; x_t.dim(0)?], labels)
    }

    fn predict_rows(
        &self,
        x_t: &Tensor,
        levels: &[NoiseLevel],
        labels: Labels<'_>,
    ) -> crate::diffusion::Result<DenoiserOutput> {
        self.predict_at(x_t, levels, labels)
    }

    fn num_classes(&self) -> usize {
        self.config().classes
    }
}
