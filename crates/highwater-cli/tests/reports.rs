//! The reports of the `highwater` binary, read as a user reads them: the
//! text of `--stats`, the JSON of `--json` and the SVG of `--plot`, from a
//! spawned process copying real files in a scratch folder.

use std::fs::File;
use std::process::Stdio;

mod common;
use common::{bin, highwater, sample, stderr, Scratch};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

/// The JSON report: the one line of `text` that is a JSON object.
fn json_line(text: &str) -> serde_json::Value {
    let line = text
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line in {text:?}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("JSON report: {e}: {line:?}"))
}

fn u(j: &serde_json::Value, key: &str) -> u64 {
    j[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is a whole number: {j}"))
}

fn f(j: &serde_json::Value, key: &str) -> f64 {
    j[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is a number: {j}"))
}

#[test]
fn pipe_reports_say_pipe() {
    let s = Scratch::new("pipe");
    sample(&s.path("in.bin"), 2 * MIB as usize);
    let out = bin()
        .args(["pipe", "--stats", "--json", "--rate", "64MiB/s"])
        .stdin(File::open(s.path("in.bin")).expect("in"))
        .stdout(File::create(s.path("out.bin")).expect("out"))
        .stderr(Stdio::piped())
        .output()
        .expect("runs");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    // The data is on stdout, so both reports are on stderr.
    assert!(
        err.starts_with("highwater pipe: standard input to standard output\n"),
        "{err}"
    );
    assert!(!err.contains("copy"), "nothing says copy: {err}");
    let j = json_line(&err);
    assert_eq!(j["command"], "pipe");
    assert_eq!(j["label"], "standard input to standard output");
    assert_eq!(u(&j, "bytes"), 2 * MIB);
}

#[test]
fn json_keys_carry_units_and_agree_with_each_other() {
    let s = Scratch::new("json");
    let len = 3 * MIB + 1234;
    sample(&s.path("in.bin"), len as usize);
    let out = highwater(&[
        "copy",
        &s.s("in.bin"),
        &s.s("out.bin"),
        "--chunk-size",
        "64KiB",
        "--high-water-mark",
        "128KiB",
        "--low-water-mark",
        "25%",
        "--max-memory",
        "4MiB",
        "--rate",
        "16MiB/s",
        "--json",
    ]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "one line: {text}");
    let j = json_line(&text);
    for key in [
        "schema",
        "command",
        "label",
        "size_bytes",
        "bytes",
        "seconds",
        "rate_bytes_per_second",
        "reads",
        "read_min_bytes",
        "read_max_bytes",
        "chunk_size_bytes",
        "write_false",
        "pauses",
        "drains",
        "paused_seconds",
        "high_water_mark_bytes",
        "low_water_mark_bytes",
        "peak_buffered_bytes",
        "peak_total_buffered_bytes",
        "buffer_bound_bytes",
        "max_memory_bytes",
        "samples",
    ] {
        assert!(j.get(key).is_some(), "{key} missing: {j}");
    }
    for old in ["rate", "high_water_mark", "peak_buffered", "chunk_size"] {
        assert!(j.get(old).is_none(), "{old} has no unit: {j}");
    }
    assert_eq!(u(&j, "schema"), 1);
    assert_eq!(j["command"], "copy");
    assert!(
        j["label"]
            .as_str()
            .is_some_and(|l| l.contains("in.bin") && l.contains("out.bin")),
        "{j}"
    );
    // Bytes: all of the file, as known beforehand.
    assert_eq!(u(&j, "bytes"), len);
    assert_eq!(u(&j, "size_bytes"), len);
    // Reads: as read, never more than asked for, and adding up.
    let (reads, lo, hi) = (
        u(&j, "reads"),
        u(&j, "read_min_bytes"),
        u(&j, "read_max_bytes"),
    );
    let chunk = u(&j, "chunk_size_bytes");
    assert_eq!(chunk, 64 * KIB);
    assert!(0 < lo && lo <= hi && hi <= chunk, "{j}");
    assert!(reads * lo <= len && len <= reads * hi, "{j}");
    // Backpressure: every drain ended a pause.
    let (falses, drains) = (u(&j, "write_false"), u(&j, "drains"));
    assert!(
        falses > 0,
        "a 16 MiB/s destination makes the reader wait: {j}"
    );
    assert!(falses >= drains, "{j}");
    assert!(u(&j, "pauses") >= drains, "{j}");
    // Time and rates (0.2 s: long enough for the 50 ms windows of min and
    // max).
    let secs = f(&j, "seconds");
    assert!(secs > 0.0 && f(&j, "paused_seconds") <= secs, "{j}");
    let rate = &j["rate_bytes_per_second"];
    let avg = rate["average"].as_f64().unwrap_or(0.0);
    assert!((avg - len as f64 / secs).abs() <= avg * 1e-6, "{j}");
    let (min, max) = (
        rate["min"].as_f64().unwrap_or(f64::NAN),
        rate["max"].as_f64().unwrap_or(f64::NAN),
    );
    assert!(0.0 <= min && min <= max, "{j}");
    // Memory: the write buffer within its mark and one read, all buffers
    // within their bound, the bound within the cap.
    let mark = u(&j, "high_water_mark_bytes");
    assert_eq!(mark, 128 * KIB);
    assert_eq!(u(&j, "low_water_mark_bytes"), 32 * KIB);
    assert!(u(&j, "peak_buffered_bytes") <= mark + chunk, "{j}");
    assert!(
        u(&j, "peak_buffered_bytes") >= mark,
        "reached the mark: {j}"
    );
    let bound = u(&j, "buffer_bound_bytes");
    assert!(u(&j, "peak_total_buffered_bytes") <= bound, "{j}");
    assert!(bound <= u(&j, "max_memory_bytes"), "{j}");
    assert_eq!(u(&j, "max_memory_bytes"), 4 * MIB);
    assert!(u(&j, "samples") > 0);
}

#[test]
fn the_text_report_explains_pauses_and_drains() {
    let s = Scratch::new("text");
    sample(&s.path("in.bin"), MIB as usize);
    let out = highwater(&[
        "copy",
        &s.s("in.bin"),
        &s.s("out.bin"),
        "--chunk-size",
        "64KiB",
        "--high-water-mark",
        "64KiB",
        "--low-water-mark",
        "16KiB",
        "--rate",
        "64MiB/s",
        "--stats",
        "--json",
    ]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stderr(&out);
    let j = json_line(&String::from_utf8_lossy(&out.stdout));
    let line = |key: &str| -> String {
        text.lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or_else(|| panic!("no '{key}' line in {text}"))
            .to_string()
    };
    assert!(text.starts_with("highwater copy: '"), "{text}");
    assert!(
        line("reads").contains("65,536 B reads (16 of them)"),
        "{text}"
    );
    let falses = line("write() returned false");
    assert!(
        falses.contains("each a pause, the reader stopped until 'drain'"),
        "{text}"
    );
    let (f, d) = (u(&j, "write_false"), u(&j, "drains"));
    let drains = line("'drain' events");
    if f == d + 1 {
        assert!(
            drains.contains("the last pause ended with the end of the data")
                && drains.contains("no 'drain'"),
            "{text}"
        );
    } else if f == d {
        assert!(drains.contains("one per pause"), "{text}");
    } else {
        assert!(drains.contains("pauses ended without one"), "{text}");
    }
    assert!(line("low-water mark").contains("16 KiB"), "{text}");
    assert!(line("time").contains(" s"), "{text}");
    assert!(line("rate").contains("/s average"), "{text}");
    assert!(
        line("peak buffered").contains("against a mark of 64 KiB"),
        "{text}"
    );
    assert!(
        line("peak all buffers").contains("against a bound of"),
        "{text}"
    );
}

/// Checks that `svg` is well-formed enough: tags balanced, one root, no raw
/// `<` in attribute values, every `&` an entity.
fn check_xml(svg: &str) -> Result<(), String> {
    let mut stack: Vec<&str> = Vec::new();
    let mut roots = 0;
    let mut rest = svg;
    let entity_ok = |text: &str| {
        text.match_indices('&').all(|(i, _)| {
            let t = &text[i..];
            ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#"]
                .iter()
                .any(|e| t.starts_with(e))
        })
    };
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        if !entity_ok(text) {
            return Err(format!("a bare '&' in {text:?}"));
        }
        if stack.is_empty() && !text.trim().is_empty() {
            return Err(format!("text outside the root: {text:?}"));
        }
        let close = rest[open..].find('>').ok_or("a tag is not closed")? + open;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if tag.contains('<') {
            return Err(format!("a '<' inside the tag {tag:?}"));
        }
        if !entity_ok(tag) {
            return Err(format!("a bare '&' in the tag {tag:?}"));
        }
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            match stack.pop() {
                Some(open) if open == name.trim() => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
            continue;
        }
        let name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("");
        if name.is_empty() {
            return Err(format!("a tag without a name: {tag:?}"));
        }
        if stack.is_empty() {
            roots += 1;
        }
        if !tag.ends_with('/') {
            stack.push(name);
        }
    }
    if !rest.trim().is_empty() {
        return Err(format!("text after the root: {rest:?}"));
    }
    match (stack.is_empty(), roots) {
        (true, 1) => Ok(()),
        (false, _) => Err(format!("unclosed: {stack:?}")),
        (_, n) => Err(format!("{n} roots")),
    }
}

/// The value of attribute `name` in the tag `tag`.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

/// The elements `<kind class="class" …>` of `svg`, each as (its tag, the
/// text up to its closing tag).
fn elements<'a>(svg: &'a str, kind: &str, class: &str) -> Vec<(&'a str, &'a str)> {
    let open = format!("<{kind} class=\"{class}\"");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = svg[from..].find(&open) {
        let start = from + i;
        let end = start + svg[start..].find('>').unwrap_or(svg.len() - start);
        let tag = &svg[start..end];
        let body_end = svg[end..].find('<').map_or(end, |j| end + j);
        let body = svg.get(end + 1..body_end).unwrap_or("");
        out.push((tag, body));
        from = end;
    }
    out
}

/// `192 KiB` → 196608.
fn parse_bytes(label: &str) -> Option<f64> {
    let (num, unit) = label.split_once(' ')?;
    let mult = match unit {
        "B" => 1.0,
        "KiB" => KIB as f64,
        "MiB" => MIB as f64,
        "GiB" => (1u64 << 30) as f64,
        _ => return None,
    };
    Some(num.parse::<f64>().ok()? * mult)
}

/// Whether `v` is 1, 2 or 5 × 10^k.
fn one_two_five(v: f64) -> bool {
    let k = v.log10().floor();
    let m = v / 10f64.powf(k);
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .any(|x| (m - x).abs() < 1e-6 * x)
}

#[test]
fn the_plot_of_a_long_copy_stays_readable() {
    let s = Scratch::new("plot");
    let len = 256 * MIB;
    File::create(s.path("big.bin"))
        .and_then(|f| f.set_len(len))
        .expect("a sparse file");
    let out = highwater(&[
        "copy",
        &s.s("big.bin"),
        &s.s("copy.bin"),
        "-c",
        "64KiB",
        "-w",
        "256KiB",
        "--low-water-mark",
        "64KiB",
        "--json",
        "--plot",
        &s.s("plot.svg"),
    ]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let j = json_line(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(u(&j, "bytes"), len);
    let svg = std::fs::read_to_string(s.path("plot.svg")).expect("the plot");
    check_xml(&svg).unwrap_or_else(|e| panic!("not well-formed: {e}"));

    // The title says what it shows.
    assert!(svg.contains("copy: &apos;"), "the command and label");
    assert!(svg.contains("big.bin") && svg.contains("copy.bin"));
    assert!(svg.contains("256 MiB in "), "bytes and time");
    assert!(svg.contains("write() returned false"));

    // Byte ticks: 0, then equal power-of-two steps.
    let grid: Vec<f64> = elements(&svg, "line", "ygrid")
        .iter()
        .map(|(tag, _)| attr(tag, "y1").and_then(|v| v.parse().ok()).expect("y1"))
        .collect();
    let yticks: Vec<f64> = elements(&svg, "text", "ytick")
        .iter()
        .map(|(_, label)| parse_bytes(label).unwrap_or_else(|| panic!("tick {label:?}")))
        .collect();
    assert!(
        yticks.len() >= 3 && yticks.len() == grid.len(),
        "{yticks:?}"
    );
    assert_eq!(yticks[0], 0.0);
    let ystep = yticks[1] - yticks[0];
    assert!(
        (ystep as u64).is_power_of_two(),
        "a power-of-two step: {yticks:?}"
    );
    for (i, v) in yticks.iter().enumerate() {
        assert_eq!(*v, i as f64 * ystep, "round sizes: {yticks:?}");
    }

    // Time ticks: 0, then equal 1-2-5 steps.
    let xticks: Vec<f64> = elements(&svg, "text", "xtick")
        .iter()
        .map(|(_, label)| {
            label
                .strip_suffix(" s")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("tick {label:?}"))
        })
        .collect();
    assert!(xticks.len() >= 3, "{xticks:?}");
    assert_eq!(xticks[0], 0.0);
    let tstep = xticks[1] - xticks[0];
    assert!(one_two_five(tstep), "a 1-2-5 step: {xticks:?}");
    for (i, v) in xticks.iter().enumerate() {
        assert!(
            (v - i as f64 * tstep).abs() < tstep * 1e-6,
            "round times: {xticks:?}"
        );
    }

    // The mark: a line where the ticks put its value, and labelled.
    let y_of = |v: f64| {
        let (y0, y1) = (grid[0], grid[grid.len() - 1]);
        y0 + (y1 - y0) * v / yticks[yticks.len() - 1]
    };
    let mark = u(&j, "high_water_mark_bytes") as f64;
    let marks = elements(&svg, "line", "mark");
    assert_eq!(marks.len(), 1, "one mark line");
    let ym: f64 = attr(marks[0].0, "y1")
        .and_then(|v| v.parse().ok())
        .expect("y1");
    assert!(
        (ym - y_of(mark)).abs() < 1.0,
        "mark at {ym}, not {}",
        y_of(mark)
    );
    assert!(ym > grid[grid.len() - 1] + 5.0, "headroom above the mark");
    let labels = elements(&svg, "text", "mark-label");
    assert!(
        labels.iter().any(|(_, t)| t.contains("256 KiB")),
        "the mark is labelled with its value"
    );
    let low = elements(&svg, "line", "low-mark");
    assert_eq!(low.len(), 1, "the low-water mark too");
    let yl: f64 = attr(low[0].0, "y1")
        .and_then(|v| v.parse().ok())
        .expect("y1");
    assert!((yl - y_of((64 * KIB) as f64)).abs() < 1.0);

    // As many points as pixel columns at most, not one per sample.
    let width: f64 = attr(&svg[..svg.find('>').unwrap_or(0)], "width")
        .and_then(|w| w.parse().ok())
        .expect("width");
    assert!(
        u(&j, "samples") as f64 > width,
        "more samples than columns, or the test shows nothing"
    );
    let points = |kind: &str, class: &str| -> usize {
        elements(&svg, kind, class)
            .iter()
            .map(|(tag, _)| attr(tag, "points").map_or(0, |p| p.split_whitespace().count()))
            .sum()
    };
    let mean = points("polyline", "mean");
    assert!(mean > 0 && (mean as f64) <= width, "{mean} points");
    let band = points("polygon", "band");
    assert!(band > 0 && (band as f64) <= 4.0 * width, "{band} points");
    assert!((elements(&svg, "rect", "paused").len() as f64) <= width / 2.0);
    assert!(
        svg.contains("reader paused for most of the column"),
        "legend"
    );
}

#[test]
fn plots_escape_file_names() {
    let s = Scratch::new("escape");
    sample(&s.path("a&b<c>.bin"), 100_000);
    let out = highwater(&[
        "copy",
        &s.s("a&b<c>.bin"),
        &s.s("out \"1\".bin"),
        "--plot",
        &s.s("p.svg"),
    ]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let svg = std::fs::read_to_string(s.path("p.svg")).expect("the plot");
    check_xml(&svg).unwrap_or_else(|e| panic!("not well-formed: {e}"));
    assert!(svg.contains("a&amp;b&lt;c&gt;.bin"), "{svg}");
    assert!(svg.contains("out &quot;1&quot;.bin"), "{svg}");
}

#[test]
fn the_xml_check_finds_what_it_should() {
    assert!(check_xml("<svg><g><line/></g><text>a &amp; b</text></svg>").is_ok());
    assert!(check_xml("<svg><g></svg>").is_err());
    assert!(check_xml("<svg><text>a & b</text></svg>").is_err());
    assert!(check_xml("<svg/><svg/>").is_err());
}
