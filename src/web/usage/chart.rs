//! The daily spend chart, drawn on the server as SVG: one stacked bar per UTC day, one series
//! per top spender (a member or a team key) and the rest as "Others". Colours come from the
//! `series-*` classes of app.css (no inline styles under the CSP); the same numbers are in the
//! legend, the summary read to screen readers and a table for those who want the figures.

use super::period::{date_of, long, short};
use crate::domain::money::{self, MICROS_PER_DOLLAR, unit_price, usd};
use crate::service::usage::{DailySpend, Names, Who};
use std::collections::HashMap;

/// Days the chart shows, today included.
pub const DAYS: i64 = 30;
/// Spenders with a series of their own; the rest are "Others" (unless only one is left).
const NAMED: usize = 5;
const CLASSES: [&str; NAMED + 1] = ["series-1", "series-2", "series-3", "series-4", "series-5", "series-6"];
const OTHERS_CLASS: &str = "series-others";

// Geometry, in the SVG's own units (it scales to the width of its box).
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
/// The share of a day's slot its bar fills.
const BAR_SHARE: f64 = 0.7;

pub struct Chart {
    pub view_box: String,
    pub title: String,
    pub summary: String,
    pub series: Vec<Series>,
    pub segments: Vec<Segment>,
    pub y_ticks: Vec<Tick>,
    pub x_labels: Vec<Label>,
    pub grid_from: String,
    pub grid_to: String,
    pub tick_label_x: String,
    /// The days with spend, for the table under the chart.
    pub rows: Vec<DayRow>,
    pub total: String,
}

pub struct Series {
    pub name: String,
    /// "3 members and keys" for Others.
    pub note: Option<String>,
    pub class: &'static str,
    pub total: String,
}

pub struct Segment {
    pub x: String,
    pub y: String,
    pub width: String,
    pub height: String,
    pub class: &'static str,
    pub title: String,
}

pub struct Tick {
    pub y: String,
    pub label_y: String,
    pub label: String,
}

pub struct Label {
    pub x: String,
    pub y: String,
    pub text: String,
}

pub struct DayRow {
    pub date: String,
    pub amounts: Vec<String>,
    pub total: String,
}

fn n(v: f64) -> String {
    format!("{v:.2}")
}

/// A round step for the y-axis that needs at most four steps to reach `max`.
fn nice_step(max: i64) -> i64 {
    if max <= 0 {
        return 10_000; // one cent: an axis for spend that cost nothing
    }
    let raw = (max + 3) / 4;
    let mut magnitude = 1_i64;
    while magnitude <= raw / 10 {
        magnitude *= 10;
    }
    [1, 2, 5, 10].into_iter().map(|m| m * magnitude).find(|step| *step >= raw).unwrap_or(10 * magnitude)
}

/// "$0", "$2.50", "$1,000", "$0.005": as short as the value allows.
fn axis_label(micros: i64) -> String {
    let s = unit_price(micros);
    if micros % MICROS_PER_DOLLAR == 0 { s.trim_end_matches(".00").to_owned() } else { s }
}

