//! Faults survived by the `highwater` binary, run as a user runs it: when
//! the reader of its output goes away (EPIPE), when the destination cannot
//! be written (a read-only file system, a read-only sysfs file, a full
//! disk), and when it is interrupted (SIGINT/SIGTERM) at any point of an
//! `--atomic` copy. Every failure is a non-zero exit with one clear line on
//! stderr, never a hang (every run has a generous timeout) nor a panic; an
//! interrupted atomic copy leaves the destination either wholly old or
//! wholly new, and never a temporary file.
//!
//! `cli.rs` has the simple cases (a small file into `/dev/full`, one signal
//! 400 ms into a copy); these extend them to big copies, to every
//! subcommand and stage (the rate limiter), and to signals at many points.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{bin, names_in, sample, wait_until, Scratch};

const MIB: u64 = 1024 * 1024;
/// Far longer than any run takes: reaching it means a hang.
const HANG: Duration = Duration::from_secs(60);

/// Waits for `child` under the hang timeout; its status and stderr.
fn finish(mut child: Child, what: &str) -> (ExitStatus, String) {
    let mut stderr = child.stderr.take().expect("stderr piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if start.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: hung (still running after {HANG:?})");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    (status, reader.join().unwrap_or_default())
}

/// A failure as the CLI must report it: exit status 1 (not a signal, not a
/// panic's 101), and exactly one line on stderr, `highwater: …`, that
/// contains one of `needles`.
fn assert_clean_failure(what: &str, status: ExitStatus, stderr: &str, needles: &[&str]) {
    eprint!("{what}: {status}: {stderr}");
    assert_eq!(status.code(), Some(1), "{what}: {status}, stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{what}: one line: {stderr:?}");
    assert!(stderr.starts_with("highwater: "), "{what}: {stderr:?}");
    assert!(
        needles.iter().any(|n| stderr.contains(n)),
        "{what}: {stderr:?} should say one of {needles:?}"
    );
    assert!(!stderr.contains("panicked"), "{what}: {stderr:?}");
}

// ---------------------------------------------------------------------------
// EPIPE: the reader of standard output goes away.

/// Runs `cmd` with stdout into a pipe whose reader takes one byte, then
/// closes its end: the next write fails with EPIPE (Rust ignores SIGPIPE, so
/// the process is not killed by it), and the CLI must stop at once, quietly
/// (as `pv`, `dd` and `mbuffer` do in `… | head -c 10`), with status 141
/// (128 + SIGPIPE, what a shell shows for `dd` there), never a hang.
fn reader_goes_away(what: &str, mut cmd: Command) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = child.stdout.take().expect("stdout");
    let mut one = [0u8; 1];
    out.read_exact(&mut one).expect("one byte comes out");
    drop(out);
    let (status, stderr) = finish(child, what);
    assert_eq!(
        status.code(),
        Some(141),
        "{what}: {status}, stderr: {stderr}"
    );
    assert_eq!(stderr, "", "{what}: quiet");
}

