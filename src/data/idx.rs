//! IDX files (LeCun's MNIST format), gzipped or raw.
//!
//! Layout: two zero bytes, a type byte (0x08 = u8), the number of dimensions,
//! then each dimension as a big-endian u32, then the data. Images are
//! `[n, rows, cols]` (magic 0x00000803), labels `[n]` (magic 0x00000801).

use std::io::Read;
use std::path::{Path, PathBuf};

/// Where Debian's `dataset-fashion-mnist` installs the files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The ten Fashion-MNIST classes, by label.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// A failure to read an IDX file: always names the file and the problem.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct IdxError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: String,
}

/// Images with their labels.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelledImages {
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// Pixels in [0, 255], image after image.
    pub pixels: Vec<u8>,
    /// One label per image.
    pub labels: Vec<u8>,
}

impl LabelledImages {
    /// The number of images.
    #[must_use]
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image `i` scaled to [−1, 1], as the models see data.
    #[must_use]
    pub fn image_signed(&self, i: usize) -> Vec<f64> {
        let size = self.rows * self.cols;
        self.pixels[i * size..(i + 1) * size]
            .iter()
            .map(|p| f64::from(*p) / 127.5 - 1.0)
            .collect()
    }
}

/// The label file that conventionally sits beside an image file
/// (`…-images-idx3-ubyte[.gz]` → `…-labels-idx1-ubyte[.gz]`), if it exists.
#[must_use]
pub fn label_file_beside(images: &Path) -> Option<PathBuf> {
    let name = images.file_name()?.to_str()?;
    let labels = images.with_file_name(name.replacen("images-idx3", "labels-idx1", 1));
    (labels != images && labels.exists()).then_some(labels)
}

/// Reads an image file and its label file, checking they agree.
///
/// # Errors
/// Unreadable, truncated or corrupt files, wrong magic numbers, or counts that disagree.
pub fn read_pair(images: &Path, labels: &Path) -> Result<LabelledImages, IdxError> {
    let (dims, pixels) = read_idx(images, 3)?;
    let (label_dims, label_bytes) = read_idx(labels, 1)?;
    if dims[0] != label_dims[0] {
        return Err(IdxError {
            path: labels.to_path_buf(),
            problem: format!(
                "{} labels for {} images in {}",
                label_dims[0],
                dims[0],
                images.display()
            ),
        });
    }
    Ok(LabelledImages {
        rows: dims[1],
        cols: dims[2],
        pixels,
        labels: label_bytes,
    })
}

/// The Fashion-MNIST training or test split from Debian's package.
///
/// # Errors
/// As [`read_pair`]; a missing file says which package provides it.
pub fn fashion_mnist(train: bool) -> Result<LabelledImages, IdxError> {
    let split = if train { "train" } else { "t10k" };
    let images = fashion_mnist_images(train)?;
    read_pair(
        &images,
        &Path::new(FASHION_MNIST_DIR).join(format!("{split}-labels-idx1-ubyte.gz")),
    )
}

/// The image file of a Fashion-MNIST split from Debian's package.
///
/// # Errors
/// The file is missing: the error says which package provides it.
pub fn fashion_mnist_images(train: bool) -> Result<PathBuf, IdxError> {
    let split = if train { "train" } else { "t10k" };
    let images = Path::new(FASHION_MNIST_DIR).join(format!("{split}-images-idx3-ubyte.gz"));
    if images.exists() {
        Ok(images)
    } else {
        Err(IdxError {
            path: images,
            problem: "not found (install Debian's package dataset-fashion-mnist)".into(),
        })
    }
}

/// Reads an IDX file of u8 with `expected_dims` dimensions: (dimensions, data).
///
/// # Errors
/// See [`read_pair`].
pub fn read_idx(path: &Path, expected_dims: u8) -> Result<(Vec<usize>, Vec<u8>), IdxError> {
    let fail = |problem: String| IdxError {
        path: path.to_path_buf(),
        problem,
    };
    let raw = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| fail(format!("corrupt gzip data ({e})")))?;
        out
    } else {
        raw
    };
    parse_idx(&bytes, expected_dims).map_err(fail)
}

