//! The IDX format of MNIST and Fashion-MNIST, gzipped or raw.
//!
//! An IDX file is a 4-byte magic number (`0x00000803` for a 3-D array of unsigned bytes, the
//! images; `0x00000801` for a 1-D array, the labels), one big-endian `u32` per dimension, then
//! the values row-major. The public files (60,000 training and 10,000 test examples) are read the
//! same way as the 10,000-image subset this crate embeds.

use super::dataset::{Dataset, InputShape};
use crate::error::{EngineError, Result};
use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Magic number of an IDX file holding a 3-D array of unsigned bytes (images).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file holding a 1-D array of unsigned bytes (labels).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// Number of classes in MNIST and Fashion-MNIST.
const IDX_CLASSES: usize = 10;

/// Images read from an IDX file: `count` images of `rows` x `cols` bytes, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows (height) of each image.
    pub rows: usize,
    /// Columns (width) of each image.
    pub cols: usize,
    /// `count * rows * cols` pixel values, image after image.
    pub pixels: Vec<u8>,
}

/// The training set of an IDX directory and, when its files are present, the test set.
#[derive(Clone, Debug)]
pub struct IdxSplit {
    /// The examples of `train-images-idx3-ubyte` / `train-labels-idx1-ubyte`.
    pub train: Dataset,
    /// The examples of `t10k-images-idx3-ubyte` / `t10k-labels-idx1-ubyte`, if present.
    pub test: Option<Dataset>,
}

/// A parsing error about the bytes named `origin`.
fn data_err(origin: &str, detail: impl Into<String>) -> EngineError {
    EngineError::Data {
        source_name: origin.to_string(),
        detail: detail.into(),
    }
}

/// How much a gzip stream may decompress to: the stream stops being read at the first byte
/// beyond it, so a small file cannot claim gigabytes of memory.
#[derive(Clone, Copy)]
pub(crate) enum Limit {
    /// A fixed number of bytes (CSV text, CIFAR batches).
    Bytes(usize),
    /// What a header of `len` bytes declares: `total` reads the decompressed header and returns
    /// the whole file's length (header included), or `None` when the header is not valid (the
    /// parser then reports it).
    Header {
        /// Bytes of header.
        len: usize,
        /// The declared total length.
        total: fn(&[u8]) -> Option<usize>,
    },
}

/// Returns `bytes` decompressed if they start with the gzip magic `1f 8b`, else unchanged;
/// decompression stops at `limit` (see [`Limit`]).
pub(crate) fn maybe_gunzip<'a>(
    bytes: &'a [u8],
    origin: &str,
    limit: Limit,
) -> Result<Cow<'a, [u8]>> {
    if !(bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    let mut decoder = flate2::read::MultiGzDecoder::new(bytes);
    let corrupt = |e: std::io::Error, done: usize| {
        data_err(
            origin,
            format!(
                "corrupt gzip stream ({} compressed bytes, {done} decompressed before the \
                 error): {e}",
                bytes.len()
            ),
        )
    };
    let max = match limit {
        Limit::Bytes(n) => n,
        Limit::Header { len, total } => {
            (&mut decoder)
                .take(len as u64)
                .read_to_end(&mut out)
                .map_err(|e| corrupt(e, out.len()))?;
            match total(&out) {
                Some(t) => t,
                None => return Ok(Cow::Owned(out)),
            }
        }
    };
    let room = max.saturating_sub(out.len()) as u64 + 1;
    (&mut decoder)
        .take(room)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(e, out.len()))?;
    if out.len() > max {
        return Err(data_err(
            origin,
            format!(
                "the gzip stream decompresses to more than the {max} bytes {}; stopped reading \
                 at byte offset {max}",
                match limit {
                    Limit::Bytes(_) => "allowed for this kind of file",
                    Limit::Header { .. } => "its header declares",
                }
            ),
        ));
    }
    Ok(Cow::Owned(out))
}

/// The total length an IDX header of `ndims` dimensions declares (magic, dimensions, one byte
/// per element), or `None` when it is short or overflows.
fn idx_total(header: &[u8], ndims: usize) -> Option<usize> {
    let header_len = 4 * (1 + ndims);
    if header.len() < header_len {
        return None;
    }
    let mut total: usize = 1;
    for i in 1..=ndims {
        let o = 4 * i;
        let d = u32::from_be_bytes([header[o], header[o + 1], header[o + 2], header[o + 3]]);
        total = total.checked_mul(d as usize)?;
    }
    total.checked_add(header_len)
}

