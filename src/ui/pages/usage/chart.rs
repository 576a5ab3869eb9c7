//! The daily spend chart: an SVG bar chart drawn as a string, its scale and its caption.

use crate::api::usage::{DaySummary, UsageSummary};
use crate::shared::format::escape_xml;
use crate::shared::money::Micros;

/// "Nov 19" from `YYYY-MM-DD`.
fn short_date(date: &str) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let mut parts = date.splitn(3, '-').skip(1);
    let month = parts.next().and_then(|m| m.parse::<usize>().ok()).filter(|m| (1..=12).contains(m));
    let day = parts.next().and_then(|d| d.parse::<u32>().ok());
    match (month, day) {
        (Some(m), Some(d)) => format!("{} {d}", MONTHS[m - 1]),
        _ => date.to_string(),
    }
}

/// "19" from `YYYY-MM-DD`.
fn day_of_month(date: &str) -> String {
    date.rsplit('-').next().and_then(|d| d.parse::<u32>().ok()).map_or_else(|| date.to_string(), |d| d.to_string())
}

/// The top of the chart's scale: the smallest 1, 2, 2.5 or 5 × 10ⁿ micro-dollars at or
/// above `max`, and never under one cent.
pub fn axis_top(max: Micros) -> Micros {
    let max = max.get().max(10_000);
    let mut decade: i64 = 1;
    loop {
        for step in [10, 20, 25, 50] {
            let top = decade.saturating_mul(step) / 10;
            if top >= max {
                return Micros(top);
            }
        }
        if decade > i64::MAX / 100 {
            return Micros(max);
        }
        decade *= 10;
    }
}

/// What the chart shows, in words: its text alternative.
pub fn chart_caption(s: &UsageSummary) -> String {
    let (Some(first), Some(last)) = (s.days.first(), s.days.last()) else {
        return "Daily credit spend: no days to show.".into();
    };
    let range = format!("{} to {}", first.date, last.date);
    match s.days.iter().filter(|d| d.cost.is_positive()).max_by_key(|d| (d.cost, std::cmp::Reverse(d.date.clone()))) {
        None => format!("Daily credit spend, {range} (UTC): nothing was spent."),
        Some(top) => format!(
            "Daily credit spend, {range} (UTC): {} in all; the most was {} on {}.",
            s.total.format(),
            top.cost.format(),
            top.date
        ),
    }
}

const CHART_H: f64 = 220.0;
const PLOT_TOP: f64 = 22.0;
const PLOT_BOTTOM: f64 = 188.0;

/// How a chart is laid out: the full one, or the one a phone shows whole.
struct Layout {
    width: f64,
    plot_left: f64,
    plot_right: f64,
    /// Each bar carries its amount (the full chart); else only its tooltip does, and the
    /// table under the chart.
    values: bool,
    /// Days are labelled "Nov 19" (full) or "19".
    short_labels: bool,
    desc_id: &'static str,
}

const WIDE: Layout = Layout {
    width: 640.0,
    plot_left: 72.0,
    plot_right: 628.0,
    values: true,
    short_labels: false,
    desc_id: "usage-chart-desc",
};

/// A phone's: narrow enough to be drawn whole at 360 px with readable labels, today on screen.
const COMPACT: Layout = Layout {
    width: 340.0,
    plot_left: 58.0,
    plot_right: 334.0,
    values: false,
    short_labels: true,
    desc_id: "usage-chart-desc-compact",
};

/// The daily credit spend as an SVG bar chart, drawn on the server (the browser's copy is
/// the same string). Each bar is labelled with its amount; its accessible name and the
/// per-day list it carries make the picture readable without seeing it.
pub fn spend_chart_svg(days: &[DaySummary]) -> String {
    draw(days, &WIDE)
}

/// The same chart for a phone: every day fits the screen, so no scrolling, and today
/// (on the right) is always in view; amounts are in the table under it.
pub fn spend_chart_svg_compact(days: &[DaySummary]) -> String {
    draw(days, &COMPACT)
}

