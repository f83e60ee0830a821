//! Which data set to train on, as written in configs and on the command line.

use super::cifar::load_cifar_dir;
use super::dataset::Dataset;
use super::digits::load_digits_csv;
use super::embedded::{digits, mnist10k};
use super::idx::load_idx_dir;
use super::synthetic::{moons, spirals, two_clusters};
use crate::error::{EngineError, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// The accepted spellings of a [`DatasetSpec`], for help texts and error messages.
pub const DATASET_FORMS: &str =
    "mnist10k, digits, two-clusters, moons, spirals, idx:DIR, cifar10:DIR, digits:FILE.csv";

/// Noise (standard deviation per coordinate) of the `moons` set.
pub const MOONS_NOISE: f32 = 0.1;
/// Noise (standard deviation per coordinate) of the `spirals` set.
pub const SPIRALS_NOISE: f32 = 0.05;

/// A data set by name: embedded, synthetic, or read from a directory or a file.
///
/// Written as `mnist10k`, `digits`, `two-clusters`, `moons`, `spirals`, `idx:DIR` (MNIST or
/// Fashion-MNIST IDX files) or `cifar10:DIR` (CIFAR-10 binary batches); serialized as that
/// string.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum DatasetSpec {
    /// The embedded 10,000-image MNIST subset.
    Mnist10k,
    /// The embedded 1,797 8x8 digits.
    Digits,
    /// Two Gaussian clusters in 2-D (see [`two_clusters`]).
    TwoClusters,
    /// Two interleaving half circles in 2-D (see [`moons`]).
    Moons,
    /// Two interleaved spirals in 2-D (see [`spirals`]).
    Spirals,
    /// A directory of MNIST-format IDX files (see [`load_idx_dir`]).
    Idx(PathBuf),
    /// A directory of CIFAR-10 binary batches (see [`load_cifar_dir`]).
    Cifar10(PathBuf),
    /// A CSV file in the digits format: 64 pixel values 0..16 then the label, per row.
    DigitsCsv(PathBuf),
}

/// A loaded data set: the training examples and, when the source has one, its test split.
#[derive(Clone, Debug)]
pub struct LoadedData {
    /// The training examples (all examples when there is no separate test split).
    pub train: Dataset,
    /// The source's own test split; `None` for embedded and synthetic sets (callers split).
    pub test: Option<Dataset>,
}

impl DatasetSpec {
    /// Loads the data set. Synthetic sets get `synthetic_n` points drawn with `seed`; other
    /// sets ignore both.
    pub fn load(&self, synthetic_n: usize, seed: u64) -> Result<LoadedData> {
        if self.is_two_d() && synthetic_n < 2 {
            return Err(EngineError::config(
                "synthetic_n",
                format!("expected at least 2 points for `{self}`, found {synthetic_n}"),
            ));
        }
        let only = |train: Dataset| LoadedData { train, test: None };
        Ok(match self {
            Self::Mnist10k => only(mnist10k()?),
            Self::Digits => only(digits()?),
            Self::TwoClusters => only(two_clusters(synthetic_n, seed)),
            Self::Moons => only(moons(synthetic_n, MOONS_NOISE, seed)),
            Self::Spirals => only(spirals(synthetic_n, SPIRALS_NOISE, seed)),
            Self::Idx(dir) => {
                let s = load_idx_dir(dir)?;
                LoadedData {
                    train: s.train,
                    test: s.test,
                }
            }
            Self::DigitsCsv(path) => only(load_digits_csv(path)?),
            Self::Cifar10(dir) => {
                let s = load_cifar_dir(dir)?;
                LoadedData {
                    train: s.train,
                    test: s.test,
                }
            }
        })
    }

    /// Loads the data set and returns (train, test): the source's own split when it has one,
    /// else a seeded split with `test_fraction` of the examples held out.
    pub fn load_train_test(
        &self,
        synthetic_n: usize,
        test_fraction: f64,
        seed: u64,
    ) -> Result<(Dataset, Dataset)> {
        let loaded = self.load(synthetic_n, seed)?;
        match loaded.test {
            Some(test) => Ok((loaded.train, test)),
            None => loaded.train.split(test_fraction, seed),
        }
    }

    /// Whether this is one of the 2-D synthetic sets (whose decision boundary can be drawn).
    pub fn is_two_d(&self) -> bool {
        matches!(self, Self::TwoClusters | Self::Moons | Self::Spirals)
    }
}

impl fmt::Display for DatasetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mnist10k => f.write_str("mnist10k"),
            Self::Digits => f.write_str("digits"),
            Self::TwoClusters => f.write_str("two-clusters"),
            Self::Moons => f.write_str("moons"),
            Self::Spirals => f.write_str("spirals"),
            Self::Idx(dir) => write!(f, "idx:{}", dir.display()),
            Self::Cifar10(dir) => write!(f, "cifar10:{}", dir.display()),
            Self::DigitsCsv(path) => write!(f, "digits:{}", path.display()),
        }
    }
}

