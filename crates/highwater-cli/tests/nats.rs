//! `highwater copy` through NATS JetStream: file → stream → file, against
//! real `nats-server` processes that each test starts on free loopback
//! ports with its own store folder, and stops (a drop guard).
//!
//! Where no `nats-server` is installed (on PATH or at /usr/sbin), the tests
//! say they were skipped, unless `HIGHWATER_REQUIRE_NATS=1` (CI sets it),
//! which makes that a failure.
//!
//! Every wait is for a signal (the server's "Server is ready" line, a file
//! that grows, the stream's message count from the server's monitoring
//! port, a process that exits), never a fixed sleep.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;
use common::{bin, size_of, wait_until, Scratch};

const MIB: u64 = 1024 * 1024;
/// Far longer than any run takes: reaching it means a hang.
const HANG: Duration = Duration::from_secs(40);

/// The `nats-server` binary, or `None` (the test is skipped) where it is
/// missing and not required.
fn nats_server_bin() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var("HIGHWATER_REQUIRE_NATS").as_deref() != Ok("1"),
            "nats-server is not installed, and HIGHWATER_REQUIRE_NATS=1 requires it"
        );
        eprintln!("skipped: nats-server is not installed (apt-get install nats-server)");
    }
    found
}

/// A free loopback port (bound, then released for the server to take).
fn free_port() -> u16 {
    free_ports(1)[0]
}

/// `n` free loopback ports, all different: every one is held until all are
/// chosen (two ports taken one after the other could be the same one).
/// Another process may still take one before the server does:
/// [`Server::single`] then starts again on fresh ports.
fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("a bound port").port())
        .collect()
}

/// One `nats-server` process; killed (SIGKILL) and reaped on drop.
struct Server {
    exe: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
    /// The client port.
    port: u16,
    /// The monitoring (HTTP) port.
    monitor: u16,
}

impl Server {
    /// A single JetStream server with its store in `dir`. Should a port it
    /// was given be taken by another process before the server binds it,
    /// the server exits; it is then started again on fresh ports.
    fn single(exe: &Path, dir: &Path) -> Server {
        let mut attempt = 0;
        loop {
            let mut s = Server::single_on(exe, dir, free_ports(2));
            match s.try_start("Server is ready") {
                Ok(()) => return s,
                Err(log) if attempt < 5 && log.contains("address already in use") => attempt += 1,
                Err(log) => panic!("nats-server exited before it was ready:\n{log}"),
            }
        }
    }

    fn single_on(exe: &Path, dir: &Path, ports: Vec<u16>) -> Server {
        let (port, monitor) = (ports[0], ports[1]);
        let store = dir.join("store");
        let args = vec![
            "-js".into(),
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "-m".into(),
            monitor.to_string(),
            "-sd".into(),
            store.to_string_lossy().into_owned(),
        ];
        Server {
            exe: exe.to_path_buf(),
            args,
            log: dir.join("server.log"),
            child: None,
            port,
            monitor,
        }
    }

    /// Starts (or restarts, on the same ports and store) the process and
    /// waits for `ready` in its log; panics with the log if the process
    /// exits first.
    fn start(&mut self, ready: &str) {
        if let Err(log) = self.try_start(ready) {
            panic!("nats-server exited before it was ready:\n{log}");
        }
    }

    /// [`start`](Self::start), giving back the log when the process exits
    /// before it is ready (a port taken, a bad configuration) instead of
    /// waiting out the deadline.
    fn try_start(&mut self, ready: &str) -> Result<(), String> {
        let log = File::create(&self.log).expect("server log");
        let child = Command::new(&self.exe)
            .args(&self.args)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let log = self.log.clone();
        let mut exited = false;
        wait_until(&format!("'{ready}' in {}", log.display()), || {
            if std::fs::read_to_string(&log).is_ok_and(|l| l.contains(ready)) {
                return true;
            }
            exited = self
                .child
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
            exited
        });
        if exited {
            self.child = None;
            return Err(std::fs::read_to_string(&log).unwrap_or_default());
        }
        Ok(())
    }