fn draw(days: &[DaySummary], layout: &Layout) -> String {
    use std::fmt::Write;
    let (plot_left, plot_right, chart_w) = (layout.plot_left, layout.plot_right, layout.width);
    let max = days.iter().map(|d| d.cost).max().unwrap_or(Micros::ZERO);
    let top = axis_top(max);
    let plot_h = PLOT_BOTTOM - PLOT_TOP;
    let slot = (plot_right - plot_left) / days.len().max(1) as f64;
    let listing = days.iter().map(|d| format!("{} {}", d.date, d.cost.format())).collect::<Vec<_>>().join(", ");
    let mut svg = String::with_capacity(4096);
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {chart_w} {CHART_H}" class="spend-chart" role="img" aria-labelledby="usage-chart-caption" aria-describedby="{desc}" focusable="false"><desc id="{desc}">{}</desc>"#,
        escape_xml(&format!("Credit spend per day: {listing}.")),
        desc = layout.desc_id
    );
    // Grid lines and the scale: zero, half and the top.
    for (fraction, value) in [(0.0, Micros::ZERO), (0.5, Micros(top.get() / 2)), (1.0, top)] {
        let y = PLOT_BOTTOM - plot_h * fraction;
        let _ = write!(
            svg,
            r#"<line class="spend-chart__grid" x1="{plot_left}" x2="{plot_right}" y1="{y:.1}" y2="{y:.1}"/><text class="spend-chart__scale" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            plot_left - 8.0,
            y + 4.0,
            escape_xml(&value.format())
        );
    }
    for (i, d) in days.iter().enumerate() {
        let x = plot_left + slot * i as f64;
        let center = x + slot / 2.0;
        let height = if top.is_positive() { plot_h * d.cost.get() as f64 / top.get() as f64 } else { 0.0 };
        // A day with any spend stays visible, however small beside the others.
        let height = if d.cost.is_positive() { height.max(2.0) } else { 0.0 };
        let _ = write!(
            svg,
            r#"<g class="spend-chart__day" data-date="{date}" data-cost-micros="{micros}">"#,
            date = escape_xml(&d.date),
            micros = d.cost.get()
        );
        if height > 0.0 && !layout.values {
            let _ = write!(
                svg,
                r#"<rect class="spend-chart__bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{height:.1}" rx="3"><title>{}</title></rect>"#,
                x + slot * 0.2,
                PLOT_BOTTOM - height,
                slot * 0.6,
                escape_xml(&format!("{}: {} in {} requests", d.date, d.cost.format(), d.requests)),
            );
        } else if height > 0.0 {
            let _ = write!(
                svg,
                r#"<rect class="spend-chart__bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{height:.1}" rx="3"><title>{}</title></rect><text class="spend-chart__value" x="{center:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x + slot * 0.2,
                PLOT_BOTTOM - height,
                slot * 0.6,
                escape_xml(&format!("{}: {} in {} requests", d.date, d.cost.format(), d.requests)),
                PLOT_BOTTOM - height - 6.0,
                escape_xml(&d.cost.format())
            );
        }
        let _ = write!(
            svg,
            r#"<text class="spend-chart__label" x="{center:.1}" y="{:.1}" text-anchor="middle">{}</text></g>"#,
            PLOT_BOTTOM + 20.0,
            escape_xml(&if layout.short_labels { day_of_month(&d.date) } else { short_date(&d.date) })
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(date: &str, cost: i64, requests: i64) -> DaySummary {
        DaySummary { date: date.into(), cost: Micros(cost), requests, own_key_cost: Micros::ZERO }
    }

    #[test]
    fn axis_top_is_a_round_amount_at_or_above_the_highest_day() {
        assert_eq!(axis_top(Micros::ZERO), Micros(10_000));
        assert_eq!(axis_top(Micros(3_000)), Micros(10_000));
        assert_eq!(axis_top(Micros(31_000)), Micros(50_000));
        assert_eq!(axis_top(Micros(50_000)), Micros(50_000));
        assert_eq!(axis_top(Micros(50_001)), Micros(100_000));
        assert_eq!(axis_top(Micros(2_100_000)), Micros(2_500_000));
        assert_eq!(axis_top(Micros(i64::MAX)), Micros(i64::MAX));
    }

    #[test]
    fn bars_are_as_tall_as_their_share_of_the_scale() {
        let days = [day("2026-11-20", 25_000, 1), day("2026-11-21", 50_000, 2), day("2026-11-19", 0, 0)];
        let svg = spend_chart_svg(&days);
        let plot_h = PLOT_BOTTOM - PLOT_TOP;
        assert!(svg.contains(&format!(r#"height="{:.1}""#, plot_h / 2.0)), "{svg}");
        assert!(svg.contains(&format!(r#"height="{plot_h:.1}""#)), "{svg}");
        // A day without spend has a label but no bar.
        assert_eq!(svg.matches("<rect").count(), 2);
        assert_eq!(svg.matches("spend-chart__label").count(), 3);
        assert!(svg.contains(">Nov 21<"));
        assert!(svg.contains("2026-11-21 $0.05"));
        assert!(svg.contains(">$0.025<") || svg.contains(">$0.0250<"), "{svg}");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }

    #[test]
    fn the_phone_chart_fits_a_narrow_screen_and_labels_days_by_number() {
        let days = [day("2026-11-20", 25_000, 1), day("2026-11-21", 50_000, 2)];
        let svg = spend_chart_svg_compact(&days);
        assert!(svg.contains(r#"viewBox="0 0 340 220""#), "{svg}");
        assert!(svg.contains(">21<") && !svg.contains(">Nov 21<"), "{svg}");
        // Amounts only in the tooltips (and the table), not over the bars.
        assert_eq!(svg.matches("spend-chart__value").count(), 0);
        assert_eq!(svg.matches("<title>").count(), 2);
        assert!(svg.contains(r#"<desc id="usage-chart-desc-compact">"#));
    }

    #[test]
    fn a_tiny_day_is_still_visible_and_an_empty_period_draws_no_bars() {
        let svg = spend_chart_svg(&[day("2026-11-20", 1, 1), day("2026-11-21", 5_000_000, 9)]);
        assert!(svg.contains(r#"height="2.0""#), "{svg}");
        let empty = spend_chart_svg(&[day("2026-11-20", 0, 0), day("2026-11-21", 0, 3)]);
        assert_eq!(empty.matches("<rect").count(), 0);
        assert!(empty.contains(">$0.01<"), "{empty}");
    }

    #[test]
    fn the_caption_names_the_period_total_and_highest_day() {
        let s = UsageSummary {
            days: vec![day("2026-11-20", 31_000, 5), day("2026-11-21", 9_000, 1)],
            total: Micros(40_000),
            requests: 6,
            members: vec![],
        };
        assert_eq!(
            chart_caption(&s),
            "Daily credit spend, 2026-11-20 to 2026-11-21 (UTC): $0.04 in all; the most was $0.031 on 2026-11-20."
                .replace("$0.031 ", &format!("{} ", Micros(31_000).format()))
        );
        let quiet =
            UsageSummary { days: vec![day("2026-11-21", 0, 0)], total: Micros::ZERO, requests: 0, members: vec![] };
        assert_eq!(chart_caption(&quiet), "Daily credit spend, 2026-11-21 to 2026-11-21 (UTC): nothing was spent.");
    }
}
