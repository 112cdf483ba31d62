//! Charts drawn on the server as SVG ([`plotters`]), each inside a `<figure>` with a caption, a
//! text summary for screen readers and its figures as a table: a chart is never the only way to
//! read a number.

use maud::{Markup, html};
use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::layout::raw;

const WIDTH: u32 = 760;
const HEIGHT: u32 = 320;
/// Text size in the SVG's own pixels (the chart is drawn 760 wide and scaled to the page).
const FONT: u32 = 16;
const INK: RGBColor = RGBColor(27, 31, 36);
const GRID: RGBColor = RGBColor(201, 208, 216);
/// Series colours, distinguishable by people with the common colour-vision deficiencies
/// (Okabe and Ito's palette), each at a contrast of at least 3:1 on white.
const SERIES: [RGBColor; 4] =
    [RGBColor(0, 94, 184), RGBColor(196, 82, 0), RGBColor(0, 122, 85), RGBColor(160, 60, 130)];

/// One line of a line chart: a name and a value for each x label (`None`: no value).
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// A horizontal mark across a chart (the 60% and 100% of the adoption curve, a target).
#[derive(Debug, Clone)]
pub struct Mark {
    pub value: f64,
    pub label: String,
}

/// A line chart over labelled x positions (months), with marks.
pub fn lines(
    title: &str,
    summary: &str,
    labels: &[String],
    series: &[Series],
    marks: &[Mark],
    y_max: f64,
    y_unit: &str,
) -> Markup {
    let plot = Plot { labels, series, marks, y_max, y_unit };
    figure(title, summary, drawn(labels, |root| draw_lines(root, &plot)), labels, series, y_unit)
}

/// A bar chart: one bar per label and series, side by side, with marks.
pub fn bars(
    title: &str,
    summary: &str,
    labels: &[String],
    series: &[Series],
    marks: &[Mark],
    y_unit: &str,
) -> Markup {
    let top = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .chain(marks.iter().map(|m| &m.value))
        .fold(0.0_f64, |a, b| a.max(*b));
    let y_max = if top <= 0.0 { 1.0 } else { top * 1.15 };
    let plot = Plot { labels, series, marks, y_max, y_unit };
    figure(title, summary, drawn(labels, |root| draw_bars(root, &plot)), labels, series, y_unit)
}

/// What a chart with nothing to draw says (a period without figures).
const NOTHING: &str = "Nothing to chart in this period.";

