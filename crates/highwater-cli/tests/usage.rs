//! Usage errors, as a user meets them: each is found before any work (no
//! file is created, truncated or renamed, nothing is listened on), is one
//! line on stderr starting `highwater: `, and exits with status 2. And the
//! flags that mbuffer and pv users reach for parse, short and long.

use std::process::Output;

mod common;
use common::{bin, highwater, sample, stderr, Scratch};

/// Exit 2, one line `highwater: …` containing `needle`.
fn assert_usage_error(what: &str, out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    assert_eq!(err.lines().count(), 1, "{what}: one line: {err:?}");
    assert!(err.starts_with("highwater: "), "{what}: {err:?}");
    assert!(
        err.contains(needle),
        "{what}: {err:?} should say {needle:?}"
    );
    assert!(out.stdout.is_empty(), "{what}: nothing on stdout");
}

#[test]
fn every_usage_error_comes_before_any_file_is_touched() {
    let s = Scratch::new("errors");
    std::fs::write(s.path("in.bin"), vec![7u8; 100_000]).expect("in");
    std::fs::write(s.path("old.bin"), b"old").expect("old");
    let (src, dst, old) = (s.s("in.bin"), s.s("out.bin"), s.s("old.bin"));
    let folder = s.dir().to_string_lossy().into_owned();
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "unknown unit",
            vec!["copy", &src, &dst, "--chunk-size", "12XB"],
            "unknown unit",
        ),
        (
            "zero read",
            vec!["copy", &src, &dst, "-c", "0"],
            "at least 1 byte",
        ),
        (
            "read over 4 GiB",
            vec!["copy", &src, &dst, "--chunk-size", "100GiB"],
            "at most 4 GiB",
        ),
        (
            "mark too large",
            vec!["copy", &src, &dst, "-w", "99999999999999999999999GiB"],
            "too large",
        ),
        (
            "bad rate",
            vec!["copy", &src, &dst, "--rate", "0/s"],
            "at least 1 byte per second",
        ),
        (
            "bad read rate",
            vec!["copy", &src, &dst, "-r", "fast"],
            "not a size",
        ),
        (
            "low mark at the mark",
            vec!["copy", &src, &dst, "-w", "64KiB", "-l", "64KiB"],
            "below the high-water mark",
        ),
        (
            "low mark of 100%",
            vec!["copy", &src, &dst, "-l", "100%"],
            "below 100%",
        ),
        (
            "cap too small",
            vec!["copy", &src, &dst, "-m", "10"],
            "too small",
        ),
        (
            "cap under the marks",
            vec!["copy", &src, &dst, "-m", "1MiB", "-c", "1MiB", "-w", "4MiB"],
            "over --max-memory 1 MiB",
        ),
        (
            "plot in a missing folder",
            vec!["copy", &src, &dst, "--plot", "/missing/dir/x.svg"],
            "does not exist",
        ),
        (
            "plot is a folder",
            vec!["copy", &src, &dst, "--plot", &folder],
            "is a directory",
        ),
        (
            "bad interval",
            vec!["copy", &src, &dst, "-p", "-i", "0"],
            "seconds",
        ),
        (
            "unknown flag",
            vec!["copy", &src, &dst, "--frobnicate"],
            "unexpected argument",
        ),
        ("missing argument", vec!["copy", &src], "<DST>"),
        (
            "--atomic to stdout",
            vec!["copy", &src, "-", "--atomic"],
            "--atomic needs a file",
        ),
        (
            "recv --atomic to stdout",
            vec!["recv", "127.0.0.1:0", "-", "--atomic"],
            "--atomic needs a file",
        ),
        ("not an address", vec!["send", "nowhere", &src], "HOST:PORT"),
        ("unknown command", vec!["frob"], "unrecognized subcommand"),
        (
            "demo delay",
            vec!["demo", "--delay", "soon"],
            "not a duration",
        ),
        (
            "plot over the destination",
            vec!["copy", &src, &old, "--plot", &old],
            "the plot would overwrite it",
        ),
        (
            "plot over the source",
            vec!["copy", &src, &dst, "--plot", &src],
            "the plot would overwrite it",
        ),
        (
            "plot over a destination still to be made",
            vec!["copy", &src, &dst, "--plot", &dst],
            "the plot would overwrite it",
        ),
        (
            "low-water mark with a mark of 0",
            vec!["copy", &src, &dst, "-w", "0", "-l", "1KiB"],
            "above 0",
        ),
        (
            "interval below the sampling period",
            vec!["copy", &src, &dst, "-p", "-i", "0.001"],
            "from 0.02",
        ),
    ];
    for (what, args, needle) in &cases {
        let out = highwater(args);
        assert_usage_error(what, &out, needle);
        assert_eq!(s.names(), ["in.bin", "old.bin"], "{what}: nothing created");
    }
    // --fsync into a pipe cannot be done: said before anything is read.
    let out = bin()
        .args(["copy", &src, "-", "--fsync"])
        .stdout(std::process::Stdio::piped())
        .output()
        .expect("runs");
    assert_usage_error("--fsync into a pipe", &out, "--fsync needs");
    // --atomic to a pipe named by a path (`/dev/stdout`): refused as a FIFO.
    let out = bin()
        .args(["copy", &src, "/dev/stdout", "--atomic"])
        .stdout(std::process::Stdio::piped())
        .output()
        .expect("runs");
    assert_usage_error("--atomic to /dev/stdout", &out, "it is a FIFO");
    // Standard output appended to the source would grow it without end.
    let append = std::fs::OpenOptions::new()
        .append(true)
        .open(s.path("in.bin"))
        .expect("in.bin for appending");
    let out = bin()
        .args(["copy", &src, "-"])
        .stdout(append)
        .output()
        .expect("runs");
    assert_usage_error("copy a - >> a", &out, "are the same file");
    assert_eq!(
        std::fs::metadata(s.path("in.bin")).expect("in").len(),
        100_000
    );
    // The destination is neither truncated nor replaced by a refused run.
    let out = highwater(&["copy", &src, &old, "--atomic", "-m", "10"]);
    assert_usage_error("refused --atomic", &out, "too small");
    assert_eq!(std::fs::read(s.path("old.bin")).expect("old"), b"old");
    assert_eq!(s.names(), ["in.bin", "old.bin"]);
}

