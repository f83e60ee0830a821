//! Checks that a chart written by this module can be read: every panel has an x-axis title, a
//! y-axis title and at least two tick labels on each axis.
//!
//! The renderer marks each panel's plotting rectangle in the SVG with a comment
//! (`<!-- sgdlab-panel LEFT TOP RIGHT BOTTOM NAME -->`); [`axis_problems`] then classifies the
//! SVG's actual `<text>` elements by where they were drawn relative to that rectangle, so a
//! chart that declares a panel but draws no tick labels, or no titles, is reported.

/// The plotting rectangle of one chart panel, in SVG pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PanelRect {
    /// The chart (and panel) name, for messages.
    pub chart: String,
    pub left: i32,
    pub top: i32,
    pub right: i32,
    pub bottom: i32,
}

/// The comment keyword that marks a panel.
const MARKER: &str = "sgdlab-panel";

/// How far below the plotting area x tick labels and the x title are looked for (px).
const X_BAND: i32 = 70;
/// Tick labels hang at most this far below the plotting area (px); the x title sits lower.
const X_TICK_ZONE: i32 = 35;
/// How far left of the plotting area y tick labels and the y title are looked for (px).
const Y_BAND: i32 = 100;

/// Adds one marker comment per panel just before `</svg>`.
pub(super) fn mark_panels(svg: &mut String, panels: &[PanelRect]) {
    let marks: String = panels
        .iter()
        .map(|p| {
            // A comment may not contain "--".
            let name = p.chart.replace("--", "- -").replace('\n', " ");
            format!(
                "<!-- {MARKER} {} {} {} {} {name} -->\n",
                p.left, p.top, p.right, p.bottom
            )
        })
        .collect();
    let at = svg.rfind("</svg>").unwrap_or(svg.len());
    svg.insert_str(at, &marks);
}

/// One `<text>` element: where it was anchored, whether it is rotated, and whether it is empty.
#[derive(Debug)]
struct TextEl {
    x: f64,
    y: f64,
    rotated: bool,
    empty: bool,
}

/// The value of attribute `name` in the tag text `tag`.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

/// Every `<text>` element of `svg`.
fn texts(svg: &str) -> Vec<TextEl> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find("<text") {
        rest = &rest[i..];
        let Some(end_tag) = rest.find('>') else { break };
        let tag = &rest[..end_tag];
        let body_end = rest.find("</text>").unwrap_or(end_tag + 1);
        let body = rest.get(end_tag + 1..body_end).unwrap_or("");
        let num = |n: &str| attr(tag, n).and_then(|v| v.trim().parse::<f64>().ok());
        if let (Some(x), Some(y)) = (num("x"), num("y")) {
            out.push(TextEl {
                x,
                y,
                rotated: attr(tag, "transform").is_some_and(|t| t.contains("rotate")),
                empty: body.trim().is_empty(),
            });
        }
        rest = &rest[end_tag + 1..];
    }
    out
}

/// The panels marked in `svg`.
fn panels(svg: &str) -> Vec<PanelRect> {
    svg.match_indices(&format!("<!-- {MARKER} "))
        .filter_map(|(i, m)| {
            let body = &svg[i + m.len()..];
            let body = &body[..body.find("-->")?];
            let mut parts = body.trim().splitn(5, ' ');
            let mut n = || parts.next()?.parse::<i32>().ok();
            let (left, top, right, bottom) = (n()?, n()?, n()?, n()?);
            let chart = parts.next().unwrap_or("").trim().to_owned();
            Some(PanelRect {
                chart,
                left,
                top,
                right,
                bottom,
            })
        })
        .collect()
}