/// The SVG `draw` draws on a white area of the chart's size, or why there is none
/// ([`NOTHING`] without labels).
fn drawn(
    labels: &[String],
    draw: impl FnOnce(&Area<'_>) -> Result<(), String>,
) -> Result<String, String> {
    if labels.is_empty() {
        return Err(NOTHING.into());
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn figure(
    title: &str,
    summary: &str,
    svg: Result<String, String>,
    labels: &[String],
    series: &[Series],
    y_unit: &str,
) -> Markup {
    html! {
        figure.chart {
            figcaption { (title) }
            @match svg {
                Ok(svg) => { div.plot role="img" aria-label=(summary) { (raw(accessible(svg))) } }
                Err(why) if why == NOTHING => { p.none { (NOTHING) } }
                Err(why) => { p.none { "The chart could not be drawn: " (why) } }
            }
            details.data {
                summary { "The figures" }
                table {
                    caption.visually-hidden { (title) }
                    thead { tr { th scope="col" { "" } @for s in series { th scope="col" .num { (s.name) } } } }
                    tbody { @for (i, label) in labels.iter().enumerate() {
                        tr { th scope="row" { (label) } @for s in series {
                            td.num { @match s.values.get(i).copied().flatten() { Some(v) => { (format_value(v, y_unit)) } None => { "—" } } }
                        } }
                    } }
                }
            }
        }
    }
}

/// The SVG without its own size (the style sheet fits it to the page), hidden from assistive
/// technology (the figure's label and table say it).
fn accessible(svg: String) -> String {
    svg.replacen("<svg ", "<svg aria-hidden=\"true\" focusable=\"false\" ", 1)
}

fn format_value(v: f64, unit: &str) -> String {
    match unit {
        "%" => format!("{v:.0}%"),
        "$" => format!("${v:.0}"),
        "" => format!("{v:.0}"),
        other => format!("{v:.1} {other}"),
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// What a chart plots: a value of each series for each label, marks across it, the y axis up
/// to `y_max` in `y_unit`.
#[derive(Debug, Clone, Copy)]
struct Plot<'a> {
    labels: &'a [String],
    series: &'a [Series],
    marks: &'a [Mark],
    y_max: f64,
    y_unit: &'a str,
}

/// The white area a chart is drawn on, in an SVG string.
type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// A chart drawn on an SVG string, its y axis the values.
type Chart<'a, X> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, RangedCoordf64>>;

/// The grid, axes and labels every chart shares, on `mesh` (configured further by the caller).
fn mesh_style<'m, 'a, 'b, X: Ranged>(
    mesh: &'m mut MeshStyle<'a, 'b, X, RangedCoordf64, SVGBackend<'a>>,
) -> &'m mut MeshStyle<'a, 'b, X, RangedCoordf64, SVGBackend<'a>> {
    mesh.light_line_style(GRID.mix(0.4))
        .bold_line_style(GRID)
        .axis_style(INK)
        .label_style(("sans-serif", FONT).into_font().color(&INK))
}

/// Each of `marks` as a line from `from` to `to` in `style`, labelled at its start.
fn draw_marks<X>(
    chart: &mut Chart<'_, X>,
    marks: &[Mark],
    (from, to): (X::ValueType, X::ValueType),
    style: ShapeStyle,
) -> Result<(), String>
where
    X: Ranged,
    X::ValueType: Clone + 'static,
{
    for mark in marks {
        let line = [(from.clone(), mark.value), (to.clone(), mark.value)];
        chart.draw_series(LineSeries::new(line, style)).map_err(err)?;
        chart
            .draw_series(std::iter::once(Text::new(
                mark.label.clone(),
                (from.clone(), mark.value),
                ("sans-serif", FONT).into_font().color(&INK),
            )))
            .map_err(err)?;
    }
    Ok(())
}

/// The legend at `position`, when there is more than one series to tell apart.
fn draw_legend<X: Ranged>(
    chart: &mut Chart<'_, X>,
    series: &[Series],
    position: SeriesLabelPosition,
) -> Result<(), String> {
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(GRID)
            .label_font(("sans-serif", FONT).into_font().color(&INK))
            .position(position)
            .draw()
            .map_err(err)?;
    }
    Ok(())
}

fn draw_lines(root: &Area<'_>, plot: &Plot<'_>) -> Result<(), String> {
    let Plot { labels, series, marks, y_max, y_unit } = *plot;
    let n = labels.len().max(2);
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .margin_right(36)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0..n - 1, 0.0..y_max)
        .map_err(err)?;
    let unit = y_unit.to_owned();
    mesh_style(&mut chart.configure_mesh())
        .x_labels(labels.len().min(12))
        .x_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
        .y_label_formatter(&|v| format_value(*v, &unit))
        .draw()
        .map_err(err)?;
    draw_marks(&mut chart, marks, (0, n - 1), ShapeStyle::from(&INK.mix(0.6)).stroke_width(1))?;
    for (i, s) in series.iter().enumerate() {
        let colour = SERIES[i % SERIES.len()];
        let points: Vec<(usize, f64)> =
            s.values.iter().enumerate().filter_map(|(x, v)| v.map(|v| (x, v))).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(3)))
            .map_err(err)?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(3)));
        chart
            .draw_series(points.into_iter().map(|p| Circle::new(p, 3, colour.filled())))
            .map_err(err)?;
    }
    draw_legend(&mut chart, series, SeriesLabelPosition::LowerRight)?;
    Ok(())
}

