//! Integration tests of the `highwater` binary, run as a user runs it: a
//! spawned process, real files in a scratch folder.

use std::io::Write;
use std::process::{Command, Stdio};

mod common;
use common::{bin, highwater, sample, size_of, stderr, wait_until, Scratch};

#[test]
fn demo_narrates_backpressure_and_respects_the_mark() {
    let out = highwater(&[
        "demo",
        "--no-copy",
        "--chunks",
        "12",
        "--chunk-size",
        "1024",
        "--high-water-mark",
        "4096",
        "--delay-ms",
        "1",
    ]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    // 4 KiB mark, 1 KiB chunks, a sink that completes later: every 4th write
    // reaches the mark and returns false, then 'drain' empties the buffer.
    assert!(text.contains("write #3   -> true"), "{text}");
    assert!(text.contains("write #4   -> false"), "{text}");
    assert!(text.contains("'drain': buffer empty"), "{text}");
    assert!(text.contains("false 3 times, true 9 times"), "{text}");
    assert!(text.contains("'drain' events       3"), "{text}");
    assert!(text.contains("all received: true"), "{text}");
    assert!(
        text.contains("peak buffered        4 KiB against a mark of 4 KiB"),
        "{text}"
    );
}

#[test]
fn demo_copies_a_sample_file_writes_the_plot_and_cleans_up() {
    let s = Scratch::new("demo");
    let plot = s.s("demo.svg");
    let out = highwater(&[
        "demo",
        "--quiet",
        "--delay-ms",
        "0",
        "--file-size",
        "1MiB",
        "--rate",
        "32MiB/s",
        "--plot",
        &plot,
    ]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("write #1"), "quiet: {text}");
    assert!(text.contains("copy identical          yes"), "{text}");
    assert!(text.contains("write() returned false"), "{text}");
    assert!(
        text.contains("highwater demo: sample data into a destination that takes 32 MiB/s"),
        "the report says what it shows, not scratch paths: {text}"
    );
    let svg = std::fs::read_to_string(&plot).expect("plot written");
    assert!(
        !svg.contains("highwater-demo-"),
        "no scratch path in the plot"
    );
    assert!(svg.starts_with("<svg") && svg.contains("polyline") && svg.contains("highWaterMark"));
    let leftovers = std::fs::read_dir(std::env::temp_dir())
        .expect("tmp")
        .filter_map(Result::ok)
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("highwater-demo-")
        });
    assert!(!leftovers, "the demo removes its sample data");
}

