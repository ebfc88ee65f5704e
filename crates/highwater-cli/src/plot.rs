//! `--plot FILE.svg`: the write buffer's level over time, the marks, and the
//! stretches where the reader was paused by backpressure.
//!
//! Plain SVG written by hand, readable at any length of run: the samples are
//! aggregated per pixel column (a min–max band and a line for the
//! time-weighted mean), so a long run is no solid block of zigzags; ticks fall
//! on round values (1-2-5 steps of seconds, power-of-two multiples of bytes);
//! the y range always holds the mark, with headroom; a column is shaded only
//! when the reader was paused for most of it.
//!
//! Elements carry classes (`band`, `mean`, `mark`, `low-mark`, `paused`,
//! `xtick`, `ytick`, `ygrid`) for whoever reads the file back.

use std::fmt::Write as _;

use highwater_transfer::Sample;

use crate::report::grouped;
use crate::report::Report;
use crate::size::human;

/// Width of the image, pixels.
const W: f64 = 1000.0;
/// Height of the image, pixels.
const H: f64 = 480.0;
/// Left margin (room for the byte ticks).
const LEFT: f64 = 84.0;
/// Right margin (room for the mark's label inside the plot).
const RIGHT: f64 = 24.0;
/// Top margin (title, subtitles, legend).
const TOP: f64 = 116.0;
/// Bottom margin (time ticks and axis title).
const BOTTOM: f64 = 52.0;
/// The most characters of a title or subtitle line (about the image's width).
const LINE_CHARS: usize = 125;

/// Colours.
const BAND: &str = "#9ecae1";
const MEAN: &str = "#1f5fa0";
const MARK: &str = "#d62728";
const LOW_MARK: &str = "#2ca02c";
const PAUSED: &str = "#fbe3e3";

/// Escapes text for XML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Cuts `s` to `max` characters, with an ellipsis when cut.
fn fit(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The step of the time ticks: the smallest 1, 2 or 5 × 10^k seconds that
/// cuts `span` into at most `max_ticks` intervals.
pub fn time_step(span: f64, max_ticks: usize) -> f64 {
    let span = if span.is_finite() && span > 0.0 {
        span
    } else {
        1.0
    };
    let raw = span / max_ticks.max(1) as f64;
    let mut p = 10f64.powf(raw.log10().floor());
    loop {
        for m in [1.0, 2.0, 5.0] {
            if m * p >= raw * (1.0 - 1e-9) {
                return m * p;
            }
        }
        p *= 10.0;
    }
}

/// The step of the byte ticks: the smallest power of two that cuts `top`
/// into at most `max_ticks` intervals (ticks then fall on 64 KiB, 128 KiB,
/// 192 KiB, 256 KiB… or 1 MiB, 2 MiB…).
pub fn byte_step(top: u64, max_ticks: u64) -> u64 {
    let raw = top.max(1).div_ceil(max_ticks.max(1));
    raw.next_power_of_two()
}

/// A time tick's label, with as many decimals as the step needs: `0.05 s`.
pub fn time_label(t: f64, step: f64) -> String {
    if t == 0.0 {
        return "0 s".into();
    }
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{t:.decimals$} s")
}

/// A byte tick's label, exact: `192 KiB`, `1.25 MiB`, `0 B`.
pub fn byte_label(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut u = 0;
    while u + 1 < UNITS.len() && n >= 1u64 << (10 * (u + 1)) {
        u += 1;
    }
    let v = n as f64 / (1u64 << (10 * u)) as f64;
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s} {}", UNITS[u])
}

/// One pixel column of the plot: what the samples say about its stretch of
/// time, taking each sample's state as holding until the next sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Column {
    /// The least bytes in the write buffer during the column.
    pub min: usize,
    /// The most bytes in the write buffer during the column.
    pub max: usize,
    /// The time-weighted mean of the bytes in the write buffer.
    pub mean: f64,
    /// The share of the column's time the reader was paused (0 to 1).
    pub paused: f64,
}

