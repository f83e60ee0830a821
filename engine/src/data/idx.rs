//! The IDX format of MNIST and Fashion-MNIST, gzipped or raw.
//!
//! An IDX file is a 4-byte magic number (`0x00000803` for a 3-D array of unsigned bytes, the
//! images; `0x00000801` for a 1-D array, the labels), one big-endian `u32` per dimension, then
//! the values row-major. The public files (60,000 training and 10,000 test examples) are read the
//! same way as the 10,000-image subset this crate embeds.

use super::dataset::{Dataset, InputShape};
use super::input::{exists, file_bound, open_data_file, too_long};
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

/// The most bytes one IDX file may declare, header included (1 GiB): the largest IDX set in
/// common use, EMNIST ByClass, has 547 MB of images. A header that declares more is refused
/// before anything beyond it is read or allocated.
pub const MAX_IDX_BYTES: u64 = 1 << 30;

/// The most bytes an IDX file may have on disk, gzipped or raw.
const MAX_IDX_FILE_BYTES: u64 = file_bound(MAX_IDX_BYTES);

/// Raw bytes beyond the declared end that an error message counts before it says "at least".
const MAX_EXTRA_COUNTED: u64 = 1 << 20;

/// Returns `bytes` decompressed if they start with the gzip magic `1f 8b`, else unchanged;
/// decompression stops at the first byte beyond `max`, so a small file cannot claim gigabytes
/// of memory.
pub(crate) fn maybe_gunzip<'a>(bytes: &'a [u8], origin: &str, max: usize) -> Result<Cow<'a, [u8]>> {
    if !is_gzip(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    let mut decoder = flate2::read::MultiGzDecoder::new(bytes);
    (&mut decoder)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| stream_err(origin, &e, true, out.len()))?;
    if out.len() > max {
        return Err(data_err(
            origin,
            format!(
                "the gzip stream decompresses to more than the {max} bytes allowed for this kind \
                 of file; stopped reading at byte offset {max}"
            ),
        ));
    }
    Ok(Cow::Owned(out))
}

/// Whether `bytes` start with the gzip magic `1f 8b`.
fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// The error for a failed read of a (`gzip`ped or raw) stream after `done` bytes came out.
fn stream_err(origin: &str, e: &std::io::Error, gzip: bool, done: usize) -> EngineError {
    match too_long(e) {
        Some(t) => data_err(origin, t.to_string()),
        None if gzip => data_err(
            origin,
            format!("corrupt gzip stream ({done} bytes decompressed before the error): {e}"),
        ),
        None => data_err(origin, format!("cannot read: {e}")),
    }
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

/// An IDX stream whose header has been read: the dimensions it declares and the rest of the
/// stream, not yet read.
struct IdxBody<'a> {
    /// The declared dimensions.
    dims: Vec<usize>,
    /// The stream after the header (decompressed when `gzip`).
    rest: Box<dyn Read + 'a>,
    /// Whether the input is gzipped.
    gzip: bool,
    /// Bytes of header.
    header_len: usize,
    /// Names the data in errors.
    origin: &'a str,
}

/// Reads the header of an IDX stream, gzipped or raw, and nothing more: the magic number and
/// `ndims` dimensions.
fn open_idx<'a>(
    mut input: impl Read + 'a,
    origin: &'a str,
    magic: u32,
    what: &str,
    ndims: usize,
) -> Result<IdxBody<'a>> {
    let mut head = Vec::with_capacity(2);
    (&mut input)
        .take(2)
        .read_to_end(&mut head)
        .map_err(|e| stream_err(origin, &e, false, 0))?;
    let gzip = is_gzip(&head);
    let joined = std::io::Cursor::new(head).chain(input);
    let mut rest: Box<dyn Read + 'a> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(joined))
    } else {
        Box::new(joined)
    };
    let header_len = 4 * (1 + ndims);
    let mut header = Vec::with_capacity(header_len);
    let read = (&mut rest).take(header_len as u64).read_to_end(&mut header);
    read.map_err(|e| stream_err(origin, &e, gzip, header.len()))?;
    let dims = read_header(&header, origin, magic, what, ndims)?;
    Ok(IdxBody {
        dims,
        rest,
        gzip,
        header_len,
        origin,
    })
}