#[test]
fn copy_is_byte_identical_and_reports_backpressure() {
    let s = Scratch::new("copy");
    let data = sample(&s.path("in.bin"), 3 << 20);
    let out = highwater(&[
        "copy",
        &s.s("in.bin"),
        &s.s("out.bin"),
        "--chunk-size",
        "64KiB",
        "--high-water-mark",
        "128KiB",
        "--rate",
        "64MiB/s",
        "--stats",
        "--json",
        "--plot",
        &s.s("p.svg"),
    ]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(std::fs::read(s.path("out.bin")).expect("out"), data);
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("JSON report on stdout");
    assert_eq!(json["bytes"], 3 << 20);
    assert_eq!(json["high_water_mark_bytes"], 128 << 10);
    assert!(
        json["write_false"].as_u64().unwrap_or(0) > 0,
        "a 64 MiB/s destination makes the reader wait"
    );
    assert!(
        json["peak_buffered_bytes"].as_u64().unwrap_or(0) <= (128 + 64) << 10,
        "mark + one chunk"
    );
    assert!(
        stderr(&out).contains("write() returned false"),
        "--stats on stderr"
    );
    assert!(std::fs::read_to_string(s.path("p.svg"))
        .expect("plot")
        .contains("<svg"));
}

#[test]
fn atomic_copy_renames_and_leaves_no_temporary_file() {
    let s = Scratch::new("atomic");
    let data = sample(&s.path("in.bin"), 200_000);
    std::fs::write(s.path("out.bin"), b"old content").expect("old");
    let out = highwater(&[
        "copy",
        &s.s("in.bin"),
        &s.s("out.bin"),
        "--atomic",
        "--fsync",
    ]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(std::fs::read(s.path("out.bin")).expect("out"), data);
    let names = s.names();
    assert_eq!(names.len(), 2, "only in.bin and out.bin: {names:?}");
}

#[test]
fn pipe_copies_stdin_to_stdout() {
    let mut child = bin()
        .args(["pipe", "--high-water-mark", "8KiB"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let data: Vec<u8> = (0..500_000u32).map(|i| (i % 256) as u8).collect();
    let mut stdin = child.stdin.take().expect("stdin");
    let d = data.clone();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&d);
    });
    let out = child.wait_with_output().expect("wait");
    feeder.join().expect("feeder");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(out.stdout, data);
}

#[test]
fn bad_input_fails_clearly_and_creates_nothing() {
    let s = Scratch::new("bad");
    sample(&s.path("in.bin"), 1000);
    // A missing source: one line, non-zero, no destination created.
    let out = highwater(&["copy", &s.s("missing"), &s.s("out.bin")]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("ENOENT"), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1);
    assert!(!s.path("out.bin").exists());
    // A directory as source or destination.
    let out = highwater(&["copy", &s.s(""), &s.s("out.bin")]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("directory"), "{}", stderr(&out));
    let out = highwater(&["copy", &s.s("in.bin"), &s.s("")]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("directory"), "{}", stderr(&out));
    // The same file on both sides: refused before it is truncated.
    let out = highwater(&["copy", &s.s("in.bin"), &s.s("in.bin")]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("same file"), "{}", stderr(&out));
    assert_eq!(std::fs::metadata(s.path("in.bin")).expect("in").len(), 1000);
    // Sizes that do not parse.
    for bad in ["12XB", "-1", "0", "99999999999999999999999GiB"] {
        let out = highwater(&["copy", &s.s("in.bin"), &s.s("x.bin"), "--chunk-size", bad]);
        assert!(!out.status.success(), "{bad}");
        assert!(!s.path("x.bin").exists());
    }
    // A full disk.
    let out = highwater(&["copy", &s.s("in.bin"), "/dev/full"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("ENOSPC"), "{}", stderr(&out));
    // --atomic to stdout makes no sense.
    let out = highwater(&["copy", &s.s("in.bin"), "-", "--atomic"]);
    assert!(!out.status.success());
    let out = highwater(&["no-such-command"]);
    assert!(!out.status.success());
}

#[test]
fn an_interrupted_atomic_copy_leaves_the_old_destination_whole() {
    let s = Scratch::new("sigint");
    sample(&s.path("in.bin"), 2 << 20);
    for sig in ["-INT", "-TERM"] {
        std::fs::write(s.path("out.bin"), b"the old, complete content").expect("old");
        let child = bin()
            .args([
                "copy",
                &s.s("in.bin"),
                &s.s("out.bin"),
                "--atomic",
                "--rate",
                "1MiB/s",
            ])
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // Ready: the copy is under way (its temporary file has data).
        let tmp = s.path(&format!(".out.bin.highwater-{}.tmp", child.id()));
        wait_until("the copy writes its temporary file", || size_of(&tmp) > 0);
        let killed = Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let out = child.wait_with_output().expect("wait");
        assert_eq!(out.status.code(), Some(130), "{sig}: {}", stderr(&out));
        assert!(stderr(&out).contains("interrupted"));
        assert_eq!(
            std::fs::read(s.path("out.bin")).expect("out"),
            b"the old, complete content",
            "{sig}: the destination keeps its old content"
        );
        let names = s.names();
        assert_eq!(names.len(), 2, "{sig}: no temporary file left: {names:?}");
    }
}