/// Aggregates `samples` (sorted by time) into `n` columns over `0..t_max`
/// seconds; a column before the first sample is `None`.
pub fn columns(samples: &[Sample], t_max: f64, n: usize) -> Vec<Option<Column>> {
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return out;
    }
    let dt = t_max.max(f64::MIN_POSITIVE) / n as f64;
    let mut next = 0; // the first sample not yet taken
    let mut cur: Option<&Sample> = None; // the state in force
    for c in 0..n {
        let (a, b) = (c as f64 * dt, (c + 1) as f64 * dt);
        let last = c + 1 == n;
        let (mut lo, mut hi) = cur.map_or((usize::MAX, 0), |s| (s.buffered, s.buffered));
        let (mut area, mut paused, mut covered) = (0.0, 0.0, 0.0);
        let mut from = a;
        // Adds the state in force from `from` to `to`.
        let mut hold = |s: Option<&Sample>, from: f64, to: f64| {
            if let Some(s) = s {
                let d = (to - from).max(0.0);
                area += s.buffered as f64 * d;
                covered += d;
                if s.paused {
                    paused += d;
                }
            }
        };
        while next < samples.len() && (last || samples[next].t < b) {
            let s = &samples[next];
            let at = s.t.clamp(a, b);
            hold(cur, from, at);
            from = at;
            cur = Some(s);
            lo = lo.min(s.buffered);
            hi = hi.max(s.buffered);
            next += 1;
        }
        hold(cur, from, b);
        out.push(cur.map(|s| Column {
            min: lo,
            max: hi,
            mean: if covered > 0.0 {
                area / covered
            } else {
                s.buffered as f64
            },
            paused: if covered > 0.0 {
                paused / covered
            } else if s.paused {
                1.0
            } else {
                0.0
            },
        }));
    }
    out
}

/// Merges the columns the reader was paused for most of into runs:
/// `(first column, number of columns)`.
pub fn paused_runs(cols: &[Option<Column>]) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (i, c) in cols.iter().enumerate() {
        if c.is_some_and(|c| c.paused > 0.5) {
            match runs.last_mut() {
                Some((start, len)) if *start + *len == i => *len += 1,
                _ => runs.push((i, 1)),
            }
        }
    }
    runs
}