fn draw_bars(root: &Area<'_>, plot: &Plot<'_>) -> Result<(), String> {
    let Plot { labels, series, marks, y_max, y_unit } = *plot;
    let n = labels.len().max(1);
    let per = series.len().max(1);
    // One segment per bar, and a gap after each label's bars; the label sits under its
    // middle bar.
    let group = per + 1;
    let segments = n * group;
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .margin_right(28)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d((0..segments).into_segmented(), 0.0..y_max)
        .map_err(err)?;
    let unit = y_unit.to_owned();
    mesh_style(chart.configure_mesh().disable_x_mesh())
        .x_labels(segments)
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(k) if k % group == (per - 1) / 2 => {
                labels.get(k / group).cloned().unwrap_or_default()
            }
            _ => String::new(),
        })
        .y_label_formatter(&|v| format_value(*v, &unit))
        .draw()
        .map_err(err)?;
    for (si, s) in series.iter().enumerate() {
        let colour = SERIES[si % SERIES.len()];
        let bars = s.values.iter().enumerate().filter_map(move |(li, v)| {
            let k = li * group + si;
            v.map(|v| {
                let mut bar = Rectangle::new(
                    [(SegmentValue::Exact(k), 0.0), (SegmentValue::Exact(k + 1), v)],
                    colour.filled(),
                );
                bar.set_margin(0, 0, 1, 1);
                bar
            })
        });
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(s.name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
    }
    let ends = (SegmentValue::Exact(0), SegmentValue::Exact(segments));
    draw_marks(&mut chart, marks, ends, ShapeStyle::from(&INK.mix(0.7)).stroke_width(2))?;
    draw_legend(&mut chart, series, SeriesLabelPosition::UpperRight)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn months() -> Vec<String> {
        ["2026-08", "2026-09", "2026-10"].map(String::from).to_vec()
    }

    #[test]
    fn a_line_chart_is_svg_with_its_figures_beside_it() {
        let series = vec![Series {
            name: "Schools gated".into(),
            values: vec![Some(10.0), Some(60.0), Some(100.0)],
        }];
        let marks = vec![Mark { value: 60.0, label: "60%".into() }];
        let html = lines("Adoption", "From 10% to 100%", &months(), &series, &marks, 105.0, "%")
            .into_string();
        assert!(html.contains("<svg aria-hidden=\"true\""), "{html}");
        assert!(html.contains("<polyline") || html.contains("<path"), "a line is drawn");
        assert!(html.contains("aria-label=\"From 10% to 100%\""));
        assert!(html.contains("<td class=\"num\">60%</td>"), "the figures are in the table");
        assert!(!html.contains("http://") || html.contains("http://www.w3.org/2000/svg"));
    }

    #[test]
    fn a_bar_chart_draws_one_bar_per_value() {
        let series = vec![
            Series { name: "Kept".into(), values: vec![Some(3.0), Some(0.0), None] },
            Series { name: "Broken".into(), values: vec![Some(1.0), Some(2.0), Some(4.0)] },
        ];
        let html = bars("Promises", "Kept and broken", &months(), &series, &[], "").into_string();
        // Bars are rectangles; the background and the legend add a few more.
        assert!(html.matches("<rect").count() >= 5, "{html}");
        assert!(html.contains("<td class=\"num\">—</td>"), "a missing value reads as a dash");
    }

    #[test]
    fn a_period_without_figures_says_so_rather_than_drawing() {
        let series = vec![Series { name: "Schools gated".into(), values: vec![] }];
        for html in [
            lines("Adoption", "Nothing yet", &[], &series, &[], 105.0, "%"),
            bars("Promises", "Nothing yet", &[], &series, &[], ""),
        ] {
            let html = html.into_string();
            assert!(html.contains(NOTHING) && !html.contains("<svg"), "{html}");
        }
    }
}