#[test]
fn a_report_that_cannot_be_printed_never_panics() {
    let s = Scratch::new("report-out");
    let data = sample(&s.path("in.bin"), 1 << 20);
    // The reader of the JSON report is gone before it is printed: the copy
    // is whole, and the end is quiet (141), as for the data.
    let mut child = bin()
        .args(["copy", &s.s("in.bin"), &s.s("out.bin"), "--json"])
        .args(["--rate", "32MiB/s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let (status, stderr) = finish(child, "--json into a closed pipe");
    assert_eq!(status.code(), Some(141), "{status}: {stderr}");
    assert_eq!(stderr, "", "quiet");
    assert_eq!(std::fs::read(s.path("out.bin")).expect("out"), data);
    // A full disk under the report: one line, exit 1, the copy whole.
    let child = bin()
        .args(["copy", &s.s("in.bin"), &s.s("out2.bin"), "--json"])
        .stdout(File::create("/dev/full").expect("/dev/full"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (status, stderr) = finish(child, "--json into a full disk");
    assert_clean_failure(
        "--json into a full disk",
        status,
        &stderr,
        &["the transfer is complete, but its report could not be printed"],
    );
    assert_eq!(std::fs::read(s.path("out2.bin")).expect("out2"), data);
}

#[test]
fn names_that_are_not_utf8_are_files_like_any_other() {
    use std::os::unix::ffi::OsStrExt;
    let s = Scratch::new("bytes");
    let data = sample(&s.path("in.bin"), 100_000);
    let name = std::ffi::OsStr::from_bytes(b"out\xff.bin");
    let out = bin()
        .arg("copy")
        .arg(s.path("in.bin"))
        .arg(s.path("x").with_file_name(name))
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(s.path("x").with_file_name(name)).expect("out"),
        data
    );
}

#[test]
fn a_signal_while_a_fifo_destination_waits_for_its_reader_ends_the_copy() {
    use std::os::unix::fs::FileTypeExt;
    let s = Scratch::new("fifo-wait");
    sample(&s.path("in.bin"), 100_000);
    let made = Command::new("mkfifo")
        .arg(s.path("fifo"))
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    for sig in ["-INT", "-TERM"] {
        let child = bin()
            .args(["copy", &s.s("in.bin"), &s.s("fifo")])
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // Ready: blocked opening the FIFO, waiting for a reader that never
        // comes (the kernel's name for that wait).
        let wchan = format!("/proc/{}/wchan", child.id());
        wait_until("the copy waits for the FIFO's reader", || {
            std::fs::read_to_string(&wchan).is_ok_and(|w| w.trim() == "wait_for_partner")
        });
        let killed = Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let what = format!("{sig} while opening a FIFO");
        let (status, _stderr) = finish(child, &what);
        assert!(
            status.signal().is_some() || status.code() == Some(130),
            "{what}: ended by the signal, not left waiting: {status}"
        );
        let ft = std::fs::symlink_metadata(s.path("fifo"))
            .expect("fifo")
            .file_type();
        assert!(ft.is_fifo(), "{what}: the FIFO is still a FIFO");
    }
}

#[test]
fn a_reader_that_goes_away_ends_the_copy_quietly_not_a_hang() {
    let s = Scratch::new("epipe");
    let big = s.sparse("big.bin", 256 * MIB);
    let mut c = bin();
    c.args(["copy", &big, "-"]);
    reader_goes_away("copy FILE -", c);
    let mut c = bin();
    c.args([
        "copy",
        &big,
        "-",
        "--chunk-size",
        "64KiB",
        "--rate",
        "1GiB/s",
    ]);
    reader_goes_away("copy FILE - --rate", c);
    let mut c = bin();
    c.args(["pipe"])
        .stdin(File::open(s.path("big.bin")).expect("big"));
    reader_goes_away("pipe < FILE", c);
}

// ---------------------------------------------------------------------------
// A destination that cannot be written.

/// A read-only sysfs attribute: opening it for writing fails (EACCES), for
/// root too, since sysfs enforces the mode itself.
fn read_only_sysfs_file() -> Option<&'static str> {
    [
        "/sys/kernel/fscaps",
        "/sys/kernel/address_bits",
        "/sys/kernel/cpu_byteorder",
    ]
    .into_iter()
    .find(|p| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o222 == 0)
    })
}

/// The uid of this process (the owner of `/proc/self`).
fn uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").expect("/proc/self").uid()
}

/// Runs the binary with `dir` mounted read-only, in a private mount
/// namespace (`unshare -m`), if this test may do that; else `None`.
fn with_read_only_mount(dir: &Path, args: &[&str]) -> Option<Command> {
    let script =
        "mount --bind \"$1\" \"$1\" && mount -o remount,bind,ro \"$1\" && shift && exec \"$@\"";
    let probe = Command::new("unshare")
        .args(["-m", "sh", "-c"])
        .arg(format!("{script} 2>/dev/null"))
        .arg("sh")
        .arg(dir)
        .args([
            "sh",
            "-c",
            "if touch \"$0/probe\" 2>/dev/null; then rm -f \"$0/probe\"; exit 1; fi",
        ])
        .arg(dir)
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        return None;
    }
    let mut c = Command::new("unshare");
    c.args(["-m", "sh", "-c", script, "sh"])
        .arg(dir)
        .arg(env!("CARGO_BIN_EXE_highwater"))
        .args(args);
    Some(c)
}