/// Turns a parsing error about in-memory bytes into one about the file they were read from.
pub(crate) fn in_file(err: EngineError, path: &Path) -> EngineError {
    match err {
        EngineError::Data { detail, .. } => EngineError::DataFile {
            path: path.to_path_buf(),
            detail,
        },
        other => other,
    }
}

/// Reads a whole file, naming it in the error.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| EngineError::DataFile {
        path: path.to_path_buf(),
        detail: format!("cannot read: {e}"),
    })
}

/// Reads the magic number and `ndims` big-endian dimensions, checking the header is complete.
fn read_header(
    data: &[u8],
    origin: &str,
    expected_magic: u32,
    what: &str,
    ndims: usize,
) -> Result<Vec<usize>> {
    let header_len = 4 * (1 + ndims);
    let word = |i: usize| {
        let o = 4 * i;
        u32::from_be_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]])
    };
    if data.len() >= 4 && word(0) != expected_magic {
        return Err(data_err(
            origin,
            format!(
                "not an IDX {what} file: expected magic 0x{expected_magic:08x} at byte offset 0, \
                 found 0x{:08x}",
                word(0)
            ),
        ));
    }
    if data.len() < header_len {
        return Err(data_err(
            origin,
            format!(
                "truncated IDX {what} header: expected {header_len} bytes (magic and {ndims} \
                 dimension(s)), found {} bytes (data ends at byte offset {})",
                data.len(),
                data.len()
            ),
        ));
    }
    Ok((1..=ndims).map(|i| word(i) as usize).collect())
}

/// Checks that `data` holds exactly `header_len + payload` bytes.
fn check_length(
    data: &[u8],
    origin: &str,
    header_len: usize,
    payload: usize,
    what: &str,
) -> Result<()> {
    let expected = header_len.checked_add(payload).ok_or_else(|| {
        data_err(
            origin,
            format!("header declares {what} too large to address ({payload} bytes)"),
        )
    })?;
    if data.len() < expected {
        return Err(data_err(
            origin,
            format!(
                "truncated: the header declares {what}, {expected} bytes in all, found {} bytes \
                 (data ends at byte offset {}, {} bytes short)",
                data.len(),
                data.len(),
                expected - data.len()
            ),
        ));
    }
    if data.len() > expected {
        return Err(data_err(
            origin,
            format!(
                "the header declares {what}, {expected} bytes in all, found {} bytes ({} \
                 unexpected bytes from byte offset {expected})",
                data.len(),
                data.len() - expected
            ),
        ));
    }
    Ok(())
}

/// Parses an IDX image file (magic `0x00000803`), gzipped or raw.
///
/// `origin` names the data in errors (a file path, or e.g. `mnist10k (embedded)`).
pub fn parse_idx_images(bytes: &[u8], origin: &str) -> Result<IdxImages> {
    let limit = Limit::Header {
        len: 16,
        total: |h| idx_total(h, 3),
    };
    let data = maybe_gunzip(bytes, origin, limit)?;
    let dims = read_header(&data, origin, IDX_IMAGES_MAGIC, "images", 3)?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows == 0 || cols == 0 {
        return Err(data_err(
            origin,
            format!("images of {rows}x{cols} pixels have no pixels"),
        ));
    }
    let payload = count
        .checked_mul(rows)
        .and_then(|v| v.checked_mul(cols))
        .ok_or_else(|| {
            data_err(
                origin,
                format!("header declares {count} images of {rows}x{cols}, too large to address"),
            )
        })?;
    let what = format!("{count} images of {rows}x{cols} pixels");
    check_length(&data, origin, 16, payload, &what)?;
    let pixels = data[16..].to_vec();
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels,
    })
}

/// Parses an IDX label file (magic `0x00000801`), gzipped or raw.
///
/// `origin` names the data in errors. Label values are not range-checked here; see
/// [`idx_dataset`].
pub fn parse_idx_labels(bytes: &[u8], origin: &str) -> Result<Vec<u8>> {
    let limit = Limit::Header {
        len: 8,
        total: |h| idx_total(h, 1),
    };
    let data = maybe_gunzip(bytes, origin, limit)?;
    let dims = read_header(&data, origin, IDX_LABELS_MAGIC, "labels", 1)?;
    let count = dims[0];
    check_length(&data, origin, 8, count, &format!("{count} labels"))?;
    Ok(data[8..].to_vec())
}

