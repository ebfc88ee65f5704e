//! `highwater send` and `highwater recv` as a user runs them: two processes
//! on loopback, real files in a scratch folder.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod common;
use common::{bin, size_of, spawn_listening, wait_until, Scratch};

const MIB: u64 = 1 << 20;

/// A file of `len` bytes, sparse but for a patch of pseudo-random bytes every
/// 4 MiB (and at the very end), so that a misplaced or lost block shows.
fn make_input(path: &Path, len: u64) {
    let mut f = File::create(path).expect("create");
    f.set_len(len).expect("set_len");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ len;
    let mut patch = vec![0u8; 64 * 1024];
    let mut at = 0;
    while at < len {
        for b in patch.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let n = patch.len().min((len - at) as usize);
        f.seek(SeekFrom::Start(at)).expect("seek");
        f.write_all(&patch[..n]).expect("write");
        at += 4 * MIB;
    }
    let tail = len.saturating_sub(1000);
    f.seek(SeekFrom::Start(tail)).expect("seek");
    f.write_all(&patch[..(len - tail) as usize]).expect("write");
}

/// Compares two files 1 MiB at a time.
fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(mut fa), Ok(mut fb)) = (File::open(a), File::open(b)) else {
        return false;
    };
    let (mut ba, mut bb) = (vec![0u8; MIB as usize], vec![0u8; MIB as usize]);
    loop {
        let na = read_full(&mut fa, &mut ba);
        let nb = read_full(&mut fb, &mut bb);
        if na != nb || ba[..na] != bb[..nb] {
            return false;
        }
        if na == 0 {
            return true;
        }
    }
}

fn read_full(f: &mut File, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    n
}

/// A running `highwater recv`, its address, and the rest of its stderr.
struct Receiver {
    child: Child,
    addr: String,
    stderr: JoinHandle<String>,
}

fn spawn_recv(args: &[&str]) -> Receiver {
    let (child, addr, stderr) = spawn_listening(args, Stdio::piped());
    Receiver {
        child,
        addr,
        stderr,
    }
}

impl Receiver {
    fn finish(mut self) -> (ExitStatus, String, String) {
        let mut out = String::new();
        if let Some(mut o) = self.child.stdout.take() {
            let _ = o.read_to_string(&mut out);
        }
        let status = self.child.wait().expect("wait recv");
        (status, out, self.stderr.join().unwrap_or_default())
    }
}

/// Peak resident memory (VmHWM) of a running process, in bytes.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Watches process `pid`'s peak memory until it exits (its `VmHWM` line
/// goes when it becomes a zombie); the thread returns the last peak seen.
fn watch_rss(pid: u32) -> JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while let Some(p) = peak_rss(pid) {
            peak = peak.max(p);
            std::thread::sleep(Duration::from_millis(5));
        }
        peak
    })
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("JSON report: {e}: {text:?}"))
}