/// The chart of `spend` over the `DAYS` days starting at day number `first_day`, or `None`
/// when nobody used anything.
pub fn build(spend: &[DailySpend], names: &Names, first_day: i64) -> Option<Chart> {
    let in_window: Vec<&DailySpend> = spend.iter().filter(|s| (first_day..first_day + DAYS).contains(&s.day)).collect();
    if in_window.is_empty() {
        return None;
    }
    let mut by_who: HashMap<Who, i64> = HashMap::new();
    for s in &in_window {
        let spent = by_who.entry(s.who).or_default();
        *spent = spent.saturating_add(s.amount);
    }
    let mut ranked: Vec<(String, Who, i64)> =
        by_who.into_iter().map(|(who, amount)| (names.of(who), who, amount)).collect();
    ranked.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    // A lone "Others" would hide one name for nothing: then it gets the sixth colour.
    let named = if ranked.len() <= NAMED + 1 { ranked.len() } else { NAMED };
    let series_of: HashMap<Who, usize> =
        ranked.iter().enumerate().map(|(i, (_, who, _))| (*who, i.min(named))).collect();
    let mut series: Vec<Series> = ranked[..named]
        .iter()
        .zip(CLASSES)
        .map(|((name, _, amount), class)| Series { name: name.clone(), note: None, class, total: usd(*amount) })
        .collect();
    if ranked.len() > named {
        let rest = &ranked[named..];
        series.push(Series {
            name: "Others".into(),
            note: Some(format!("{} members and keys", rest.len())),
            class: OTHERS_CLASS,
            total: usd(money::sum(rest.iter().map(|r| r.2))),
        });
    }

    let mut amounts = vec![vec![0_i64; series.len()]; DAYS as usize];
    for s in &in_window {
        let cell = &mut amounts[(s.day - first_day) as usize][series_of[&s.who]];
        *cell = cell.saturating_add(s.amount);
    }
    let day_totals: Vec<i64> = amounts.iter().map(|day| money::sum(day.iter().copied())).collect();
    let total = money::sum(day_totals.iter().copied());
    let max = day_totals.iter().copied().max().unwrap_or(0);
    let step = nice_step(max);
    let steps = ((max + step - 1) / step).max(1);
    let top = step * steps;

    let plot_height = HEIGHT - TOP - BOTTOM;
    let slot = (WIDTH - LEFT - RIGHT) / DAYS as f64;
    let bar_width = slot * BAR_SHARE;
    let baseline = TOP + plot_height;
    let mut segments = Vec::new();
    let mut x_labels = Vec::new();
    for (i, day) in amounts.iter().enumerate() {
        let date = date_of(first_day + i as i64);
        let x = LEFT + i as f64 * slot + (slot - bar_width) / 2.0;
        let mut y = baseline;
        for (amount, s) in day.iter().zip(&series).filter(|(a, _)| **a > 0) {
            let height = *amount as f64 / top as f64 * plot_height;
            y -= height;
            let who = s.note.as_ref().map_or_else(|| s.name.clone(), |note| format!("{} ({note})", s.name));
            segments.push(Segment {
                x: n(x),
                y: n(y),
                width: n(bar_width),
                height: n(height),
                class: s.class,
                title: format!("{} · {who}: {}", long(date), usd(*amount)),
            });
        }
        if (DAYS - 1 - i as i64) % 7 == 0 {
            x_labels.push(Label { x: n(x + bar_width / 2.0), y: n(HEIGHT - 8.0), text: short(date) });
        }
    }
    let y_ticks = (0..=steps)
        .map(|k| {
            let y = baseline - k as f64 / steps as f64 * plot_height;
            Tick { y: n(y), label_y: n(y + 4.0), label: axis_label(k * step) }
        })
        .collect();

    let (first, last) = (date_of(first_day), date_of(first_day + DAYS - 1));
    let busiest = day_totals.iter().enumerate().max_by_key(|(i, t)| (**t, std::cmp::Reverse(*i))).map(|(i, _)| i);
    let mut summary = format!("Daily spend from {} to {}: {} in total.", long(first), long(last), usd(total));
    if let Some(i) = busiest.filter(|i| day_totals[*i] > 0) {
        summary.push_str(&format!(" Highest on {}, with {}.", long(date_of(first_day + i as i64)), usd(day_totals[i])));
    }
    let parts: Vec<String> = series.iter().map(|s| format!("{} {}", s.name, s.total)).collect();
    summary.push_str(&format!(" By member or key: {}.", parts.join(", ")));
    let rows = amounts
        .iter()
        .zip(&day_totals)
        .enumerate()
        .filter(|(_, (_, t))| **t > 0)
        .map(|(i, (day, t))| DayRow {
            date: long(date_of(first_day + i as i64)),
            amounts: day.iter().map(|a| usd(*a)).collect(),
            total: usd(*t),
        })
        .collect();
    Some(Chart {
        view_box: format!("0 0 {WIDTH} {HEIGHT}"),
        title: format!("Daily spend, {} – {}", short(first), long(last)),
        summary,
        series,
        segments,
        y_ticks,
        x_labels,
        grid_from: n(LEFT),
        grid_to: n(WIDTH - RIGHT),
        tick_label_x: n(LEFT - 8.0),
        rows,
        total: usd(total),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_y_axis_steps_are_round() {
        assert_eq!(nice_step(0), 10_000);
        assert_eq!(nice_step(3_000), 1_000);
        assert_eq!(nice_step(7_300_000), 2_000_000);
        assert_eq!(nice_step(20_000_000), 5_000_000);
        assert_eq!(nice_step(4_000_000), 1_000_000);
        assert_eq!(axis_label(0), "$0");
        assert_eq!(axis_label(2_500_000), "$2.50");
        assert_eq!(axis_label(1_000_000_000), "$1,000");
        assert_eq!(axis_label(5_000), "$0.005");
    }

    fn spend(day: i64, who: Who, dollars: i64) -> DailySpend {
        DailySpend { day, who, amount: dollars * MICROS_PER_DOLLAR }
    }

    #[test]
    fn the_top_five_spenders_have_a_series_and_the_rest_are_others() {
        let first = 20_000;
        let mut rows: Vec<DailySpend> = (1..=8).map(|k| spend(first + k, Who::Key(k), k * 10)).collect();
        rows.push(spend(first - 1, Who::Key(99), 1_000)); // before the window
        let chart = build(&rows, &Names::default(), first).unwrap();
        let names: Vec<&str> = chart.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), 6);
        assert_eq!(names[5], "Others");
        assert_eq!(chart.series[5].note.as_deref(), Some("3 members and keys"));
        assert_eq!(chart.series[5].total, "$60.00");
        assert_eq!(chart.series[0].total, "$80.00");
        assert_eq!(chart.total, "$360.00");
        assert_eq!(chart.segments.len(), 8);
        assert_eq!(chart.rows.len(), 8);
        assert!(chart.summary.contains("$360.00 in total") && chart.summary.contains("with $80.00"));
    }

    #[test]
    fn six_spenders_all_keep_their_names() {
        let first = 20_000;
        let rows: Vec<DailySpend> = (1..=6).map(|k| spend(first, Who::Member(k), k)).collect();
        let chart = build(&rows, &Names::default(), first).unwrap();
        assert!(chart.series.iter().all(|s| s.name != "Others"));
        assert_eq!(chart.series[5].class, "series-6");
        // One day's bar of $21, stacked on an axis that goes up to $30.
        let top_of_bar: f64 = chart.segments.iter().map(|s| s.y.parse::<f64>().unwrap()).fold(f64::MAX, f64::min);
        assert!((top_of_bar - (TOP + 200.0 * (1.0 - 21.0 / 30.0))).abs() < 0.01, "{top_of_bar}");
    }

    #[test]
    fn no_spend_draws_no_chart() {
        assert!(build(&[], &Names::default(), 20_000).is_none());
    }
}
