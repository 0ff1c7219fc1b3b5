//! `oxcd-bench plot`: one SVG chart per sweep, from the JSON lines a sweep script writes.
//!
//! Input: one JSON object per line, `{"sweep": "clients", "x": 64, "x_label": "clients",
//! "kind": "etcd", "values": {"put req/s": 9100.0, "put p99 ms": 12.3}}`; lines without
//! `sweep` are skipped. Output: `<out-dir>/sweep-<sweep>.svg`, one panel per value name
//! (in order of first appearance), x the swept parameter, one line per `kind` (server).
//! The x axis is logarithmic when every x is positive and the largest is at least ten times
//! the smallest (the sweeps' points are powers); y is linear from zero.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use serde_json::Value;

/// `oxcd-bench plot` flags.
#[derive(clap::Args, Debug)]
pub struct PlotArgs {
    /// JSON-lines file of sweep points (see the module doc).
    #[arg(long)]
    pub input: PathBuf,
    /// Directory the SVGs are written to (created if missing).
    #[arg(long)]
    pub out_dir: PathBuf,
}

/// One sweep's points: the x label and, per value name, per kind, the (x, y) points.
#[derive(Debug, Default)]
struct Sweep {
    x_label: String,
    /// Value names, in order of first appearance.
    panels: Vec<String>,
    /// Kinds (servers), in order of first appearance.
    kinds: Vec<String>,
    /// (value name, kind) -> points sorted by x.
    points: BTreeMap<(String, String), Vec<(f64, f64)>>,
}

/// Reads the points of every sweep in `text`, by sweep name.
fn parse(text: &str) -> anyhow::Result<BTreeMap<String, Sweep>> {
    let mut sweeps: BTreeMap<String, Sweep> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value =
            serde_json::from_str(line).with_context(|| format!("line {}: not JSON", n + 1))?;
        let Some(name) = v.get("sweep").and_then(Value::as_str) else {
            continue;
        };
        let x = v
            .get("x")
            .and_then(Value::as_f64)
            .with_context(|| format!("line {}: no numeric x", n + 1))?;
        let kind = v
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let sweep = sweeps.entry(name.to_string()).or_default();
        if let Some(label) = v.get("x_label").and_then(Value::as_str) {
            sweep.x_label = label.to_string();
        }
        if !sweep.kinds.contains(&kind) {
            sweep.kinds.push(kind.clone());
        }
        let values = v.get("values").and_then(Value::as_object);
        for (panel, y) in values.into_iter().flatten() {
            let Some(y) = y.as_f64() else { continue };
            if !sweep.panels.contains(panel) {
                sweep.panels.push(panel.clone());
            }
            let pts = sweep
                .points
                .entry((panel.clone(), kind.clone()))
                .or_default();
            pts.push((x, y));
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
    }
    Ok(sweeps)
}

/// The colour of a server's line: etcd blue, oxcd red, others from a palette.
fn colour(kind: &str, i: usize) -> RGBColor {
    match kind {
        "etcd" => RGBColor(31, 119, 180),
        "oxcd" => RGBColor(214, 39, 40),
        _ => {
            let (r, g, b) = Palette99::pick(i).rgb();
            RGBColor(r, g, b)
        }
    }
}

