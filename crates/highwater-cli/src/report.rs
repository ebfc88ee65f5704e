//! The end-of-run report of a transfer: for people (`--stats`) and as JSON
//! (`--json`, one object on one line; its schema is in `docs/CLI.md`).
//!
//! Both say what the run was (the command and its label), carry a unit with
//! every figure, and explain the backpressure counters: a *pause* is a
//! `write()` that returned `false`, after which the reader stopped until
//! `'drain'`; and, as in Node, an ending stream emits no `'drain'`, so a last
//! pause ended by the end of the data has no drain to match it.

use serde_json::{json, Value};

use crate::size::human;

/// The version of the JSON report's layout (`"schema"`), raised whenever a
/// key is renamed or removed or changes meaning (adding one does not).
pub const SCHEMA: u64 = 1;

/// Rates over windows shorter than this are not measured (see
/// `highwater_transfer::window_rates`): a run whose samples span less has no min/max.
const RATE_WINDOW: f64 = 0.05;

/// A transfer's report as the command prints it: what the engine measured,
/// and what was transferred.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The command that made it (`copy`, `pipe`, `send`, `recv`, `demo`).
    pub command: &'static str,
    /// What was transferred, for people: `'a.bin' to 'b.bin'`,
    /// `standard input to 127.0.0.1:9000`.
    pub label: String,
    /// The size of the whole transfer, if known (the source's size, or
    /// `--size`).
    pub size: Option<u64>,
    /// The cap on buffered memory, if set (`--max-memory`).
    pub max_memory: Option<usize>,
    /// What the engine measured.
    pub transfer: highwater_transfer::Report,
    /// A transfer through NATS JetStream: what its end says (the JSON
    /// report's `nats` object; absent otherwise).
    pub nats: Option<Value>,
}

/// `1234567` → `1,234,567`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A size for people, with the exact count when the short form rounds:
/// `256 KiB`, `1.5 MiB (1,572,864 B)`, `512 B`.
fn size(n: u64) -> String {
    let short = human(n);
    if n < 1024 || short_is_exact(n) {
        short
    } else {
        format!("{short} ({} B)", grouped(n))
    }
}

/// Whether `human(n)` is exactly `n` (a whole number of its unit).
fn short_is_exact(n: u64) -> bool {
    let mut unit = 1u64;
    while n / unit >= 1024 && unit < 1 << 40 {
        unit <<= 10;
    }
    n % unit == 0
}

/// A rate for people: `418 MiB/s`.
fn rate(r: f64) -> String {
    format!("{}/s", human(r.max(0.0).round() as u64))
}

/// Whether the samples span at least one rate window (else the min and max
/// rates were not measured).
fn rates_measured(r: &Report) -> bool {
    match (r.transfer.samples.first(), r.transfer.samples.last()) {
        (Some(a), Some(b)) => b.t - a.t >= RATE_WINDOW,
        _ => false,
    }
}

/// The reads as they came: `65,536 B reads (8,192 of them)`, or a range.
fn reads(r: &Report) -> String {
    match r.transfer.reads {
        0 => "none (no data)".into(),
        1 => format!("one read of {} B", grouped(r.transfer.read_max as u64)),
        n if r.transfer.read_min == r.transfer.read_max => {
            format!(
                "{} B reads ({} of them)",
                grouped(r.transfer.read_max as u64),
                grouped(n)
            )
        }
        // All but one as large as the largest (a file's last read, usually).
        n if (n - 1)
            .checked_mul(r.transfer.read_max as u64)
            .and_then(|b| b.checked_add(r.transfer.read_min as u64))
            == Some(r.transfer.bytes) =>
        {
            format!(
                "{} B reads ({} of them) and one of {} B",
                grouped(r.transfer.read_max as u64),
                grouped(n - 1),
                grouped(r.transfer.read_min as u64)
            )
        }
        n => format!(
            "{} reads of {} B to {} B",
            grouped(n),
            grouped(r.transfer.read_min as u64),
            grouped(r.transfer.read_max as u64)
        ),
    }
}

/// `write() returned false …`: the count and what a pause is.
fn false_returns(r: &Report) -> String {
    match r.transfer.write_false {
        0 => "0 times: the destination kept up, the reader never paused".into(),
        1 => "once: a pause, the reader stopped until 'drain'".into(),
        n => format!(
            "{} times: each a pause, the reader stopped until 'drain'",
            grouped(n)
        ),
    }
}

