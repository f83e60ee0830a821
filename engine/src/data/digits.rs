//! The 8x8 optical-recognition digits as a CSV (the `digits.csv.gz` of scikit-learn).
//!
//! Each row holds 65 comma-separated integers: 64 pixel intensities in `0..=16` (row-major),
//! then the label in `0..=9`. Features are the intensities divided by 16.

use super::dataset::{Dataset, InputShape};
use super::idx::{in_file, maybe_gunzip};
use super::input::{file_bound, read_data_file};
use crate::error::{EngineError, Result};
use std::path::Path;

/// Pixels per digit (8x8).
const PIXELS: usize = 64;
/// Values per row: the pixels and the label.
const FIELDS: usize = PIXELS + 1;
/// The most bytes a (gzipped) digits CSV may decompress to: 1,797 rows are about 250 kB.
pub const MAX_CSV_BYTES: usize = 256 << 20;

/// The largest pixel intensity.
const MAX_PIXEL: u32 = 16;

/// Parses the digits CSV (gzipped or plain) into a 10-class dataset of 1x8x8 images.
///
/// `origin` names the data in errors and is the dataset name. Blank lines are allowed only at
/// the end. Errors give the 1-based line number and, for a bad value, the 1-based field.
pub fn parse_digits_csv(bytes: &[u8], origin: &str) -> Result<Dataset> {
    let err = |detail: String| EngineError::Data {
        source_name: origin.to_string(),
        detail,
    };
    let data = maybe_gunzip(bytes, origin, MAX_CSV_BYTES)?;
    let text = std::str::from_utf8(&data).map_err(|e| {
        err(format!(
            "not UTF-8 text: invalid byte at byte offset {}",
            e.valid_up_to()
        ))
    })?;
    // A byte-order mark (as some editors save CSV) is not part of the first field.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut features = Vec::new();
    let mut labels = Vec::new();
    let mut blank_since: Option<usize> = None;
    for (idx, raw_line) in text.lines().enumerate() {
        let line_no = idx + 1;
        let line = raw_line.trim();
        if line.is_empty() {
            blank_since.get_or_insert(line_no);
            continue;
        }
        if let Some(blank) = blank_since {
            return Err(err(format!(
                "line {blank} is blank but data follows on line {line_no}; blank lines are only \
                 allowed at the end"
            )));
        }
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != FIELDS {
            return Err(err(format!(
                "line {line_no}: expected {FIELDS} comma-separated values, found {}",
                fields.len()
            )));
        }
        for (f, field) in fields.iter().enumerate() {
            let field = field.trim();
            let v: u32 = field.parse().map_err(|_| {
                err(format!(
                    "line {line_no}, field {}: `{field}` is not a non-negative integer",
                    f + 1
                ))
            })?;
            if f < PIXELS {
                if v > MAX_PIXEL {
                    return Err(err(format!(
                        "line {line_no}, field {}: pixel value {v} is out of range 0..={MAX_PIXEL}",
                        f + 1
                    )));
                }
                features.push(v as f32 / MAX_PIXEL as f32);
            } else {
                if v > 9 {
                    return Err(err(format!(
                        "line {line_no}, field {}: label {v} is out of range 0..=9",
                        f + 1
                    )));
                }
                labels.push(v);
            }
        }
    }
    if labels.is_empty() {
        return Err(err("no rows of digits found".to_string()));
    }
    Dataset::new(
        origin,
        InputShape::Image {
            channels: 1,
            height: 8,
            width: 8,
        },
        features,
        labels,
        10,
    )
}

/// Reads and parses a digits CSV file (gzipped or plain); errors name the file. The file must be
/// a regular file (a FIFO or a device is refused unopened) of at most about [`MAX_CSV_BYTES`].
pub fn load_digits_csv(path: &Path) -> Result<Dataset> {
    let bytes = read_data_file(path, file_bound(MAX_CSV_BYTES as u64))?;
    parse_digits_csv(&bytes, &path.display().to_string()).map_err(|e| in_file(e, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn row(pixel: u32, label: u32) -> String {
        let mut v: Vec<String> = (0..PIXELS)
            .map(|i| ((pixel + i as u32) % 17).to_string())
            .collect();
        v.push(label.to_string());
        v.join(",")
    }

    #[test]
    fn parses_plain_and_gzipped_with_trailing_blank_lines() {
        let text = format!("{}\r\n{}\n\n\n", row(0, 3), row(5, 9));
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        let gz = e.finish().unwrap();
        for bytes in [text.as_bytes().to_vec(), gz] {
            let d = parse_digits_csv(&bytes, "t").unwrap();
            assert_eq!(d.len(), 2);
            assert_eq!(d.labels, vec![3, 9]);
            assert_eq!(d.dim(), 64);
            // pixel 12 of row 2 is (5 + 12) % 17 = 0, pixel 11 is 16
            assert!(d.example(1)[12].abs() < 1e-6);
            assert!((d.example(1)[11] - 1.0).abs() < 1e-6);
            assert!((d.example(0)[3] - 3.0 / 16.0).abs() < 1e-6);
        }
    }

    #[test]
    fn errors_name_line_and_field() {
        let short = format!("{}\n1,2,3\n", row(0, 1));
        let e = parse_digits_csv(short.as_bytes(), "t")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2: expected 65 comma-separated values, found 3"),
            "{e}"
        );

        let bad = format!("{}\n", row(0, 1).replacen("0", "x", 1));
        let e = parse_digits_csv(bad.as_bytes(), "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1, field 1: `x`"), "{e}");

        let mut fields: Vec<String> = row(0, 1).split(',').map(String::from).collect();
        fields[9] = "17".into();
        let e = parse_digits_csv(fields.join(",").as_bytes(), "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1, field 10: pixel value 17"), "{e}");

        let e = parse_digits_csv(row(0, 10).as_bytes(), "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("field 65: label 10"), "{e}");

        let gap = format!("{}\n\n{}\n", row(0, 1), row(0, 2));
        let e = parse_digits_csv(gap.as_bytes(), "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2 is blank"), "{e}");

        assert!(parse_digits_csv(b"\n\n", "t").is_err());
    }

    #[test]
    fn file_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.csv");
        assert!(
            load_digits_csv(&p)
                .unwrap_err()
                .to_string()
                .contains("d.csv")
        );
        std::fs::write(&p, "1,2\n").unwrap();
        match load_digits_csv(&p).unwrap_err() {
            EngineError::DataFile { path, detail } => {
                assert_eq!(path, p);
                assert!(detail.contains("line 1"), "{detail}");
            }
            other => panic!("expected DataFile, got {other}"),
        }
        std::fs::write(&p, format!("{}\n", row(1, 4))).unwrap();
        assert_eq!(load_digits_csv(&p).unwrap().labels, vec![4]);
    }
}