/// Renders the plot of `r` under `title`.
pub fn svg(r: &Report, title: &str) -> String {
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let ncols = pw as usize;
    let t_max = r
        .transfer
        .samples
        .last()
        .map_or(0.0, |s| s.t)
        .max(r.transfer.seconds)
        .max(1e-3);
    let cols = columns(&r.transfer.samples, t_max, ncols);

    // The y range: the data, the marks, with headroom, up to a round tick.
    let data_max = cols.iter().flatten().map(|c| c.max).max().unwrap_or(0);
    let highest = data_max
        .max(r.transfer.peak_buffered)
        .max(r.transfer.high_water_mark)
        .max(r.transfer.low_water_mark.unwrap_or(0))
        .max(1) as u64;
    let with_headroom = highest + highest / 8 + 1;
    let ystep = byte_step(with_headroom, 6);
    let y_top = with_headroom.div_ceil(ystep) * ystep;
    let tstep = time_step(t_max, 8);

    let x = |t: f64| LEFT + pw * t / t_max;
    let y = |b: f64| TOP + ph - ph * b / y_top as f64;
    let col_x = |i: usize| LEFT + i as f64 * pw / ncols as f64;

    let mut s = String::new();
    let share = if r.transfer.seconds > 0.0 {
        100.0 * r.transfer.paused_seconds / r.transfer.seconds
    } else {
        0.0
    };
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="26" font-size="17" font-weight="bold">{}</text>
<text x="{LEFT}" y="46" fill="#333">{}</text>
<text x="{LEFT}" y="64" fill="#555">{}</text>
"##,
        esc(&fit(title, LINE_CHARS)),
        esc(&fit(&format!("{}: {}", r.command, r.label), LINE_CHARS)),
        esc(&fit(
            &format!(
                "{} in {:.2} s ({}/s) · write() returned false {} times, 'drain' {} · paused {:.2} s ({share:.0}%) · peak {}, mark {}",
                human(r.transfer.bytes),
                r.transfer.seconds,
                human(r.transfer.avg_rate.max(0.0).round() as u64),
                grouped(r.transfer.write_false),
                grouped(r.transfer.drains),
                r.transfer.paused_seconds,
                human(r.transfer.peak_buffered as u64),
                human(r.transfer.high_water_mark as u64),
            ),
            LINE_CHARS
        )),
    );

    // Paused columns, merged into stretches.
    for (first, len) in paused_runs(&cols) {
        let _ = writeln!(
            s,
            r##"<rect class="paused" x="{:.1}" y="{TOP}" width="{:.1}" height="{ph}" fill="{PAUSED}"/>"##,
            col_x(first),
            col_x(first + len) - col_x(first)
        );
    }

    // Grid and ticks.
    let mut b = 0;
    while b <= y_top {
        let yb = y(b as f64);
        let _ = writeln!(
            s,
            r##"<line class="ygrid" x1="{LEFT}" x2="{}" y1="{yb:.1}" y2="{yb:.1}" stroke="#e4e4e4"/><text class="ytick" x="{}" y="{:.1}" text-anchor="end" fill="#333">{}</text>"##,
            LEFT + pw,
            LEFT - 8.0,
            yb + 4.0,
            byte_label(b)
        );
        b += ystep;
    }
    let mut i = 0u64;
    loop {
        let t = i as f64 * tstep;
        if t > t_max * (1.0 + 1e-9) {
            break;
        }
        let xt = x(t);
        let _ = writeln!(
            s,
            r##"<line x1="{xt:.1}" x2="{xt:.1}" y1="{}" y2="{}" stroke="#333"/><text class="xtick" x="{xt:.1}" y="{}" text-anchor="middle" fill="#333">{}</text>"##,
            TOP + ph,
            TOP + ph + 5.0,
            TOP + ph + 19.0,
            time_label(t, tstep)
        );
        i += 1;
    }

    // The buffer: a min–max band per column and the mean as a line.
    let present: Vec<(usize, Column)> = cols
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.map(|c| (i, c)))
        .collect();
    if !present.is_empty() {
        let mut band = String::new();
        for &(i, c) in &present {
            let _ = write!(
                band,
                "{:.1},{:.1} {:.1},{:.1} ",
                col_x(i),
                y(c.max as f64),
                col_x(i + 1),
                y(c.max as f64)
            );
        }
        for &(i, c) in present.iter().rev() {
            let _ = write!(
                band,
                "{:.1},{:.1} {:.1},{:.1} ",
                col_x(i + 1),
                y(c.min as f64),
                col_x(i),
                y(c.min as f64)
            );
        }
        let _ = writeln!(
            s,
            r##"<polygon class="band" points="{}" fill="{BAND}" stroke="{BAND}" stroke-width="0.6"/>"##,
            band.trim_end()
        );
        let mut line = String::new();
        for &(i, c) in &present {
            let _ = write!(line, "{:.1},{:.1} ", col_x(i) + 0.5, y(c.mean));
        }
        let _ = writeln!(
            s,
            r##"<polyline class="mean" points="{}" fill="none" stroke="{MEAN}" stroke-width="1.5" stroke-linejoin="round"/>"##,
            line.trim_end()
        );
    }

    // Axes.
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{}" stroke="#333"/><line x1="{LEFT}" x2="{}" y1="{}" y2="{}" stroke="#333"/>"##,
        TOP + ph,
        LEFT + pw,
        TOP + ph,
        TOP + ph
    );

    // The marks, drawn last so that nothing hides them, and labelled.
    let mut mark = |class: &str, colour: &str, dash: &str, value: usize, name: &str| {
        let ym = y(value as f64);
        let _ = writeln!(
            s,
            r##"<line class="{class}" x1="{LEFT}" x2="{}" y1="{ym:.1}" y2="{ym:.1}" stroke="{colour}" stroke-dasharray="{dash}" stroke-width="1.5"/><text class="{class}-label" x="{}" y="{:.1}" text-anchor="end" fill="{colour}" stroke="white" stroke-width="3" paint-order="stroke">{name} {}</text>"##,
            LEFT + pw,
            LEFT + pw - 4.0,
            ym - 5.0,
            byte_label(value as u64)
        );
    };
    mark(
        "mark",
        MARK,
        "7 4",
        r.transfer.high_water_mark,
        "highWaterMark",
    );
    if let Some(low) = r.transfer.low_water_mark {
        mark("low-mark", LOW_MARK, "3 3", low, "low-water mark");
    }

    // Legend and axis titles.
    let ly = TOP - 24.0;
    let mut lx = LEFT;
    let mut item = |swatch: &dyn Fn(f64) -> String, text: &str| {
        let _ = writeln!(
            s,
            r##"{}<text x="{:.1}" y="{:.1}">{}</text>"##,
            swatch(lx),
            lx + 22.0,
            ly + 4.5,
            esc(text)
        );
        // About 6.6 pixels a character at this size.
        lx += 22.0 + text.chars().count() as f64 * 6.6 + 18.0;
    };
    item(
        &|lx| {
            format!(
                r##"<rect x="{lx}" y="{}" width="16" height="10" fill="{BAND}"/><line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{MEAN}" stroke-width="1.5"/>"##,
                ly - 5.0,
                lx + 16.0
            )
        },
        "bytes in the write buffer: min–max per pixel column, mean line",
    );
    item(
        &|lx| {
            format!(
                r##"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{MARK}" stroke-dasharray="7 4" stroke-width="1.5"/>"##,
                lx + 16.0
            )
        },
        "highWaterMark",
    );
    if r.transfer.low_water_mark.is_some() {
        item(
            &|lx| {
                format!(
                    r##"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{LOW_MARK}" stroke-dasharray="3 3" stroke-width="1.5"/>"##,
                    lx + 16.0
                )
            },
            "low-water mark",
        );
    }
    let ly2 = ly + 18.0;
    let _ = write!(
        s,
        r##"<rect x="{LEFT}" y="{}" width="16" height="10" fill="{PAUSED}" stroke="#e8b4b4"/><text x="{}" y="{}">reader paused for most of the column: write() had returned false, waiting for 'drain'</text>
<text x="{}" y="{}" text-anchor="middle" fill="#333">time since the start</text>
<text x="18" y="{}" transform="rotate(-90 18 {})" text-anchor="middle" fill="#333">bytes buffered</text>
</svg>
"##,
        ly2 - 5.0,
        LEFT + 22.0,
        ly2 + 4.5,
        LEFT + pw / 2.0,
        H - 10.0,
        TOP + ph / 2.0,
        TOP + ph / 2.0
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: f64, buffered: usize, paused: bool) -> Sample {
        Sample {
            t,
            buffered,
            total_buffered: buffered,
            paused,
            bytes: 0,
        }
    }

    #[test]
    fn time_steps_are_1_2_5() {
        assert_eq!(time_step(1.0, 8), 0.2);
        assert_eq!(time_step(0.51, 8), 0.1);
        assert_eq!(time_step(10.0, 8), 2.0);
        assert_eq!(time_step(37.0, 8), 5.0);
        assert_eq!(time_step(8.0, 8), 1.0);
        assert_eq!(time_step(0.003, 8), 0.0005);
        assert_eq!(time_step(1000.0, 8), 200.0);
        assert_eq!(time_step(0.0, 8), 0.2);
    }

    #[test]
    fn byte_steps_are_powers_of_two() {
        assert_eq!(byte_step(300 << 10, 6), 64 << 10);
        assert_eq!(byte_step(816 << 10, 6), 256 << 10);
        assert_eq!(byte_step(256 << 10, 4), 64 << 10);
        assert_eq!(byte_step(1, 6), 1);
        assert_eq!(byte_step(0, 6), 1);
    }

    #[test]
    fn labels_are_exact_and_short() {
        assert_eq!(byte_label(0), "0 B");
        assert_eq!(byte_label(512), "512 B");
        assert_eq!(byte_label(192 << 10), "192 KiB");
        assert_eq!(byte_label(5 << 18), "1.25 MiB");
        assert_eq!(byte_label(3 << 30), "3 GiB");
        assert_eq!(time_label(0.4, 0.2), "0.4 s");
        assert_eq!(time_label(0.05, 0.05), "0.05 s");
        assert_eq!(time_label(20.0, 5.0), "20 s");
    }

    #[test]
    fn columns_take_min_max_and_time_weighted_mean() {
        // One second in two columns: 0 for 0.25 s then 100, paused from 0.25;
        // then 40 from 0.75 s, not paused.
        let s = [at(0.0, 0, false), at(0.25, 100, true), at(0.75, 40, false)];
        let c = columns(&s, 1.0, 2);
        let (a, b) = (c[0].expect("first"), c[1].expect("second"));
        assert_eq!((a.min, a.max), (0, 100));
        assert!((a.mean - 50.0).abs() < 1e-9, "{a:?}");
        assert!((a.paused - 0.5).abs() < 1e-9, "{a:?}");
        // The second column starts with the state in force (100, paused).
        assert_eq!((b.min, b.max), (40, 100));
        assert!((b.mean - 70.0).abs() < 1e-9, "{b:?}");
        assert!((b.paused - 0.5).abs() < 1e-9, "{b:?}");
    }

    #[test]
    fn columns_before_the_first_sample_are_empty_and_many_samples_fold() {
        let s: Vec<Sample> = (0..100_000)
            .map(|i| at(0.5 + i as f64 * 5e-6, i % 7, i % 3 == 0))
            .collect();
        let c = columns(&s, 1.0, 10);
        assert_eq!(c.len(), 10);
        assert!(c[..5].iter().all(Option::is_none));
        let full = c[5].expect("data");
        assert_eq!((full.min, full.max), (0, 6));
        // Paused a third of the time, in tiny stretches: not shaded.
        assert!((full.paused - 1.0 / 3.0).abs() < 0.01, "{full:?}");
        assert!(paused_runs(&c).is_empty());
    }

    #[test]
    fn paused_columns_merge_into_runs() {
        let col = |paused: f64| {
            Some(Column {
                min: 0,
                max: 0,
                mean: 0.0,
                paused,
            })
        };
        let cols = [col(0.9), col(0.6), col(0.1), None, col(1.0)];
        assert_eq!(paused_runs(&cols), vec![(0, 2), (4, 1)]);
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(esc("a&b<c>\"'"), "a&amp;b&lt;c&gt;&quot;&apos;");
    }
}
