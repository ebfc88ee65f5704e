//! The soak of issue 17: 100,000 connections, opened and closed in batches
//! of 1000, against an in-process highwater echo server, with dhat's heap
//! profiler as the global allocator. After each batch (once the server has
//! closed every connection of it) it prints the live heap, and it exits
//! non-zero if the live heap after the last batch is more than `--slack`
//! bytes (64 KiB by default) above the live heap after the first batch: a
//! server that serves connections one after the other must not grow.
//!
//! ```text
//! cargo run --release -p highwater-bench --bin soak [-- --conns 100000 --batch 1000 --bytes 1024 --slack 65536]
//! ```
//!
//! The server is written as a user would write it: each socket piped into
//! itself, an `'error'` listener, and a `'close'` listener that captures
//! the socket (to read its byte counts when it closes). The clients are
//! plain blocking `std::net::TcpStream`s on another thread (they allocate
//! nothing that outlives a batch): each batch connects its sockets in waves
//! of 100 (a wave's first echoed byte is awaited before the next wave
//! connects, so the listen queue never overflows), each sends `--bytes`
//! bytes and shuts its write side, then every echo is read to its end and
//! checked. `--close-listener plain` (a listener that does not capture
//! the socket) and `--close-listener none` are controls. Not part of `cargo test` or `bench/run.sh`: run it by hand
//! (about a minute in release; dhat records a backtrace per allocation).

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use highwater::net::{Server, ServerOptions};
use highwater::prelude::*;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Connections connected together before their first echoed byte is awaited.
const WAVE: usize = 100;

/// The server's `'close'` listener.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Listener {
    /// Captures its socket (the natural code, the default).
    Capture,
    /// Counts without capturing the socket (a control).
    Plain,
    /// No `'close'` listener (a control; closes are counted by polling
    /// `Server::connections`).
    None,
}

struct Args {
    conns: usize,
    batch: usize,
    bytes: usize,
    slack: usize,
    listener: Listener,
}

fn parse_args() -> Args {
    let mut a = Args {
        conns: 100_000,
        batch: 1000,
        bytes: 1024,
        slack: 64 * 1024,
        listener: Listener::Capture,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--close-listener" {
            a.listener = match it.next().as_deref() {
                Some("capture") => Listener::Capture,
                Some("plain") => Listener::Plain,
                Some("none") => Listener::None,
                _ => {
                    eprintln!("soak: --close-listener takes capture, plain or none");
                    std::process::exit(2);
                }
            };
            continue;
        }
        let v: Option<usize> = it.next().and_then(|v| v.parse().ok());
        let Some(v) = v else {
            eprintln!("soak: {flag} needs a number");
            eprintln!(
                "usage: soak [--conns N] [--batch N] [--bytes N] [--slack BYTES] \
                 [--close-listener capture|plain|none]"
            );
            std::process::exit(2);
        };
        match flag.as_str() {
            "--conns" => a.conns = v,
            "--batch" => a.batch = v.max(1),
            "--bytes" => a.bytes = v.max(1),
            "--slack" => a.slack = v,
            _ => {
                eprintln!("soak: unknown flag {flag}");
                std::process::exit(2);
            }
        }
    }
    a
}

/// Connection `k`'s payload byte `i`.
fn byte(k: usize, i: usize) -> u8 {
    (k.wrapping_mul(31).wrapping_add(i.wrapping_mul(7))) as u8
}

/// One batch, on the client thread: `n` connections starting at number
/// `first`, each sending `bytes` bytes and reading them back.
fn client_batch(addr: SocketAddr, first: usize, n: usize, bytes: usize) -> Result<(), String> {
    let mut socks = Vec::with_capacity(n);
    let mut payload = vec![0u8; bytes];
    let mut back = vec![0u8; bytes];
    let mut k = first;
    while k < first + n {
        let wave = WAVE.min(first + n - k);
        let start = socks.len();
        for j in k..k + wave {
            let mut s = TcpStream::connect(addr).map_err(|e| format!("connect {j}: {e}"))?;
            for (i, b) in payload.iter_mut().enumerate() {
                *b = byte(j, i);
            }
            s.write_all(&payload)
                .map_err(|e| format!("write {j}: {e}"))?;
            s.shutdown(Shutdown::Write)
                .map_err(|e| format!("shutdown {j}: {e}"))?;
            socks.push((j, s));
        }
        // The first echoed byte of each: the server has accepted the wave.
        for (j, s) in &mut socks[start..] {
            s.read_exact(&mut back[..1])
                .map_err(|e| format!("first byte of {j}: {e}"))?;
            if back[0] != byte(*j, 0) {
                return Err(format!("connection {j}: wrong first byte"));
            }
        }
        k += wave;
    }
    for (j, mut s) in socks {
        // The first byte was read above; the rest, and nothing more.
        let mut got = 1;
        loop {
            let m = s.read(&mut back).map_err(|e| format!("read {j}: {e}"))?;
            if m == 0 {
                break;
            }
            if let Some(at) = (0..m).find(|&x| got + x >= bytes || back[x] != byte(j, got + x)) {
                return Err(format!("connection {j}: wrong echo at {}", got + at));
            }
            got += m;
        }
        if got != bytes {
            return Err(format!("connection {j}: {got} of {bytes} bytes echoed"));
        }
    }
    Ok(())
}

