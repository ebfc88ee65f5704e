//! The load generator of the echo benchmark (`bench/run.sh`, "Echo server
//! under load"): C clients connect to an echo server, then all at once each
//! sends N bytes and reads them back, checking every byte. It is the client,
//! not the thing measured: tokio, one worker thread by default (the machine
//! is small and the server needs a core too).
//!
//! ```text
//! echo_load --port P --conns C --bytes N [--chunk BYTES] [--slow BYTES:MS]
//!           [--pid SERVER_PID] [--threads T] [--connect-concurrency K]
//! ```
//!
//! * `--chunk`: the size of each write (default 64 KiB) and of the read
//!   buffer (16 KiB above 1000 connections, to keep the client small).
//! * `--slow BYTES:MS`: slow readers: each read takes at most BYTES and is
//!   followed by a sleep of MS milliseconds, so the server's writes back
//!   stall and its buffers must stay within their marks.
//! * `--pid`: the server's process id: its CPU time (utime + stime from
//!   `/proc/PID/stat`) over the run and its peak RSS (`VmHWM` from
//!   `/proc/PID/status`) are reported.
//!
//! The connections are opened first (at most `--connect-concurrency`, 128
//! by default, in flight, to stay within the listen backlog), then a
//! barrier starts every transfer together; `wall_s` is the transfer alone.
//! Prints one line on stdout:
//!
//! ```text
//! result conns=C bytes_each=N connect_s=.. wall_s=.. bytes=.. errors=E server_cpu_s=.. server_peak_rss_kib=..
//! ```
//!
//! Each stream carries a pseudo-random pattern that depends on the
//! connection, so a byte echoed on the wrong connection or at the wrong
//! offset is an error. The first few errors are printed on stderr. Exits
//! non-zero if any connection failed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Barrier, Semaphore};

/// The period of the pattern (a prime, so that chunk boundaries drift).
const PERIOD: usize = 65_521;
/// The largest write; the pattern table is PERIOD + MAX_CHUNK long so that
/// any offset has a contiguous slice.
const MAX_CHUNK: usize = 1 << 20;

struct Args {
    host: String,
    port: u16,
    conns: usize,
    bytes: u64,
    chunk: usize,
    slow: Option<(usize, u64)>,
    pid: Option<u32>,
    threads: usize,
    connect_concurrency: usize,
}

fn usage(msg: &str) -> ! {
    eprintln!("echo_load: {msg}");
    eprintln!(
        "usage: echo_load --port P --conns C --bytes N [--host H] [--chunk BYTES] \
         [--slow BYTES:MS] [--pid PID] [--threads T] [--connect-concurrency K]"
    );
    std::process::exit(2);
}

/// `1048576`, `64KiB`, `1MiB`, `64k`, `1m`.
fn parse_size(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let (num, mul) = [
        ("kib", 1u64 << 10),
        ("mib", 1 << 20),
        ("gib", 1 << 30),
        ("k", 1 << 10),
        ("m", 1 << 20),
        ("g", 1 << 30),
    ]
    .iter()
    .find_map(|(suf, m)| lower.strip_suffix(suf).map(|n| (n.to_string(), *m)))
    .unwrap_or((lower.clone(), 1));
    num.trim().parse::<u64>().ok().map(|n| n * mul)
}

fn bad<T>(flag: &str, v: &str) -> T {
    usage(&format!("bad value for {flag}: {v}"))
}

fn parse_args() -> Args {
    let mut a = Args {
        host: "127.0.0.1".into(),
        port: 0,
        conns: 0,
        bytes: 0,
        chunk: 64 << 10,
        slow: None,
        pid: None,
        threads: 1,
        connect_concurrency: 128,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--host" => a.host = v.clone(),
            "--port" => a.port = v.parse().unwrap_or_else(|_| bad(&flag, &v)),
            "--conns" => a.conns = v.parse().unwrap_or_else(|_| bad(&flag, &v)),
            "--bytes" => a.bytes = parse_size(&v).unwrap_or_else(|| bad(&flag, &v)),
            "--chunk" => {
                a.chunk = parse_size(&v).unwrap_or_else(|| bad(&flag, &v)) as usize;
                if a.chunk == 0 || a.chunk > MAX_CHUNK {
                    bad::<()>(&flag, &v);
                }
            }
            "--slow" => {
                let (b, ms) = v.split_once(':').unwrap_or_else(|| bad(&flag, &v));
                let b = parse_size(b).unwrap_or_else(|| bad(&flag, &v)) as usize;
                let ms = ms.parse().unwrap_or_else(|_| bad(&flag, &v));
                if b == 0 {
                    bad::<()>(&flag, &v);
                }
                a.slow = Some((b, ms));
            }
            "--pid" => a.pid = Some(v.parse().unwrap_or_else(|_| bad(&flag, &v))),
            "--threads" => a.threads = v.parse::<usize>().unwrap_or_else(|_| bad(&flag, &v)).max(1),
            "--connect-concurrency" => {
                a.connect_concurrency = v.parse::<usize>().unwrap_or_else(|_| bad(&flag, &v)).max(1)
            }
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    if a.port == 0 || a.conns == 0 {
        usage("--port and --conns are required");
    }
    a
}

/// A fixed pseudo-random table (xorshift64), PERIOD + MAX_CHUNK bytes.
fn table() -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut t: Vec<u8> = (0..PERIOD)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let mut i = 0;
    while t.len() < PERIOD + MAX_CHUNK {
        t.push(t[i]);
        i += 1;
    }
    t
}

/// Where connection `k`'s stream starts in the pattern.
fn seed(k: usize) -> usize {
    (k * 7919) % PERIOD
}

