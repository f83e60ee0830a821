//! Checks that the SVG charts a run writes can be read: every chart panel has an x-axis title, a
//! y-axis title and at least two tick labels on each axis (log axes included).
//!
//! The check itself lives beside the plot code ([`sgdlab_engine::report::axis_problems`]), so
//! the engine's unit tests run the same check on every chart kind; this module applies it to
//! files and directories.

use std::path::{Path, PathBuf};

/// What makes the chart panels in `svg` hard to read, one message per problem; empty when every
/// panel has both axis titles and two tick labels per axis. An SVG that marks no chart panel
/// (not written by sgdlab's plot code) is a problem too.
pub fn axis_problems(svg: &str) -> Vec<String> {
    sgdlab_engine::report::axis_problems(svg)
}

/// Every `.svg` file under `dir` (recursively), sorted.
pub fn svg_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "svg") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// [`axis_problems`] of every `.svg` under `dir`, each message prefixed with the file's name;
/// a directory without any `.svg` file is reported as a problem (a run that should have drawn
/// charts drew none).
pub fn dir_axis_problems(dir: &Path) -> Vec<String> {
    let files = svg_files(dir);
    if files.is_empty() {
        return vec![format!("no .svg file under {}", dir.display())];
    }
    let mut problems = Vec::new();
    for f in files {
        let name = f.strip_prefix(dir).unwrap_or(&f).display().to_string();
        match std::fs::read_to_string(&f) {
            Ok(svg) => problems.extend(
                axis_problems(&svg)
                    .into_iter()
                    .map(|p| format!("{name}: {p}")),
            ),
            Err(e) => problems.push(format!("{name}: unreadable: {e}")),
        }
    }
    problems
}

/// Panics listing every axis problem of the charts under `dir` (see [`dir_axis_problems`]).
pub fn assert_readable_charts(dir: &Path) {
    let problems = dir_axis_problems(dir);
    assert!(
        problems.is_empty(),
        "unreadable charts under {}:\n{}",
        dir.display(),
        problems.join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use sgdlab_engine::report::{Axis, LinePlot, Series};

    #[test]
    fn a_rendered_chart_passes_and_a_rigged_one_is_reported() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        assert_eq!(
            dir_axis_problems(dir).len(),
            1,
            "an empty directory is reported"
        );
        LinePlot::single(
            "Exit times",
            Axis::log("1/η (inverse learning rate)"),
            Axis::log("time (steps)"),
            vec![Series::line_points(
                "sharp",
                vec![(10.0, 50.0), (20.0, 400.0), (40.0, 3000.0)],
            )],
        )
        .render(&dir.join("sub"), "exits")
        .expect("render");
        assert_eq!(dir_axis_problems(dir), Vec::<String>::new());
        assert_readable_charts(dir);

        // The same chart with its tick labels removed: numbers-only <text> elements dropped.
        let svg = std::fs::read_to_string(dir.join("sub/exits.svg")).expect("svg");
        let mut rigged = String::new();
        let mut rest = svg.as_str();
        while let Some(i) = rest.find("<text") {
            rigged.push_str(&rest[..i]);
            let end = rest[i..].find("</text>").expect("closed") + i + "</text>".len();
            let el = &rest[i..end];
            let body = &el[el.find('>').expect("tag end") + 1..el.len() - "</text>".len()];
            if !body
                .trim()
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
            {
                rigged.push_str(el);
            }
            rest = &rest[end..];
        }
        rigged.push_str(rest);
        std::fs::write(dir.join("rigged.svg"), &rigged).expect("write");
        let problems = dir_axis_problems(dir);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems
                .iter()
                .all(|p| p.starts_with("rigged.svg: ") && p.contains("tick label")),
            "{problems:?}"
        );
    }
}