/// Builds a 10-class dataset from parsed images and labels, features scaled to `[0, 1]`.
///
/// Fails if the image and label counts differ or a label is above 9.
pub fn idx_dataset(images: &IdxImages, labels: &[u8], name: &str) -> Result<Dataset> {
    if images.count != labels.len() {
        return Err(data_err(
            name,
            format!(
                "{} images but {} labels; the image and label files must hold the same number \
                 of examples",
                images.count,
                labels.len()
            ),
        ));
    }
    let numel = images.rows * images.cols;
    if images.pixels.len() != images.count * numel {
        return Err(data_err(
            name,
            format!(
                "{} pixel bytes for {} images of {}x{} (expected {})",
                images.pixels.len(),
                images.count,
                images.rows,
                images.cols,
                images.count * numel
            ),
        ));
    }
    if let Some((i, &l)) = labels
        .iter()
        .enumerate()
        .find(|&(_, &l)| usize::from(l) >= IDX_CLASSES)
    {
        return Err(data_err(
            name,
            format!(
                "label {l} of example {i} (byte offset {} of the label file) is not in 0..=9",
                8 + i
            ),
        ));
    }
    let features = images
        .pixels
        .iter()
        .map(|&p| f32::from(p) / 255.0)
        .collect();
    let labels = labels.iter().map(|&l| u32::from(l)).collect();
    Dataset::new(
        name,
        InputShape::Image {
            channels: 1,
            height: images.rows,
            width: images.cols,
        },
        features,
        labels,
        IDX_CLASSES,
    )
}

/// The file names tried for one IDX file: `{prefix}-idx{n}-ubyte`, the dotted
/// `{prefix}.idx{n}-ubyte`, each raw or with `.gz`.
fn candidates(prefix: &str, ndim: u8) -> Vec<String> {
    let mut names = Vec::with_capacity(4);
    for base in [
        format!("{prefix}-idx{ndim}-ubyte"),
        format!("{prefix}.idx{ndim}-ubyte"),
    ] {
        names.push(format!("{base}.gz"));
        names.push(base);
    }
    names
}

/// The first candidate that exists in `dir`, or the list of names looked for.
fn find_file(dir: &Path, prefix: &str, ndim: u8) -> std::result::Result<PathBuf, Vec<String>> {
    let names = candidates(prefix, ndim);
    names
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or(names)
}

/// The error for a file of `dir` that none of `names` provides.
fn missing(dir: &Path, what: &str, names: &[String]) -> EngineError {
    EngineError::DataFile {
        path: dir.to_path_buf(),
        detail: format!(
            "no {what} file: looked for {} in {}",
            names.join(", "),
            dir.display()
        ),
    }
}

/// Reads one image/label file pair into a dataset named `name`.
fn load_pair(images: &Path, labels: &Path, name: &str) -> Result<Dataset> {
    let img_origin = images.display().to_string();
    let imgs =
        parse_idx_images(&read_file(images)?, &img_origin).map_err(|e| in_file(e, images))?;
    let lbl_origin = labels.display().to_string();
    let lbls =
        parse_idx_labels(&read_file(labels)?, &lbl_origin).map_err(|e| in_file(e, labels))?;
    idx_dataset(&imgs, &lbls, name).map_err(|e| match e {
        EngineError::Data { detail, .. } => EngineError::DataFile {
            path: labels.to_path_buf(),
            detail: format!("with images {}: {detail}", images.display()),
        },
        other => other,
    })
}