/// `'drain' events …`: the count, and why it differs from the pauses.
fn drains(r: &Report) -> String {
    let (d, f) = (r.transfer.drains, r.transfer.write_false);
    let n = grouped(d);
    if d == f {
        if d == 0 {
            "0".into()
        } else {
            format!("{n}: one per pause")
        }
    } else if d + 1 == f {
        format!(
            "{n}: the last pause ended with the end of the data, and an ending stream emits no 'drain'"
        )
    } else if d < f {
        format!(
            "{n}: {} pauses ended without one (at the end of the data, or when the run stopped)",
            grouped(f - d)
        )
    } else {
        format!("{n}: more than the pauses (a 'drain' also follows a write that filled the buffer)")
    }
}

/// The report as lines of text, headed by the command and the label.
pub fn text(r: &Report) -> String {
    let mut out = format!("highwater {}: {}\n", r.command, r.label);
    let mut line = |k: &str, v: String| out.push_str(&format!("  {k:<24}{v}\n"));

    let mut bytes = format!("{} B", grouped(r.transfer.bytes));
    if r.transfer.bytes >= 1024 {
        bytes = format!("{} ({bytes})", human(r.transfer.bytes));
    }
    match r.size {
        Some(s) if s != r.transfer.bytes => bytes.push_str(&format!(", of {} expected", size(s))),
        _ => {}
    }
    line("bytes", bytes);
    line("time", format!("{:.3} s", r.transfer.seconds));
    if rates_measured(r) {
        line(
            "rate",
            format!(
                "{} average; {} min, {} max over 50 ms windows",
                rate(r.transfer.avg_rate),
                rate(r.transfer.min_rate),
                rate(r.transfer.max_rate)
            ),
        );
    } else {
        line(
            "rate",
            format!(
                "{} average (too short for min and max)",
                rate(r.transfer.avg_rate)
            ),
        );
    }
    line("reads", reads(r));
    line("write() returned false", false_returns(r));
    if r.transfer.pauses != r.transfer.write_false {
        line(
            "reader paused",
            format!("{} times", grouped(r.transfer.pauses)),
        );
    }
    line("'drain' events", drains(r));
    let share = if r.transfer.seconds > 0.0 {
        100.0 * r.transfer.paused_seconds / r.transfer.seconds
    } else {
        0.0
    };
    line(
        "time paused",
        format!(
            "{:.3} s ({share:.0}% of the run)",
            r.transfer.paused_seconds
        ),
    );
    line(
        "high-water mark",
        format!(
            "{}, reads asked for {}",
            size(r.transfer.high_water_mark as u64),
            size(r.transfer.chunk_size as u64)
        ),
    );
    if let Some(low) = r.transfer.low_water_mark {
        line(
            "low-water mark",
            format!("{}: the reader resumed at this level", size(low as u64)),
        );
    }
    line(
        "peak buffered",
        format!(
            "{} in the write buffer, against a mark of {}",
            size(r.transfer.peak_buffered as u64),
            size(r.transfer.high_water_mark as u64)
        ),
    );
    let mut all = format!(
        "{}, against a bound of {}",
        size(r.transfer.peak_total_buffered as u64),
        size(r.transfer.buffer_bound)
    );
    if let Some(cap) = r.max_memory {
        all.push_str(&format!(
            " and a cap of {} (--max-memory)",
            size(cap as u64)
        ));
    }
    line("peak all buffers", all);
    out
}

/// An optional size as JSON: the number, or `null`.
fn opt<T: Into<u64>>(v: Option<T>) -> Value {
    v.map_or(Value::Null, |n| Value::from(n.into()))
}

