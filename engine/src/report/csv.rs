//! A small CSV table (`metrics.csv` and friends) with RFC 4180 quoting.

use std::path::Path;

use crate::error::Result;

use super::atomic::write_atomic;

/// A CSV table: one header row and any number of data rows of the same width.
///
/// Lines end in `\n` (not the RFC's `\r\n`; every CSV reader accepts both). Fields containing a
/// comma, a double quote, a carriage return or a line feed are quoted, with quotes doubled.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CsvTable {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl CsvTable {
    /// An empty table with the given column names.
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; it must have one cell per header column (checked in debug builds).
    pub fn push_row(&mut self, row: Vec<String>) {
        debug_assert_eq!(
            row.len(),
            self.header.len(),
            "CSV row has {} cells but the header has {} columns ({:?})",
            row.len(),
            self.header.len(),
            self.header
        );
        self.rows.push(row);
    }

    /// The column names.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The data rows, in insertion order.
    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    /// The number of data rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no data rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as CSV text: the header line, then one line per row, each ending in `\n`.
    pub fn to_csv_string(&self) -> String {
        let mut out = String::new();
        for line in std::iter::once(&self.header).chain(&self.rows) {
            for (i, field) in line.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_field(&mut out, field);
            }
            out.push('\n');
        }
        out
    }

    /// Writes the table to `path` atomically (see [`write_atomic`]).
    ///
    /// # Errors
    /// [`EngineError::Io`](crate::error::EngineError::Io) naming the file that could not be written.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_atomic(path, self.to_csv_string().as_bytes())
    }
}

/// Appends one field, quoted if it contains a separator, a quote or a line break.
fn push_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// Formats a number for CSV/JSON-adjacent text: the shortest representation that parses back to
/// the same `f64` (e.g. `0.1`, `1.0`, `1e-7`, `2.5e20`), and `nan`, `inf` or `-inf` for
/// non-finite values.
pub fn fmt_f64(x: f64) -> String {
    if x.is_nan() {
        "nan".to_owned()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        // `Debug` for f64 is the shortest round-trip form, switching to exponent notation for
        // very large or small magnitudes (unlike `Display`, which would print 1e300 in full).
        format!("{x:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_fields_that_need_it() {
        let mut t = CsvTable::new(&["name", "value"]);
        t.push_row(vec!["plain".into(), "1".into()]);
        t.push_row(vec!["a,b".into(), "say \"hi\"".into()]);
        t.push_row(vec!["two\nlines".into(), "cr\r".into()]);
        assert_eq!(
            t.to_csv_string(),
            "name,value\nplain,1\n\"a,b\",\"say \"\"hi\"\"\"\n\"two\nlines\",\"cr\r\"\n"
        );
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn empty_table_is_just_the_header() {
        let t = CsvTable::new(&["step", "loss"]);
        assert!(t.is_empty());
        assert_eq!(t.to_csv_string(), "step,loss\n");
    }

    #[test]
    fn fmt_f64_round_trips_and_names_non_finite() {
        assert_eq!(fmt_f64(0.1), "0.1");
        assert_eq!(fmt_f64(1.0), "1.0");
        assert_eq!(fmt_f64(-2.5), "-2.5");
        assert_eq!(fmt_f64(f64::NAN), "nan");
        assert_eq!(fmt_f64(f64::INFINITY), "inf");
        assert_eq!(fmt_f64(f64::NEG_INFINITY), "-inf");
        for x in [
            1e-7,
            1e300,
            0.1 + 0.2,
            std::f64::consts::PI,
            -3.0e-12,
            123456789.125,
        ] {
            let s = fmt_f64(x);
            assert_eq!(s.parse::<f64>().expect("parses"), x, "{s}");
            assert!(s.len() < 25, "{s}");
        }
    }

    #[test]
    fn write_produces_the_same_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("metrics.csv");
        let mut t = CsvTable::new(&["step", "loss"]);
        t.push_row(vec!["0".into(), fmt_f64(2.5)]);
        t.write(&path).expect("write csv");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read back"),
            t.to_csv_string()
        );
    }
}
