//! A set of images read from an IDX file (Fashion-MNIST, MNIST, or any
//! `…-images-idx3-ubyte[.gz]` the user picks), browsed one image at a time in
//! the image scene.

use std::io::Read;
use std::path::Path;

use super::image_scene::LoadedImage;
use crate::data::idx::{self, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR};

/// Images of one IDX file, with their labels when a label file sits beside it.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSet {
    /// The file's name, for the panel and the image names.
    pub name: String,
    rows: usize,
    cols: usize,
    pixels: Vec<u8>,
    labels: Option<Vec<u8>>,
    /// Labels are Fashion-MNIST classes (read from Debian's package).
    fashion_classes: bool,
}

/// Whether a file starts like an IDX file: gzip's magic, or two zero bytes
/// then the u8 type (a PNG or JPEG never does).
#[must_use]
pub fn looks_like_idx(path: &Path) -> bool {
    let mut head = [0_u8; 3];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut head))
        .is_ok_and(|()| head[..2] == [0x1f, 0x8b] || head == [0, 0, 0x08])
}

impl ImageSet {
    /// Reads an IDX image file, and the label file beside it if there is one.
    ///
    /// # Errors
    /// The IDX reader's message (naming the file and the problem), or a file
    /// with no images.
    pub fn open(path: &Path) -> Result<Self, String> {
        let (rows, cols, pixels, labels) = match idx::label_file_beside(path) {
            Some(label_path) => {
                let set = idx::read_pair(path, &label_path).map_err(|e| e.to_string())?;
                (set.rows, set.cols, set.pixels, Some(set.labels))
            }
            None => {
                let (dims, pixels) = idx::read_idx(path, 3).map_err(|e| e.to_string())?;
                (dims[1], dims[2], pixels, None)
            }
        };
        if rows * cols == 0 || pixels.is_empty() {
            return Err(format!("{}: holds no images", path.display()));
        }
        let name = path
            .file_name()
            .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        Ok(Self {
            name,
            rows,
            cols,
            pixels,
            labels,
            fashion_classes: path.starts_with(FASHION_MNIST_DIR),
        })
    }

    /// The Fashion-MNIST test split from Debian's package.
    ///
    /// # Errors
    /// As [`Self::open`]; a missing package says which one to install.
    pub fn fashion_mnist_test() -> Result<Self, String> {
        Self::open(&idx::fashion_mnist_images(false).map_err(|e| e.to_string())?)
    }

    /// The number of images.
    #[must_use]
    pub fn len(&self) -> usize {
        self.pixels.len() / (self.rows * self.cols)
    }

    /// Whether there are none (never, once opened).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Image `index`'s label as a student reads it: the class name for
    /// Fashion-MNIST, else the number; empty without a label file.
    #[must_use]
    pub fn label_text(&self, index: usize) -> String {
        let Some(label) = self.labels.as_ref().and_then(|l| l.get(index)) else {
            return String::new();
        };
        match FASHION_MNIST_CLASSES.get(usize::from(*label)) {
            Some(class) if self.fashion_classes => (*class).to_owned(),
            _ => format!("label {label}"),
        }
    }

    /// Image `index` (clamped to the set) as a grey image.
    #[must_use]
    pub fn image(&self, index: usize) -> LoadedImage {
        let index = index.min(self.len().saturating_sub(1));
        let size = self.rows * self.cols;
        let rgba = self.pixels[index * size..(index + 1) * size]
            .iter()
            .flat_map(|p| {
                let v = f32::from(*p) / 255.0;
                [v, v, v, 1.0]
            })
            .collect();
        let label = self.label_text(index);
        let name = if label.is_empty() {
            format!("{} #{index}", self.name)
        } else {
            format!("{} #{index} ({label})", self.name)
        };
        LoadedImage {
            name,
            width: u32::try_from(self.cols).unwrap_or(u32::MAX),
            height: u32::try_from(self.rows).unwrap_or(u32::MAX),
            rgba,
            grayscale: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IDX image file of `n` 2×3 images whose pixels count up.
    fn write_idx(dir: &Path, n: u8) -> std::path::PathBuf {
        let path = dir.join("tiny-images-idx3-ubyte");
        let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, n, 0, 0, 0, 2, 0, 0, 0, 3];
        bytes.extend((0..n * 6).map(|i| i * 10));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("noisescope-image-set-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn an_idx_file_without_labels_browses_by_number() {
        let dir = temp_dir("plain");
        let path = write_idx(&dir, 3);
        assert!(looks_like_idx(&path));
        let set = ImageSet::open(&path).unwrap();
        assert_eq!(set.len(), 3);
        let second = set.image(1);
        assert_eq!((second.width, second.height), (3, 2));
        assert_eq!(second.name, "tiny-images-idx3-ubyte #1");
        // Pixel 0 of image 1 is byte 6 × 10 = 60.
        assert!((second.rgba[0] - 60.0 / 255.0).abs() < 1e-6);
        assert_eq!(set.image(99).name, "tiny-images-idx3-ubyte #2", "clamped to the last");
    }

    #[test]
    fn a_label_file_beside_names_each_image() {
        let dir = temp_dir("labelled");
        let path = write_idx(&dir, 2);
        std::fs::write(dir.join("tiny-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 2, 7, 4]).unwrap();
        let set = ImageSet::open(&path).unwrap();
        assert_eq!(set.image(0).name, "tiny-images-idx3-ubyte #0 (label 7)");
        std::fs::write(dir.join("tiny-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 3, 7, 4, 1]).unwrap();
        let error = ImageSet::open(&path).unwrap_err();
        assert!(error.contains("3 labels for 2 images"), "{error}");
    }

    #[test]
    fn a_png_is_not_taken_for_idx() {
        let dir = temp_dir("png");
        let path = dir.join("one.png");
        image::GrayImage::new(2, 2).save(&path).unwrap();
        assert!(!looks_like_idx(&path));
        assert!(!looks_like_idx(&dir.join("missing")));
    }
}