/// The report as one JSON object on one line; every key that has a unit
/// names it (schema in `docs/CLI.md`).
pub fn json(r: &Report) -> String {
    let measured = rates_measured(r);
    let windowed = |v: f64| {
        if measured {
            Value::from(v)
        } else {
            Value::Null
        }
    };
    let mut v = json!({
        "schema": SCHEMA,
        "command": r.command,
        "label": r.label,
        "size_bytes": opt(r.size),
        "bytes": r.transfer.bytes,
        "seconds": r.transfer.seconds,
        "rate_bytes_per_second": {
            "average": r.transfer.avg_rate,
            "min": windowed(r.transfer.min_rate),
            "max": windowed(r.transfer.max_rate),
        },
        "reads": r.transfer.reads,
        "read_min_bytes": r.transfer.read_min,
        "read_max_bytes": r.transfer.read_max,
        "chunk_size_bytes": r.transfer.chunk_size,
        "write_false": r.transfer.write_false,
        "pauses": r.transfer.pauses,
        "drains": r.transfer.drains,
        "paused_seconds": r.transfer.paused_seconds,
        "high_water_mark_bytes": r.transfer.high_water_mark,
        "low_water_mark_bytes": opt(r.transfer.low_water_mark.map(|n| n as u64)),
        "peak_buffered_bytes": r.transfer.peak_buffered,
        "peak_total_buffered_bytes": r.transfer.peak_total_buffered,
        "buffer_bound_bytes": r.transfer.buffer_bound,
        "max_memory_bytes": opt(r.max_memory.map(|n| n as u64)),
        "samples": r.transfer.samples.len(),
    });
    if let (Some(n), Some(o)) = (&r.nats, v.as_object_mut()) {
        o.insert("nats".into(), n.clone());
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use highwater_transfer::Sample;

    fn report() -> Report {
        let sample = |t: f64, bytes: u64| Sample {
            t,
            buffered: 0,
            total_buffered: 0,
            paused: false,
            bytes,
        };
        Report {
            command: "pipe",
            label: "standard input to standard output".into(),
            size: None,
            max_memory: Some(1 << 20),
            nats: None,
            transfer: highwater_transfer::Report {
                bytes: 512 << 20,
                seconds: 1.25,
                avg_rate: (512 << 20) as f64 / 1.25,
                min_rate: 300.0 * 1048576.0,
                max_rate: 500.0 * 1048576.0,
                write_false: 8192,
                pauses: 8192,
                drains: 8191,
                paused_seconds: 0.5,
                peak_buffered: 320 << 10,
                high_water_mark: 256 << 10,
                low_water_mark: Some(64 << 10),
                chunk_size: 64 << 10,
                reads: 8192,
                read_min: 64 << 10,
                read_max: 64 << 10,
                buffer_bound: 704 << 10,
                peak_total_buffered: 448 << 10,
                samples: vec![sample(0.0, 0), sample(1.25, 512 << 20)],
            },
        }
    }

    #[test]
    fn grouping() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(65536), "65,536");
        assert_eq!(grouped(268_435_456), "268,435,456");
    }

    #[test]
    fn text_is_headed_by_the_command_and_explains_the_counters() {
        let t = text(&report());
        assert!(
            t.starts_with("highwater pipe: standard input to standard output\n"),
            "{t}"
        );
        assert!(t.contains("65,536 B reads (8,192 of them)"), "{t}");
        assert!(t.contains("8,192 times: each a pause"), "{t}");
        assert!(
            t.contains("8,191: the last pause ended with the end of the data"),
            "{t}"
        );
        assert!(t.contains("low-water mark          64 KiB"), "{t}");
        assert!(t.contains("a cap of 1 MiB (--max-memory)"), "{t}");
    }

    #[test]
    fn reads_of_different_sizes_show_a_range() {
        let mut r = report();
        r.transfer.read_min = 100;
        assert!(text(&r).contains("8,192 reads of 100 B to 65,536 B"));
        r.transfer.bytes = 8191 * 65536 + 100;
        assert!(text(&r).contains("65,536 B reads (8,191 of them) and one of 100 B"));
    }

    #[test]
    fn json_has_units_in_its_keys_and_nulls_for_what_is_unset() {
        let mut r = report();
        r.transfer.low_water_mark = None;
        let j: Value = serde_json::from_str(&json(&r)).expect("JSON");
        assert_eq!(j["schema"], SCHEMA);
        assert_eq!(j["command"], "pipe");
        assert_eq!(j["bytes"], 512u64 << 20);
        assert_eq!(j["chunk_size_bytes"], 64 << 10);
        assert_eq!(j["low_water_mark_bytes"], Value::Null);
        assert_eq!(j["max_memory_bytes"], 1 << 20);
        assert!(j["rate_bytes_per_second"]["max"].as_f64().is_some());
        assert!(!json(&r).contains('\n'));
    }

    #[test]
    fn a_short_run_has_no_min_and_max_rate() {
        let mut r = report();
        r.transfer.samples.truncate(1);
        let j: Value = serde_json::from_str(&json(&r)).expect("JSON");
        assert_eq!(j["rate_bytes_per_second"]["min"], Value::Null);
        assert!(text(&r).contains("too short for min and max"));
    }
}