/// Parses IDX bytes of u8 with `expected_dims` dimensions.
///
/// # Errors
/// A one-line description of what is wrong.
pub fn parse_idx(bytes: &[u8], expected_dims: u8) -> Result<(Vec<usize>, Vec<u8>), String> {
    if bytes.len() < 4 {
        return Err(format!("truncated: {} bytes, not even a header", bytes.len()));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let expected_magic = 0x0800 | u32::from(expected_dims);
    if magic != expected_magic {
        return Err(format!(
            "wrong magic number 0x{magic:08x} (expected 0x{expected_magic:08x}: u8 data in {expected_dims} dimensions)"
        ));
    }
    let header_len = 4 + 4 * usize::from(expected_dims);
    if bytes.len() < header_len {
        return Err(format!("truncated header: {} of {header_len} bytes", bytes.len()));
    }
    let dims: Vec<usize> = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    // Checked: three u32 sides can promise more bytes than a usize counts.
    let expected_len = dims
        .iter()
        .try_fold(1_usize, |len, &side| len.checked_mul(side))
        .ok_or_else(|| format!("the header {dims:?} promises more bytes than this machine can address"))?;
    let data = &bytes[header_len..];
    if data.len() != expected_len {
        return Err(format!(
            "{} data bytes where the header {dims:?} promises {expected_len}{}",
            data.len(),
            if data.len() < expected_len { " (truncated)" } else { "" }
        ));
    }
    Ok((dims, data.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut bytes = magic.to_be_bytes().to_vec();
        for d in dims {
            bytes.extend(d.to_be_bytes());
        }
        bytes.extend(data);
        bytes
    }

    #[test]
    fn parses_images_and_reports_every_kind_of_damage() {
        let good = idx(0x0803, &[2, 2, 2], &[0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(
            parse_idx(&good, 3).unwrap(),
            (vec![2, 2, 2], vec![0, 1, 2, 3, 4, 5, 6, 7])
        );
        assert!(parse_idx(&good[..good.len() - 1], 3).unwrap_err().contains("truncated"));
        assert!(parse_idx(&good, 1).unwrap_err().contains("wrong magic number"));
        assert!(parse_idx(&good[..6], 3).unwrap_err().contains("truncated header"));
        assert!(parse_idx(&[1, 2], 3).unwrap_err().contains("not even a header"));
        // Found by the fuzzer: sides whose product overflows a usize panicked.
        let huge = idx(0x0803, &[u32::MAX, u32::MAX, u32::MAX], &[]);
        assert!(
            parse_idx(&huge, 3)
                .unwrap_err()
                .contains("more bytes than this machine")
        );
    }

    #[test]
    fn files_name_themselves_and_counts_must_agree() {
        let dir = std::env::temp_dir().join(format!("noisescope-idx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let images = dir.join("images.idx");
        let labels = dir.join("labels.idx");
        std::fs::write(&images, idx(0x0803, &[2, 1, 1], &[9, 8])).unwrap();
        std::fs::write(&labels, idx(0x0801, &[3], &[0, 1, 2])).unwrap();
        let err = read_pair(&images, &labels).unwrap_err().to_string();
        assert!(
            err.contains("labels.idx") && err.contains("3 labels for 2 images"),
            "{err}"
        );
        std::fs::write(&labels, b"\x1f\x8bnot gzip").unwrap();
        let err = read_pair(&images, &labels).unwrap_err().to_string();
        assert!(err.contains("corrupt gzip"), "{err}");
    }

    #[test]
    fn reads_fashion_mnist_when_installed() {
        match fashion_mnist(false) {
            Ok(data) => {
                assert_eq!((data.len(), data.rows, data.cols), (10_000, 28, 28));
                // The test split's first image is an ankle boot (label 9).
                assert_eq!(data.labels[0], 9);
            }
            Err(e) => {
                assert!(e.to_string().contains("dataset-fashion-mnist"), "{e}");
                println!("skipped: {e}");
            }
        }
    }
}
