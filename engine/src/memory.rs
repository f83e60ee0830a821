//! Memory budgets: every experiment estimates the peak memory of its configuration from the
//! fields that drive it (datasets, parameters with their gradients and optimizer state,
//! activations, particle state, node models), and a run whose estimate exceeds the budget (the
//! machine's memory, or `--max-memory`) is refused with exit code 2 before anything is
//! allocated. The estimates are upper bounds of the dominant terms, not exact accounting: their
//! job is to stop the configurations that would abort on allocation (terabytes, not megabytes).

use crate::data::{DatasetSpec, declared_idx_size};
use crate::error::{EngineError, Result};
use crate::model::NetworkConfig;

/// Bytes of an f32.
pub const F32: u64 = 4;

/// A peak-memory estimate: its parts, each named by the config field that drives it, and notes
/// on where a part's size comes from when not from the config (a data file's header).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemoryEstimate {
    parts: Vec<(String, u64)>,
    notes: Vec<String>,
}

impl MemoryEstimate {
    /// An estimate with no parts yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `bytes` driven by the config field `field` (saturating: a product that overflows
    /// is simply too large).
    pub fn add(mut self, field: &str, bytes: u64) -> Self {
        self.parts.push((field.into(), bytes));
        self
    }

    /// Adds a note that a refusal quotes: where a size comes from when a file, not a config
    /// field, declares it.
    pub fn note(mut self, text: impl Into<String>) -> Self {
        self.notes.push(text.into());
        self
    }

    /// Adds another estimate's parts, their fields under `prefix`, and its notes.
    pub fn nest(mut self, prefix: &str, other: MemoryEstimate) -> Self {
        for (f, b) in other.parts {
            self.parts.push((format!("{prefix}.{f}"), b));
        }
        self.notes.extend(other.notes);
        self
    }

    /// The total in bytes (saturating).
    pub fn total(&self) -> u64 {
        self.parts
            .iter()
            .fold(0u64, |a, (_, b)| a.saturating_add(*b))
    }

    /// The parts, largest first.
    pub fn parts(&self) -> Vec<(String, u64)> {
        let mut p = self.parts.clone();
        p.sort_by_key(|b| std::cmp::Reverse(b.1));
        p
    }

    /// Refuses the estimate when it exceeds `budget` bytes; the message names the fields that
    /// drive it, largest first, and where the budget came from.
    pub fn check(&self, budget: u64, budget_from: &str) -> Result<()> {
        let total = self.total();
        if total <= budget {
            return Ok(());
        }
        let parts = self.parts();
        let field = parts.first().map_or("<root>".to_string(), |p| p.0.clone());
        let shown: Vec<String> = parts
            .iter()
            .take(3)
            .map(|(f, b)| format!("`{f}` {}", show_bytes(*b)))
            .collect();
        let notes: String = self.notes.iter().map(|n| format!(" ({n})")).collect();
        Err(EngineError::config(
            field,
            format!(
                "this config needs about {} of memory (largest parts: {}), more than the {} \
                 {budget_from}; make those fields smaller{notes}",
                show_bytes(total),
                shown.join(", "),
                show_bytes(budget)
            ),
        ))
    }
}

/// What the process needs before any config-driven memory (code, the runtime, the embedded data
/// sets): 25–30 MB measured as the peak RSS of the smallest runs; counted as 32 MiB.
pub const PROGRAM_BYTES: u64 = 32 << 20;

impl MemoryEstimate {
    /// Refuses the estimate, plus [`PROGRAM_BYTES`] for sgdlab itself, when it exceeds
    /// `max_memory` (`--max-memory`), or else the machine's memory; no check where neither is
    /// known. Used by `sgdlab run` and `sgdlab bench` alike.
    pub fn check_budget(self, max_memory: Option<u64>) -> Result<()> {
        let (budget, from) = match max_memory {
            Some(b) => (b, "--max-memory allows"),
            None => match machine_memory() {
                Some(m) => (m, "this machine has (--max-memory sets another budget)"),
                None => return Ok(()),
            },
        };
        self.add("(sgdlab itself)", PROGRAM_BYTES)
            .check(budget, from)
    }
}

