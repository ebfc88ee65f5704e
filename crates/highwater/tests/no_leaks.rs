//! Servers that run for months: the live heap stays flat over thousands of
//! connections, whatever natural code does with its sockets, and an idle
//! connection costs no more than Node's. Every heap byte is counted (dhat as
//! the global allocator).
//!
//! * `a_listener_capturing_its_socket_does_not_leak`: an echo written with
//!   `'data'`/`'end'`/`'close'` listeners that each hold a clone of their
//!   socket (an `Rc` cycle through the socket's own listener list).
//! * `a_socket_piped_into_itself_does_not_leak`: `s.pipe(&s)`, the client
//!   resetting the connection. (This one did not leak before the fix either:
//!   the pipe's own `'close'` listener unpipes; it guards the pattern.)
//! * `an_unfinished_pipe_does_not_leak`: each socket piped into a
//!   Writable nobody else holds, and the client resets the connection, so
//!   the pipe never ends and the Writable never finishes.
//! * `an_idle_connection_costs_less_than_nodes`: connections that echoed
//!   100 KB, then wait.
//!
//! The clients are plain blocking `std::net` sockets on a thread of their
//! own (they allocate next to nothing); the server is highwater's, on the
//! test's loop. Each leak case serves 10 batches of 100 connections and
//! compares the live heap after the second batch with the heap after the
//! last: the same phase of the same work, so what a connection leaves
//! behind shows as growth (before the fix, about 2.4 KB a connection: 1.9 MB
//! over the eight batches). dhat allows one profiler at a time: the tests
//! run one at a time.

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use highwater::net::{connect, Server, ServerOptions, Socket, SocketOptions};
use highwater::prelude::*;
use highwater::{Writable, WritableOptions};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const BATCHES: usize = 10;
const PER_BATCH: usize = 100;
/// How much the live heap may differ between two measurements at the same
/// phase: allocator slack, a task or two caught at another point. A leak of
/// even 30 bytes a connection over 800 connections is more.
const FLAT: i64 = 24 * 1024;
/// Node 20's cost of an idle connection that echoed 100 KB, measured by the
/// issue (111 MiB for 5000 connections).
const NODE_IDLE: usize = 13_700;

/// The bytes a client sends (and, for an echo, reads back).
const MESSAGE: usize = 1024;

/// What a client does with its connection.
#[derive(Clone, Copy)]
enum Client {
    /// Sends, reads the echo, half-closes and reads to EOF (a blocking
    /// `std::net` client on a thread of its own).
    Echo,
    /// Sends, then resets the connection (highwater's own client socket,
    /// `reset_and_destroy`).
    Reset,
}

fn echo_client(addr: SocketAddr) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let msg = vec![7u8; MESSAGE];
    s.write_all(&msg).expect("send");
    let mut back = vec![0u8; MESSAGE];
    s.read_exact(&mut back).expect("the echo");
    assert_eq!(back, msg);
    s.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).expect("EOF");
}

/// Runs `n` clients; resolves when all are done.
async fn clients(addr: SocketAddr, n: usize, how: Client) {
    match how {
        Client::Echo => {
            let (tx, rx) = tokio::sync::oneshot::channel();
            std::thread::spawn(move || {
                for _ in 0..n {
                    echo_client(addr);
                }
                let _ = tx.send(());
            });
            rx.await.expect("the client thread finished");
        }
        Client::Reset => {
            for _ in 0..n {
                let c = connect(addr, SocketOptions::default());
                c.connected().await.expect("connect");
                c.write_async(Bytes::from(vec![7u8; MESSAGE]))
                    .await
                    .expect("send");
                c.reset_and_destroy();
            }
        }
    }
}

/// Waits until `closed` reached `n`: every server-side socket emitted
/// `'close'`.
async fn until_closed(closed: &Rc<Cell<usize>>, n: usize) {
    while closed.get() < n {
        tokio::task::yield_now().await;
    }
}