impl IdxBody<'_> {
    /// Reads the `payload` bytes the header declares (`what` says what they are). A declaration
    /// beyond [`MAX_IDX_BYTES`] is refused before any of it is read, and memory grows only with
    /// the bytes that do arrive; a stream that ends early or goes on is an error.
    fn payload(mut self, payload: u128, what: &str) -> Result<Vec<u8>> {
        let origin = self.origin;
        let expected = payload + self.header_len as u128;
        if expected > u128::from(MAX_IDX_BYTES) {
            return Err(data_err(
                origin,
                format!(
                    "the header declares {what}, {expected} bytes in all, more than the \
                     {MAX_IDX_BYTES} bytes an IDX file may hold; refused before reading past the \
                     header"
                ),
            ));
        }
        // Both fit: they are at most MAX_IDX_BYTES.
        let (payload, expected) = (payload as u64, expected as u64);
        let mut data = Vec::new();
        let read = (&mut self.rest).take(payload + 1).read_to_end(&mut data);
        read.map_err(|e| stream_err(origin, &e, self.gzip, self.header_len + data.len()))?;
        let found = (self.header_len + data.len()) as u64;
        if found < expected {
            return Err(data_err(
                origin,
                format!(
                    "truncated: the header declares {what}, {expected} bytes in all, found \
                     {found} bytes (data ends at byte offset {found}, {} bytes short)",
                    expected - found
                ),
            ));
        }
        if found > expected {
            if self.gzip {
                return Err(data_err(
                    origin,
                    format!(
                        "the gzip stream decompresses to more than the {expected} bytes its \
                         header declares ({what}); stopped reading at byte offset {expected}"
                    ),
                ));
            }
            // Count what follows, up to a limit: the message says how much is wrong.
            let more = std::io::copy(
                &mut (&mut self.rest).take(MAX_EXTRA_COUNTED),
                &mut std::io::sink(),
            )
            .unwrap_or(0);
            let extra = if more < MAX_EXTRA_COUNTED {
                format!("{}", more + 1)
            } else {
                format!("more than {MAX_EXTRA_COUNTED}")
            };
            return Err(data_err(
                origin,
                format!(
                    "the header declares {what}, {expected} bytes in all, found more ({extra} \
                     unexpected bytes from byte offset {expected})"
                ),
            ));
        }
        Ok(data)
    }
}

/// Reads the header of an IDX image stream: `(count, rows, cols)` and the rest.
fn open_idx_images<'a>(input: impl Read + 'a, origin: &'a str) -> Result<IdxBody<'a>> {
    let body = open_idx(input, origin, IDX_IMAGES_MAGIC, "images", 3)?;
    let (rows, cols) = (body.dims[1], body.dims[2]);
    if rows == 0 || cols == 0 {
        return Err(data_err(
            origin,
            format!("images of {rows}x{cols} pixels have no pixels"),
        ));
    }
    Ok(body)
}

/// Reads an IDX image file (magic `0x00000803`), gzipped or raw, from a stream: the header
/// first, then exactly the pixels it declares (refused unread beyond [`MAX_IDX_BYTES`]).
///
/// `origin` names the data in errors (a file path, or e.g. `mnist10k (embedded)`).
pub fn read_idx_images(input: impl Read, origin: &str) -> Result<IdxImages> {
    let body = open_idx_images(input, origin)?;
    let (count, rows, cols) = (body.dims[0], body.dims[1], body.dims[2]);
    let payload = count as u128 * rows as u128 * cols as u128;
    let pixels = body.payload(payload, &format!("{count} images of {rows}x{cols} pixels"))?;
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels,
    })
}

/// Parses an IDX image file (magic `0x00000803`), gzipped or raw; see [`read_idx_images`].
pub fn parse_idx_images(bytes: &[u8], origin: &str) -> Result<IdxImages> {
    read_idx_images(bytes, origin)
}

