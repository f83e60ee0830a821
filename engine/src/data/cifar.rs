//! CIFAR-10's binary batches (`data_batch_1.bin` .. `data_batch_5.bin`, `test_batch.bin`).
//!
//! Each record is one label byte (0..=9) followed by 3,072 pixel bytes: the 32x32 red plane,
//! then green, then blue, each row-major. That is already the channel-major layout of
//! [`InputShape::Image`], so pixels are only scaled to `[0, 1]`.

use super::dataset::{Dataset, InputShape};
use super::idx::{in_file, maybe_gunzip};
use super::input::{exists, file_bound, read_data_file};
use crate::error::{EngineError, Result};
use std::path::{Path, PathBuf};

/// Pixel bytes in one CIFAR-10 image (3 planes of 32x32).
pub const CIFAR_PIXELS: usize = 3 * 32 * 32;
/// Bytes in one CIFAR-10 record: the label byte and the pixels.
pub const CIFAR_RECORD: usize = 1 + CIFAR_PIXELS;

/// The sub-directory the CIFAR-10 archive unpacks to.
const ARCHIVE_DIR: &str = "cifar-10-batches-bin";
/// The training batch files, in the order they are concatenated.
const TRAIN_BATCHES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// The test batch file.
const TEST_BATCH: &str = "test_batch.bin";

/// The training batches of a CIFAR-10 directory and, when present, the test batch.
#[derive(Clone, Debug)]
pub struct CifarSplit {
    /// The records of every `data_batch_N.bin` found, in order of N.
    pub train: Dataset,
    /// The records of `test_batch.bin`, if present.
    pub test: Option<Dataset>,
}

/// The shape of one CIFAR-10 image.
fn cifar_shape() -> InputShape {
    InputShape::Image {
        channels: 3,
        height: 32,
        width: 32,
    }
}

/// The most records one (gzipped) batch file may decompress to.
const MAX_BATCH_RECORDS: usize = 60_000;
/// The most bytes one (gzipped) batch file may decompress to.
const MAX_BATCH_BYTES: usize = MAX_BATCH_RECORDS * CIFAR_RECORD;
/// The most bytes one batch file may have on disk, gzipped or raw.
const MAX_BATCH_FILE_BYTES: u64 = file_bound(MAX_BATCH_BYTES as u64);

/// Appends the records of one batch to `features` and `labels`.
fn parse_records(
    bytes: &[u8],
    origin: &str,
    features: &mut Vec<f32>,
    labels: &mut Vec<u32>,
) -> Result<()> {
    // The binary distribution's batches hold 10,000 records; allow a few times that.
    let data = maybe_gunzip(bytes, origin, MAX_BATCH_BYTES)?;
    let err = |detail: String| EngineError::Data {
        source_name: origin.to_string(),
        detail,
    };
    if data.is_empty() {
        return Err(err("empty CIFAR-10 batch (0 bytes)".to_string()));
    }
    if data.len() % CIFAR_RECORD != 0 {
        let record = data.len() / CIFAR_RECORD;
        return Err(err(format!(
            "length {} is not a multiple of the {CIFAR_RECORD}-byte record: record {record} \
             (0-based, at byte offset {}) has only {} of its {CIFAR_RECORD} bytes",
            data.len(),
            record * CIFAR_RECORD,
            data.len() % CIFAR_RECORD
        )));
    }
    let n = data.len() / CIFAR_RECORD;
    features.reserve(n * CIFAR_PIXELS);
    labels.reserve(n);
    for (i, rec) in data.chunks_exact(CIFAR_RECORD).enumerate() {
        let label = rec[0];
        if label > 9 {
            return Err(err(format!(
                "record {i} (0-based, at byte offset {}) has label {label}, expected 0..=9",
                i * CIFAR_RECORD
            )));
        }
        labels.push(u32::from(label));
        features.extend(rec[1..].iter().map(|&p| f32::from(p) / 255.0));
    }
    Ok(())
}

/// Parses one CIFAR-10 binary batch (gzipped or raw) into a 10-class dataset of 3x32x32 images
/// with features scaled to `[0, 1]`. `origin` names the data in errors and is the dataset name.
pub fn parse_cifar_batch(bytes: &[u8], origin: &str) -> Result<Dataset> {
    let mut features = Vec::new();
    let mut labels = Vec::new();
    parse_records(bytes, origin, &mut features, &mut labels)?;
    Dataset::new(origin, cifar_shape(), features, labels, 10)
}