#[test]
fn help_and_version_exit_0_and_help_tells_the_defaults() {
    let out = highwater(&["copy", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "reads of 256 KiB",
        "high-water mark is 1 MiB",
        "means \"wait\"",
        "-m, --max-memory",
        "-l, --low-water-mark",
        "-r, --read-rate",
        "-R, --rate",
        "-s, --size",
        "-p, --progress",
    ] {
        assert!(
            help.contains(needle),
            "copy --help lacks {needle:?}:\n{help}"
        );
    }
    let out = highwater(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("highwater "));
}

#[test]
fn short_flags_mean_what_the_long_ones_do() {
    let s = Scratch::new("short");
    let data = sample(&s.path("in.bin"), 300_000);
    let json = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["copy", "--json"];
        all.extend_from_slice(args);
        let out = highwater(&all);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).expect("one JSON object")
    };
    let (src, dst) = (s.s("in.bin"), s.s("out.bin"));
    let short = json(&[
        &src, &dst, "-c", "8KiB", "-w", "32KiB", "-l", "50%", "-R", "64MiB/s", "-r", "128MiB/s",
        "-m", "4MiB", "-s", "1MiB",
    ]);
    assert_eq!(std::fs::read(s.path("out.bin")).expect("out"), data);
    let long = json(&[
        &src,
        &dst,
        "--chunk-size",
        "8KiB",
        "--high-water-mark",
        "32KiB",
        "--low-water-mark",
        "16KiB",
        "--rate",
        "64MiB/s",
        "--read-rate",
        "128MiB/s",
        "--max-memory",
        "4MiB",
        "--size",
        "1MiB",
    ]);
    let alias = json(&[
        &src, &dst, "-c", "8KiB", "-w", "32KiB", "-l", "16KiB", "-L", "64MiB/s", "-r", "128MiB/s",
        "-m", "4MiB", "-s", "1MiB",
    ]);
    for key in [
        "chunk_size_bytes",
        "high_water_mark_bytes",
        "low_water_mark_bytes",
        "max_memory_bytes",
        "size_bytes",
    ] {
        assert!(short.get(key).is_some(), "{key} in {short}");
        assert_eq!(short[key], long[key], "{key}");
        assert_eq!(short[key], alias[key], "{key}");
    }
    assert_eq!(short["low_water_mark_bytes"], 16 * 1024);
}
