//! A training set: rows of f32 in the model's scale, with optional labels.

use std::path::Path;

use super::idx::{IdxError, LabelledImages};

/// Samples as rows (images flattened, scaled to [−1, 1]) with optional class labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// What it is, for metadata and messages ("fashion-mnist train", "two-moons").
    pub name: String,
    /// Dimensions of one row.
    pub dims: usize,
    /// Rows, one after another.
    pub rows: Vec<f32>,
    /// One label per row, if labelled.
    pub labels: Option<Vec<u32>>,
    /// Number of classes (0 when unlabelled).
    pub classes: usize,
}

impl Dataset {
    /// The number of rows.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows.len().checked_div(self.dims).unwrap_or(0)
    }

    /// Whether it has no rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`.
    #[must_use]
    pub fn row(&self, i: usize) -> &[f32] {
        &self.rows[i * self.dims..(i + 1) * self.dims]
    }

    /// `count` row indices drawn uniformly with replacement (none from an empty set).
    #[must_use]
    pub fn random_indices(&self, count: usize, rng: &mut crate::diffusion::NoiseRng) -> Vec<usize> {
        let Some(last) = self.len().checked_sub(1) else {
            return Vec::new();
        };
        let n = self.len() as f64;
        (0..count).map(|_| ((rng.uniform() * n) as usize).min(last)).collect()
    }

    /// The rows at `indices`, one after another.
    #[must_use]
    pub fn gather(&self, indices: &[usize]) -> Vec<f32> {
        let mut rows = Vec::with_capacity(indices.len() * self.dims);
        for &i in indices {
            rows.extend_from_slice(self.row(i));
        }
        rows
    }

    /// IDX images scaled from [0, 255] to [−1, 1], with their labels.
    #[must_use]
    pub fn from_images(name: &str, images: &LabelledImages) -> Self {
        let labels: Vec<u32> = images.labels.iter().map(|&l| u32::from(l)).collect();
        let classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
        Self {
            name: name.to_owned(),
            dims: images.rows * images.cols,
            rows: images.pixels.iter().map(|&p| f32::from(p) / 127.5 - 1.0).collect(),
            labels: Some(labels),
            classes,
        }
    }

    /// An IDX image/label pair (Fashion-MNIST, MNIST, ...).
    ///
    /// # Errors
    /// [`IdxError`] naming the file and the problem.
    pub fn from_idx(images: &Path, labels: &Path) -> Result<Self, IdxError> {
        let pair = super::idx::read_pair(images, labels)?;
        Ok(Self::from_images(&images.display().to_string(), &pair))
    }
}

impl Dataset {
    /// `n` samples of a Gaussian-mixture JSON file, labelled by component label where it has them.
    ///
    /// # Errors
    /// The mixture file's one-line error.
    pub fn from_mixture(path: &Path, n: usize, seed: u64) -> Result<Self, crate::diffusion::Error> {
        let mixture = crate::diffusion::mixture::GaussianMixture::load(path)?;
        Self::from_mixture_samples(&mixture, n, seed, &path.display().to_string())
    }

    /// `n` samples of `mixture`, labelled by component label where it has them.
    ///
    /// # Errors
    /// Only tensor failures.
    pub fn from_mixture_samples(
        mixture: &crate::diffusion::mixture::GaussianMixture,
        n: usize,
        seed: u64,
        name: &str,
    ) -> Result<Self, crate::diffusion::Error> {
        let mut rng = crate::diffusion::NoiseRng::seed_from(seed);
        let (points, origins) = mixture.sample(n, None, &mut rng)?;
        let labels: Option<Vec<u32>> = origins.iter().map(|&k| mixture.components()[k].label).collect();
        let classes = labels
            .as_ref()
            .and_then(|l| l.iter().max())
            .map_or(0, |&m| m as usize + 1);
        let rows: Vec<f32> = points.flatten_all()?.to_vec1::<f32>()?;
        Ok(Self {
            name: name.to_owned(),
            dims: mixture.dims(),
            rows,
            labels,
            classes,
        })
    }
}

impl Dataset {
    /// Every PNG or JPEG in `dir` (sorted by name), in grey, resized to
    /// `side × side` and scaled to [−1, 1]; unlabelled.
    ///
    /// # Errors
    /// An unreadable folder, no images in it, or an image that does not decode
    /// (named with its reason).
    pub fn from_image_folder(dir: &Path, side: u32) -> Result<Self, String> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                path.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
            })
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(format!("{}: no PNG or JPEG images in this folder", dir.display()));
        }
        let mut rows = Vec::with_capacity(paths.len() * (side * side) as usize);
        for path in &paths {
            let image = image::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let grey = image
                .resize_exact(side, side, image::imageops::FilterType::Triangle)
                .to_luma8();
            rows.extend(grey.pixels().map(|p| f32::from(p.0[0]) / 127.5 - 1.0));
        }
        Ok(Self {
            name: dir.display().to_string(),
            dims: (side * side) as usize,
            rows,
            labels: None,
            classes: 0,
        })
    }
}
