//! The files that ship inside the binary, from `assets/`: each path is
//! written once, here, beside the bytes compiled from it.

use std::sync::Arc;

use crate::diffusion::mixture::GaussianMixture;

/// A shipped file: its path in the repository and its bytes.
#[derive(Clone, Copy, Debug)]
pub struct Asset {
    /// Where it lives in the repository (and how errors and commands name it).
    pub path: &'static str,
    /// Its contents, compiled in.
    pub bytes: &'static [u8],
}

/// A shipped text file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextAsset {
    /// Where it lives in the repository.
    pub path: &'static str,
    /// Its contents, compiled in.
    pub text: &'static str,
}

macro_rules! asset {
    ($path:literal) => {
        Asset {
            path: $path,
            bytes: include_bytes!(concat!("../", $path)),
        }
    };
}

macro_rules! text_asset {
    ($path:literal) => {
        TextAsset {
            path: $path,
            text: include_str!(concat!("../", $path)),
        }
    };
}

/// The three-blob mixture (weights 0.7 / 0.2 / 0.1) every 2D scene samples.
pub const THREE_BLOBS: TextAsset = text_asset!("assets/mixtures/three-blobs.json");

/// The class-conditional Fashion-MNIST U-Net (see README, "The shipped model").
pub const FASHION_MNIST_MODEL: Asset = asset!("assets/models/fashion-mnist.safetensors");

/// The same U-Net trained by flow matching (see README, "The shipped flow model").
pub const FASHION_MNIST_FLOW_MODEL: Asset = asset!("assets/models/fashion-mnist-flow.safetensors");

/// The lesson PageDown starts when none is open: every scene, in Luo's order.
pub const DEFAULT_LESSON: TextAsset = text_asset!("assets/lessons/default.toml");

/// A short lesson through Sohl-Dickstein et al. (2015).
pub const SOHL_DICKSTEIN_LESSON: TextAsset = text_asset!("assets/lessons/sohl-dickstein-2015.toml");

/// A lesson that comes with noisescope.
#[derive(Clone, Copy, Debug)]
pub struct ShippedLesson {
    /// The name `--lesson` knows it by.
    pub name: &'static str,
    /// What the lesson panel's menu calls it.
    pub title: &'static str,
    /// The file.
    pub lesson: TextAsset,
}

/// The shipped lessons.
pub const SHIPPED_LESSONS: [ShippedLesson; 2] = [
    ShippedLesson {
        name: "default",
        title: "Default lesson: every scene, in Luo's order",
        lesson: DEFAULT_LESSON,
    },
    ShippedLesson {
        name: "sohl-dickstein-2015",
        title: "Sohl-Dickstein et al. 2015, in six stops",
        lesson: SOHL_DICKSTEIN_LESSON,
    },
];

/// The shipped lesson called `name`.
#[must_use]
pub fn shipped_lesson(name: &str) -> Option<TextAsset> {
    SHIPPED_LESSONS.iter().find(|s| s.name == name).map(|s| s.lesson)
}

/// DejaVu Sans: the glyphs egui's own fonts lack (∇, combining marks).
pub const FALLBACK_FONT: Asset = asset!("assets/fonts/DejaVuSans.ttf");

/// Ten Fashion-MNIST test images, one per class, with their class names
/// (MIT licence beside them).
pub const SAMPLE_IMAGES: [(&str, Asset); 10] = [
    ("T-shirt", asset!("assets/images/fashion-mnist-test-0019-t-shirt.png")),
    ("Trouser", asset!("assets/images/fashion-mnist-test-0002-trouser.png")),
    ("Pullover", asset!("assets/images/fashion-mnist-test-0001-pullover.png")),
    ("Dress", asset!("assets/images/fashion-mnist-test-0013-dress.png")),
    ("Coat", asset!("assets/images/fashion-mnist-test-0006-coat.png")),
    ("Sandal", asset!("assets/images/fashion-mnist-test-0008-sandal.png")),
    ("Shirt", asset!("assets/images/fashion-mnist-test-0004-shirt.png")),
    ("Sneaker", asset!("assets/images/fashion-mnist-test-0009-sneaker.png")),
    ("Bag", asset!("assets/images/fashion-mnist-test-0018-bag.png")),
    (
        "Ankle boot",
        asset!("assets/images/fashion-mnist-test-0000-ankle-boot.png"),
    ),
];

/// The shipped three-blob mixture, parsed.
///
/// # Errors
/// Only if the file compiled into the binary is malformed.
pub fn three_blobs() -> crate::diffusion::Result<Arc<GaussianMixture>> {
    Ok(Arc::new(GaussianMixture::from_json(
        THREE_BLOBS.text,
        THREE_BLOBS.path,
    )?))
}

/// The sample images as (class name, grey values in [−1, 1], row by row);
/// index = Fashion-MNIST label. One that does not decode is left out.
#[must_use]
pub fn sample_images_gray() -> Vec<(String, Vec<f32>)> {
    SAMPLE_IMAGES
        .iter()
        .filter_map(|(name, asset)| {
            let image = image::load_from_memory(asset.bytes).ok()?.to_rgba32f();
            Some(((*name).to_owned(), image.pixels().map(|p| 2.0 * p[0] - 1.0).collect()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_shipped_file_parses() {
        let mixture = super::three_blobs().unwrap();
        assert_eq!(mixture.components().len(), 3);
        for (name, image) in super::SAMPLE_IMAGES {
            assert!(image::load_from_memory(image.bytes).is_ok(), "{name}: {}", image.path);
        }
        use crate::model::shipped::ShippedImageModel;
        for &model in ShippedImageModel::ALL {
            let net = model.load().unwrap();
            assert_eq!(net.config().classes, 10, "{model}");
        }
        assert_eq!(
            ShippedImageModel::Flow.load().unwrap().config().prediction,
            crate::diffusion::PredictionType::FlowVelocity
        );
    }
}