/// `a · b · c …` saturating.
pub fn product(factors: &[u64]) -> u64 {
    factors.iter().fold(1u64, |a, &b| a.saturating_mul(b))
}

/// Bytes as "812 MB", "3.1 TB".
pub fn show_bytes(b: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

/// The machine's memory in bytes (`MemTotal` of /proc/meminfo); `None` where it is not known
/// (no budget is then applied unless `--max-memory` sets one).
pub fn machine_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// Parses a size such as `8G`, `512M`, `2T` or a number of bytes (`--max-memory`).
pub fn parse_bytes(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let unit = t[i..].to_ascii_uppercase();
            let m: u64 = match unit.trim_end_matches('B').trim_end_matches('I') {
                "" => 1,
                "K" => 1 << 10,
                "M" => 1 << 20,
                "G" => 1 << 30,
                "T" => 1 << 40,
                _ => return Err(format!("unknown unit in `{s}`: use K, M, G or T")),
            };
            (&t[..i], m)
        }
        None => (t, 1),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("expected a size such as 8G or 512M, found `{s}`"))?;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("expected a positive size, found `{s}`"));
    }
    Ok((v * mult as f64).min(u64::MAX as f64) as u64)
}

/// The size of a data set as the estimates count it.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetSize {
    /// Examples (training and test together).
    pub examples: u64,
    /// Values per example.
    pub features: u64,
    /// Classes.
    pub classes: u64,
    /// `(c, h, w)` of an image set.
    pub image: Option<[u64; 3]>,
    /// Where the counts come from when the headers of data files declare them, for the message
    /// of a refused estimate.
    pub declared_by: Option<String>,
}

impl DatasetSize {
    /// A size known without reading any file.
    fn known(examples: u64, features: u64, classes: u64, image: Option<[u64; 3]>) -> Self {
        Self {
            examples,
            features,
            classes,
            image,
            declared_by: None,
        }
    }
}

/// The size of a data set as the estimates count it. An IDX directory counts at what its
/// files' headers declare (read without reading past them, so a header that declares
/// terabytes is refused by the estimate before anything is allocated), or at the size of
/// MNIST when they cannot be read (loading then says why); CIFAR-10 and CSV files count at the
/// size of the standard sets, their readers bounding what each file may hold.
pub fn dataset_size(spec: &DatasetSpec, synthetic_n: usize) -> DatasetSize {
    match spec {
        DatasetSpec::Mnist10k => DatasetSize::known(10_000, 784, 10, Some([1, 28, 28])),
        DatasetSpec::Digits | DatasetSpec::DigitsCsv(_) => {
            DatasetSize::known(1_797, 64, 10, Some([1, 8, 8]))
        }
        DatasetSpec::TwoClusters | DatasetSpec::Moons | DatasetSpec::Spirals => {
            DatasetSize::known(synthetic_n as u64, 2, 2, None)
        }
        DatasetSpec::Idx(dir) => match declared_idx_size(dir) {
            Some(d) => DatasetSize {
                examples: d.examples,
                features: d.rows.saturating_mul(d.cols),
                classes: 10,
                image: Some([1, d.rows, d.cols]),
                declared_by: Some(format!(
                    "the data set counts as its files' headers declare: {}",
                    d.files.join(", ")
                )),
            },
            None => DatasetSize::known(70_000, 784, 10, Some([1, 28, 28])),
        },
        DatasetSpec::Cifar10(_) => DatasetSize::known(60_000, 3_072, 10, Some([3, 32, 32])),
    }
}