#[test]
fn send_and_recv_carry_256_mib_byte_for_byte() {
    let s = Scratch::new("big");
    make_input(&s.path("in.bin"), 256 * MIB);
    let started = Instant::now();
    let recv = spawn_recv(&[&s.s("out.bin"), "--json", "--high-water-mark", "256KiB"]);
    let sent = bin()
        .args(["send", &recv.addr, &s.s("in.bin"), "--json"])
        .output()
        .expect("send");
    let (status, out, err) = recv.finish();
    let secs = started.elapsed().as_secs_f64();
    assert!(
        sent.status.success(),
        "send: {}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(status.success(), "recv: {err}");
    assert!(
        same_file(&s.path("in.bin"), &s.path("out.bin")),
        "out.bin differs"
    );
    let (sj, rj) = (json(&String::from_utf8_lossy(&sent.stdout)), json(&out));
    assert_eq!(sj["command"], "send");
    assert_eq!(rj["command"], "recv");
    assert_eq!(sj["bytes"], 256 * MIB);
    assert_eq!(rj["bytes"], 256 * MIB);
    eprintln!(
        "256 MiB over loopback in {secs:.2} s (sender {:.0} MiB/s, receiver {:.0} MiB/s)",
        sj["rate_bytes_per_second"]["average"]
            .as_f64()
            .unwrap_or(0.0)
            / MIB as f64,
        rj["rate_bytes_per_second"]["average"]
            .as_f64()
            .unwrap_or(0.0)
            / MIB as f64
    );
}

/// One rate-limited transfer of `size` bytes: the sender's peak memory and
/// its report.
fn slow_receiver_run(s: &Scratch, size: u64) -> (u64, u64, serde_json::Value) {
    let name = format!("in-{size}.bin");
    make_input(&s.path(&name), size);
    let recv = spawn_recv(&[&s.s("out.bin"), "--rate", "20MiB", "--json"]);
    let mut sender = bin()
        .args(["send", &recv.addr, &s.s(&name), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("send");
    let mut sout = sender.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut t = String::new();
        let _ = sout.read_to_string(&mut t);
        t
    });
    let (swatch, rwatch) = (watch_rss(sender.id()), watch_rss(recv.child.id()));
    let mut serr = String::new();
    if let Some(mut e) = sender.stderr.take() {
        let _ = e.read_to_string(&mut serr);
    }
    let sstatus = sender.wait().expect("wait send");
    let (rstatus, rout, rerr) = recv.finish();
    let (speak, rpeak) = (swatch.join().unwrap_or(0), rwatch.join().unwrap_or(0));
    assert!(sstatus.success(), "send: {serr}");
    assert!(rstatus.success(), "recv: {rerr}");
    assert!(same_file(&s.path(&name), &s.path("out.bin")));
    let rj = json(&rout);
    assert!(
        rj["peak_buffered_bytes"].as_u64().unwrap_or(u64::MAX)
            <= rj["high_water_mark_bytes"].as_u64().unwrap_or(0)
                + rj["chunk_size_bytes"].as_u64().unwrap_or(0),
        "the receiver's buffer stays within its mark and one chunk: {rj}"
    );
    let sj = json(&reader.join().unwrap_or_default());
    (speak, rpeak, sj)
}

#[test]
fn a_slow_receiver_holds_the_sender_back_in_bounded_memory() {
    let s = Scratch::new("slow");
    let (small_rss, small_recv_rss, small) = slow_receiver_run(&s, 8 * MIB);
    let (big_rss, big_recv_rss, big) = slow_receiver_run(&s, 32 * MIB);
    let m = |b: u64| b as f64 / MIB as f64;
    eprintln!(
        "peak RSS, 8 MiB then 32 MiB at 20 MiB/s: sender {:.1} / {:.1} MiB, receiver {:.1} / {:.1} MiB",
        m(small_rss),
        m(big_rss),
        m(small_recv_rss),
        m(big_recv_rss)
    );
    // TCP's flow control reaches the sender's streams: its writes wait.
    assert!(
        big["write_false"].as_u64().unwrap_or(0) > 0,
        "the sender was held back: {big}"
    );
    assert!(small_rss > 0 && big_rss > 0 && big_recv_rss > 0, "measured");
    // Four times the data, the same memory: what is in flight is bounded
    // by the marks, one read and the kernel's buffers, not by the file.
    assert!(
        big_rss < small_rss + 4 * MIB,
        "sender memory grew with the file: {small_rss} -> {big_rss}"
    );
    assert!(big_rss < 32 * MIB, "sender peak RSS {big_rss}");
    assert!(
        big_recv_rss < small_recv_rss + 4 * MIB,
        "receiver memory grew with the file: {small_recv_rss} -> {big_recv_rss}"
    );
    assert!(big_recv_rss < 32 * MIB, "receiver peak RSS {big_recv_rss}");
    let _ = small;
}

#[test]
fn a_receiver_killed_mid_transfer_fails_the_sender() {
    let s = Scratch::new("kill-recv");
    make_input(&s.path("in.bin"), 64 * MIB);
    let mut recv = spawn_recv(&[&s.s("out.bin"), "--rate", "8MiB"]);
    let sender = bin()
        .args(["send", &recv.addr, &s.s("in.bin")])
        .stderr(Stdio::piped())
        .spawn()
        .expect("send");
    let out_bin = s.path("out.bin");
    wait_until("data reaches the receiver", || size_of(&out_bin) > 0);
    recv.child.kill().expect("kill the receiver"); // SIGKILL: no cleanup at all
    let out = sender.wait_with_output().expect("send");
    let _ = recv.finish();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("ECONNRESET") || err.contains("EPIPE"), "{err}");
    assert!(
        err.starts_with("highwater: error while sending to 127.0.0.1:"),
        "{err}"
    );
}