/// Loads MNIST or Fashion-MNIST from a directory of IDX files, gzipped or raw.
///
/// Requires `train-images-idx3-ubyte` and `train-labels-idx1-ubyte` (also accepted: a `.gz`
/// suffix and the dotted names `train-images.idx3-ubyte`, `train-labels.idx1-ubyte`). The test
/// set `t10k-images-idx3-ubyte` / `t10k-labels-idx1-ubyte` is read when both are present; one
/// without the other is an error.
pub fn load_idx_dir(dir: &Path) -> Result<IdxSplit> {
    if !dir.is_dir() {
        return Err(EngineError::DataFile {
            path: dir.to_path_buf(),
            detail: "not a directory (expected a directory of IDX files such as \
                     train-images-idx3-ubyte.gz)"
                .to_string(),
        });
    }
    let train_images =
        find_file(dir, "train-images", 3).map_err(|n| missing(dir, "training images", &n))?;
    let train_labels =
        find_file(dir, "train-labels", 1).map_err(|n| missing(dir, "training labels", &n))?;
    let train = load_pair(
        &train_images,
        &train_labels,
        &format!("idx:{} (train)", dir.display()),
    )?;
    let test = match (
        find_file(dir, "t10k-images", 3),
        find_file(dir, "t10k-labels", 1),
    ) {
        (Ok(images), Ok(labels)) => Some(load_pair(
            &images,
            &labels,
            &format!("idx:{} (test)", dir.display()),
        )?),
        (Err(_), Err(_)) => None,
        (Ok(_), Err(names)) => return Err(missing(dir, "test labels (test images exist)", &names)),
        (Err(names), Ok(_)) => return Err(missing(dir, "test images (test labels exist)", &names)),
    };
    Ok(IdxSplit { train, test })
}

