//! A small Fashion-MNIST classifier, trained here, that judges generated images:
//! the accuracy of class-conditional samples, and the features for a Fréchet
//! distance (Heusel et al. 2017, with this network in Inception's place).
//!
//! An MLP, 784 → 256 → 128 → classes with SiLU; the 128 activations before the
//! last layer are the features.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};

use super::config::MetaReader;
use super::error::{Error, Result, weights_error};
use super::layers::Linear;
use super::optim::{AdamW, AdamWConfig};
use super::params::{ParamStore, read_safetensors, write_safetensors};
use crate::data::Dataset;
use crate::diffusion::NoiseRng;

/// Width of the feature layer.
pub const FEATURES: usize = 128;
const HIDDEN: usize = 256;

/// The classifier.
pub struct Classifier {
    store: ParamStore,
    layers: [Linear; 3],
    dims: usize,
    classes: usize,
}

impl Classifier {
    fn build(mut store: ParamStore, dims: usize, classes: usize) -> Result<Self> {
        let mut root = store.root();
        let layers = [
            Linear::new(&mut root.sub("layer.0"), dims, HIDDEN, false)?,
            Linear::new(&mut root.sub("layer.1"), HIDDEN, FEATURES, false)?,
            Linear::new(&mut root.sub("layer.2"), FEATURES, classes, false)?,
        ];
        store.finish()?;
        Ok(Self {
            store,
            layers,
            dims,
            classes,
        })
    }

    /// The feature vectors (`[B, FEATURES]`) and class logits (`[B, classes]`) of rows `x`.
    ///
    /// # Errors
    /// Rows of the wrong width.
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let hidden = self.layers[0].forward(x)?.silu()?;
        let features = self.layers[1].forward(&hidden)?.silu()?;
        let logits = self.layers[2].forward(&features)?;
        Ok((features, logits))
    }

    /// The width of the rows it classifies.
    #[must_use]
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The most likely class of each row.
    ///
    /// # Errors
    /// Rows of the wrong width.
    pub fn predict(&self, x: &Tensor) -> Result<Vec<u32>> {
        let (_, logits) = self.forward(x)?;
        Ok(logits.argmax(1)?.to_vec1::<u32>()?)
    }

    /// Trains on `data` for `steps` AdamW steps of `batch` rows, reporting each step's loss.
    ///
    /// # Errors
    /// Unlabelled data or tensor failures.
    pub fn train(
        data: &Dataset,
        steps: usize,
        batch: usize,
        seed: u64,
        mut progress: impl FnMut(usize, f64),
    ) -> Result<Self> {
        let Some(labels) = &data.labels else {
            return Err(Error::Data(format!("{} has no labels to learn", data.name)));
        };
        if data.is_empty() || batch == 0 {
            return Err(Error::Data(format!("{} is empty (or the batch is)", data.name)));
        }
        let classifier = Self::build(ParamStore::fresh(seed), data.dims, data.classes)?;
        let vars = classifier.store.vars();
        let mut optimizer = AdamW::new(
            AdamWConfig {
                learning_rate: 1e-3,
                warmup_steps: 100,
                ..AdamWConfig::default()
            },
            vars,
        )?;
        let mut rng = NoiseRng::seed_from(seed);
        let n = data.len();
        for step in 1..=steps {
            let picks: Vec<usize> = (0..batch)
                .map(|_| ((rng.uniform() * n as f64) as usize).min(n - 1))
                .collect();
            let rows: Vec<f32> = picks.iter().flat_map(|&i| data.row(i).iter().copied()).collect();
            let x = Tensor::from_vec(rows, (batch, data.dims), &Device::Cpu)?;
            let y = Tensor::from_vec(
                picks.iter().map(|&i| labels[i]).collect::<Vec<u32>>(),
                batch,
                &Device::Cpu,
            )?;
            let (_, logits) = classifier.forward(&x)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &y)?;
            optimizer.step(vars, &loss.backward()?, step)?;
            progress(step, f64::from(loss.to_scalar::<f32>()?));
        }
        Ok(classifier)
    }

    /// The fraction of `data` classified correctly.
    ///
    /// # Errors
    /// Unlabelled data or tensor failures.
    pub fn accuracy(&self, data: &Dataset) -> Result<f64> {
        let Some(labels) = &data.labels else {
            return Err(Error::Data(format!("{} has no labels", data.name)));
        };
        let x = Tensor::from_vec(data.rows.clone(), (data.len(), data.dims), &Device::Cpu)?;
        let predicted = self.predict(&x)?;
        let right = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
        Ok(right as f64 / data.len().max(1) as f64)
    }

    /// Saves the weights with their shape in the metadata.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        let metadata = HashMap::from([
            ("architecture".to_owned(), "classifier".to_owned()),
            ("classifier.dims".to_owned(), self.dims.to_string()),
            ("classifier.classes".to_owned(), self.classes.to_string()),
        ]);
        write_safetensors(path, &self.store.tensors(), metadata)
    }

    /// Loads weights written by [`Self::save`].
    ///
    /// # Errors
    /// [`Error::Weights`] naming the file.
    pub fn load(path: &Path) -> Result<Self> {
        let (tensors, metadata) = read_safetensors(path)?;
        let reader = MetaReader(&metadata);
        let named = |e: Error| weights_error(path, e.to_string());
        if reader.get::<String>("architecture").map_err(named)? != "classifier" {
            return Err(weights_error(
                path,
                "not a classifier (architecture is not 'classifier')",
            ));
        }
        let dims = reader.get("classifier.dims").map_err(named)?;
        let classes = reader.get("classifier.classes").map_err(named)?;
        Self::build(ParamStore::loaded(tensors, path, false), dims, classes)
    }
}
