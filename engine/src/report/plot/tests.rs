//! Renders every chart kind (log and linear axes, censored values, clipped intervals, stacked
//! panels) and checks the files, and the SVG's axes with [`axis_problems`].

use super::*;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Checks the two rendered files: a real PNG over 5 KB, and an SVG containing `title` whose
/// every panel passes the axis audit. Returns the SVG text.
fn check_outputs(paths: &[PathBuf], dir: &Path, stem: &str, title: &str) -> String {
    assert_eq!(
        paths,
        [
            dir.join(format!("{stem}.png")),
            dir.join(format!("{stem}.svg"))
        ]
    );
    let png = fs::read(&paths[0]).expect("PNG was written");
    assert!(png.starts_with(PNG_SIGNATURE), "{stem}.png is not a PNG");
    assert!(
        png.len() > 5 * 1024,
        "{stem}.png is only {} bytes",
        png.len()
    );
    let svg = fs::read_to_string(&paths[1]).expect("SVG was written");
    assert!(svg.contains("<svg"), "{stem}.svg has no <svg element");
    assert!(svg.contains(title), "{stem}.svg lacks the title {title:?}");
    assert_eq!(axis_problems(&svg), Vec::<String>::new(), "{stem}.svg");
    let leftovers: Vec<_> = fs::read_dir(dir)
        .expect("dir is readable")
        .map(|e| e.expect("dir entry").file_name())
        .filter(|n| n.to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    svg
}

/// The trimmed contents of every `<text>` element of `svg`.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|el| {
            let body = &el[el.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim().to_owned())
        })
        .collect()
}

/// Whether `svg` has a text element reading exactly `label`.
fn has_text(svg: &str, label: &str) -> bool {
    texts(svg).iter().any(|t| t == label)
}

/// The number of panels marked in `svg`.
fn panel_count(svg: &str) -> usize {
    svg.matches("<!-- sgdlab-panel ").count()
}

fn line_plot() -> LinePlot {
    let curve = |scale: f64| -> Vec<(f64, f64)> {
        (1..=200)
            .map(|i| (f64::from(i), scale * (2.0 / f64::from(i).sqrt() + 0.05)))
            .collect()
    };
    let mut gappy = curve(0.5);
    gappy[50].1 = f64::NAN;
    gappy[51].1 = f64::INFINITY;
    LinePlot::single(
        "Training loss",
        Axis::linear("step"),
        Axis::linear("loss (nats)"),
        vec![
            Series::line("lr 0.1", curve(1.0)),
            Series::line_points("lr 0.01 (with gaps)", gappy),
            Series::points("eval", (1..=10).map(|i| (f64::from(i * 20), 0.8)).collect()),
        ],
    )
}

#[test]
fn line_plot_renders_linear_and_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plot = line_plot();
    let svg = check_outputs(
        &plot.render(dir.path(), "loss").expect("render"),
        dir.path(),
        "loss",
        "Training loss",
    );
    assert_eq!(panel_count(&svg), 1);
    let mut log = plot.clone();
    log.title = "Log-log loss".into();
    log.x.log = true;
    log.panels[0].y.log = true;
    log.panels[0].series[0].points.push((0.0, -1.0)); // skipped on log axes
    let svg = check_outputs(
        &log.render(dir.path(), "loss_log").expect("render"),
        dir.path(),
        "loss_log",
        "Log-log loss",
    );
    // Decade labels on the log x axis (1 to 200 steps): 1, 10, 100.
    for label in ["1", "10", "100"] {
        assert!(
            has_text(&svg, label),
            "no tick label {label} in the log chart"
        );
    }
}

#[test]
fn a_one_decade_log_axis_has_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plot = LinePlot::single(
        "Short log range",
        Axis::log("1/η"),
        Axis::log("time (steps)"),
        vec![Series::line_points(
            "exit",
            vec![(20.0, 300.0), (30.0, 450.0), (40.0, 700.0)],
        )],
    );
    check_outputs(
        &plot.render(dir.path(), "short").expect("render"),
        dir.path(),
        "short",
        "Short log range",
    );
}