/// Reads an IDX label file (magic `0x00000801`), gzipped or raw, from a stream: the header
/// first, then exactly the labels it declares (refused unread beyond [`MAX_IDX_BYTES`]).
///
/// `origin` names the data in errors. Label values are not range-checked here; see
/// [`idx_dataset`].
pub fn read_idx_labels(input: impl Read, origin: &str) -> Result<Vec<u8>> {
    let body = open_idx(input, origin, IDX_LABELS_MAGIC, "labels", 1)?;
    let count = body.dims[0];
    body.payload(count as u128, &format!("{count} labels"))
}

/// Parses an IDX label file (magic `0x00000801`), gzipped or raw; see [`read_idx_labels`].
pub fn parse_idx_labels(bytes: &[u8], origin: &str) -> Result<Vec<u8>> {
    read_idx_labels(bytes, origin)
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

/// The first candidate that exists in `dir` (a regular file or not: reading it refuses what is
/// not), or the list of names looked for.
fn find_file(dir: &Path, prefix: &str, ndim: u8) -> std::result::Result<PathBuf, Vec<String>> {
    let names = candidates(prefix, ndim);
    names
        .iter()
        .map(|n| dir.join(n))
        .find(|p| exists(p))
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
    let imgs = read_idx_images(open_data_file(images, MAX_IDX_FILE_BYTES)?, &img_origin)
        .map_err(|e| in_file(e, images))?;
    let lbl_origin = labels.display().to_string();
    let lbls = read_idx_labels(open_data_file(labels, MAX_IDX_FILE_BYTES)?, &lbl_origin)
        .map_err(|e| in_file(e, labels))?;
    idx_dataset(&imgs, &lbls, name).map_err(|e| match e {
        EngineError::Data { detail, .. } => EngineError::DataFile {
            path: labels.to_path_buf(),
            detail: format!("with images {}: {detail}", images.display()),
        },
        other => other,
    })
}

/// What the headers of an IDX directory's files declare, read without reading past them: a
/// run's memory estimate counts the data set at this size before anything is loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxDeclared {
    /// Examples of the training files and, when both are present, the test files: the larger
    /// of each pair's image and label counts.
    pub examples: u64,
    /// Rows of an image (the larger of the two image files').
    pub rows: u64,
    /// Columns of an image (the larger of the two image files').
    pub cols: u64,
    /// Each file read, with what its header declares (`.../train-images-idx3-ubyte.gz: 60000
    /// images of 28x28 pixels`).
    pub files: Vec<String>,
}

