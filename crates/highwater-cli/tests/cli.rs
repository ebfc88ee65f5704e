//! Integration tests of the `highwater` binary.

use std::process::Command;

fn highwater(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_highwater"))
        .args(args)
        .output()
        .expect("the highwater binary runs")
}

#[test]
fn demo_narrates_backpressure_and_respects_the_mark() {
    let out = highwater(&[
        "demo",
        "--chunks",
        "12",
        "--chunk-size",
        "1024",
        "--high-water-mark",
        "4096",
        "--delay-ms",
        "1",
    ]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
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
fn demo_quiet_prints_only_the_summary() {
    let out = highwater(&["demo", "--quiet", "--delay-ms", "0", "--chunks", "5"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("write #1"), "{text}");
    assert!(text.contains("summary"), "{text}");
}

#[test]
fn bad_options_fail_clearly() {
    let out = highwater(&["demo", "--chunk-size", "0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--chunk-size must be at least 1"));

    let out = highwater(&["demo", "--chunks", "-3"]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).is_empty());

    let out = highwater(&["no-such-command"]);
    assert!(!out.status.success());
}