impl FromStr for DatasetSpec {
    type Err = String;

    /// Parses the forms listed in [`DATASET_FORMS`]; names are case-insensitive, directories
    /// are taken as written.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        let dir = |kind: &str, rest: &str| {
            if rest.trim().is_empty() {
                let (what, example) = match kind {
                    "idx" => ("a directory", "fashion-mnist"),
                    "digits" => ("a file", "digits.csv"),
                    _ => ("a directory", "cifar-10-batches-bin"),
                };
                Err(format!(
                    "dataset `{s}`: `{kind}:` needs {what}, as in {kind}:data/{example}"
                ))
            } else {
                Ok(PathBuf::from(rest))
            }
        };
        if let Some((kind, rest)) = s.split_once(':') {
            match kind.to_ascii_lowercase().as_str() {
                "idx" => return dir("idx", rest).map(Self::Idx),
                "cifar10" => return dir("cifar10", rest).map(Self::Cifar10),
                "digits" => return dir("digits", rest).map(Self::DigitsCsv),
                _ => {}
            }
        }
        match s.to_ascii_lowercase().as_str() {
            "mnist10k" => Ok(Self::Mnist10k),
            "digits" => Ok(Self::Digits),
            "two-clusters" => Ok(Self::TwoClusters),
            "moons" => Ok(Self::Moons),
            "spirals" => Ok(Self::Spirals),
            _ => Err(format!(
                "unknown dataset `{s}`; expected one of: {DATASET_FORMS}"
            )),
        }
    }
}

impl From<DatasetSpec> for String {
    fn from(spec: DatasetSpec) -> Self {
        spec.to_string()
    }
}

impl TryFrom<String> for DatasetSpec {
    type Error = String;

    fn try_from(s: String) -> std::result::Result<Self, String> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<DatasetSpec> {
        vec![
            DatasetSpec::Mnist10k,
            DatasetSpec::Digits,
            DatasetSpec::TwoClusters,
            DatasetSpec::Moons,
            DatasetSpec::Spirals,
            DatasetSpec::Idx(PathBuf::from("data/fashion")),
            DatasetSpec::Cifar10(PathBuf::from("/tmp/c:10")),
            DatasetSpec::DigitsCsv(PathBuf::from("my/digits.csv")),
        ]
    }

    #[test]
    fn parse_display_and_serde_roundtrip() {
        for spec in all() {
            let s = spec.to_string();
            assert_eq!(s.parse::<DatasetSpec>().unwrap(), spec, "{s}");
            let json = serde_json::to_string(&spec).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<DatasetSpec>(&json).unwrap(), spec);
        }
        assert_eq!(
            "idx:a/b".parse(),
            Ok(DatasetSpec::Idx(PathBuf::from("a/b")))
        );
        assert_eq!(" MNIST10K ".parse(), Ok(DatasetSpec::Mnist10k));
        assert!(DatasetSpec::Moons.is_two_d() && !DatasetSpec::Digits.is_two_d());
    }

    #[test]
    fn unknown_names_list_the_accepted_forms() {
        let e = "mnist".parse::<DatasetSpec>().unwrap_err();
        assert!(e.contains("unknown dataset `mnist`"), "{e}");
        for form in [
            "mnist10k",
            "digits",
            "two-clusters",
            "moons",
            "spirals",
            "idx:DIR",
            "cifar10:DIR",
        ] {
            assert!(e.contains(form), "{e} lacks {form}");
        }
        let e = "idx:".parse::<DatasetSpec>().unwrap_err();
        assert!(e.contains("needs a directory"), "{e}");
        // `digits:` takes a CSV file, not a directory.
        let e = "digits:".parse::<DatasetSpec>().unwrap_err();
        assert!(
            e.contains("needs a file, as in digits:data/digits.csv"),
            "{e}"
        );
        assert!("cifar10:  ".parse::<DatasetSpec>().is_err());
        assert!(
            "foo:bar"
                .parse::<DatasetSpec>()
                .unwrap_err()
                .contains("unknown dataset")
        );
        assert!(serde_json::from_str::<DatasetSpec>("\"nope\"").is_err());
    }

    #[test]
    fn loads_synthetic_and_reports_missing_directories() {
        let d = DatasetSpec::Spirals.load(50, 2).unwrap();
        assert_eq!(d.train.len(), 50);
        assert!(d.test.is_none());
        assert!(DatasetSpec::Moons.load(0, 2).is_err());
        let e = DatasetSpec::Idx(PathBuf::from("/nonexistent/sgdlab-idx"))
            .load(10, 0)
            .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/sgdlab-idx"), "{e}");
    }
}