#[test]
fn censored_values_are_marked_not_plotted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exits = [(10.0, Some(40.0)), (20.0, Some(300.0)), (40.0, None)];
    let s = Series::with_censored("sharp well", &exits, 1500.0, SeriesStyle::LinePoints);
    assert_eq!(s.points, [(10.0, 40.0), (20.0, 300.0)]);
    assert_eq!(s.censored, [(40.0, 1500.0)]);
    let plot = LinePlot::single(
        "Exit times",
        Axis::log("1/η"),
        Axis::log("mean first exit time (steps)"),
        vec![s],
    );
    let svg = check_outputs(
        &plot.render(dir.path(), "exits").expect("render"),
        dir.path(),
        "exits",
        "Exit times",
    );
    assert!(has_text(&svg, "&gt;1500"), "no `>1500` label");
    assert!(
        svg.contains("lower bound"),
        "no legend entry for censored values"
    );
    // Without censored values neither the label nor the legend entry appears.
    let mut plain = plot.clone();
    plain.panels[0].series[0].censored.clear();
    let svg = check_outputs(
        &plain.render(dir.path(), "plain").expect("render"),
        dir.path(),
        "plain",
        "Exit times",
    );
    assert!(!svg.contains("&gt;1500") && !svg.contains("lower bound"));
}

#[test]
fn stacked_panels_each_get_their_axes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let steps: Vec<f64> = (0..50).map(f64::from).collect();
    let plot = LinePlot {
        title: "Loss and neuron parameters".into(),
        x: Axis::linear("gradient step"),
        panels: vec![
            Panel {
                y: Axis::log("loss (squared error)"),
                series: vec![Series::line(
                    "loss",
                    steps.iter().map(|&s| (s, (-s / 10.0).exp())).collect(),
                )],
            },
            Panel {
                y: Axis::linear("b (bias)"),
                series: vec![Series::line(
                    "b",
                    steps.iter().map(|&s| (s, 0.1 * s)).collect(),
                )],
            },
            Panel {
                y: Axis::linear("‖w‖ (norm)").bounded(Bounds::NON_NEGATIVE),
                series: vec![Series::line(
                    "‖w‖",
                    steps.iter().map(|&s| (s, 1.0 / (1.0 + s))).collect(),
                )],
            },
        ],
    };
    let paths = plot.render(dir.path(), "stack").expect("render");
    let svg = check_outputs(&paths, dir.path(), "stack", "Loss and neuron parameters");
    assert_eq!(panel_count(&svg), 3);
    // The PNG header's IHDR chunk holds the width and height (big-endian) at bytes 16..24.
    let png = fs::read(&paths[0]).expect("png");
    let dim = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    assert_eq!((dim(16), dim(20)), (1000, 640 + 2 * 340));
}

#[test]
fn missing_axis_titles_are_errors_naming_the_chart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut plot = line_plot();
    plot.panels[0].y.title.clear();
    let err = plot.render(dir.path(), "untitled").expect_err("must fail");
    let msg = err.to_string();
    assert!(matches!(err, EngineError::Plot { .. }), "{msg}");
    assert!(
        msg.contains("y axis") && msg.contains("Training loss") && msg.contains("untitled"),
        "{msg}"
    );
    let bars = BarPlot {
        title: "No categories title".into(),
        y: Axis::linear("accuracy (fraction)"),
        groups: vec!["a".into(), "b".into()],
        bars: vec![BarSeries::new("x", vec![0.5, 0.6])],
        ..BarPlot::default()
    };
    let msg = bars
        .render(dir.path(), "b")
        .expect_err("must fail")
        .to_string();
    assert!(
        msg.contains("No categories title") && msg.contains("x axis"),
        "{msg}"
    );
    let hist = Histogram {
        title: "No x".into(),
        ..Histogram::default()
    };
    assert!(hist.render(dir.path(), "h").is_err());
    assert!(
        LinePlot {
            title: "nothing".into(),
            x: Axis::linear("step"),
            panels: vec![],
        }
        .render(dir.path(), "n")
        .is_err()
    );
    // Nothing half-written is left behind.
    assert_eq!(fs::read_dir(dir.path()).expect("dir").count(), 0);
}