#[cfg(test)]
mod tests {

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_beyond_the_header_stops_at_the_declared_length() {
        // A header for 2 labels followed by 50 MB of zeros: a 50 kB file that would have grown
        // to 50 MB before its header was checked.
        let mut raw = vec![0, 0, 8, 1, 0, 0, 0, 2, 1, 2];
        raw.resize(50 << 20, 0);
        let gz = gzip(&raw);
        assert!(gz.len() < 200_000, "{}", gz.len());
        let e = parse_idx_labels(&gz, "bomb.gz").unwrap_err().to_string();
        assert!(
            e.contains("bomb.gz") && e.contains("more than the 10 bytes"),
            "{e}"
        );
        // The same labels without the tail parse.
        assert_eq!(
            parse_idx_labels(&gzip(&raw[..10]), "ok.gz").unwrap(),
            vec![1, 2]
        );
    }

    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn images_bytes(count: u32, rows: u32, cols: u32) -> Vec<u8> {
        let mut b = IDX_IMAGES_MAGIC.to_be_bytes().to_vec();
        for d in [count, rows, cols] {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend((0..count * rows * cols).map(|i| (i * 7 % 256) as u8));
        b
    }

    fn labels_bytes(labels: &[u8]) -> Vec<u8> {
        let mut b = IDX_LABELS_MAGIC.to_be_bytes().to_vec();
        b.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        b.extend_from_slice(labels);
        b
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn raw_and_gzipped_roundtrip() {
        let raw = images_bytes(3, 4, 5);
        for bytes in [raw.clone(), gz(&raw)] {
            let imgs = parse_idx_images(&bytes, "t").unwrap();
            assert_eq!((imgs.count, imgs.rows, imgs.cols), (3, 4, 5));
            assert_eq!(imgs.pixels, raw[16..]);
        }
        let lraw = labels_bytes(&[0, 9, 4]);
        assert_eq!(parse_idx_labels(&gz(&lraw), "t").unwrap(), vec![0, 9, 4]);
        assert_eq!(parse_idx_labels(&lraw, "t").unwrap(), vec![0, 9, 4]);

        let imgs = parse_idx_images(&raw, "t").unwrap();
        let d = idx_dataset(&imgs, &[0, 9, 4], "toy").unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(
            d.shape,
            InputShape::Image {
                channels: 1,
                height: 4,
                width: 5
            }
        );
        assert_eq!(d.labels, vec![0, 9, 4]);
        assert_eq!(d.num_classes, 10);
        // pixel 1 of image 1 is byte (20 + 1) * 7 % 256 = 147
        assert!((d.example(1)[1] - 147.0 / 255.0).abs() < 1e-6);
        assert!(d.features.iter().all(|&v| (0.0..=1.0).contains(&v)));
    }

    #[test]
    fn truncated_files_say_how_much_is_missing() {
        let raw = images_bytes(3, 4, 5); // 16 + 60 = 76 bytes
        let e = parse_idx_images(&raw[..70], "cut").unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        assert!(e.contains("76 bytes"), "{e}");
        assert!(e.contains("found 70 bytes"), "{e}");
        assert!(e.contains("cut"), "{e}");
        let e = parse_idx_images(&raw[..7], "cut").unwrap_err().to_string();
        assert!(e.contains("header") && e.contains("found 7 bytes"), "{e}");
        let e = parse_idx_labels(&labels_bytes(&[1, 2, 3])[..9], "l")
            .unwrap_err()
            .to_string();
        assert!(e.contains("11 bytes") && e.contains("found 9"), "{e}");
        let mut long = raw.clone();
        long.push(0);
        let e = parse_idx_images(&long, "x").unwrap_err().to_string();
        assert!(e.contains("1 unexpected bytes from byte offset 76"), "{e}");
    }

    #[test]
    fn wrong_magic_is_reported_in_hex() {
        let e = parse_idx_images(&labels_bytes(&[1, 2]), "swap")
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected magic 0x00000803"), "{e}");
        assert!(e.contains("found 0x00000801"), "{e}");
        let e = parse_idx_labels(&images_bytes(1, 2, 2), "swap")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("0x00000801") && e.contains("found 0x00000803"),
            "{e}"
        );
    }

    #[test]
    fn corrupt_gzip_is_an_error() {
        let mut g = gz(&images_bytes(2, 3, 3));
        let n = g.len();
        g.truncate(n - 12);
        let e = parse_idx_images(&g, "bad.gz").unwrap_err().to_string();
        assert!(e.contains("gzip"), "{e}");
        let e = parse_idx_images(&[0x1f, 0x8b, 1, 2, 3], "bad.gz").unwrap_err();
        assert!(e.to_string().contains("gzip"), "{e}");
    }

    #[test]
    fn count_mismatch_and_bad_labels_are_rejected() {
        let imgs = parse_idx_images(&images_bytes(3, 2, 2), "t").unwrap();
        let e = idx_dataset(&imgs, &[1, 2], "m").unwrap_err().to_string();
        assert!(e.contains("3 images but 2 labels"), "{e}");
        let e = idx_dataset(&imgs, &[1, 10, 2], "m")
            .unwrap_err()
            .to_string();
        assert!(e.contains("label 10 of example 1"), "{e}");
    }

    #[test]
    fn loads_a_directory_with_either_naming() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let e = load_idx_dir(p).unwrap_err().to_string();
        assert!(e.contains("train-images-idx3-ubyte.gz"), "{e}");
        assert!(e.contains("train-images.idx3-ubyte"), "{e}");

        std::fs::write(
            p.join("train-images-idx3-ubyte.gz"),
            gz(&images_bytes(4, 3, 3)),
        )
        .unwrap();
        std::fs::write(
            p.join("train-labels.idx1-ubyte"),
            labels_bytes(&[0, 1, 2, 3]),
        )
        .unwrap();
        let s = load_idx_dir(p).unwrap();
        assert_eq!(s.train.len(), 4);
        assert!(s.test.is_none());

        std::fs::write(p.join("t10k-images-idx3-ubyte"), images_bytes(2, 3, 3)).unwrap();
        let e = load_idx_dir(p).unwrap_err().to_string();
        assert!(e.contains("t10k-labels-idx1-ubyte"), "{e}");
        std::fs::write(
            p.join("t10k-labels-idx1-ubyte.gz"),
            gz(&labels_bytes(&[5, 6])),
        )
        .unwrap();
        let s = load_idx_dir(p).unwrap();
        assert_eq!(s.test.as_ref().map(Dataset::len), Some(2));
        assert_eq!(s.test.unwrap().labels, vec![5, 6]);

        // a corrupt file is reported with its path
        std::fs::write(p.join("t10k-labels-idx1-ubyte.gz"), [0x1f, 0x8b, 0, 0]).unwrap();
        match load_idx_dir(p).unwrap_err() {
            EngineError::DataFile { path, detail } => {
                assert!(path.ends_with("t10k-labels-idx1-ubyte.gz"), "{path:?}");
                assert!(detail.contains("gzip"), "{detail}");
            }
            other => panic!("expected DataFile, got {other}"),
        }
        assert!(load_idx_dir(&p.join("nope")).is_err());
    }
}
