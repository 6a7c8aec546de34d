//! Named parameters: drawn from an explicit seed, or loaded from safetensors.
//!
//! candle-nn's `VarBuilder` initialises from candle's hidden global RNG, which
//! would make training depend on more than its seed; this store draws every
//! initial weight from a [`NoiseRng`] in construction order instead. Loading
//! checks every name and shape, so a file for another network is an error, not
//! a panic or a silently half-loaded model.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{Device, Tensor, Var};

use super::error::{Error, Result, weights_error};
use crate::diffusion::NoiseRng;

/// How a fresh parameter is initialised.
#[derive(Clone, Copy, Debug)]
pub enum Init {
    /// All zeros (biases, zero-initialised output layers).
    Zeros,
    /// All ones (normalisation gains).
    Ones,
    /// U(−bound, bound), e.g. 1/√fan_in (PyTorch's default for Linear and Conv).
    Uniform(f64),
    /// N(0, std²) (embeddings).
    Normal(f64),
}

enum Source {
    Fresh(Box<NoiseRng>),
    Loaded {
        tensors: HashMap<String, Tensor>,
        path: String,
    },
}

/// All parameters of one network, by dotted name.
pub struct ParamStore {
    vars: BTreeMap<String, Var>,
    source: Source,
    /// Hand out tracked tensors (for training). Inference gets detached ones,
    /// so a forward pass keeps no graph and frees each activation once used.
    trainable: bool,
}

impl ParamStore {
    /// A store that initialises every parameter from `seed`.
    #[must_use]
    pub fn fresh(seed: u64) -> Self {
        Self {
            vars: BTreeMap::new(),
            source: Source::Fresh(Box::new(NoiseRng::seed_from(seed))),
            trainable: true,
        }
    }

    /// A store that takes every parameter from `tensors` (read from `path`);
    /// `trainable` when training continues from them.
    #[must_use]
    pub fn loaded(tensors: HashMap<String, Tensor>, path: &Path, trainable: bool) -> Self {
        Self {
            vars: BTreeMap::new(),
            source: Source::Loaded {
                tensors,
                path: path.display().to_string(),
            },
            trainable,
        }
    }

    /// The root scope.
    pub fn root(&mut self) -> Scope<'_> {
        Scope {
            store: self,
            prefix: String::new(),
        }
    }

    /// Every parameter, sorted by name.
    #[must_use]
    pub fn vars(&self) -> &BTreeMap<String, Var> {
        &self.vars
    }

    /// Every parameter's current value, by name (what a weights file holds).
    #[must_use]
    pub fn tensors(&self) -> BTreeMap<String, Tensor> {
        self.vars
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect()
    }

    /// Checks that a loaded file had no tensor the network did not ask for.
    ///
    /// # Errors
    /// [`Error::Weights`] naming the first unused tensor.
    pub fn finish(&self) -> Result<()> {
        if let Source::Loaded { tensors, path } = &self.source
            && let Some(extra) = tensors.keys().filter(|k| !self.vars.contains_key(*k)).min()
        {
            return Err(Error::Weights {
                path: path.clone(),
                reason: format!("tensor '{extra}' does not belong to this network"),
            });
        }
        Ok(())
    }

    fn get(&mut self, name: String, shape: &[usize], init: Init) -> Result<Tensor> {
        let tensor = match &mut self.source {
            Source::Fresh(rng) => initial(rng, shape, init)?,
            Source::Loaded { tensors, path } => {
                let Some(tensor) = tensors.get(&name) else {
                    return Err(Error::Weights {
                        path: path.clone(),
                        reason: format!("tensor '{name}' is missing"),
                    });
                };
                if tensor.dims() != shape {
                    return Err(Error::Weights {
                        path: path.clone(),
                        reason: format!(
                            "tensor '{name}' has shape {:?}, the network needs {shape:?}",
                            tensor.dims()
                        ),
                    });
                }
                tensor.to_dtype(candle_core::DType::F32)?
            }
        };
        let var = Var::from_tensor(&tensor)?;
        let out = if self.trainable {
            var.as_tensor().clone()
        } else {
            var.as_tensor().detach()
        };
        self.vars.insert(name, var);
        Ok(out)
    }
}

fn initial(rng: &mut NoiseRng, shape: &[usize], init: Init) -> Result<Tensor> {
    let count: usize = shape.iter().product();
    let values: Vec<f32> = match init {
        Init::Zeros => vec![0.0; count],
        Init::Ones => vec![1.0; count],
        Init::Uniform(bound) => (0..count)
            .map(|_| ((rng.uniform() * 2.0 - 1.0) * bound) as f32)
            .collect(),
        Init::Normal(std) => (0..count).map(|_| (rng.normal() * std) as f32).collect(),
    };
    Ok(Tensor::from_vec(values, shape, &Device::Cpu)?)
}

/// A prefix inside a [`ParamStore`]: `scope.sub("down").param("w", ..)` names `down.w`.
pub struct Scope<'a> {
    store: &'a mut ParamStore,
    prefix: String,
}

impl Scope<'_> {
    /// A nested scope.
    pub fn sub(&mut self, name: impl std::fmt::Display) -> Scope<'_> {
        Scope {
            prefix: self.full_name(&name.to_string()),
            store: self.store,
        }
    }

    /// The parameter `name` of this scope, created or loaded.
    ///
    /// # Errors
    /// A loaded file lacks it or has it in another shape.
    pub fn param(&mut self, name: &str, shape: &[usize], init: Init) -> Result<Tensor> {
        let full = self.full_name(name);
        self.store.get(full, shape, init)
    }

    fn full_name(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }
}

/// Reads a safetensors file: its tensors and its string metadata.
///
/// # Errors
/// [`Error::Weights`] naming the file: unreadable, truncated, not safetensors.
pub fn read_safetensors(path: &Path) -> Result<(HashMap<String, Tensor>, HashMap<String, String>)> {
    let bytes = std::fs::read(path).map_err(|e| weights_error(path, e.to_string()))?;
    parse_safetensors(&bytes, path)
}

/// Parses safetensors bytes; `path` names them in errors.
///
/// # Errors
/// [`Error::Weights`]: truncated, or not safetensors.
pub fn parse_safetensors(bytes: &[u8], path: &Path) -> Result<(HashMap<String, Tensor>, HashMap<String, String>)> {
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| weights_error(path, format!("not a safetensors file ({e})")))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
        .map_err(|e| weights_error(path, format!("corrupt tensor data ({e})")))?;
    Ok((tensors, metadata))
}

/// Writes tensors and string metadata as one safetensors file, atomically
/// (a temporary file renamed into place, so an interruption never leaves half a file).
///
/// # Errors
/// [`Error::Weights`] if the file cannot be written.
pub fn write_safetensors(
    path: &Path,
    tensors: &BTreeMap<String, Tensor>,
    metadata: HashMap<String, String>,
) -> Result<()> {
    let partial = path.with_extension("partial");
    let contiguous: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(k, v)| Ok((k.clone(), v.contiguous()?)))
        .collect::<Result<_>>()?;
    safetensors::serialize_to_file(contiguous, Some(metadata), &partial)
        .map_err(|e| weights_error(path, e.to_string()))?;
    std::fs::rename(&partial, path).map_err(|e| weights_error(path, e.to_string()))
}
