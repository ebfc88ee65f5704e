//! The buffering controls as a user runs them (spawned binary, real files):
//! the defaults show backpressure working, `--low-water-mark` resumes the
//! reader early, `--max-memory` bounds every buffer together,
//! `--read-rate` slows the source. Each reads the `--json` report.

mod common;
use std::process::Stdio;

use common::{bin, sample, spawn_listening, stderr, Scratch};

/// A scratch folder with a sample file `in.bin` of `len` bytes.
fn scratch(tag: &str, len: usize) -> Scratch {
    let s = Scratch::new(tag);
    sample(&s.path("in.bin"), len);
    s
}

/// Copies in.bin to out.bin with `args`, checks the copy, returns the report.
fn copy(s: &Scratch, args: &[&str]) -> serde_json::Value {
    let out = bin()
        .args(["copy", &s.s("in.bin"), &s.s("out.bin"), "--json"])
        .args(args)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    assert_eq!(
        std::fs::read(s.path("in.bin")).expect("in"),
        std::fs::read(s.path("out.bin")).expect("out"),
        "{args:?}: the copy is exact"
    );
    serde_json::from_slice(&out.stdout).expect("a JSON report")
}

fn n(v: &serde_json::Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is a number in {v}"))
}

#[test]
fn the_defaults_read_less_than_the_mark_and_not_every_write_waits() {
    let s = scratch("defaults", 16 << 20);
    // A destination at 128 MiB/s is slower than the file: the buffer fills.
    let r = copy(&s, &["--rate", "128MiB/s"]);
    assert_eq!(n(&r, "chunk_size_bytes"), 256 << 10);
    assert_eq!(n(&r, "high_water_mark_bytes"), 1 << 20);
    assert!(n(&r, "read_max_bytes") <= n(&r, "high_water_mark_bytes"));
    let (falses, reads) = (n(&r, "write_false"), n(&r, "reads"));
    assert!(
        falses > 0,
        "a slower destination makes write() return false: {r}"
    );
    assert!(
        falses * 2 < reads,
        "four reads fill the mark, so most writes return true: {falses} of {reads}"
    );
    assert!(
        n(&r, "peak_buffered_bytes") <= (1024 + 256) << 10,
        "mark + one read: {r}"
    );
}

#[test]
fn a_low_water_mark_resumes_the_reader_before_the_buffer_is_empty() {
    let s = scratch("low", 8 << 20);
    let plain = copy(&s, &["--rate", "64MiB/s", "-c", "64KiB", "-w", "512KiB"]);
    let low = copy(
        &s,
        &[
            "--rate", "64MiB/s", "-c", "64KiB", "-w", "512KiB", "-l", "75%",
        ],
    );
    assert_eq!(n(&low, "low_water_mark_bytes"), 384 << 10);
    // 'drain' at 384 KiB instead of 0: each pause lets 128 KiB through
    // instead of 512 KiB, so the reader pauses about four times as often.
    let (a, b) = (n(&plain, "write_false"), n(&low, "write_false"));
    assert!(
        a > 0 && b > 2 * a,
        "without: {a}, with --low-water-mark 75%: {b}"
    );
}

#[test]
fn max_memory_bounds_every_buffer_together() {
    let s = scratch("cap", 8 << 20);
    for cap in ["256KiB", "1MiB"] {
        for extra in [&[][..], &["--read-rate", "512MiB/s"][..]] {
            let mut args = vec!["-m", cap, "--rate", "32MiB/s"];
            args.extend_from_slice(extra);
            let r = copy(&s, &args);
            let cap = n(&r, "max_memory_bytes");
            assert!(n(&r, "buffer_bound_bytes") <= cap, "{r}");
            assert!(n(&r, "peak_total_buffered_bytes") <= cap, "{r}");
            assert!(n(&r, "write_false") > 0, "the buffer did fill: {r}");
        }
    }
    // Not vacuous: with a large cap the same copy holds far more.
    let r = copy(&s, &["-m", "64MiB", "--rate", "32MiB/s"]);
    assert!(n(&r, "peak_total_buffered_bytes") > 1 << 20, "{r}");
}

#[test]
fn a_read_rate_slows_the_source_and_leaves_the_write_buffer_idle() {
    let s = scratch("readrate", 4 << 20);
    let r = copy(&s, &["--read-rate", "16MiB/s"]);
    let secs = r["seconds"].as_f64().expect("seconds");
    // 4 MiB at 16 MiB/s: the last read is not let through before 0.25 s.
    assert!(secs >= 0.24, "{secs} s: {r}");
    assert_eq!(n(&r, "write_false"), 0, "the destination keeps up: {r}");
}

#[test]
fn max_memory_bounds_a_receiver_too() {
    let s = scratch("cap-recv", 1 << 20);
    let (child, addr, rest) = spawn_listening(
        &[&s.s("out.bin"), "-m", "8KiB", "--rate", "4MiB/s", "--json"],
        Stdio::piped(),
    );
    let sent = bin()
        .args(["send", &addr, &s.s("in.bin")])
        .output()
        .expect("send");
    assert!(sent.status.success(), "{}", stderr(&sent));
    let out = child.wait_with_output().expect("recv");
    let err = rest.join().unwrap_or_default();
    assert!(out.status.success(), "{err}");
    assert_eq!(
        std::fs::read(s.path("in.bin")).expect("in"),
        std::fs::read(s.path("out.bin")).expect("out")
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let cap = n(&r, "max_memory_bytes");
    assert_eq!(cap, 8 << 10);
    assert!(n(&r, "buffer_bound_bytes") <= cap, "{r}");
    assert!(
        n(&r, "peak_total_buffered_bytes") <= cap,
        "the socket's buffer counts: {r}"
    );
}
