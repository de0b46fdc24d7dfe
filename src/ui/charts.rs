//! The geometry of the page's SVG charts; the templates draw them (and escape every label).
//! Only numbers are computed here.

/// A sparkline's points (`x,y x,y …`) in a 60×16 box: durations, oldest left, longest at the
/// top. `None` with fewer than two.
pub fn sparkline(durations_us: &[i64]) -> Option<String> {
    if durations_us.len() < 2 {
        return None;
    }
    let max = durations_us.iter().copied().max().unwrap_or(1).max(1) as f64;
    let step = 60.0 / (durations_us.len() - 1) as f64;
    let points: Vec<String> = durations_us
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let y = 15.0 - 14.0 * (d.max(0) as f64 / max);
            format!("{:.0},{:.0}", i as f64 * step, y)
        })
        .collect();
    Some(points.join(" "))
}

/// Height of one phase's row in the waterfall, in pixels: a line of text (its name and time)
/// above its bar.
pub const PHASE_ROW: u32 = 36;

/// One bar of the phases' waterfall: where it starts and how wide it is, in per mille of the
/// whole test (the chart is as wide as the page, so the template writes them as percentages,
/// and its text keeps its size at any width).
pub struct Bar {
    pub label: String,
    pub ok: bool,
    pub ms: String,
    pub x: u32,
    pub width: u32,
    /// Its row's top, in pixels ([`PHASE_ROW`] per phase).
    pub y: u32,
}

impl Bar {
    pub fn x_percent(&self) -> String {
        format!("{:.1}", self.x as f64 / 10.0)
    }

    pub fn width_percent(&self) -> String {
        format!("{:.1}", self.width as f64 / 10.0)
    }

    /// The baseline of its text.
    pub fn text_y(&self) -> u32 {
        self.y + 14
    }

    /// The top of its bar, under its text.
    pub fn bar_y(&self) -> u32 {
        self.y + 20
    }
}

/// The phases as consecutive bars: each starts where the one before ended.
pub fn waterfall(phases: &[(String, bool, f64)]) -> Vec<Bar> {
    let total: f64 = phases.iter().map(|p| p.2.max(0.0)).sum::<f64>().max(0.001);
    let mut start = 0.0;
    phases
        .iter()
        .enumerate()
        .map(|(i, (label, ok, ms))| {
            let ms = ms.max(0.0);
            // At least a sliver, so a phase of no time still shows, and inside the chart.
            let width = ((1000.0 * ms / total).round() as u32).clamp(4, 1000);
            let bar = Bar {
                label: label.clone(),
                ok: *ok,
                ms: super::report::millis(ms),
                x: ((1000.0 * start / total).round() as u32).min(1000 - width),
                width,
                y: PHASE_ROW * i as u32,
            };
            start += ms;
            bar
        })
        .collect()
}

/// The history chart: one point per test (oldest left) in a 600×120 box; failures are marked
/// apart.
pub struct HistoryChart {
    pub line: String,
    pub failures: Vec<(u32, u32)>,
    pub max_label: String,
}

/// `tests` are `(success, duration_us)`, oldest first.
pub fn history(tests: &[(bool, i64)]) -> Option<HistoryChart> {
    if tests.is_empty() {
        return None;
    }
    let max = tests.iter().map(|t| t.1).max().unwrap_or(1).max(1) as f64;
    let step = if tests.len() > 1 {
        600.0 / (tests.len() - 1) as f64
    } else {
        0.0
    };
    let point = |i: usize, d: i64| {
        let x = (i as f64 * step).round() as u32;
        let y = (115.0 - 110.0 * (d.max(0) as f64 / max)).round() as u32;
        (x, y)
    };
    let line = tests
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let (x, y) = point(i, t.1);
            format!("{x},{y}")
        })
        .collect::<Vec<_>>()
        .join(" ");
    let failures = tests
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.0)
        .map(|(i, t)| point(i, t.1))
        .collect();
    Some(HistoryChart {
        line,
        failures,
        max_label: super::report::millis(max / 1000.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_spans_the_box_with_the_longest_at_the_top() {
        assert_eq!(sparkline(&[5]), None);
        assert_eq!(sparkline(&[0, 10, 5]).as_deref(), Some("0,15 30,1 60,8"));
    }

    #[test]
    fn waterfall_bars_follow_each_other() {
        let bars = waterfall(&[
            ("connect".into(), true, 1.0),
            ("tls".into(), true, 3.0),
            ("auth".into(), false, 0.0),
        ]);
        assert_eq!((bars[0].x, bars[0].width), (0, 250));
        assert_eq!((bars[1].x, bars[1].width), (250, 750));
        // The last one, of no time, is a sliver at the chart's right edge.
        assert_eq!((bars[2].x, bars[2].width, bars[2].ok), (996, 4, false));
        assert_eq!(bars[2].y, 72);
        assert_eq!(
            (bars[1].x_percent(), bars[1].width_percent()),
            ("25.0".to_owned(), "75.0".to_owned())
        );
    }

    #[test]
    fn history_marks_failures_where_they_fall() {
        let chart = history(&[(true, 2000), (false, 1000), (true, 0)]).unwrap();
        assert_eq!(chart.line, "0,5 300,60 600,115");
        assert_eq!(chart.failures, vec![(300, 60)]);
        assert_eq!(chart.max_label, "2.0 ms");
    }
}
