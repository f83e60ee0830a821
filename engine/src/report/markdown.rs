//! A builder for `report.md`: headings, paragraphs, images, tables and code blocks in GitHub
//! flavoured Markdown.

use std::path::Path;

use crate::error::Result;

use super::atomic::write_atomic;

/// A Markdown document built block by block; every block is separated by one blank line.
///
/// Methods take `&mut self` and return it, so calls can be chained or issued in a loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportMd {
    text: String,
}

impl ReportMd {
    /// A document that starts with `title` as its level-1 heading.
    pub fn new(title: &str) -> Self {
        let mut md = Self {
            text: String::new(),
        };
        md.heading(1, title);
        md
    }

    /// Appends a heading; `level` is clamped to 1..=6 and line breaks become spaces.
    pub fn heading(&mut self, level: usize, text: &str) -> &mut Self {
        let hashes = "#".repeat(level.clamp(1, 6));
        self.block(&format!("{hashes} {}", one_line(text)))
    }

    /// Appends a paragraph of Markdown text (inline markup is kept as written).
    pub fn paragraph(&mut self, text: &str) -> &mut Self {
        self.block(text.trim())
    }

    /// Appends an image whose file is at `relative_path` relative to the report (use forward
    /// slashes). Paths with spaces or parentheses are wrapped in `<…>` so they still link.
    pub fn image(&mut self, alt: &str, relative_path: &str) -> &mut Self {
        let alt = one_line(alt).replace('[', "\\[").replace(']', "\\]");
        let target = if relative_path.contains([' ', '(', ')']) {
            format!("<{relative_path}>")
        } else {
            relative_path.to_owned()
        };
        self.block(&format!("![{alt}]({target})"))
    }

    /// Appends a table. `|` in cells is escaped and line breaks become `<br>`; short rows are
    /// padded with empty cells, and cells beyond the header's width are dropped.
    pub fn table(&mut self, header: &[&str], rows: &[Vec<String>]) -> &mut Self {
        let width = header.len().max(1);
        let mut t = String::new();
        let head: Vec<String> = (0..width)
            .map(|i| header.get(i).map_or(String::new(), |h| cell(h)))
            .collect();
        t.push_str(&format!("| {} |\n", head.join(" | ")));
        t.push_str(&format!("|{}\n", "---|".repeat(width)));
        for row in rows {
            let cells: Vec<String> = (0..width)
                .map(|i| row.get(i).map_or(String::new(), |c| cell(c)))
                .collect();
            t.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        self.block(t.trim_end())
    }

    /// Appends a fenced code block tagged with `lang` (may be empty); the fence is made longer
    /// than any run of backticks inside `text`.
    pub fn code_block(&mut self, lang: &str, text: &str) -> &mut Self {
        let longest_run = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
        let fence = "`".repeat(longest_run.max(2) + 1);
        let body = text.trim_end_matches('\n');
        self.block(&format!("{fence}{lang}\n{body}\n{fence}"))
    }

    /// The document text, ending in exactly one newline.
    pub fn finish(&self) -> String {
        format!("{}\n", self.text.trim_end())
    }

    /// Writes [`finish`](Self::finish)'s text to `path` atomically.
    ///
    /// # Errors
    /// [`EngineError::Io`](crate::error::EngineError::Io) naming the file that could not be
    /// written.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_atomic(path, self.finish().as_bytes())
    }

    fn block(&mut self, block: &str) -> &mut Self {
        if !self.text.is_empty() {
            self.text.push_str("\n\n");
        }
        self.text.push_str(block);
        self
    }
}

/// Replaces line breaks with spaces.
fn one_line(text: &str) -> String {
    text.replace("\r\n", " ").replace(['\n', '\r'], " ")
}

/// Escapes a table cell: `|` and line breaks would end the cell or the row.
fn cell(text: &str) -> String {
    text.trim()
        .replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace(['\n', '\r'], "<br>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_document() {
        let mut md = ReportMd::new("Run 1");
        md.paragraph("Some *text*.")
            .heading(2, "Plots")
            .image("loss curve", "loss.png")
            .image("odd", "my plot (1).png")
            .table(
                &["method", "acc|top1"],
                &[
                    vec!["sgd".into(), "0.91".into()],
                    vec!["a|b".into()],
                    vec!["x\ny".into(), "1".into(), "dropped".into()],
                ],
            )
            .code_block("json", "{\"a\": 1}\n");
        let text = md.finish();
        let expected = "# Run 1\n\nSome *text*.\n\n## Plots\n\n![loss curve](loss.png)\n\n\
            ![odd](<my plot (1).png>)\n\n\
            | method | acc\\|top1 |\n|---|---|\n| sgd | 0.91 |\n| a\\|b |  |\n| x<br>y | 1 |\n\n\
            ```json\n{\"a\": 1}\n```\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn code_fence_outgrows_backticks_and_levels_clamp() {
        let mut md = ReportMd::new("T");
        md.heading(9, "deep").code_block("", "a ```` b");
        let text = md.finish();
        assert!(text.contains("###### deep\n"), "{text}");
        assert!(text.contains("`````\na ```` b\n`````\n"), "{text}");
    }

    #[test]
    fn write_matches_finish() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("report.md");
        let mut md = ReportMd::new("T");
        md.paragraph("p");
        md.write(&path).expect("write report");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read back"),
            md.finish()
        );
    }
}