/// Draws one panel (one value name, every kind) with x coordinates `x_spec`.
fn panel<DB, X>(
    area: &DrawingArea<DB, Shift>,
    sweep: &Sweep,
    name: &str,
    x_spec: X,
) -> anyhow::Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let y_max = sweep
        .points
        .iter()
        .filter(|((p, _), _)| p == name)
        .flat_map(|(_, pts)| pts.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let y_max = if y_max > 0.0 { y_max * 1.1 } else { 1.0 };
    let mut chart = ChartBuilder::on(area)
        .caption(name, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x_spec, 0.0..y_max)
        .map_err(|e| anyhow::anyhow!("chart {name}: {e}"))?;
    chart
        .configure_mesh()
        .x_desc(sweep.x_label.as_str())
        .y_desc(name)
        .draw()
        .map_err(|e| anyhow::anyhow!("mesh {name}: {e}"))?;
    for (i, kind) in sweep.kinds.iter().enumerate() {
        let Some(pts) = sweep.points.get(&(name.to_string(), kind.clone())) else {
            continue;
        };
        let c = colour(kind, i);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
            .map_err(|e| anyhow::anyhow!("series {kind}: {e}"))?
            .label(kind.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart
            .draw_series(PointSeries::of_element(
                pts.iter().copied(),
                4,
                c.filled(),
                &|p, s, st| Circle::new(p, s, st),
            ))
            .map_err(|e| anyhow::anyhow!("points {kind}: {e}"))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| anyhow::anyhow!("legend {name}: {e}"))?;
    Ok(())
}

/// Writes `path`: one panel per value name of `sweep`, side by side.
fn draw(path: &Path, title: &str, sweep: &Sweep) -> anyhow::Result<()> {
    let panels = sweep.panels.len().max(1);
    let root = SVGBackend::new(path, (480 * panels as u32, 400)).into_drawing_area();
    root.fill(&WHITE)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let root = root
        .titled(title, ("sans-serif", 22))
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let xs: Vec<f64> = sweep.points.values().flatten().map(|p| p.0).collect();
    let (lo, hi) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let log = lo > 0.0 && hi >= 10.0 * lo;
    for (area, name) in root.split_evenly((1, panels)).iter().zip(&sweep.panels) {
        if log {
            panel(area, sweep, name, (lo / 1.5..hi * 1.5).log_scale())?;
        } else {
            let pad = ((hi - lo) * 0.05).max(0.5);
            panel(area, sweep, name, lo - pad..hi + pad)?;
        }
    }
    root.present()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(())
}

/// Writes one `sweep-<name>.svg` per sweep in `args.input`; prints each path written.
pub fn run(args: &PlotArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.input)
        .with_context(|| format!("read {}", args.input.display()))?;
    let sweeps = parse(&text)?;
    anyhow::ensure!(
        !sweeps.is_empty(),
        "{}: no sweep points",
        args.input.display()
    );
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("create {}", args.out_dir.display()))?;
    for (name, sweep) in &sweeps {
        let path = args.out_dir.join(format!("sweep-{name}.svg"));
        draw(&path, &format!("sweep: {name}"), sweep)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_an_svg_with_both_series_and_both_panels() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("sweeps.jsonl");
        let mut lines = String::from("{\"name\":\"not a sweep point\"}\n");
        for (kind, scale) in [("etcd", 1.0), ("oxcd", 2.0)] {
            for x in [1, 8, 64, 256] {
                lines.push_str(&format!(
                    "{{\"sweep\":\"clients\",\"x\":{x},\"x_label\":\"clients\",\"kind\":\"{kind}\",\
                     \"values\":{{\"put req/s\":{},\"put p99 ms\":{}}}}}\n",
                    scale * 100.0 * x as f64,
                    scale + x as f64
                ));
            }
        }
        std::fs::write(&input, lines).unwrap();
        let out = dir.path().join("out");
        run(&PlotArgs {
            input,
            out_dir: out.clone(),
        })
        .unwrap();
        let entries: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
        assert_eq!(entries.len(), 1, "one SVG per sweep");
        let svg = std::fs::read_to_string(out.join("sweep-clients.svg")).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        assert!(svg.trim_end().ends_with("</svg>"));
        for text in ["etcd", "oxcd", "put req/s", "put p99 ms", "clients"] {
            assert!(
                svg.contains(&format!("\n{text}\n</text>")),
                "no text {text:?} in the SVG"
            );
        }
        // Each server's line and legend mark, in both panels, in its own colour.
        let etcd = svg.matches("stroke=\"#1F77B4\"").count();
        let oxcd = svg.matches("stroke=\"#D62728\"").count();
        assert_eq!((etcd, oxcd), (4, 4), "2 panels x (line + legend mark) each");
    }

    #[test]
    fn log_scale_only_for_powers() {
        let sweeps = parse(
            "{\"sweep\":\"m\",\"x\":1,\"kind\":\"etcd\",\"values\":{\"v\":1}}\n\
             {\"sweep\":\"m\",\"x\":5,\"kind\":\"etcd\",\"values\":{\"v\":2}}\n",
        )
        .unwrap();
        let m = &sweeps["m"];
        assert_eq!(m.panels, ["v"]);
        assert_eq!(m.kinds, ["etcd"]);
        assert_eq!(
            m.points[&("v".to_string(), "etcd".to_string())],
            [(1.0, 1.0), (5.0, 2.0)]
        );
        let dir = tempfile::tempdir().unwrap();
        draw(&dir.path().join("m.svg"), "m", m).unwrap();
        assert!(std::fs::metadata(dir.path().join("m.svg")).unwrap().len() > 0);
    }
}