/// A network's parameters, the activation values per example that a training step keeps, and
/// those an evaluation pass holds at once (the same for the shallow networks; a deep network
/// frees each layer's input as it goes).
fn network_shape(
    net: &NetworkConfig,
    features: u64,
    classes: u64,
    image: Option<[u64; 3]>,
) -> (u64, u64, u64) {
    match net {
        NetworkConfig::Mlp(m) => {
            let mut params = 0u64;
            let mut widths = 0u64;
            let mut prev = features;
            for h in m.hidden.iter().map(|&h| h as u64).chain([classes]) {
                params = params.saturating_add(product(&[prev.saturating_add(1), h]));
                widths = widths.saturating_add(h);
                prev = h;
            }
            let widths = widths.saturating_add(features);
            (params, widths, widths)
        }
        NetworkConfig::Cnn(c) => {
            let [ch, h, w] = image.unwrap_or([1, features, 1]);
            let (c1, c2, hid) = (
                c.conv1_channels as u64,
                c.conv2_channels as u64,
                c.hidden as u64,
            );
            let flat = product(&[c2, h / 4, w / 4]);
            let params = product(&[ch, c1, 25])
                .saturating_add(product(&[c1, c2, 25]))
                .saturating_add(product(&[flat.saturating_add(1), hid]))
                .saturating_add(product(&[hid.saturating_add(1), classes]));
            let widths = product(&[ch, h, w])
                .saturating_add(product(&[c1, h, w]))
                .saturating_add(product(&[c2, h / 2, w / 2]))
                .saturating_add(hid)
                .saturating_add(classes);
            (params, widths, widths)
        }
        NetworkConfig::Resnet(r) => {
            let [ch, h, w] = image.unwrap_or([1, features, 1]);
            if r.width > crate::model::MAX_RESNET_WIDTH {
                // Refused by validation; still a (huge) estimate rather than an overflow.
                let wide = r.width as u64;
                let widths = product(&[wide, h, w, 64]);
                return (product(&[wide, wide, 2_800]), widths, widths);
            }
            let input = [ch, h, w].map(|v| usize::try_from(v).unwrap_or(usize::MAX));
            let (ch, classes) = (input[0], usize::try_from(classes).unwrap_or(usize::MAX));
            // The running statistics travel with the parameters (two per batch-norm channel).
            let params = (r.trainable_params(ch, classes) + 2 * r.bn_channels()) as u64;
            // Batch norm and ReLU keep about as much again as the convolutions' outputs.
            let widths = (r.activations_per_example(input) as u64).saturating_mul(3);
            // Evaluation holds a block's input, its maps and its shortcut: a few of the
            // largest (the stem's and the first stage's, width·h·w).
            let peak = product(&[4, (r.width as u64).max(input[0] as u64), h, w]);
            (params, widths, peak)
        }
    }
}

