//! The SVG plots of a run: throughput over time of the closed-loop passes, latency percentiles
//! over time of the open-loop passes, and fan-out delivery latency over time.

use crate::report::Report;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// One line of a chart.
struct Line {
    name: String,
    points: Vec<(f64, f64)>,
    /// Drawn thin (a p50 beside its p99), in the colour of the line before it.
    thin: bool,
}

/// Writes the plots into `dir`; the paths written.
pub fn write(report: &Report, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let seconds = |n: usize| (1..=n).map(|s| s as f64);

    let throughput: Vec<Line> = report
        .passes()
        .filter(|p| p.pacing == "closed")
        .map(|p| Line {
            name: format!("{} {} ×{}", p.target, p.transport, p.connections),
            points: seconds(p.figures.timeline.len()).zip(p.figures.timeline.iter().map(|t| t.per_s)).collect(),
            thin: false,
        })
        .collect();
    let path = dir.join("throughput.svg");
    chart(&path, "Acknowledged orders per second, closed loop (the peak)", "orders/s", &throughput)?;
    written.push(path);

    let mut latency = Vec::new();
    for p in report.passes().filter(|p| p.pacing == "open") {
        let name = format!("{} {} ×{} @{:.0}/s", p.target, p.transport, p.connections, p.figures.offered_per_s.unwrap_or(0.0));
        let points = |f: fn(&crate::recorder::Tick) -> f64| -> Vec<(f64, f64)> {
            seconds(p.figures.timeline.len()).zip(p.figures.timeline.iter().map(f)).collect()
        };
        latency.push(Line { name: format!("{name} p99"), points: points(|t| t.p99_ms), thin: false });
        latency.push(Line { name: format!("{name} p50"), points: points(|t| t.p50_ms), thin: true });
    }
    let path = dir.join("latency.svg");
    chart(&path, "Order latency per second, open loop at half the peak: p99 (thick) and p50 (thin)", "ms", &latency)?;
    written.push(path);

    if let Some(f) = &report.fanout {
        let t = &f.latency.timeline;
        let lines = vec![
            Line { name: "p99.9".into(), points: seconds(t.len()).zip(t.iter().map(|t| t.p999_ms)).collect(), thin: false },
            Line { name: "p99".into(), points: seconds(t.len()).zip(t.iter().map(|t| t.p99_ms)).collect(), thin: false },
            Line { name: "p50".into(), points: seconds(t.len()).zip(t.iter().map(|t| t.p50_ms)).collect(), thin: false },
        ];
        let path = dir.join("fanout.svg");
        let title = format!("Fan-out delivery latency per second: {} viewers × {:.0} chat/s", f.viewers, f.chat_per_s);
        chart(&path, &title, "ms", &lines)?;
        written.push(path);
    }
    Ok(written)
}

fn chart(path: &Path, title: &str, y_desc: &str, lines: &[Line]) -> anyhow::Result<()> {
    let plotting = |e: &dyn std::fmt::Display| anyhow::anyhow!("plotting {}: {e}", path.display());
    let x_max = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)).fold(1.0, f64::max);
    let y_max = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).fold(1.0, f64::max) * 1.1;
    let height = 480 + 18 * lines.len() as u32;
    let root = SVGBackend::new(path, (1100, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plotting(&e))?;
    let (plot_area, legend_area) = root.split_vertically(480);
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..x_max + 0.5, 0.0..y_max)
        .map_err(|e| plotting(&e))?;
    chart
        .configure_mesh()
        .x_desc("second of the measured window")
        .y_desc(y_desc)
        .draw()
        .map_err(|e| plotting(&e))?;
    let mut colour = 0;
    for (i, line) in lines.iter().enumerate() {
        if !line.thin || i == 0 {
            colour += 1;
        }
        let style = Palette99::pick(colour).stroke_width(if line.thin { 1 } else { 2 });
        chart
            .draw_series(LineSeries::new(line.points.iter().copied(), style))
            .map_err(|e| plotting(&e))?;
        // The legend, one line per series under the chart (plotters' own box would cover lines).
        let y = 6 + 18 * i as i32;
        legend_area
            .draw(&PathElement::new(vec![(80, y + 6), (110, y + 6)], style))
            .map_err(|e| plotting(&e))?;
        legend_area
            .draw(&Text::new(line.name.clone(), (118, y), ("sans-serif", 13)))
            .map_err(|e| plotting(&e))?;
    }
    root.present().map_err(|e| plotting(&e))?;
    Ok(())
}
