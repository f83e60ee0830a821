//! The in-memory dataset every experiment trains on.

use crate::error::{EngineError, Result};
use crate::rng::SplitMix64;
use serde::{Deserialize, Serialize};

/// The shape of one input example.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputShape {
    /// A flat feature vector (e.g. 2-D synthetic points).
    Vector {
        /// Number of features.
        dim: usize,
    },
    /// An image stored channel-major (C, H, W) as in CIFAR-10's binary format.
    Image {
        /// Channels (1 for MNIST, 3 for CIFAR-10).
        channels: usize,
        /// Height in pixels.
        height: usize,
        /// Width in pixels.
        width: usize,
    },
}

impl InputShape {
    /// Number of f32 values per example.
    pub fn numel(&self) -> usize {
        match *self {
            Self::Vector { dim } => dim,
            Self::Image {
                channels,
                height,
                width,
            } => channels * height * width,
        }
    }
}

/// A labelled classification dataset held in memory, features row-major as f32.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Where the data came from (e.g. `mnist10k (embedded)`), for reports.
    pub name: String,
    /// The shape of one example.
    pub shape: InputShape,
    /// `len() * shape.numel()` values, example after example.
    pub features: Vec<f32>,
    /// One label per example, each below `num_classes`.
    pub labels: Vec<u32>,
    /// Number of classes.
    pub num_classes: usize,
}

impl Dataset {
    /// Builds a dataset, checking that sizes and labels agree.
    pub fn new(
        name: impl Into<String>,
        shape: InputShape,
        features: Vec<f32>,
        labels: Vec<u32>,
        num_classes: usize,
    ) -> Result<Self> {
        let name = name.into();
        let dim = shape.numel();
        if dim == 0 || features.len() != labels.len() * dim {
            return Err(EngineError::Data {
                source_name: name,
                detail: format!(
                    "{} feature values for {} labels of {dim} values each",
                    features.len(),
                    labels.len()
                ),
            });
        }
        if let Some((i, &l)) = labels
            .iter()
            .enumerate()
            .find(|&(_, &l)| l as usize >= num_classes)
        {
            return Err(EngineError::Data {
                source_name: name,
                detail: format!("label {l} of example {i} is not below {num_classes} classes"),
            });
        }
        Ok(Self {
            name,
            shape,
            features,
            labels,
            num_classes,
        })
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the dataset has no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per example.
    pub fn dim(&self) -> usize {
        self.shape.numel()
    }

    /// The features of example `i`.
    pub fn example(&self, i: usize) -> &[f32] {
        let d = self.dim();
        &self.features[i * d..(i + 1) * d]
    }

    /// A new dataset holding the examples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Self {
        let d = self.dim();
        let mut features = Vec::with_capacity(indices.len() * d);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            features.extend_from_slice(self.example(i));
            labels.push(self.labels[i]);
        }
        Self {
            name: self.name.clone(),
            shape: self.shape,
            features,
            labels,
            num_classes: self.num_classes,
        }
    }

    /// The first `n` examples (all of them if `n` is larger).
    pub fn take(&self, n: usize) -> Self {
        let idx: Vec<usize> = (0..n.min(self.len())).collect();
        self.subset(&idx)
    }

    /// Splits into (train, test) with a seeded shuffle; `test_fraction` in (0, 1).
    pub fn split(&self, test_fraction: f64, seed: u64) -> Result<(Self, Self)> {
        if !(test_fraction > 0.0 && test_fraction < 1.0) {
            return Err(EngineError::config(
                "test_fraction",
                format!("expected a fraction in (0, 1), found {test_fraction}"),
            ));
        }
        if self.len() < 2 {
            return Err(EngineError::Data {
                source_name: self.name.clone(),
                detail: format!(
                    "a train/test split needs at least 2 examples, found {}",
                    self.len()
                ),
            });
        }
        let perm = SplitMix64::for_purpose(seed, "train-test split").permutation(self.len());
        let n_test = ((self.len() as f64) * test_fraction).round() as usize;
        let n_test = n_test.clamp(1, self.len().saturating_sub(1));
        let (test_idx, train_idx) = perm.split_at(n_test);
        Ok((self.subset(train_idx), self.subset(test_idx)))
    }

    /// Counts of each class, for reports and sanity checks.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.num_classes];
        for &l in &self.labels {
            c[l as usize] += 1;
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Dataset {
        let n = 10;
        Dataset::new(
            "toy",
            InputShape::Vector { dim: 2 },
            (0..n * 2).map(|v| v as f32).collect(),
            (0..n as u32).map(|i| i % 3).collect(),
            3,
        )
        .unwrap()
    }

    #[test]
    fn rejects_mismatched_sizes_and_bad_labels() {
        let e = Dataset::new("x", InputShape::Vector { dim: 2 }, vec![0.0; 3], vec![0], 2);
        assert!(e.unwrap_err().to_string().contains("3 feature values"));
        let e = Dataset::new("x", InputShape::Vector { dim: 1 }, vec![0.0], vec![5], 2);
        assert!(e.unwrap_err().to_string().contains("label 5"));
    }

    #[test]
    fn split_is_seeded_and_partitions() {
        let d = toy();
        let (a, b) = d.split(0.3, 1).unwrap();
        let (a2, _) = d.split(0.3, 1).unwrap();
        assert_eq!(a.len() + b.len(), 10);
        assert_eq!(b.len(), 3);
        assert_eq!(a.features, a2.features);
        let mut all: Vec<f32> = a.features.iter().chain(&b.features).copied().collect();
        all.sort_by(f32::total_cmp);
        assert_eq!(all, d.features);
        assert!(d.split(1.5, 1).is_err());
        for n in [0, 1] {
            let e = d.take(n).split(0.5, 1).unwrap_err().to_string();
            assert!(
                e.contains("toy") && e.contains("at least 2 examples"),
                "{e}"
            );
        }
        let (tr, te) = d.take(2).split(0.5, 1).unwrap();
        assert_eq!((tr.len(), te.len()), (1, 1));
    }
}
