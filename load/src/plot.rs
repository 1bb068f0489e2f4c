//! The SVG plots of a run, per connection count: acknowledged orders per second over time in the
//! closed-loop passes (`throughput-<N>.svg`), p99 latency over time in the open-loop passes
//! (`latency-<N>.svg`, log scale: the designs differ by orders of magnitude), and fan-out
//! delivery latency over time (`fanout.svg`).

use crate::recorder::Tick;
use crate::report::Report;
use plotters::coord::combinators::IntoLogRange;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Strong, distinguishable colours (matplotlib's tab10).
const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// One line of a chart.
struct Line {
    name: String,
    points: Vec<(f64, f64)>,
}

fn line(name: String, timeline: &[Tick], value: fn(&Tick) -> f64) -> Line {
    Line {
        name,
        points: timeline.iter().map(|t| (t.at_s, value(t))).collect(),
    }
}

/// Writes the plots into `dir`; the paths written.
pub fn write(report: &Report, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let mut connections: Vec<usize> = report.passes().map(|p| p.connections).collect();
    connections.sort_unstable();
    connections.dedup();
    for c in connections {
        let of = |pacing: &'static str| {
            report
                .passes()
                .filter(move |p| p.connections == c && p.pacing == pacing)
        };
        let throughput: Vec<Line> = of("closed")
            .map(|p| {
                line(format!("{} {}", p.target, p.transport), &p.figures.timeline, |t| {
                    t.per_s
                })
            })
            .collect();
        if !throughput.is_empty() {
            let path = dir.join(format!("throughput-{c}.svg"));
            let title = format!("Acknowledged orders per second, {c} connections, closed loop (the peak)");
            chart(&path, &title, "orders/s", &throughput, false)?;
            written.push(path);
        }
        let latency: Vec<Line> = of("open")
            .map(|p| {
                let offered = p.figures.offered_per_s.unwrap_or(0.0);
                line(
                    format!("{} {} at {offered:.0}/s", p.target, p.transport),
                    &p.figures.timeline,
                    |t| t.p99_ms,
                )
            })
            .collect();
        if !latency.is_empty() {
            let path = dir.join(format!("latency-{c}.svg"));
            let title = format!("p99 order latency per ¼ s, {c} connections, open loop at half of each one's peak");
            chart(&path, &title, "ms (log scale)", &latency, true)?;
            written.push(path);
        }
    }
    if let Some(f) = &report.fanout {
        let t = &f.latency.timeline;
        let lines = vec![
            line("p99.9".into(), t, |t| t.p999_ms),
            line("p99".into(), t, |t| t.p99_ms),
            line("p50".into(), t, |t| t.p50_ms),
        ];
        let path = dir.join("fanout.svg");
        let title = format!(
            "Fan-out delivery latency per ¼ s: {} viewers × {:.0} chat/s",
            f.viewers, f.chat_per_s
        );
        chart(&path, &title, "ms", &lines, false)?;
        written.push(path);
    }
    Ok(written)
}

fn chart(path: &Path, title: &str, y_desc: &str, lines: &[Line], log: bool) -> anyhow::Result<()> {
    let plotting = |e: &dyn std::fmt::Display| anyhow::anyhow!("plotting {}: {e}", path.display());
    let values = || lines.iter().flat_map(|l| l.points.iter());
    let x_max = values().map(|p| p.0).fold(1.0, f64::max);
    let y_max = values().map(|p| p.1).fold(1.0, f64::max) * 1.2;
    let height = 440 + 18 * lines.len() as u32;
    let root = SVGBackend::new(path, (960, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plotting(&e))?;
    let (plot_area, legend_area) = root.split_vertically(440);
    let mut builder = ChartBuilder::on(&plot_area);
    builder
        .caption(title, ("sans-serif", 17))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(72);
    let styles: Vec<ShapeStyle> = (0..lines.len())
        .map(|i| COLOURS[i % COLOURS.len()].stroke_width(2))
        .collect();
    let x_desc = "seconds into the measured window";
    if log {
        let y_min = values()
            .map(|p| p.1)
            .filter(|v| *v > 0.0)
            .fold(y_max, f64::min)
            .max(0.01)
            / 1.5;
        let mut chart = builder
            .build_cartesian_2d(0.0..x_max, (y_min..y_max).log_scale())
            .map_err(|e| plotting(&e))?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()
            .map_err(|e| plotting(&e))?;
        for (line, style) in lines.iter().zip(&styles) {
            let points = line.points.iter().copied().filter(|p| p.1 > 0.0);
            chart
                .draw_series(LineSeries::new(points, *style))
                .map_err(|e| plotting(&e))?;
        }
    } else {
        let mut chart = builder
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(|e| plotting(&e))?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()
            .map_err(|e| plotting(&e))?;
        for (line, style) in lines.iter().zip(&styles) {
            chart
                .draw_series(LineSeries::new(line.points.iter().copied(), *style))
                .map_err(|e| plotting(&e))?;
        }
    }
    // The legend, one row per line under the chart (plotters' own box would cover lines).
    for (i, (line, style)) in lines.iter().zip(&styles).enumerate() {
        let y = 6 + 18 * i as i32;
        legend_area
            .draw(&PathElement::new(vec![(80, y + 6), (110, y + 6)], *style))
            .map_err(|e| plotting(&e))?;
        legend_area
            .draw(&Text::new(line.name.clone(), (118, y), ("sans-serif", 13)))
            .map_err(|e| plotting(&e))?;
    }
    root.present().map_err(|e| plotting(&e))?;
    Ok(())
}