/// Serves `BATCHES` batches with `on_connection`, returning the live heap
/// after the second batch and after the last.
fn serve(how: Client, on_connection: impl Fn(&Socket, Rc<Cell<usize>>) + 'static) -> (i64, i64) {
    let _alone = serial();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let _profiler = dhat::Profiler::builder().testing().build();
    rt.block_on(highwater::run(async move {
        let body = async move {
            let closed = Rc::new(Cell::new(0usize));
            let server = Server::new(ServerOptions::default());
            let c = closed.clone();
            server.on_connection(move |s| on_connection(s, c.clone()));
            let addr = server.listen_async("127.0.0.1:0").await.expect("listen");
            let mut heap = Vec::new();
            for batch in 1..=BATCHES {
                clients(addr, PER_BATCH, how).await;
                until_closed(&closed, batch * PER_BATCH).await;
                heap.push(dhat::HeapStats::get().curr_bytes as i64);
            }
            server.close();
            (heap[1], heap[BATCHES - 1])
        };
        tokio::time::timeout(Duration::from_secs(120), body)
            .await
            .expect("the case finished")
    }))
}

fn assert_flat(what: &str, (second, last): (i64, i64)) {
    let growth = last - second;
    let per = growth / ((BATCHES - 2) * PER_BATCH) as i64;
    assert!(
        growth <= FLAT,
        "{what}: the live heap grew by {growth} bytes over {} connections \
         ({per} bytes each): {second} after the second batch, {last} after the last",
        (BATCHES - 2) * PER_BATCH
    );
}

#[test]
fn a_listener_capturing_its_socket_does_not_leak() {
    let heap = serve(Client::Echo, |s, closed| {
        // The natural echo: each listener keeps its own clone of the socket.
        let me = s.clone();
        s.on_data(move |chunk| {
            let _ = me.write(chunk.clone());
        });
        let me = s.clone();
        s.on_end(move || me.end());
        let me = s.clone();
        s.on_close(move || {
            assert!(me.destroyed());
            closed.set(closed.get() + 1);
        });
    });
    assert_flat("listeners capturing their socket", heap);
}

#[test]
fn a_socket_piped_into_itself_does_not_leak() {
    let heap = serve(Client::Reset, |s, closed| {
        s.pipe(s);
        s.on_error(|_| {});
        s.on_close(move || closed.set(closed.get() + 1));
    });
    assert_flat("a socket piped into itself", heap);
}

#[test]
fn an_unfinished_pipe_does_not_leak() {
    let heap = serve(Client::Reset, |s, closed| {
        // A destination only the pipe holds; the client's reset destroys
        // the socket, so the pipe never ends it.
        let dest = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
        s.pipe(&dest);
        s.on_error(|_| {});
        s.on_close(move || closed.set(closed.get() + 1));
    });
    assert_flat("an unfinished pipe", heap);
}

#[test]
fn an_idle_connection_costs_less_than_nodes() {
    const CONNECTIONS: usize = 200;
    const ECHOED: usize = 100 * 1000;
    let _alone = serial();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let _profiler = dhat::Profiler::builder().testing().build();
    let (before, after) = rt.block_on(highwater::run(async move {
        let body = async move {
            let server = Server::new(ServerOptions::default());
            server.on_connection(|s| {
                s.pipe(s);
            });
            let addr = server.listen_async("127.0.0.1:0").await.expect("listen");
            let before = dhat::HeapStats::get().curr_bytes;
            // Each client echoes 100 KB, then keeps its connection open,
            // idle, until told to close.
            let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            let clients = std::thread::spawn(move || {
                let mut open = Vec::new();
                let msg = vec![3u8; ECHOED];
                let mut back = vec![0u8; ECHOED];
                for _ in 0..CONNECTIONS {
                    let mut s = TcpStream::connect(addr).expect("connect");
                    s.write_all(&msg).expect("send");
                    s.read_exact(&mut back).expect("the echo");
                    open.push(s);
                }
                let _ = ready_tx.send(());
                let _ = done_rx.recv();
                drop(open);
            });
            ready_rx.await.expect("the clients are connected and idle");
            while server.connections() < CONNECTIONS {
                tokio::task::yield_now().await;
            }
            // Let every socket's last read finish and its buffers go.
            for _ in 0..100 {
                tokio::task::yield_now().await;
            }
            let after = dhat::HeapStats::get().curr_bytes;
            let _ = done_tx.send(());
            let _ = tokio::task::spawn_blocking(move || clients.join()).await;
            server.close();
            (before, after)
        };
        tokio::time::timeout(Duration::from_secs(120), body)
            .await
            .expect("the case finished")
    }));
    let per = after.saturating_sub(before) / CONNECTIONS;
    assert!(
        per <= NODE_IDLE,
        "an idle connection holds {per} bytes of heap (Node: {NODE_IDLE})"
    );
}