#[test]
fn degenerate_line_plots_still_render() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        vec![(3.0, 3.0)],
        vec![(1.0, 0.0), (2.0, 0.0), (3.0, 0.0)],
        vec![(f64::NAN, 1.0)],
        vec![],
    ];
    for (i, points) in cases.into_iter().enumerate() {
        for log in [false, true] {
            let y = if log {
                Axis::log("value (units)")
            } else {
                Axis::linear("value (units)")
            };
            let plot = LinePlot::single(
                format!("Degenerate {i}"),
                Axis::linear("x (units)"),
                y,
                vec![Series::line_points("only", points.clone())],
            );
            let stem = format!("d{i}_{log}");
            let paths = plot.render(dir.path(), &stem).expect("render");
            let svg = fs::read_to_string(&paths[1]).expect("svg");
            assert_eq!(axis_problems(&svg), Vec::<String>::new(), "{stem}");
        }
    }
}

#[test]
fn bar_plot_clips_intervals_and_draws_seeds_and_censored_bars() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut acc = BarSeries::mean_ci95(
        "from scratch",
        &[vec![0.97, 0.99, 1.0], vec![0.5, 0.7, 0.6], vec![0.2]],
    );
    // The t interval of the first group reaches above 1; the axis stays within [0, 1].
    let (_, hi) = acc.intervals.as_ref().expect("intervals")[0];
    assert!(hi > 1.0, "{hi}");
    assert_eq!(acc.seeds[0].len(), 3);
    acc.censored = vec![false, false, true];
    let wilson = BarSeries::wilson95("escaped", &[(0, 20), (20, 20), (7, 20)]);
    let w = wilson.intervals.as_ref().expect("intervals");
    assert!(w[0].0 == 0.0 && w[0].1 > 0.1, "{w:?}");
    assert!((w[1].1 - 1.0).abs() < 1e-12 && w[1].0 < 0.9, "{w:?}");
    let plot = BarPlot {
        title: "Test accuracy".into(),
        x_title: "arm".into(),
        y: Axis::linear("test accuracy (fraction)").bounded(Bounds::UNIT),
        groups: vec!["vanilla".into(), "regularized".into(), "huge".into()],
        bars: vec![acc, wilson],
    };
    let svg = check_outputs(
        &plot.render(dir.path(), "bars").expect("render"),
        dir.path(),
        "bars",
        "Test accuracy",
    );
    assert!(
        svg.contains("one seed") && has_text(&svg, "&gt;0.2"),
        "seed/censor marks"
    );
    // No tick label above the bound: the largest y tick is 1.
    assert!(
        has_text(&svg, "1") && !has_text(&svg, "1.2"),
        "{:?}",
        texts(&svg)
    );

    let log_bars = BarPlot {
        title: "λ_max".into(),
        x_title: "rule".into(),
        y: Axis::log("λ_max (1/loss curvature)"),
        groups: vec!["sgd".into(), "gd".into()],
        bars: vec![BarSeries::with_intervals(
            "λ_max",
            vec![3.0, 40.0],
            vec![(-1.0, 5.0), (30.0, 55.0)],
        )],
    };
    check_outputs(
        &log_bars.render(dir.path(), "lam").expect("render"),
        dir.path(),
        "lam",
        "λ_max",
    );
}

fn heatmap(title: &str, shift: f64) -> Heatmap {
    let (nx, ny) = (60, 50);
    let values = (0..ny)
        .flat_map(|j| {
            (0..nx).map(move |i| {
                let x = -2.0 + 4.0 * (f64::from(i) + 0.5) / f64::from(nx);
                let y = -2.0 + 4.0 * (f64::from(j) + 0.5) / f64::from(ny);
                1.0 / (1.0 + (-(3.0 * (x - shift) + 2.0 * y.sin() * 2.0)).exp())
            })
        })
        .collect();
    let points = (0..40)
        .map(|k| {
            let t = f64::from(k) * 0.7;
            let (x, y) = (1.8 * t.sin(), 1.8 * (1.3 * t).cos());
            (x, y, u32::from(x > shift))
        })
        .collect();
    Heatmap {
        title: title.into(),
        x_title: "x₁ (feature)".into(),
        y_title: "x₂ (feature)".into(),
        x_range: (-2.0, 2.0),
        y_range: (-2.0, 2.0),
        nx: nx as usize,
        ny: ny as usize,
        values,
        value_label: "P(class 1)".into(),
        points,
    }
}

