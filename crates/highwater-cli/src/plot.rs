//! `--plot FILE.svg`: the write buffer's level over time, the mark, and the
//! stretches where the reader was paused by backpressure.
//!
//! Plain SVG written by hand: one chart, labelled axes, a legend; readable in
//! any browser.

use std::fmt::Write as _;

use crate::engine::Report;
use crate::size::human;

const W: f64 = 960.0;
const H: f64 = 420.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 92.0;
const BOTTOM: f64 = 60.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders the plot of `r` with a title.
pub fn svg(r: &Report, title: &str) -> String {
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let t_max = r
        .samples
        .last()
        .map_or(0.0, |s| s.t)
        .max(r.seconds)
        .max(1e-3);
    let y_max = (r.high_water_mark + r.chunk_size)
        .max(r.peak_buffered)
        .max(r.samples.iter().map(|s| s.buffered).max().unwrap_or(0))
        .max(1) as f64
        * 1.1;
    let x = |t: f64| LEFT + pw * t / t_max;
    let y = |b: f64| TOP + ph - ph * b / y_max;

    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="28" font-size="17" font-weight="bold">{}</text>
<text x="{LEFT}" y="46" fill="#555">{} copied in {:.2} s · write() returned false {} times · paused {:.2} s · peak {} (mark {})</text>
"##,
        esc(title),
        human(r.bytes),
        r.seconds,
        r.write_false,
        r.paused_seconds,
        human(r.peak_buffered as u64),
        human(r.high_water_mark as u64)
    );
    // Paused stretches.
    let mut start: Option<f64> = None;
    for (i, smp) in r.samples.iter().enumerate() {
        let end_here = !smp.paused || i + 1 == r.samples.len();
        match (start, smp.paused) {
            (None, true) => start = Some(smp.t),
            (Some(a), _) if end_here => {
                let _ = writeln!(
                    s,
                    r##"<rect x="{:.1}" y="{TOP}" width="{:.1}" height="{ph}" fill="#f4b6b6" opacity="0.6"/>"##,
                    x(a),
                    (x(smp.t) - x(a)).max(1.0)
                );
                start = None;
            }
            _ => {}
        }
    }
    // Axes and grid.
    for i in 0..=4 {
        let b = y_max / 1.1 * i as f64 / 4.0;
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end" fill="#333">{}</text>"##,
            LEFT + pw,
            y(b),
            y(b),
            LEFT - 8.0,
            y(b) + 4.0,
            human(b.round() as u64)
        );
    }
    for i in 0..=5 {
        let t = t_max * i as f64 / 5.0;
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{}" text-anchor="middle" fill="#333">{t:.2} s</text>"##,
            x(t),
            TOP + ph + 20.0
        );
    }
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{}" stroke="#333"/><line x1="{LEFT}" x2="{}" y1="{}" y2="{}" stroke="#333"/>"##,
        TOP + ph,
        LEFT + pw,
        TOP + ph,
        TOP + ph
    );
    // The mark.
    let ym = y(r.high_water_mark as f64);
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" x2="{}" y1="{ym:.1}" y2="{ym:.1}" stroke="#d62728" stroke-dasharray="6 4" stroke-width="1.5"/>"##,
        LEFT + pw
    );
    // The buffer level.
    let mut pts = String::new();
    for smp in &r.samples {
        let _ = write!(pts, "{:.1},{:.1} ", x(smp.t), y(smp.buffered as f64));
    }
    let _ = writeln!(
        s,
        r##"<polyline points="{}" fill="none" stroke="#1f77b4" stroke-width="2"/>"##,
        pts.trim_end()
    );
    // Legend and axis titles.
    let lx = LEFT;
    let _ = write!(
        s,
        r##"<rect x="{lx}" y="{}" width="14" height="4" fill="#1f77b4"/><text x="{}" y="{}">bytes in the write buffer</text>
<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#d62728" stroke-dasharray="6 4" stroke-width="1.5"/><text x="{}" y="{}">highWaterMark</text>
<rect x="{}" y="{}" width="14" height="10" fill="#f4b6b6"/><text x="{}" y="{}">reader paused</text>
<text x="{}" y="{}" text-anchor="middle" fill="#333">time</text>
<text x="20" y="{}" transform="rotate(-90 20 {})" text-anchor="middle" fill="#333">buffered</text>
</svg>
"##,
        TOP - 24.0,
        lx + 20.0,
        TOP - 19.0,
        lx + 200.0,
        lx + 214.0,
        TOP - 22.0,
        TOP - 22.0,
        lx + 220.0,
        TOP - 18.0,
        lx + 340.0,
        TOP - 27.0,
        lx + 360.0,
        TOP - 18.0,
        LEFT + pw / 2.0,
        H - 15.0,
        TOP + ph / 2.0,
        TOP + ph / 2.0
    );
    s
}