#[test]
fn a_read_only_destination_fails_cleanly_and_changes_nothing() {
    let s = Scratch::new("ro");
    let src = s.sparse("src.bin", 8 * MIB);

    // A read-only sysfs file, with and without --atomic (whose temporary
    // file cannot be created in /sys either).
    match read_only_sysfs_file() {
        Some(ro) => {
            let before = std::fs::read(ro).expect("readable");
            for atomic in [false, true] {
                let mut c = bin();
                c.args(["copy", &src, ro]);
                if atomic {
                    c.arg("--atomic");
                }
                let child = c.stderr(Stdio::piped()).spawn().expect("spawn");
                let what = format!("copy to {ro} atomic={atomic}");
                let (status, stderr) = finish(child, &what);
                assert_clean_failure(&what, status, &stderr, &["EACCES", "ENOENT", "EROFS"]);
                assert_eq!(std::fs::read(ro).expect("readable"), before, "{what}");
            }
        }
        None => eprintln!("SKIPPED: no read-only sysfs file found"),
    }

    // A read-only file system: a read-only bind mount of a folder holding
    // the old destination, made in a private mount namespace (needs the
    // right to mount: root, or CAP_SYS_ADMIN). Without it, a folder without
    // write permission does the same for a user other than root.
    let ro_dir = s.path("ro");
    std::fs::create_dir_all(&ro_dir).expect("ro dir");
    let dst = ro_dir.join("out.bin");
    let old = b"the old, complete content".to_vec();
    std::fs::write(&dst, &old).expect("old");
    let dst_s = dst.to_string_lossy().into_owned();
    for atomic in [false, true] {
        let mut args = vec!["copy", src.as_str(), dst_s.as_str()];
        if atomic {
            args.push("--atomic");
        }
        let what = format!("copy into a read-only folder, atomic={atomic}");
        let (mut cmd, needles): (Command, &[&str]) = match with_read_only_mount(&ro_dir, &args) {
            Some(c) => (c, &["EROFS"]),
            None if uid() != 0 => {
                std::fs::set_permissions(&ro_dir, std::fs::Permissions::from_mode(0o555))
                    .expect("chmod");
                std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o444))
                    .expect("chmod");
                let mut c = bin();
                c.args(&args);
                (c, &["EACCES"])
            }
            None => {
                eprintln!("SKIPPED ({what}): cannot mount here, and root ignores permissions");
                continue;
            }
        };
        let child = cmd.stderr(Stdio::piped()).spawn().expect("spawn");
        let (status, stderr) = finish(child, &what);
        let _ = std::fs::set_permissions(&ro_dir, std::fs::Permissions::from_mode(0o755));
        assert_clean_failure(&what, status, &stderr, needles);
        assert_eq!(std::fs::read(&dst).expect("dst"), old, "{what}: untouched");
        assert_eq!(names_in(&ro_dir), ["out.bin"], "{what}: nothing created");
    }
}

