//! The end-of-run report of a copy: for people (`--stats`) and as JSON (`--json`).

use serde_json::json;

use crate::engine::Report;
use crate::size::human;

fn rate(r: f64) -> String {
    format!("{}/s", human(r.round() as u64))
}

/// The report as lines of text.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("  {k:<24}{v}\n"));
    line("bytes", format!("{} ({} bytes)", human(r.bytes), r.bytes));
    line("time", format!("{:.3} s", r.seconds));
    if r.max_rate > 0.0 {
        line(
            "rate",
            format!(
                "{} average, {} min, {} max",
                rate(r.avg_rate),
                rate(r.min_rate),
                rate(r.max_rate)
            ),
        );
    } else {
        line(
            "rate",
            format!("{} average (too short to sample)", rate(r.avg_rate)),
        );
    }
    line("write() returned false", format!("{} times", r.write_false));
    line("pauses / drains", format!("{} / {}", r.pauses, r.drains));
    let share = if r.seconds > 0.0 {
        100.0 * r.paused_seconds / r.seconds
    } else {
        0.0
    };
    line(
        "time paused",
        format!("{:.3} s ({share:.0}% of the run)", r.paused_seconds),
    );
    line(
        "peak buffered",
        format!(
            "{} against a mark of {} (chunks of {})",
            human(r.peak_buffered as u64),
            human(r.high_water_mark as u64),
            human(r.chunk_size as u64)
        ),
    );
    format!("highwater: {} report\n{out}", r.command)
}

/// The report as one JSON object.
pub fn json(r: &Report) -> String {
    json!({
        "command": r.command,
        "bytes": r.bytes,
        "seconds": r.seconds,
        "rate": { "average": r.avg_rate, "min": r.min_rate, "max": r.max_rate },
        "write_false": r.write_false,
        "pauses": r.pauses,
        "drains": r.drains,
        "paused_seconds": r.paused_seconds,
        "peak_buffered": r.peak_buffered,
        "high_water_mark": r.high_water_mark,
        "chunk_size": r.chunk_size,
        "samples": r.samples.len(),
    })
    .to_string()
}