fn main() {
    let a = parse_args();
    let _profiler = dhat::Profiler::builder().testing().build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("soak: cannot create a tokio runtime");
    let ok = rt.block_on(highwater::run(soak(a)));
    if !ok {
        std::process::exit(1);
    }
}

async fn soak(a: Args) -> bool {
    // The server, as a user writes it.
    let served = Rc::new(Cell::new(0usize));
    let closed = Rc::new(Cell::new(0usize));
    let errors = Rc::new(Cell::new(0usize));
    let echoed = Rc::new(Cell::new(0u64));
    let server = Server::new(ServerOptions::default());
    let listener = a.listener;
    {
        let (served, closed, errors, echoed) = (
            served.clone(),
            closed.clone(),
            errors.clone(),
            echoed.clone(),
        );
        server.on_connection(move |socket| {
            served.set(served.get() + 1);
            socket.pipe(socket);
            let errors = errors.clone();
            socket.on_error(move |_| errors.set(errors.get() + 1));
            let (closed, echoed) = (closed.clone(), echoed.clone());
            match listener {
                Listener::Capture => {
                    let s = socket.clone();
                    socket.on_close(move || {
                        closed.set(closed.get() + 1);
                        echoed.set(echoed.get() + s.bytes_written());
                    });
                }
                Listener::Plain => {
                    socket.on_close(move || closed.set(closed.get() + 1));
                }
                Listener::None => {}
            }
        });
    }
    let addr = server
        .listen_async("127.0.0.1:0")
        .await
        .expect("soak: cannot listen on 127.0.0.1");

    // The clients, on their own thread: one batch per message.
    let (go, batches) = mpsc::channel::<(usize, usize)>();
    let (done_tx, mut done) = tokio::sync::mpsc::unbounded_channel::<Result<(), String>>();
    let bytes = a.bytes;
    let clients = std::thread::spawn(move || {
        for (first, n) in batches {
            if done_tx.send(client_batch(addr, first, n, bytes)).is_err() {
                break;
            }
        }
    });

    println!(
        "soak: {} connections in batches of {}, {} bytes each, echo server on {addr}, 'close' listener: {:?}",
        a.conns, a.batch, a.bytes, a.listener
    );
    println!("| batch | connections | live heap (bytes) | live blocks | elapsed |");
    println!("|---:|---:|---:|---:|---:|");
    let t0 = Instant::now();
    let mut first_heap: Option<(usize, usize)> = None;
    let mut last_heap = (0, 0);
    let mut sent = 0;
    let mut batch = 0;
    let mut failed = None;
    while sent < a.conns {
        let n = a.batch.min(a.conns - sent);
        if go.send((sent, n)).is_err() {
            failed = Some("the client thread is gone".to_string());
            break;
        }
        match done.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                failed = Some(e);
                break;
            }
            None => {
                failed = Some("the client thread is gone".to_string());
                break;
            }
        }
        sent += n;
        batch += 1;
        // Every connection of the batch closed on the server's side too.
        let wait = Instant::now();
        if listener == Listener::None {
            closed.set(sent - server.connections());
        }
        while closed.get() < sent || server.connections() > 0 {
            if wait.elapsed() > Duration::from_secs(30) {
                failed = Some(format!(
                    "batch {batch}: {} of {sent} connections closed after 30 s",
                    closed.get()
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            if listener == Listener::None {
                closed.set(sent - server.connections());
            }
        }
        if failed.is_some() {
            break;
        }
        // Let the loop settle (ticks queued by the last closes).
        tokio::task::yield_now().await;
        let h = dhat::HeapStats::get();
        last_heap = (h.curr_bytes, h.curr_blocks);
        first_heap.get_or_insert(last_heap);
        println!(
            "| {batch} | {sent} | {} | {} | {:.1} s |",
            h.curr_bytes,
            h.curr_blocks,
            t0.elapsed().as_secs_f64()
        );
    }
    drop(go);
    let _ = clients.join();
    server.close();

    println!(
        "soak: served {} connections, {} closed, {} socket errors, {} bytes echoed",
        served.get(),
        closed.get(),
        errors.get(),
        echoed.get()
    );
    if let Some(e) = failed {
        println!("soak: FAILED: {e}");
        return false;
    }
    let Some((b0, k0)) = first_heap else {
        println!("soak: no batch ran");
        return false;
    };
    let (b1, k1) = last_heap;
    let grew = b1.saturating_sub(b0);
    let after_first = sent.saturating_sub(a.batch.min(sent)).max(1);
    println!(
        "soak: live heap after the first batch {b0} B in {k0} blocks, after the last {b1} B in {k1} blocks: \
         {:+} B, {:+} blocks ({:.1} B and {:.3} blocks per connection after the first batch); allowed {} B",
        b1 as i64 - b0 as i64,
        k1 as i64 - k0 as i64,
        (b1 as f64 - b0 as f64) / after_first as f64,
        (k1 as f64 - k0 as f64) / after_first as f64,
        a.slack
    );
    if grew > a.slack {
        println!("soak: FAILED: the live heap grew by {grew} B");
        return false;
    }
    println!("soak: ok, the live heap is flat");
    true
}