/// A classifier trained by mini-batch SGD on a data set: the data (and an augmented copy), the
/// parameters with gradients, optimizer state and autodiff copies (`models` of them alive at
/// once), and the activations of a training batch and of an evaluation pass over `eval_rows`
/// examples (evaluation runs in chunks of 1,000). Fields are named under `net_field` and `batch_field`.
pub fn classifier_memory(
    net: &NetworkConfig,
    net_field: &str,
    data: DatasetSize,
    batch: u64,
    batch_field: &str,
    models: u64,
) -> MemoryEstimate {
    let DatasetSize {
        examples,
        features,
        classes,
        image,
        declared_by,
    } = data;
    let (params, widths, eval_widths) = network_shape(net, features, classes, image);
    let estimate = MemoryEstimate::new()
        .add("dataset", product(&[examples, features, F32, 2]))
        .add(net_field, product(&[params, F32, 5, models]))
        .add(batch_field, product(&[batch, widths, F32, 3]))
        .add(
            &format!("{net_field} (evaluation)"),
            product(&[examples.min(1000), eval_widths, F32, 2]),
        );
    match declared_by {
        Some(note) => estimate.note(note),
        None => estimate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_estimate_over_budget_names_its_largest_field() {
        let e = MemoryEstimate::new()
            .add("seeds", 10)
            .add("network.hidden", product(&[1_000_000_000, 784, F32]));
        assert!(e.check(u64::MAX, "x").is_ok());
        let msg = e
            .check(24 << 30, "this machine has")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("`network.hidden`") && msg.contains("3.1 TB") && msg.contains("25.8 GB"),
            "{msg}"
        );
        assert_eq!(product(&[u64::MAX, 2]), u64::MAX);
        let nested = MemoryEstimate::new().nest("network", MemoryEstimate::new().add("hidden", 5));
        assert_eq!(nested.parts(), [("network.hidden".to_string(), 5)]);
    }

    #[test]
    fn a_resnet18_on_cifar_is_estimated_in_gigabytes_not_terabytes() {
        use crate::model::ResnetConfig;
        let cifar = dataset_size(&DatasetSpec::Cifar10("x".into()), 0);
        let net = NetworkConfig::Resnet(ResnetConfig::new());
        let (params, train, eval) = network_shape(&net, cifar.features, cifar.classes, cifar.image);
        assert_eq!(params, 11_173_962 + 9_600);
        assert!(
            eval < train,
            "evaluation frees each layer's input as it goes"
        );
        let e = classifier_memory(&net, "network", cifar.clone(), 128, "batch_size", 7);
        assert!((3 << 30..12 << 30).contains(&e.total()), "{:?}", e.parts());
        let wide = NetworkConfig::Resnet(ResnetConfig::new().with_width(1 << 20));
        let e = classifier_memory(&wide, "network", cifar, 128, "batch_size", 7);
        assert!(e.check(1 << 40, "x").is_err());
    }

    /// An IDX directory counts at what its headers declare: the real MNIST sizes give the
    /// numbers as before, a header declaring 10^11 bytes is refused by a 1 GiB budget with the
    /// file named, and unreadable headers fall back to MNIST's size.
    #[test]
    fn an_idx_directory_counts_at_its_headers() {
        let header = |magic: u32, dims: &[u32]| {
            let mut b = magic.to_be_bytes().to_vec();
            for d in dims {
                b.extend_from_slice(&d.to_be_bytes());
            }
            b
        };
        let dir = tempfile::tempdir().unwrap();
        let spec = DatasetSpec::Idx(dir.path().to_path_buf());
        let mnist = DatasetSize::known(70_000, 784, 10, Some([1, 28, 28]));
        assert_eq!(dataset_size(&spec, 0), mnist);
        let write = |name: &str, bytes: Vec<u8>| std::fs::write(dir.path().join(name), bytes);
        write("train-images-idx3-ubyte", header(0x803, &[60_000, 28, 28])).unwrap();
        write("train-labels-idx1-ubyte", header(0x801, &[60_000])).unwrap();
        write("t10k-images-idx3-ubyte", header(0x803, &[10_000, 28, 28])).unwrap();
        write("t10k-labels-idx1-ubyte", header(0x801, &[10_000])).unwrap();
        let size = dataset_size(&spec, 0);
        assert_eq!(
            (size.examples, size.features, size.classes, size.image),
            (mnist.examples, mnist.features, mnist.classes, mnist.image)
        );
        write(
            "train-images-idx3-ubyte",
            header(0x803, &[127_551_021, 28, 28]),
        )
        .unwrap();
        let net = NetworkConfig::Mlp(crate::model::MlpConfig::new());
        let e = classifier_memory(&net, "network", dataset_size(&spec, 0), 64, "batch", 1);
        let msg = e
            .check(1 << 30, "--max-memory allows")
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("config field `dataset`")
                && msg.contains("train-images-idx3-ubyte: 127551021 images of 28x28 pixels"),
            "{msg}"
        );
    }

    #[test]
    fn sizes_parse_with_units_and_refuse_nonsense() {
        assert_eq!(parse_bytes("8G"), Ok(8 << 30));
        assert_eq!(parse_bytes("512m"), Ok(512 << 20));
        assert_eq!(parse_bytes("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert!(parse_bytes("8X").is_err());
        assert!(parse_bytes("-1G").is_err());
        assert!(parse_bytes("G").is_err());
    }

    #[test]
    fn this_machine_reports_its_memory_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(machine_memory().is_some_and(|m| m > 1 << 20));
        }
    }
}