#[test]
fn heatmap_and_grid_render() {
    let dir = tempfile::tempdir().expect("tempdir");
    let single = heatmap("Decision boundary", 0.0);
    check_outputs(
        &single.render(dir.path(), "boundary").expect("render"),
        dir.path(),
        "boundary",
        "Decision boundary",
    );
    let grid = HeatmapGrid {
        title: "Boundaries by width".into(),
        panels: (0..5)
            .map(|k| heatmap(&format!("width {}", 1 << k), f64::from(k) * 0.3 - 0.6))
            .collect(),
        columns: 3,
    };
    let svg = check_outputs(
        &grid.render(dir.path(), "grid").expect("render"),
        dir.path(),
        "grid",
        "Boundaries by width",
    );
    assert_eq!(panel_count(&svg), 5);
}

#[test]
fn inconsistent_heatmap_is_a_plot_error_and_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bad = heatmap("bad", 0.0);
    bad.values.pop();
    let err = bad.render(dir.path(), "bad").expect_err("must fail");
    assert!(matches!(err, EngineError::Plot { .. }), "{err}");
    assert!(
        err.to_string().contains("bad.png") && err.to_string().contains("2999 values"),
        "{err}"
    );
    let mut untitled = heatmap("untitled map", 0.0);
    untitled.y_title.clear();
    let err = untitled.render(dir.path(), "u").expect_err("must fail");
    assert!(err.to_string().contains("untitled map"), "{err}");
    assert_eq!(fs::read_dir(dir.path()).expect("dir").count(), 0);
}

#[test]
fn histogram_renders_linear_and_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = |mu: f64, n: u32| -> Vec<f64> {
        (0..n)
            .map(|k| {
                // A deterministic, roughly bell-shaped sample.
                let u = (f64::from(k) + 0.5) / f64::from(n);
                mu + (u - 0.5) * 4.0 * (u * (1.0 - u)).sqrt()
            })
            .collect()
    };
    let mut with_nan = sample(0.3, 500);
    with_nan.push(f64::NAN);
    let plot = Histogram {
        title: "Weight distribution".into(),
        x: Axis::linear("weight (units)"),
        counted: "weights".into(),
        series: vec![
            ("init".into(), sample(0.0, 800)),
            ("trained".into(), with_nan),
        ],
        bins: 40,
    };
    check_outputs(
        &plot.render(dir.path(), "hist").expect("render"),
        dir.path(),
        "hist",
        "Weight distribution",
    );
    let losses = Histogram {
        title: "Final losses".into(),
        x: Axis::log("final loss (squared error)"),
        counted: "inits".into(),
        series: vec![(
            "plain".into(),
            (0..200)
                .map(|k| 10f64.powf(-8.0 + f64::from(k) / 30.0))
                .collect(),
        )],
        bins: 30,
    };
    let svg = check_outputs(
        &losses.render(dir.path(), "losses").expect("render"),
        dir.path(),
        "losses",
        "Final losses",
    );
    assert!(has_text(&svg, "10⁻⁶"), "decade labels on the log x axis");
    let empty = Histogram {
        title: "Empty".into(),
        x: Axis::linear("value (units)"),
        ..Histogram::default()
    };
    empty.render(dir.path(), "empty").expect("render");
}

#[test]
fn the_audit_catches_a_chart_stripped_of_its_tick_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = line_plot().render(dir.path(), "loss").expect("render");
    let svg = fs::read_to_string(&paths[1]).expect("svg");
    assert!(axis_problems(&svg).is_empty());
    // Remove every text element but the titles: the audit must complain about ticks.
    let mut stripped = String::new();
    let mut rest = svg.as_str();
    while let Some(i) = rest.find("<text") {
        stripped.push_str(&rest[..i]);
        let end = rest[i..].find("</text>").expect("closed") + i + "</text>".len();
        let el = &rest[i..end];
        if texts(el).iter().any(|t| t == "step" || t == "loss (nats)") {
            stripped.push_str(el);
        }
        rest = &rest[end..];
    }
    stripped.push_str(rest);
    let problems = axis_problems(&stripped);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems.iter().all(|p| p.contains("tick label")),
        "{problems:?}"
    );
}

#[test]
fn prob_colors_run_blue_white_red() {
    use super::heatmap::prob_color;
    assert_eq!(prob_color(0.0), RGBColor(59, 116, 196));
    assert_eq!(prob_color(0.5), RGBColor(247, 247, 247));
    assert_eq!(prob_color(1.0), RGBColor(206, 70, 62));
    assert_eq!(prob_color(7.0), prob_color(1.0));
    assert_eq!(prob_color(f64::NAN), RGBColor(190, 190, 190));
}
