//! `--progress` as a user sees it: the `highwater` binary run on a
//! pseudo-terminal (under util-linux's `script`, with `stty rows 24 cols N` for the
//! width) for the live line, and with stderr captured through a pipe for
//! the plain lines.
//!
//! Every copy goes through `--rate`, so it lasts at least about a second:
//! the assertions count on lower bounds only (a line every 0.2 s gives at
//! least two in a second), never on an upper bound.

use std::process::{Command, Output, Stdio};

mod common;
use common::{bin, sample, Scratch};

/// The file copied: 2 MiB, one second at [`RATE`].
const SIZE: usize = 2 * 1024 * 1024;
/// The destination's rate.
const RATE: &str = "2MiB/s";
/// Reads of 64 KiB into a 256 KiB mark: 32 reads of the file, so the line
/// moves often, and a buffer label the tests can look for.
const MARKS: &str = "-c 64KiB -w 256KiB";

/// The path of the binary, for a shell command line.
fn bin_path() -> String {
    env!("CARGO_BIN_EXE_highwater").to_string()
}

/// `src` in `s`: [`SIZE`] bytes of a pattern; its path.
fn source(s: &Scratch) -> String {
    sample(&s.path("src"), SIZE);
    s.s("src")
}

/// Whether `a` and `b` in `s` hold the same bytes.
fn same(s: &Scratch, a: &str, b: &str) -> bool {
    std::fs::read(s.path(a)).ok() == std::fs::read(s.path(b)).ok()
}