/// Process `pid`'s CPU time (user + system), in seconds.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is
    // field 3, utime 14, stime 15.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(ticks as f64 / 100.0)
}

/// A `/proc/PID/status` field in KiB (`VmHWM`, `VmRSS`).
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

struct Shared {
    table: Vec<u8>,
    bytes: u64,
    chunk: usize,
    read_buf: usize,
    slow: Option<(usize, u64)>,
    received: AtomicU64,
    errors: AtomicU64,
    messages: Mutex<Vec<String>>,
}

impl Shared {
    fn fail(&self, k: usize, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut m = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() < 5 {
            m.push(format!("connection {k}: {what}"));
        }
    }
}

async fn send(sh: &Shared, k: usize, mut w: tokio::net::tcp::OwnedWriteHalf) -> Result<(), String> {
    let s = seed(k);
    let mut pos: u64 = 0;
    while pos < sh.bytes {
        let off = (s + (pos % PERIOD as u64) as usize) % PERIOD;
        let len = (sh.chunk as u64).min(sh.bytes - pos) as usize;
        w.write_all(&sh.table[off..off + len])
            .await
            .map_err(|e| format!("write at {pos}: {e}"))?;
        pos += len as u64;
    }
    w.shutdown().await.map_err(|e| format!("shutdown: {e}"))
}

async fn receive(
    sh: &Shared,
    k: usize,
    mut r: tokio::net::tcp::OwnedReadHalf,
) -> Result<(), String> {
    let s = seed(k);
    let want = match sh.slow {
        Some((b, _)) => b,
        None => sh.read_buf,
    };
    let mut buf = vec![0u8; want];
    let mut pos: u64 = 0;
    loop {
        let n = r
            .read(&mut buf)
            .await
            .map_err(|e| format!("read at {pos}: {e}"))?;
        if n == 0 {
            break;
        }
        if pos + n as u64 > sh.bytes {
            return Err(format!(
                "more bytes than sent: {} > {}",
                pos + n as u64,
                sh.bytes
            ));
        }
        let mut done = 0;
        while done < n {
            let off = (s + ((pos + done as u64) % PERIOD as u64) as usize) % PERIOD;
            let len = (n - done).min(PERIOD);
            if buf[done..done + len] != sh.table[off..off + len] {
                return Err(format!("wrong bytes near offset {}", pos + done as u64));
            }
            done += len;
        }
        pos += n as u64;
        sh.received.fetch_add(n as u64, Ordering::Relaxed);
        if let Some((_, ms)) = sh.slow {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }
    if pos != sh.bytes {
        return Err(format!("short echo: {pos} of {} bytes", sh.bytes));
    }
    Ok(())
}

async fn connection(
    sh: Arc<Shared>,
    k: usize,
    addr: String,
    gate: Arc<Semaphore>,
    start: Arc<Barrier>,
) {
    let conn = {
        let _permit = gate.acquire().await;
        TcpStream::connect(addr.as_str()).await
    };
    start.wait().await;
    let sock = match conn {
        Ok(s) => s,
        Err(e) => return sh.fail(k, format!("connect: {e}")),
    };
    let (r, w) = sock.into_split();
    let sw = sh.clone();
    let writer = tokio::spawn(async move { send(&sw, k, w).await });
    let read = receive(&sh, k, r).await;
    let wrote = writer
        .await
        .unwrap_or_else(|e| Err(format!("writer task: {e}")));
    if let Err(e) = read.and(wrote) {
        sh.fail(k, e);
    }
}

fn main() {
    let a = parse_args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.threads)
        .enable_all()
        .build()
        .expect("echo_load: cannot create a tokio runtime");
    let sh = Arc::new(Shared {
        table: table(),
        bytes: a.bytes,
        chunk: a.chunk,
        read_buf: if a.conns > 1000 {
            16 << 10
        } else {
            a.chunk.min(64 << 10)
        },
        slow: a.slow,
        received: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        messages: Mutex::new(Vec::new()),
    });
    let addr = format!("{}:{}", a.host, a.port);
    let cpu0 = a.pid.and_then(cpu_seconds);
    let t0 = Instant::now();
    let (connect_s, wall_s) = rt.block_on(async {
        let gate = Arc::new(Semaphore::new(a.connect_concurrency));
        let start = Arc::new(Barrier::new(a.conns + 1));
        let tasks: Vec<_> = (0..a.conns)
            .map(|k| {
                tokio::spawn(connection(
                    sh.clone(),
                    k,
                    addr.clone(),
                    gate.clone(),
                    start.clone(),
                ))
            })
            .collect();
        start.wait().await;
        let connected = t0.elapsed();
        let t1 = Instant::now();
        for t in tasks {
            if let Err(e) = t.await {
                sh.fail(usize::MAX, format!("task: {e}"));
            }
        }
        (connected.as_secs_f64(), t1.elapsed().as_secs_f64())
    });
    let cpu = match (cpu0, a.pid.and_then(cpu_seconds)) {
        (Some(x), Some(y)) => format!("{:.2}", y - x),
        _ => "-".into(),
    };
    let hwm = a
        .pid
        .and_then(|p| status_kib(p, "VmHWM"))
        .map_or("-".into(), |k| k.to_string());
    for m in sh.messages.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        eprintln!("echo_load: {m}");
    }
    let errors = sh.errors.load(Ordering::Relaxed);
    println!(
        "result conns={} bytes_each={} connect_s={connect_s:.3} wall_s={wall_s:.3} bytes={} errors={errors} server_cpu_s={cpu} server_peak_rss_kib={hwm}",
        a.conns,
        a.bytes,
        sh.received.load(Ordering::Relaxed),
    );
    if errors > 0 {
        std::process::exit(1);
    }
}