#[test]
fn a_full_disk_fails_cleanly_in_every_configuration() {
    let s = Scratch::new("full");
    let big = s.sparse("big.bin", 64 * MIB);
    let runs: Vec<(&str, Vec<&str>)> = vec![
        ("copy 64 MiB", vec!["copy", &big, "/dev/full"]),
        (
            "copy, small chunks and mark",
            vec![
                "copy",
                &big,
                "/dev/full",
                "--chunk-size",
                "16KiB",
                "--high-water-mark",
                "4KiB",
            ],
        ),
        (
            "copy through the rate limiter",
            vec!["copy", &big, "/dev/full", "--rate", "1GiB/s", "--stats"],
        ),
        ("copy --fsync", vec!["copy", &big, "/dev/full", "--fsync"]),
    ];
    for (what, args) in runs {
        let child = bin()
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let (status, stderr) = finish(child, what);
        assert_clean_failure(what, status, &stderr, &["ENOSPC"]);
    }
    // Standard output on a full disk.
    let child = bin()
        .args(["pipe"])
        .stdin(File::open(s.path("big.bin")).expect("big"))
        .stdout(File::create("/dev/full").expect("/dev/full"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (status, stderr) = finish(child, "pipe > /dev/full");
    assert_clean_failure("pipe > /dev/full", status, &stderr, &["ENOSPC"]);
}

// ---------------------------------------------------------------------------
// Interrupted at any point of an atomic copy.

/// Deterministic pseudo-random numbers (the delays are the same every run).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[derive(Debug, Default)]
struct Tally {
    interrupted: usize,
    completed: usize,
    killed_before_handlers: usize,
}

#[test]
fn a_signal_at_any_point_of_an_atomic_copy_leaves_old_or_new_never_a_mix() {
    let s = Scratch::new("signals");
    // 6 MiB at 16 MiB/s: the copy takes at least 375 ms, whatever the load.
    let new = sample(&s.path("in.bin"), 6 << 20);
    let old = b"the old, complete content".to_vec();
    let mut rng = Lcg(0x5eed);
    let mut tally = Tally::default();
    let mut stratum = 0;
    for i in 0..20 {
        std::fs::write(s.path("out.bin"), &old).expect("old");
        let sig = if i % 2 == 0 { "-INT" } else { "-TERM" };
        let mut args = vec![
            "copy".to_string(),
            s.s("in.bin"),
            s.s("out.bin"),
            "--atomic".into(),
            "--rate".into(),
            "16MiB/s".into(),
            "--chunk-size".into(),
            "64KiB".into(),
        ];
        if i % 3 == 0 {
            args.push("--fsync".into());
        }
        let child = bin()
            .args(&args)
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // Every fifth run: the signal right away (perhaps before the CLI
        // listens for it). The others: once the temporary file appeared, a
        // pseudo-random delay in the next 30 ms slice of [0, 480 ms), from
        // the first chunks to past the end of the copy.
        let delay = if i % 5 == 0 {
            None
        } else {
            let started = Instant::now();
            while !s
                .names()
                .iter()
                .any(|n| n.starts_with(".out.bin.highwater-"))
                && started.elapsed() < HANG
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            let d = Duration::from_millis(stratum * 30 + rng.below(30));
            stratum += 1;
            std::thread::sleep(d);
            Some(d)
        };
        let killed = Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let what = format!("run {i}: {sig} after {delay:?}");
        let (status, stderr) = finish(child, &what);
        let content = std::fs::read(s.path("out.bin")).expect("out.bin exists");
        match (status.code(), status.signal()) {
            (Some(130), _) => {
                tally.interrupted += 1;
                assert_eq!(stderr, "highwater: interrupted\n", "{what}");
                assert!(content == old, "{what}: interrupted, the old content stays");
            }
            (Some(0), _) => {
                tally.completed += 1;
                assert!(content == new, "{what}: completed, the new content whole");
            }
            (None, Some(_)) => {
                // Killed before the CLI listened: it had created nothing.
                tally.killed_before_handlers += 1;
                assert!(content == old, "{what}: the old content stays");
            }
            _ => panic!("{what}: unexpected {status}, stderr {stderr:?}"),
        }
        assert_eq!(
            s.names(),
            ["in.bin", "out.bin"],
            "{what}: no temporary file left"
        );
    }
    eprintln!("{tally:?}");
    // The first five slices end at 150 ms, long before the copy can.
    assert!(
        tally.interrupted >= 5,
        "signals during the copy interrupt it: {tally:?}"
    );
}