    /// SIGKILL, and reaped.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self, stream: &str) -> String {
        format!("nats://127.0.0.1:{}/{stream}", self.port)
    }

    /// Messages stored in every stream of the server (the monitoring
    /// port's `/jsz`); `None` while it does not answer.
    fn messages(&self) -> Option<u64> {
        let mut c = TcpStream::connect(("127.0.0.1", self.monitor)).ok()?;
        c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            c,
            "GET /jsz HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut body = String::new();
        c.read_to_string(&mut body).ok()?;
        let json = body.split_once("\r\n\r\n")?.1;
        let v: serde_json::Value = serde_json::from_str(json).ok()?;
        v["messages"].as_u64()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `len` bytes in which every 8-byte word is its own offset (mixed): a
/// chunk out of place, lost or doubled shows in a comparison.
fn make_file(path: &Path, len: u64) {
    let mut f = std::io::BufWriter::new(File::create(path).expect("create"));
    let mut block = vec![0u8; MIB as usize];
    let mut off = 0u64;
    while off < len {
        let n = (len - off).min(MIB) as usize;
        for (i, w) in block[..n].chunks_mut(8).enumerate() {
            let v = (off + 8 * i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            w.copy_from_slice(&v.to_le_bytes()[..w.len()]);
        }
        f.write_all(&block[..n]).expect("write");
        off += n as u64;
    }
    f.flush().expect("flush");
}

/// Whether two files have the same bytes (read a block at a time).
fn same_bytes(a: &Path, b: &Path) -> bool {
    let (Ok(fa), Ok(fb)) = (File::open(a), File::open(b)) else {
        return false;
    };
    if fa.metadata().map(|m| m.len()).ok() != fb.metadata().map(|m| m.len()).ok() {
        return false;
    }
    let (mut ra, mut rb) = (BufReader::new(fa), BufReader::new(fb));
    let (mut ba, mut bb) = (vec![0u8; MIB as usize], vec![0u8; MIB as usize]);
    loop {
        let n = read_full(&mut ra, &mut ba);
        let m = read_full(&mut rb, &mut bb);
        if n != m || ba[..n] != bb[..m] {
            return false;
        }
        if n == 0 {
            return true;
        }
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n
}

/// A `highwater` child with its stdout (the `--json` line) and stderr
/// collected by threads.
struct Running {
    child: Child,
    json: mpsc::Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

fn spawn(args: &[&str]) -> Running {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the highwater binary runs");
    let (tx, json) = mpsc::channel();
    let out = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        let mut out = BufReader::new(out);
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let _ = tx.send(line);
        let _ = std::io::copy(&mut out, &mut std::io::sink());
    });
    let mut err = child.stderr.take().expect("stderr");
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    Running {
        child,
        json,
        stderr: Some(stderr),
    }
}

/// How a run ended: its status, JSON report (if it printed one), stderr.
struct Ended {
    ok: bool,
    report: Option<serde_json::Value>,
    stderr: String,
}

impl Running {
    /// What it printed on stderr (once it has exited).
    fn stderr_text(&mut self) -> String {
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }

    fn wait(mut self) -> Ended {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if start.elapsed() > HANG {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("no exit after {HANG:?}; its stderr: {}", self.stderr_text());
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let report = self
            .json
            .recv_timeout(Duration::from_secs(5))
            .ok()
            .and_then(|l| serde_json::from_str(&l).ok());
        Ended {
            ok: status.success(),
            report,
            stderr: self.stderr_text(),
        }
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    /// A test that fails leaves no process behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `VmHWM` (peak RSS) of a live process, in bytes.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The scheduler state of a process (`R`, `S`, …).
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().next()?.chars().next()
}

/// Runs `highwater ARGS… --json --plot FIFO` and takes its peak RSS once
/// it is done: after the JSON line, it blocks opening the FIFO (asleep,
/// with nothing left to allocate), and the kernel's VmHWM is final then.
/// Returns a thread that ends with (peak RSS, report).
fn measured(
    s: &Scratch,
    name: &str,
    args: Vec<String>,
) -> std::thread::JoinHandle<(u64, serde_json::Value)> {
    let fifo = s.path(&format!("{name}.svg"));
    let _ = std::fs::remove_file(&fifo);
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    std::thread::spawn(move || {
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        let f = fifo.to_string_lossy().into_owned();
        args.extend(["--json", "--plot", &f]);
        let r = spawn(&args);
        let pid = r.child.id();
        let start = Instant::now();
        let mut report: Option<serde_json::Value> = None;
        let mut r = r;
        let rss = loop {
            assert!(start.elapsed() < HANG, "{args:?}: no result");
            if let Some(st) = r.child.try_wait().expect("try_wait") {
                panic!(
                    "{args:?}: exited ({st}) before plotting: {}",
                    r.stderr_text()
                );
            }
            if report.is_none() {
                if let Ok(line) = r.json.try_recv() {
                    report = Some(serde_json::from_str(&line).expect("JSON"));
                }
            }
            if report.is_some() && state(pid) == Some('S') {
                break vm_hwm(pid).expect("VmHWM");
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let svg = std::fs::read_to_string(&fifo).expect("the plot");
        assert!(svg.starts_with("<svg"));
        let ended = r.wait();
        assert!(ended.ok, "{args:?}: {}", ended.stderr);
        (rss, report.expect("report"))
    })
}

fn mib(b: u64) -> String {
    format!("{:.2} MiB", b as f64 / MIB as f64)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The peak RSS of either process may not exceed this, whatever the size.
const RSS_BOUND: u64 = 32 * MIB;

#[test]
fn a_file_through_jetstream_is_byte_identical_and_memory_does_not_grow_with_it() {
    let Some(exe) = nats_server_bin() else { return };
    let s = Scratch::new("nats-roundtrip");
    let server = Server::single(&exe, s.dir());
    let mut peaks = Vec::new();
    for (i, size) in [64 * MIB, 256 * MIB].into_iter().enumerate() {
        let src = s.path("src.bin");
        let dst = s.path("dst.bin");
        let _ = std::fs::remove_file(&dst);
        make_file(&src, size);
        let url = server.url(&format!("rt{i}"));
        // The receiver first: it waits for the stream's first message, so
        // the stream must exist (a sender creates it; receiving from a
        // stream that does not exist is an error). Sender then receiver,
        // concurrently, once the stream is there.
        let sender = measured(&s, "send", strings(&["copy", &src.to_string_lossy(), &url]));
        wait_until("the stream has messages", || {
            server.messages().is_some_and(|m| m > 0)
        });
        let receiver = measured(
            &s,
            "recv",
            strings(&["copy", &url, &dst.to_string_lossy(), "--atomic"]),
        );
        let (send_rss, send_report) = sender.join().expect("sender");
        let (recv_rss, recv_report) = receiver.join().expect("receiver");
        assert_eq!(send_report["bytes"], size);
        assert_eq!(recv_report["bytes"], size);
        assert_eq!(recv_report["nats"]["verified"], true);
        assert_eq!(recv_report["nats"]["length"], size);
        assert!(
            same_bytes(&src, &dst),
            "{} MiB: the copy differs",
            size / MIB
        );
        eprintln!(
            "{} MiB file -> JetStream -> file: peak RSS send {}, receive {}",
            size / MIB,
            mib(send_rss),
            mib(recv_rss)
        );
        for (who, rss) in [("sender", send_rss), ("receiver", recv_rss)] {
            assert!(
                rss <= RSS_BOUND,
                "{who}: peak RSS {} over {}",
                mib(rss),
                mib(RSS_BOUND)
            );
        }
        peaks.push((send_rss, recv_rss));
        // Work-queue retention: the receiver's acknowledgements emptied it.
        assert_eq!(server.messages(), Some(0), "the stream keeps nothing");
    }
    // The same at 64 and 256 MiB: within a few chunks (256 KiB each) of
    // what can be in flight at a different moment.
    let slack = 4 * MIB;
    assert!(
        peaks[1].0 <= peaks[0].0 + slack && peaks[1].1 <= peaks[0].1 + slack,
        "peak RSS grows with the file: {peaks:?}"
    );
}

/// Sends `size` bytes to a receiver limited to `rate`, with `backlog`
/// (if any); returns the most messages the stream held at once, the
/// sender's report, and whether the sender finished while the receiver
/// still had most of the file to go.
fn slow_receiver(backlog: Option<&str>, tag: &str) -> (u64, serde_json::Value, bool) {
    let exe = nats_server_bin().expect("checked by the caller");
    let s = Scratch::new(tag);
    let server = Server::single(&exe, s.dir());
    let size = 24 * MIB;
    let src = s.path("src.bin");
    let dst = s.path("dst.bin");
    make_file(&src, size);
    let url = server.url("slow");
    // The receiver's consumer must exist for the sender's bound to count
    // its backlog: the sender creates it too, by the same name.
    let mut send_args = vec![
        "copy".to_string(),
        src.to_string_lossy().into_owned(),
        url.clone(),
        "--json".into(),
    ];
    if let Some(b) = backlog {
        send_args.extend(["--backlog".into(), b.into()]);
    }
    let sender = spawn(&send_args.iter().map(String::as_str).collect::<Vec<_>>());
    wait_until("the stream has messages", || {
        server.messages().is_some_and(|m| m > 0)
    });
    let receiver = spawn(&[
        "copy",
        &url,
        &dst.to_string_lossy(),
        "--rate",
        "8MiB/s",
        "--json",
    ]);
    let mut peak = 0;
    let mut sender = Some(sender);
    let mut sender_report = None;
    let mut sender_first = false;
    let mut receiver = receiver;
    let start = Instant::now();
    loop {
        assert!(start.elapsed() < HANG, "hang");
        if let Some(m) = server.messages() {
            peak = peak.max(m);
        }
        if let Some(sd) = sender.as_mut() {
            if sd.child.try_wait().expect("try_wait").is_some() {
                let ended = sender.take().expect("sender").wait();
                assert!(ended.ok, "sender: {}", ended.stderr);
                sender_report = ended.report;
                sender_first = size_of(&dst) < size / 2;
            }
        }
        if receiver.child.try_wait().expect("try_wait").is_some() && sender.is_none() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let ended = receiver.wait();
    assert!(ended.ok, "receiver: {}", ended.stderr);
    assert!(same_bytes(&src, &dst), "the copy differs");
    (peak, sender_report.expect("sender report"), sender_first)
}

#[test]
fn a_backlog_bound_holds_the_sender_to_the_slow_receiver() {
    if nats_server_bin().is_none() {
        return;
    }
    let bound = 8;
    let (peak, report, sender_first) = slow_receiver(Some("8"), "nats-backlog");
    eprintln!("with --backlog {bound}: the stream held at most {peak} messages");
    // The sender waited on the bound, and that filled its buffer: write()
    // returned false because the receiver was slow.
    assert!(
        report["nats"]["backlog_waits"].as_u64() > Some(0),
        "{report}"
    );
    assert!(report["write_false"].as_u64() > Some(0), "{report}");
    // The server never held more than the bound, plus one batch in flight
    // (at most the mark, 1 MiB, in 256 KiB chunks, and one more chunk),
    // plus the end marker.
    let in_flight = 1024 / 256 + 1;
    assert!(
        peak <= bound + in_flight + 1,
        "the stream held {peak} messages, over {bound} + {in_flight} in flight"
    );
    assert!(!sender_first, "the sender ran ahead of the receiver");
}

#[test]
fn without_a_bound_the_stream_absorbs_the_difference() {
    if nats_server_bin().is_none() {
        return;
    }
    let (peak, report, sender_first) = slow_receiver(None, "nats-nobound");
    eprintln!("without a bound: the stream held up to {peak} messages");
    // The sender finished while the slow receiver had most of the file to
    // go: the stream held it, not the sender (whose buffer peaked at its
    // mark, the memory bound of the round-trip test).
    assert!(sender_first, "the sender waited for the receiver");
    assert!(peak > 24 * 4 / 2, "the stream held only {peak} messages");
    assert!(
        report["peak_buffered_bytes"].as_u64() <= Some(MIB),
        "{report}"
    );
    assert_eq!(report["nats"]["backlog_waits"], 0);
}

#[test]
fn the_server_killed_and_restarted_mid_transfer_loses_and_doubles_nothing() {
    let Some(exe) = nats_server_bin() else { return };
    let s = Scratch::new("nats-serverkill");
    let mut server = Server::single(&exe, s.dir());
    let size = 32 * MIB;
    let src = s.path("src.bin");
    let dst = s.path("dst.bin");
    make_file(&src, size);
    let url = server.url("faults");
    let sender = spawn(&["copy", &src.to_string_lossy(), &url, "--backlog", "16"]);
    wait_until("the stream has messages", || {
        server.messages().is_some_and(|m| m > 0)
    });
    let receiver = spawn(&[
        "copy",
        &url,
        &dst.to_string_lossy(),
        "--rate",
        "16MiB/s",
        "--ack-wait",
        "2",
        "--json",
    ]);
    wait_until("a quarter received", || size_of(&dst) >= size / 4);
    server.kill();
    server.start("Server is ready");
    let sent = sender.wait();
    assert!(sent.ok, "sender: {}", sent.stderr);
    let got = receiver.wait();
    assert!(got.ok, "receiver: {}", got.stderr);
    assert!(same_bytes(&src, &dst), "the copy differs");
    assert_eq!(got.report.expect("report")["nats"]["verified"], true);
}

#[test]
fn a_receiver_killed_mid_transfer_resumes_from_the_acknowledged_point() {
    let Some(exe) = nats_server_bin() else { return };
    let s = Scratch::new("nats-recvkill");
    let server = Server::single(&exe, s.dir());
    let size = 24 * MIB;
    let src = s.path("src.bin");
    let dst = s.path("dst.bin");
    make_file(&src, size);
    let url = server.url("resume");
    let sent = spawn(&["copy", &src.to_string_lossy(), &url]).wait();
    assert!(sent.ok, "sender: {}", sent.stderr);
    let recv_args = [
        "copy",
        &url,
        &dst.to_string_lossy(),
        "--atomic",
        "--rate",
        "16MiB/s",
        "--ack-wait",
        "1",
        "--json",
    ];
    let first = spawn(&recv_args);
    // --atomic writes `.dst.bin.highwater-ID.part` until the end.
    let part = || {
        common::names_in(s.dir())
            .into_iter()
            .find(|n| n.ends_with(".part"))
            .map(|n| s.path(&n))
    };
    wait_until("a quarter received", || {
        part().is_some_and(|p| size_of(&p) >= size / 4)
    });
    first.kill();
    assert!(!dst.exists(), "no destination before the transfer is whole");
    let second = spawn(&recv_args).wait();
    assert!(second.ok, "restarted receiver: {}", second.stderr);
    let report = second.report.expect("report");
    let resumed = report["nats"]["resumed_at_byte"].as_u64().expect("resumed");
    assert!(resumed > 0, "the restart began again from 0: {report}");
    assert_eq!(report["bytes"].as_u64(), Some(size - resumed), "{report}");
    assert!(same_bytes(&src, &dst), "the copy differs");
    assert!(part().is_none(), "the partial file was renamed");
}

#[test]
fn a_three_node_cluster_loses_nothing_when_a_node_dies() {
    let Some(exe) = nats_server_bin() else { return };
    let s = Scratch::new("nats-cluster");
    let ports: Vec<(u16, u16, u16)> = free_ports(9)
        .chunks(3)
        .map(|p| (p[0], p[1], p[2]))
        .collect();
    let routes: Vec<String> = ports
        .iter()
        .map(|(_, r, _)| format!("nats-route://127.0.0.1:{r}"))
        .collect();
    let mut nodes: Vec<Server> = Vec::new();
    for (i, (port, route, monitor)) in ports.iter().enumerate() {
        let conf = s.path(&format!("n{i}.conf"));
        std::fs::write(
            &conf,
            format!(
                "server_name: n{i}\nlisten: 127.0.0.1:{port}\nhttp: 127.0.0.1:{monitor}\n\
                 jetstream {{ store_dir: \"{}\" }}\n\
                 cluster {{\n  name: hw\n  listen: 127.0.0.1:{route}\n  routes: [ {} ]\n}}\n",
                s.path(&format!("s{i}")).display(),
                routes.join(", ")
            ),
        )
        .expect("config");
        let mut n = Server {
            exe: exe.clone(),
            args: vec!["-c".into(), conf.to_string_lossy().into_owned()],
            log: s.path(&format!("n{i}.log")),
            child: None,
            port: *port,
            monitor: *monitor,
        };
        // Each node is up on its own; the cluster is ready once a
        // metadata leader is elected (checked below).
        n.start("Server is ready");
        nodes.push(n);
    }
    wait_until("a JetStream metadata leader", || {
        (0..3).any(|i| {
            std::fs::read_to_string(s.path(&format!("n{i}.log")))
                .is_ok_and(|l| l.contains("JetStream cluster new metadata leader"))
        })
    });
    let size = 16 * MIB;
    let src = s.path("src.bin");
    let dst = s.path("dst.bin");
    make_file(&src, size);
    // The sender talks to n0, the receiver to n1; n0 dies mid-transfer:
    // the sender reconnects to another node and republishes what was not
    // acknowledged, the stream (3 replicas) keeps everything.
    let sender = spawn(&[
        "copy",
        &src.to_string_lossy(),
        &nodes[0].url("cl"),
        "--replicas",
        "3",
    ]);
    wait_until("the stream has messages", || {
        nodes[1].messages().is_some_and(|m| m > 0)
    });
    let receiver = spawn(&[
        "copy",
        &nodes[1].url("cl"),
        &dst.to_string_lossy(),
        "--rate",
        "8MiB/s",
        "--ack-wait",
        "2",
        "--json",
    ]);
    wait_until("a quarter received", || size_of(&dst) >= size / 4);
    nodes[0].kill();
    let sent = sender.wait();
    let got = receiver.wait();
    // Either end may report that it could not finish (a clear error), but
    // a file that is there and reported complete is the whole file.
    assert!(sent.ok, "sender: {}", sent.stderr);
    assert!(got.ok, "receiver: {}", got.stderr);
    assert!(same_bytes(&src, &dst), "the copy differs");
    assert_eq!(got.report.expect("report")["nats"]["verified"], true);
}

fn one_line_and_nothing_created(s: &Scratch, o: &Output, says: &str) {
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("highwater: "), "{err}");
    assert!(err.contains(says), "'{says}' in: {err}");
    assert_eq!(common::names_in(s.dir()), vec!["src.bin".to_string()]);
}

#[test]
fn bad_input_is_one_clear_line_and_creates_nothing() {
    let s = Scratch::new("nats-bad");
    common::sample(&s.path("src.bin"), 1000);
    let out = s.s("out.bin");
    // A port nothing listens on: the server is not running.
    let dead = format!("nats://127.0.0.1:{}/files", free_port());
    let o = common::highwater(&["copy", &dead, &out]);
    one_line_and_nothing_created(&s, &o, "cannot connect");
    let o = common::highwater(&["copy", &s.s("src.bin"), &dead]);
    one_line_and_nothing_created(&s, &o, "cannot connect");
    // Bad addresses: usage errors (exit status 2), before any connection.
    for bad in [
        "nats://nohost/files",
        "nats://127.0.0.1:4222/",
        "nats://h:1/a.b",
    ] {
        let o = common::highwater(&["copy", bad, &out]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        one_line_and_nothing_created(&s, &o, "not a NATS stream address");
    }
    let Some(exe) = nats_server_bin() else { return };
    let server_dir = Scratch::new("nats-bad-server");
    let server = Server::single(&exe, server_dir.dir());
    let o = common::highwater(&["copy", &server.url("nosuch"), &out, "--atomic"]);
    one_line_and_nothing_created(&s, &o, "'nosuch' does not exist");
}

#[test]
fn a_stream_full_to_its_limit_is_a_clear_error_for_the_sender() {
    let Some(exe) = nats_server_bin() else { return };
    let s = Scratch::new("nats-full");
    let server = Server::single(&exe, s.dir());
    let src = s.path("src.bin");
    make_file(&src, 8 * MIB);
    // Nobody receives, and the stream holds at most 2 MiB: the publish
    // past it is refused (discard: new), and the sender says so at once
    // rather than retrying until its budget is spent.
    let start = Instant::now();
    let o = common::highwater(&[
        "copy",
        &src.to_string_lossy(),
        &server.url("full"),
        "--stream-max-bytes",
        "2MiB",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("ERR_NATS_REJECTED"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "retried a refusal: {err}"
    );
    let stored = server.messages().expect("messages");
    assert!(stored <= 8, "{stored} messages in a 2 MiB stream");
}