#[test]
fn a_sender_killed_mid_transfer_fails_the_receiver_and_atomic_leaves_nothing() {
    let s = Scratch::new("kill-send");
    make_input(&s.path("in.bin"), 64 * MIB);
    let recv = spawn_recv(&[&s.s("out.bin"), "--rate", "8MiB", "--atomic"]);
    let mut sender = bin()
        .args(["send", &recv.addr, &s.s("in.bin")])
        .stderr(Stdio::null())
        .spawn()
        .expect("send");
    // Ready: the receiver's temporary file has data.
    let tmp = s.path(&format!(".out.bin.highwater-{}.tmp", recv.child.id()));
    wait_until("data reaches the receiver", || size_of(&tmp) > 0);
    sender.kill().expect("kill the sender"); // SIGKILL: its kernel resets
    let _ = sender.wait();
    let (status, _, err) = recv.finish();
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("read ECONNRESET"), "{err}");
    assert!(
        err.starts_with("highwater: error while receiving from 127.0.0.1:"),
        "{err}"
    );
    assert_eq!(s.names(), ["in.bin"], "no out.bin, no temporary file");
}

#[test]
fn an_interrupted_sender_resets_the_connection() {
    let s = Scratch::new("int-send");
    make_input(&s.path("in.bin"), 64 * MIB);
    let recv = spawn_recv(&[&s.s("out.bin"), "--rate", "8MiB"]);
    let sender = bin()
        .args(["send", &recv.addr, &s.s("in.bin")])
        .stderr(Stdio::piped())
        .spawn()
        .expect("send");
    let out_bin = s.path("out.bin");
    wait_until("data reaches the receiver", || size_of(&out_bin) > 0);
    let killed = Command::new("kill")
        .args(["-INT", &sender.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = sender.wait_with_output().expect("send");
    assert_eq!(out.status.code(), Some(130));
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    let (status, _, err) = recv.finish();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("ECONNRESET"), "{err}");
}

#[test]
fn stdin_to_stdout_through_the_network() {
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let recv = spawn_recv(&["-", "--high-water-mark", "64KiB"]);
    let mut sender = bin()
        .args(["send", &recv.addr, "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("send");
    let mut stdin = sender.stdin.take().expect("stdin");
    let d = data.clone();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&d);
    });
    let mut rchild = recv;
    let mut got = Vec::new();
    if let Some(mut o) = rchild.child.stdout.take() {
        o.read_to_end(&mut got).expect("stdout");
    }
    feeder.join().expect("feeder");
    let sout = sender.wait_with_output().expect("send");
    assert!(
        sout.status.success(),
        "{}",
        String::from_utf8_lossy(&sout.stderr)
    );
    let (status, _, err) = rchild.finish();
    assert!(status.success(), "{err}");
    assert!(got == data, "{} bytes of {}", got.len(), data.len());
}

#[test]
fn refused_and_busy_addresses_fail_in_one_line() {
    let s = Scratch::new("refused");
    make_input(&s.path("in.bin"), 1000);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let addr = format!("127.0.0.1:{port}");
    let out = bin()
        .args(["send", &addr, &s.s("in.bin")])
        .output()
        .expect("send");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        err.trim(),
        format!(
            "highwater: cannot connect to {addr}: connect ECONNREFUSED {addr} (is a receiver listening there?)"
        )
    );
    // A port in use.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = busy.local_addr().expect("addr").to_string();
    let out = bin()
        .args(["recv", &addr, &s.s("out.bin")])
        .output()
        .expect("recv");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("listen EADDRINUSE: address already in use {addr}")),
        "{err}"
    );
    // Not an address; a missing file (nothing is sent).
    let out = bin()
        .args(["send", "nowhere", &s.s("in.bin")])
        .output()
        .expect("send");
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("HOST:PORT"));
    let out = bin()
        .args(["send", &addr, &s.s("missing")])
        .output()
        .expect("send");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ENOENT"));
    let out = bin()
        .args(["recv", &addr, "-", "--atomic"])
        .output()
        .expect("recv");
    assert_eq!(out.status.code(), Some(2), "a usage error");
}