/// Reads the headers of the IDX files of `dir` (as [`load_idx_dir`] finds them) and nothing
/// more; `None` when the training files' headers cannot be read (loading then says why).
pub fn declared_idx_size(dir: &Path) -> Option<IdxDeclared> {
    let images = |path: &Path| -> Option<(u64, u64, u64)> {
        let origin = path.display().to_string();
        let body = open_idx_images(open_data_file(path, MAX_IDX_FILE_BYTES).ok()?, &origin).ok()?;
        Some((
            body.dims[0] as u64,
            body.dims[1] as u64,
            body.dims[2] as u64,
        ))
    };
    let labels = |path: &Path| -> Option<u64> {
        let origin = path.display().to_string();
        let file = open_data_file(path, MAX_IDX_FILE_BYTES).ok()?;
        let body = open_idx(file, &origin, IDX_LABELS_MAGIC, "labels", 1).ok()?;
        Some(body.dims[0] as u64)
    };
    let split = |prefix: &str| -> Option<(u64, u64, u64, Vec<String>)> {
        let image_file = find_file(dir, &format!("{prefix}-images"), 3).ok()?;
        let label_file = find_file(dir, &format!("{prefix}-labels"), 1).ok()?;
        let (count, rows, cols) = images(&image_file)?;
        let label_count = labels(&label_file)?;
        let files = vec![
            format!(
                "{}: {count} images of {rows}x{cols} pixels",
                image_file.display()
            ),
            format!("{}: {label_count} labels", label_file.display()),
        ];
        Some((count.max(label_count), rows, cols, files))
    };
    let (mut examples, mut rows, mut cols, mut files) = split("train")?;
    if let Some((n, r, c, f)) = split("t10k") {
        examples = examples.saturating_add(n);
        rows = rows.max(r);
        cols = cols.max(c);
        files.extend(f);
    }
    Some(IdxDeclared {
        examples,
        rows,
        cols,
        files,
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

    /// Counts the bytes read through it.
    struct Counting<R> {
        inner: R,
        read: std::rc::Rc<std::cell::Cell<usize>>,
    }

    impl<R: Read> Read for Counting<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read.set(self.read.get() + n);
            Ok(n)
        }
    }

    /// The header of `count` images of 28x28 followed by `tail` bytes that do not compress.
    fn declared_images(count: u32, tail: usize) -> Vec<u8> {
        let mut b = IDX_IMAGES_MAGIC.to_be_bytes().to_vec();
        for d in [count, 28, 28] {
            b.extend_from_slice(&d.to_be_bytes());
        }
        let mut rng = crate::rng::SplitMix64::new(7);
        b.extend((0..tail).map(|_| rng.next_u64() as u8));
        b
    }

    /// A header that declares 10^11 bytes is refused after the header: the rest of the stream
    /// (4 MB that do not compress, gzipped or raw) is not read, so nothing is allocated for it.
    #[test]
    fn a_header_declaring_too_much_is_refused_before_the_data_is_read() {
        // 127,551,021 images of 28x28 are just over 10^11 bytes.
        let raw = declared_images(127_551_021, 4 << 20);
        for bytes in [raw.clone(), gz(&raw)] {
            assert!(bytes.len() > 4 << 20);
            let read = std::rc::Rc::new(std::cell::Cell::new(0));
            let input = Counting {
                inner: &bytes[..],
                read: read.clone(),
            };
            let e = read_idx_images(input, "huge.gz").unwrap_err().to_string();
            assert!(
                e.contains("huge.gz")
                    && e.contains("127551021 images of 28x28 pixels")
                    && e.contains("more than the 1073741824 bytes")
                    && e.contains("refused before reading past the header"),
                "{e}"
            );
            assert!(read.get() < 256 << 10, "read {} bytes", read.get());
        }
        // The same for labels, and at the bound itself: 1 GiB in all is allowed to be read
        // (and found truncated), one byte more is not.
        let mut labels = IDX_LABELS_MAGIC.to_be_bytes().to_vec();
        labels.extend_from_slice(&u32::MAX.to_be_bytes());
        let e = parse_idx_labels(&labels, "l").unwrap_err().to_string();
        assert!(e.contains("refused before reading"), "{e}");
        let at_bound = (MAX_IDX_BYTES - 16) / (28 * 28);
        let under = declared_images(at_bound as u32, 10);
        let e = parse_idx_images(&under, "u").unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
    }

    /// The headers of a directory are read without the data; what they declare sizes the run's
    /// memory estimate.
    #[test]
    fn declared_sizes_come_from_the_headers_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        assert_eq!(declared_idx_size(p), None);
        std::fs::write(
            p.join("train-images-idx3-ubyte.gz"),
            gz(&declared_images(127_551_021, 1000)),
        )
        .unwrap();
        std::fs::write(p.join("train-labels-idx1-ubyte"), labels_bytes(&[1, 2])).unwrap();
        let d = declared_idx_size(p).unwrap();
        assert_eq!((d.examples, d.rows, d.cols), (127_551_021, 28, 28));
        assert!(
            d.files[0].contains("train-images-idx3-ubyte.gz: 127551021 images of 28x28 pixels"),
            "{:?}",
            d.files
        );
        std::fs::write(p.join("t10k-images-idx3-ubyte"), images_bytes(3, 30, 2)).unwrap();
        std::fs::write(
            p.join("t10k-labels-idx1-ubyte"),
            labels_bytes(&[1, 2, 3, 4]),
        )
        .unwrap();
        let d = declared_idx_size(p).unwrap();
        assert_eq!((d.examples, d.rows, d.cols), (127_551_021 + 4, 30, 28));
        assert_eq!(d.files.len(), 4);
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
