//! The small real data sets compiled into the binary, so that the default run needs no download.
//!
//! See `engine/data/README.md` for their sources and licences. In the browser build (wasm32) the
//! MNIST subset (1.6 MB, incompressible) is not compiled in: the page fetches it when a view
//! needs it and hands it over with [`provide_mnist10k`], so the first download stays small.

use super::dataset::Dataset;
use super::digits::parse_digits_csv;
use super::idx::{idx_dataset, parse_idx_images, parse_idx_labels};
use crate::error::Result;

/// 10,000 MNIST images (28x28, IDX, gzipped).
#[cfg(not(target_arch = "wasm32"))]
pub const MNIST10K_IMAGES_GZ: &[u8] = include_bytes!("../../data/mnist10k-images-idx3-ubyte.gz");
/// The labels of [`MNIST10K_IMAGES_GZ`] (IDX, gzipped).
#[cfg(not(target_arch = "wasm32"))]
pub const MNIST10K_LABELS_GZ: &[u8] = include_bytes!("../../data/mnist10k-labels-idx1-ubyte.gz");

/// The MNIST subset's files as a page fetched them (wasm32: images then labels, gzipped IDX).
#[cfg(target_arch = "wasm32")]
static MNIST10K_FETCHED: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();

/// Hands the engine the MNIST subset's files (`mnist10k-images-idx3-ubyte.gz`,
/// `mnist10k-labels-idx1-ubyte.gz`) that the page fetched; the first call wins.
#[cfg(target_arch = "wasm32")]
pub fn provide_mnist10k(images_gz: Vec<u8>, labels_gz: Vec<u8>) {
    let _ = MNIST10K_FETCHED.set((images_gz, labels_gz));
}

/// Whether [`mnist10k`] can load now: in a browser once the page fetched it.
#[cfg(target_arch = "wasm32")]
pub fn mnist10k_available() -> bool {
    MNIST10K_FETCHED.get().is_some()
}

/// Whether [`mnist10k`] can load now: always natively (it is compiled in).
#[cfg(not(target_arch = "wasm32"))]
pub fn mnist10k_available() -> bool {
    true
}

/// The gzipped IDX images and labels of the MNIST subset, as the page fetched them.
#[cfg(target_arch = "wasm32")]
fn mnist10k_files() -> Result<(&'static [u8], &'static [u8])> {
    MNIST10K_FETCHED
        .get()
        .map(|(i, l)| (i.as_slice(), l.as_slice()))
        .ok_or_else(|| crate::error::EngineError::Data {
            source_name: "mnist10k".into(),
            detail: "not fetched yet (the page downloads it when a view needs it)".into(),
        })
}

/// The gzipped IDX images and labels of the MNIST subset, compiled in.
#[cfg(not(target_arch = "wasm32"))]
fn mnist10k_files() -> Result<(&'static [u8], &'static [u8])> {
    Ok((MNIST10K_IMAGES_GZ, MNIST10K_LABELS_GZ))
}
/// The 1,797 optical-recognition digits (8x8, CSV, gzipped).
pub const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// The embedded 10,000-image MNIST subset as a 10-class dataset of 1x28x28 images in `[0, 1]`.
pub fn mnist10k() -> Result<Dataset> {
    let name = "mnist10k (embedded)";
    let (images_gz, labels_gz) = mnist10k_files()?;
    let images = parse_idx_images(images_gz, "mnist10k images (embedded)")?;
    let labels = parse_idx_labels(labels_gz, "mnist10k labels (embedded)")?;
    idx_dataset(&images, &labels, name)
}

/// The embedded 1,797 digits as a 10-class dataset of 1x8x8 images in `[0, 1]`.
pub fn digits() -> Result<Dataset> {
    parse_digits_csv(DIGITS_CSV_GZ, "digits (embedded)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::InputShape;

    #[test]
    fn mnist10k_is_complete() {
        let d = mnist10k().unwrap();
        assert_eq!(d.name, "mnist10k (embedded)");
        assert_eq!(d.len(), 10_000);
        assert_eq!(d.dim(), 784);
        assert_eq!(
            d.shape,
            InputShape::Image {
                channels: 1,
                height: 28,
                width: 28
            }
        );
        let counts = d.class_counts();
        assert_eq!(counts.len(), 10);
        assert!(counts.iter().all(|&c| c >= 800), "{counts:?}");
        assert!(d.features.iter().all(|&v| (0.0..=1.0).contains(&v)));
        // real digits: mostly background, some full-intensity strokes
        let mean = d.features.iter().map(|&v| f64::from(v)).sum::<f64>() / d.features.len() as f64;
        assert!(mean > 0.08 && mean < 0.2, "mean pixel {mean}");
        assert!(d.features.iter().any(|&v| (v - 1.0).abs() < 1e-6));
    }

    #[test]
    fn digits_has_1797_examples() {
        let d = digits().unwrap();
        assert_eq!(d.name, "digits (embedded)");
        assert_eq!(d.len(), 1797);
        assert_eq!(d.dim(), 64);
        assert!(
            d.class_counts().iter().all(|&c| c >= 170),
            "{:?}",
            d.class_counts()
        );
        assert!(d.features.iter().all(|&v| (0.0..=1.0).contains(&v)));
    }
}