/// `'s'`, quoted for `sh`.
fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Runs the shell command `cmd` on a pseudo-terminal `cols` columns wide;
/// returns its exit status and everything it wrote to the terminal.
fn on_tty(cols: usize, cmd: &str) -> (Output, String) {
    let out = Command::new("script")
        .args([
            "-q",
            "-e",
            "-c",
            &format!("stty rows 24 cols {cols}; {cmd}"),
            "/dev/null",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("util-linux's script runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, text)
}

/// `text` without its ANSI escape sequences (`ESC [ ... letter`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        }
    }
    out
}

/// The lines drawn on the terminal: every non-empty stretch between two
/// carriage returns or newlines, escapes removed.
fn drawn(text: &str) -> Vec<String> {
    strip_ansi(text)
        .split(['\r', '\n'])
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// What stays on the terminal's last line: the text after the last
/// carriage return, once the trailing newline is set aside.
fn last_line(text: &str) -> String {
    let text = text.trim_end_matches(['\r', '\n']);
    let tail = text.rsplit('\r').next().unwrap_or(text);
    strip_ansi(tail)
}

/// The seconds in a time as the progress lines write it below a minute
/// (`0.4 s`, `42 s`), found after `after` in `line`.
fn seconds_after(line: &str, after: &str) -> Option<f64> {
    let rest = &line[line.find(after)? + after.len()..];
    rest.split(" s").next()?.trim().parse().ok()
}

/// A rate-limited copy drawn on a terminal `cols` wide: returns the lines
/// drawn and the raw output.
fn tty_copy(cols: usize) -> (Vec<String>, String) {
    let s = Scratch::new(&format!("tty{cols}"));
    let src = source(&s);
    let cmd = format!(
        "exec {} copy {} {} --progress --rate {RATE} {MARKS}",
        q(&bin_path()),
        q(&src),
        q(&s.s("dst"))
    );
    let (out, text) = on_tty(cols, &cmd);
    assert!(out.status.success(), "{text}");
    assert!(same(&s, "src", "dst"));
    (drawn(&text), text)
}

#[test]
fn a_terminal_gets_a_live_line_with_every_measure_and_a_final_line_that_stays() {
    let (lines, text) = tty_copy(80);
    let live: Vec<&String> = lines.iter().filter(|l| l.contains('%')).collect();
    assert!(live.len() >= 3, "redrawn several times: {text:?}");
    assert!(
        text.matches('\n').count() <= 1,
        "redrawn in place, not line after line: {text:?}"
    );
    let has = |part: &str| live.iter().any(|l| l.contains(part));
    assert!(has("[="), "a bar: {live:?}");
    assert!(has(" 0:0"), "the elapsed time: {live:?}");
    assert!(has("MiB/s"), "the current rate: {live:?}");
    assert!(has("(avg "), "the average rate: {live:?}");
    assert!(has("eta 0:0"), "the ETA: {live:?}");
    assert!(has("buf "), "the buffer's fill: {live:?}");
    assert!(
        live.iter()
            .any(|l| l.contains(" 50%") || l.contains(" 75%")),
        "{live:?}"
    );

    let last = last_line(&text);
    let seconds = seconds_after(&last, " in ").expect(&last);
    assert!(
        (live.len() as f64) <= seconds / 0.2 + 2.0,
        "at most five draws a second, not one per sample: {} in {seconds} s",
        live.len()
    );
    assert!(
        last.starts_with("highwater copy: done, 2 MiB in ") && last.ends_with("/s average"),
        "the final line stays: {last:?} in {text:?}"
    );
    assert!(
        text.trim_end_matches(['\r', '\n']).len() < text.len(),
        "the final line ends with a newline: {text:?}"
    );
}

#[test]
fn no_line_is_wider_than_the_terminal() {
    for cols in [40, 80, 200] {
        let (lines, text) = tty_copy(cols);
        assert!(lines.len() >= 3, "{text:?}");
        for l in &lines {
            assert!(l.chars().count() < cols, "{cols} columns: {l:?}");
        }
        let live: Vec<&String> = lines.iter().filter(|l| l.contains('%')).collect();
        assert!(!live.is_empty(), "{cols} columns: {text:?}");
        assert!(
            live.iter()
                .any(|l| l.contains("MiB/s") && l.contains("eta")),
            "{cols} columns keep the rate and the ETA: {live:?}"
        );
        if cols == 200 {
            assert!(
                live.iter()
                    .any(|l| l.contains("KiB/256 KiB") && l.contains("/2 MiB")),
                "a wide terminal shows the buffer and the total in full: {live:?}"
            );
        }
        assert!(last_line(&text).contains("done"), "{text:?}");
    }
}

#[test]
fn an_unknown_size_shows_no_percentage_and_no_eta_and_size_brings_them() {
    let s = Scratch::new("pipe");
    let src = source(&s);
    let pipe = |extra: &str, dst: &str| {
        format!(
            "cat {} | {} pipe --progress --rate {RATE} {MARKS} {extra} > {}",
            q(&src),
            q(&bin_path()),
            q(&s.s(dst))
        )
    };

    let (out, text) = on_tty(80, &pipe("", "unknown"));
    assert!(out.status.success(), "{text}");
    assert!(same(&s, "src", "unknown"));
    let lines = drawn(&text);
    let live: Vec<&String> = lines.iter().filter(|l| l.contains("buf")).collect();
    assert!(live.len() >= 3, "{text:?}");
    for l in &live {
        assert!(!l.contains('%'), "no percentage: {l:?}");
        assert!(!l.contains("eta"), "no ETA: {l:?}");
        assert!(!l.contains('['), "no bar: {l:?}");
    }
    assert!(live.iter().any(|l| l.contains("MiB/s")), "{live:?}");
    assert!(
        last_line(&text).starts_with("highwater pipe: done, 2 MiB in "),
        "{text:?}"
    );

    let (out, text) = on_tty(80, &pipe("--size 2MiB", "sized"));
    assert!(out.status.success(), "{text}");
    let lines = drawn(&text);
    assert!(
        lines.iter().any(|l| l.contains('%') && l.contains("eta")),
        "--size gives a percentage and an ETA: {lines:?}"
    );
}

#[test]
fn a_failure_on_a_terminal_leaves_the_final_line_then_the_error() {
    let s = Scratch::new("ttyfail");
    let src = source(&s);
    let cmd = format!(
        "exec {} copy {} /dev/full --progress",
        q(&bin_path()),
        q(&src)
    );
    let (out, text) = on_tty(80, &cmd);
    assert!(!out.status.success(), "{text}");
    let plain = strip_ansi(&text);
    let failed = plain.find("highwater copy: failed after ").expect(&plain);
    let error = plain.find("\nhighwater: ").expect(&plain);
    assert!(failed < error, "{plain:?}");
    assert!(plain[failed..error].contains("of 2 MiB ("), "{plain:?}");
}

/// Runs `highwater args` with stderr (and stdout) captured.
fn piped(args: &[&str]) -> (Output, Vec<String>) {
    let out = bin()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the highwater binary runs");
    let lines = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_string)
        .collect();
    (out, lines)
}

#[test]
fn without_a_terminal_plain_lines_come_every_interval() {
    let s = Scratch::new("plain");
    let src = source(&s);
    let dst = s.s("dst");
    let (out, lines) = piped(&[
        "copy",
        &src,
        &dst,
        "--progress",
        "--interval",
        "0.2",
        "--rate",
        RATE,
        "-c",
        "64KiB",
        "-w",
        "256KiB",
    ]);
    assert!(out.status.success(), "{lines:?}");
    assert!(same(&s, "src", "dst"));
    let (last, periodic) = lines.split_last().expect("some lines");
    assert!(periodic.len() >= 2, "a line every 0.2 s: {lines:?}");
    for l in periodic {
        assert!(l.starts_with("highwater copy: "), "{l:?}");
        assert!(l.contains(" of 2 MiB (") && l.contains("%)"), "{l:?}");
        assert!(l.contains(" s, "), "the elapsed time: {l:?}");
        assert!(l.contains("/s now, ") && l.contains("/s average"), "{l:?}");
        assert!(
            l.contains(" / 256 KiB"),
            "the buffer against the mark: {l:?}"
        );
        assert!(!l.contains('\r') && !l.contains('\x1b'), "plain: {l:?}");
    }
    assert!(periodic.iter().any(|l| l.contains(", eta ")), "{lines:?}");
    for (k, l) in periodic.iter().enumerate() {
        // Line k+1 is due 0.2 s after line k: never earlier, whatever the
        // machine's speed (the time is written to a tenth).
        let t = seconds_after(l, "%), ").expect(l);
        assert!(
            t >= 0.2 * (k + 1) as f64 - 0.051,
            "line {k} at {t} s: {lines:?}"
        );
    }
    assert!(
        last.starts_with("highwater copy: done, 2 MiB in ") && last.ends_with("/s average"),
        "{last:?}"
    );
}

#[test]
fn without_a_terminal_an_unknown_size_has_no_percentage() {
    let s = Scratch::new("plainpipe");
    let src = source(&s);
    let out = Command::new("sh")
        .args([
            "-c",
            &format!(
                "cat {} | {} pipe --progress -i 0.2 --rate {RATE} {MARKS} > {}",
                q(&src),
                q(&bin_path()),
                q(&s.s("dst"))
            ),
        ])
        .output()
        .expect("sh runs");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3, "{text}");
    for l in &lines {
        assert!(l.starts_with("highwater pipe: "), "{l:?}");
        assert!(!l.contains('%') && !l.contains("eta"), "{l:?}");
    }
}

#[test]
fn a_failure_without_a_terminal_ends_with_the_final_line_then_the_error() {
    let s = Scratch::new("plainfail");
    let src = source(&s);
    let (out, lines) = piped(&["copy", &src, "/dev/full", "--progress"]);
    assert!(!out.status.success());
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("highwater copy: failed after ") && lines[0].contains(" of 2 MiB ("),
        "{lines:?}"
    );
    assert!(lines[1].starts_with("highwater: "), "{lines:?}");
}

#[test]
fn without_progress_nothing_is_printed() {
    let s = Scratch::new("quiet");
    let src = source(&s);
    let dst = s.s("dst");
    let (out, lines) = piped(&["copy", &src, &dst, "--rate", "8MiB/s"]);
    assert!(out.status.success(), "{lines:?}");
    assert!(lines.is_empty(), "{lines:?}");
    assert!(same(&s, "src", "dst"));
}