/// Loads CIFAR-10 from a directory of binary batches.
///
/// Looks in `dir`, then in `dir/cifar-10-batches-bin/`, for `data_batch_1.bin` ..
/// `data_batch_5.bin` (whichever exist, at least one; concatenated in order) and for the
/// optional `test_batch.bin` next to them.
pub fn load_cifar_dir(dir: &Path) -> Result<CifarSplit> {
    if !dir.is_dir() {
        return Err(EngineError::DataFile {
            path: dir.to_path_buf(),
            detail: "not a directory (expected a directory of CIFAR-10 binary batches such as \
                     data_batch_1.bin)"
                .to_string(),
        });
    }
    let found = [dir.to_path_buf(), dir.join(ARCHIVE_DIR)]
        .into_iter()
        .map(|base| {
            let files: Vec<PathBuf> = TRAIN_BATCHES
                .iter()
                .map(|n| base.join(n))
                .filter(|p| exists(p))
                .collect();
            (base, files)
        })
        .find(|(_, files)| !files.is_empty());
    let Some((base, files)) = found else {
        return Err(EngineError::DataFile {
            path: dir.to_path_buf(),
            detail: format!(
                "no CIFAR-10 training batch: looked for {} in {} and in {}",
                TRAIN_BATCHES.join(", "),
                dir.display(),
                dir.join(ARCHIVE_DIR).display()
            ),
        });
    };
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for f in &files {
        let bytes = read_data_file(f, MAX_BATCH_FILE_BYTES)?;
        parse_records(&bytes, &f.display().to_string(), &mut features, &mut labels)
            .map_err(|e| in_file(e, f))?;
    }
    let train = Dataset::new(
        format!("cifar10:{} (train)", dir.display()),
        cifar_shape(),
        features,
        labels,
        10,
    )?;
    let test_path = base.join(TEST_BATCH);
    let test = if exists(&test_path) {
        let bytes = read_data_file(&test_path, MAX_BATCH_FILE_BYTES)?;
        let mut d = parse_cifar_batch(&bytes, &test_path.display().to_string())
            .map_err(|e| in_file(e, &test_path))?;
        d.name = format!("cifar10:{} (test)", dir.display());
        Some(d)
    } else {
        None
    };
    Ok(CifarSplit { train, test })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` records; record i has label i % 10 and pixel p equal to (i + p) % 256.
    fn batch(n: usize) -> Vec<u8> {
        let mut b = Vec::with_capacity(n * CIFAR_RECORD);
        for i in 0..n {
            b.push((i % 10) as u8);
            b.extend((0..CIFAR_PIXELS).map(|p| ((i + p) % 256) as u8));
        }
        b
    }

    #[test]
    fn parses_records_in_channel_major_order() {
        let d = parse_cifar_batch(&batch(3), "b").unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d.labels, vec![0, 1, 2]);
        assert_eq!(d.shape, cifar_shape());
        assert_eq!(d.num_classes, 10);
        let ex = d.example(2);
        // green plane, row 1, column 3 of record 2: byte 1024 + 32 + 3 of its pixels
        let p = 1024 + 32 + 3;
        assert!((ex[p] - ((2 + p) % 256) as f32 / 255.0).abs() < 1e-6);
        assert!(d.features.iter().all(|&v| (0.0..=1.0).contains(&v)));
    }

    #[test]
    fn truncated_batch_names_length_and_record() {
        let b = batch(3);
        let e = parse_cifar_batch(&b[..2 * CIFAR_RECORD + 100], "cut")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("length {}", 2 * CIFAR_RECORD + 100)),
            "{e}"
        );
        assert!(e.contains("record 2"), "{e}");
        assert!(e.contains("only 100 of its 3073 bytes"), "{e}");
        assert!(parse_cifar_batch(&[], "empty").is_err());
    }

    #[test]
    fn bad_label_names_the_record() {
        let mut b = batch(4);
        b[3 * CIFAR_RECORD] = 12;
        let e = parse_cifar_batch(&b, "x").unwrap_err().to_string();
        assert!(e.contains("record 3") && e.contains("label 12"), "{e}");
    }

    #[test]
    fn loads_batches_from_the_archive_subdirectory() {
        let dir = tempfile::tempdir().unwrap();
        let e = load_cifar_dir(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("data_batch_1.bin") && e.contains(ARCHIVE_DIR),
            "{e}"
        );

        let sub = dir.path().join(ARCHIVE_DIR);
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("data_batch_1.bin"), batch(2)).unwrap();
        std::fs::write(sub.join("data_batch_3.bin"), batch(3)).unwrap();
        let s = load_cifar_dir(dir.path()).unwrap();
        assert_eq!(s.train.len(), 5);
        assert_eq!(s.train.labels, vec![0, 1, 0, 1, 2]);
        assert!(s.test.is_none());

        std::fs::write(sub.join(TEST_BATCH), batch(1)).unwrap();
        let s = load_cifar_dir(dir.path()).unwrap();
        assert_eq!(s.test.map(|t| t.len()), Some(1));

        std::fs::write(sub.join("data_batch_2.bin"), &batch(1)[..10]).unwrap();
        match load_cifar_dir(dir.path()).unwrap_err() {
            EngineError::DataFile { path, detail } => {
                assert!(path.ends_with("data_batch_2.bin"), "{path:?}");
                assert!(detail.contains("record 0"), "{detail}");
            }
            other => panic!("expected DataFile, got {other}"),
        }
    }
}