/// What makes the chart panels in `svg` hard to read: for each panel without an x-axis title, a
/// y-axis title, or two tick labels on either axis, one message naming the panel. An SVG that
/// marks no panel at all is reported too (it was not written by this module, or its renderer
/// lost the markers). An empty list means every panel passed.
pub fn axis_problems(svg: &str) -> Vec<String> {
    let panels = panels(svg);
    if panels.is_empty() {
        return vec![format!(
            "no chart panel is marked (no `<!-- {MARKER} … -->` comment): not drawn by the \
             sgdlab plot code"
        )];
    }
    let texts: Vec<TextEl> = texts(svg).into_iter().filter(|t| !t.empty).collect();
    let mut problems = Vec::new();
    for (i, p) in panels.iter().enumerate() {
        let name = if p.chart.is_empty() {
            format!("panel {}", i + 1)
        } else {
            format!("panel {} ({})", i + 1, p.chart)
        };
        let (l, t, r, b) = (
            f64::from(p.left),
            f64::from(p.top),
            f64::from(p.right),
            f64::from(p.bottom),
        );
        // Below the plotting area: tick labels just under the axis, the title further down.
        let below: Vec<f64> = texts
            .iter()
            .filter(|e| !e.rotated && e.x >= l - 40.0 && e.x <= r + 40.0)
            .filter(|e| e.y > b && e.y <= b + f64::from(X_BAND))
            .map(|e| e.y - b)
            .collect();
        let x_ticks = below
            .iter()
            .filter(|d| **d <= f64::from(X_TICK_ZONE))
            .count();
        let x_title = below.iter().any(|d| *d > f64::from(X_TICK_ZONE));
        // Left of the plotting area: horizontal tick labels, and a rotated title.
        let left_of = |e: &&TextEl| e.x < l && e.x >= l - f64::from(Y_BAND);
        let y_ticks = texts
            .iter()
            .filter(left_of)
            .filter(|e| !e.rotated && e.y >= t - 12.0 && e.y <= b + 12.0)
            .count();
        let y_title = texts
            .iter()
            .filter(left_of)
            .any(|e| e.rotated && e.y >= t && e.y <= b);
        if x_ticks < 2 {
            problems.push(format!(
                "{name}: the x axis has {x_ticks} tick label(s), needs at least 2"
            ));
        }
        if y_ticks < 2 {
            problems.push(format!(
                "{name}: the y axis has {y_ticks} tick label(s), needs at least 2"
            ));
        }
        if !x_title {
            problems.push(format!("{name}: the x axis has no title"));
        }
        if !y_title {
            problems.push(format!("{name}: the y axis has no title"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-written panel at (100, 50)–(500, 350) with the texts in `body`.
    fn svg(body: &str) -> String {
        let mut s = format!("<svg width=\"600\" height=\"420\">{body}</svg>");
        mark_panels(
            &mut s,
            &[PanelRect {
                chart: "rigged -- chart".into(),
                left: 100,
                top: 50,
                right: 500,
                bottom: 350,
            }],
        );
        s
    }

    const X_TICKS: &str =
        r#"<text x="100" y="360" dy="0.76em">0</text><text x="300" y="360" dy="0.76em">1</text>"#;
    const X_TITLE: &str = r#"<text x="300" y="400" dy="-0.5ex">step</text>"#;
    const Y_TICKS: &str =
        r#"<text x="90" y="340" dy="0.5ex">0</text><text x="90" y="60" dy="0.5ex">10</text>"#;
    const Y_TITLE: &str =
        r#"<text x="20" y="200" dy="0.76em" transform="rotate(270, 20, 200)">loss</text>"#;

    #[test]
    fn a_complete_panel_passes() {
        let s = svg(&format!("{X_TICKS}{X_TITLE}{Y_TICKS}{Y_TITLE}"));
        assert_eq!(axis_problems(&s), Vec::<String>::new());
        assert!(s.contains("rigged - - chart"));
    }

    #[test]
    fn missing_tick_labels_and_titles_are_reported() {
        let no_ticks = svg(&format!("{X_TITLE}{Y_TITLE}"));
        assert_eq!(
            axis_problems(&no_ticks),
            [
                "panel 1 (rigged - - chart): the x axis has 0 tick label(s), needs at least 2",
                "panel 1 (rigged - - chart): the y axis has 0 tick label(s), needs at least 2"
            ]
        );
        // One tick label per axis is not enough.
        let one_each = svg(&format!(
            r#"{X_TITLE}{Y_TITLE}<text x="300" y="360">1</text><text x="90" y="60">10</text>"#
        ));
        assert_eq!(axis_problems(&one_each).len(), 2);

        let no_titles = svg(&format!("{X_TICKS}{Y_TICKS}"));
        let p = axis_problems(&no_titles);
        assert_eq!(
            p,
            [
                "panel 1 (rigged - - chart): the x axis has no title",
                "panel 1 (rigged - - chart): the y axis has no title"
            ]
        );
        // Empty text elements are not labels.
        let empty = svg(&format!(
            r#"{X_TITLE}{Y_TICKS}{Y_TITLE}<text x="100" y="360"></text><text x="300" y="360"> </text>"#
        ));
        assert_eq!(
            axis_problems(&empty),
            ["panel 1 (rigged - - chart): the x axis has 0 tick label(s), needs at least 2"]
        );
    }

    #[test]
    fn an_svg_without_panels_is_reported() {
        let p = axis_problems("<svg><text x=\"1\" y=\"2\">a</text></svg>");
        assert_eq!(p.len(), 1);
        assert!(p[0].contains("no chart panel"), "{p:?}");
    }
}
