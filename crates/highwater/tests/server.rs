//! A server for long runs: the listen backlog (Node's 511 by default, or
//! set), graceful shutdown (stop accepting, let the open connections end,
//! end the stragglers after a grace period), with real connections on
//! loopback.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use highwater::net::{connect, Server, ServerOptions, SocketOptions, DEFAULT_BACKLOG};
use highwater::prelude::*;

fn run(f: impl std::future::Future<Output = ()> + 'static) {
    highwater::block_on(async move {
        tokio::time::timeout(Duration::from_secs(30), f)
            .await
            .expect("the test timed out");
    });
}

/// The accept queue of the listening socket on `port` (Linux: the
/// `rx_queue` of a LISTEN entry of `/proc/net/tcp` is the number of
/// completed connections waiting to be accepted).
fn accept_queue(port: u16) -> Option<usize> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let local_port = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
        let listening = *f.get(3)? == "0A";
        let rx = usize::from_str_radix(f.get(4)?.rsplit(':').next()?, 16).ok()?;
        (listening && local_port == port).then_some(rx)
    })
}

/// Starts `n` connects to `addr` (tokio sockets; their handshakes are
/// answered by the kernel, the server accepts nothing) and waits until the
/// kernel has queued `expect` of them.
async fn queue_connects(
    addr: SocketAddr,
    n: usize,
    expect: usize,
) -> Vec<tokio::task::JoinHandle<()>> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            tokio::spawn(async move {
                let _ = tokio::net::TcpStream::connect(addr).await;
                std::future::pending::<()>().await;
            })
        })
        .collect();
    while accept_queue(addr.port()).unwrap_or(0) < expect {
        tokio::task::yield_now().await;
    }
    tasks
}

#[test]
fn the_listen_backlog_bounds_the_accept_queue() {
    if std::fs::metadata("/proc/net/tcp").is_err() {
        eprintln!("no /proc/net/tcp: the accept queue cannot be observed here");
        return;
    }
    run(async {
        // Nobody accepts (no 'connection' listener, no accept()): every
        // completed connection waits in the kernel's queue, which holds
        // backlog + 1 (Linux).
        let server = Server::new(ServerOptions::default().backlog(2));
        let addr = server.listen_async("127.0.0.1:0").await.expect("listen");
        let tasks = queue_connects(addr, 8, 3).await;
        // Every connect has been sent: the loopback answers at once, so the
        // queue is as full as it gets, and it holds no more than 3.
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        assert_eq!(accept_queue(addr.port()), Some(3), "backlog 2: 3 queued");
        tasks.iter().for_each(|t| t.abort());
        server.close();

        // Node's default, 511: the same 8 connects all complete.
        assert_eq!(DEFAULT_BACKLOG, 511);
        let server = Server::new(ServerOptions::default());
        let addr = server.listen_async("127.0.0.1:0").await.expect("listen");
        let tasks = queue_connects(addr, 8, 8).await;
        assert_eq!(accept_queue(addr.port()), Some(8));
        tasks.iter().for_each(|t| t.abort());
        server.close();
    });
}

#[test]
fn graceful_close_waits_for_open_connections_then_resolves() {
    run(async {
        let server = Server::new(ServerOptions::default());
        server.on_connection(|s| {
            s.pipe(s);
        });
        let addr = server.listen_async("127.0.0.1:0").await.expect("listen");
        let a = connect(addr, SocketOptions::default());
        let b = connect(addr, SocketOptions::default());
        a.connected().await.expect("a");
        b.connected().await.expect("b");
        while server.connections() < 2 {
            tokio::task::yield_now().await;
        }
        let closing = highwater::spawn(server.close_async());
        // New connections are refused at once: the listening socket is shut.
        let late = connect(addr, SocketOptions::default());
        let err = late.connected().await.expect_err("refused");
        assert_eq!(err.code(), "ECONNREFUSED");
        // The open connections still work…
        a.write_async(Bytes::from_static(b"still here"))
            .await
            .expect("write");
        // …and the close resolves only once both have ended.
        a.end();
        while server.connections() > 1 {
            tokio::task::yield_now().await;
        }
        assert!(!closing.is_finished(), "b is still open");
        b.end();
        closing.await.expect("it was listening");
        assert_eq!(server.connections(), 0);
        // Node: close(cb) on a server no longer listening calls back with
        // ERR_SERVER_NOT_RUNNING (after 'close').
        let again = server.close_async().await.expect_err("not running");
        assert_eq!(again.code(), "ERR_SERVER_NOT_RUNNING");
        let never = Server::new(ServerOptions::default());
        let err = never.close_async().await.expect_err("never listened");
        assert_eq!(err.code(), "ERR_SERVER_NOT_RUNNING");
    });
}

#[test]
fn after_a_grace_period_the_stragglers_are_destroyed() {
    run(async {
        let server = Server::new(ServerOptions::default());
        let closed = std::rc::Rc::new(std::cell::Cell::new(0));
        let c = closed.clone();
        server.on_connection(move |s| {
            s.pipe(s);
            let c = c.clone();
            s.on_close(move || c.set(c.get() + 1));
        });
        let addr = server.listen_async("127.0.0.1:0").await.expect("listen");
        let clients: Vec<_> = (0..3)
            .map(|_| connect(addr, SocketOptions::default()))
            .collect();
        for c in &clients {
            c.connected().await.expect("connect");
        }
        while server.connections() < 3 {
            tokio::task::yield_now().await;
        }
        // The clients never hang up: the grace period runs out.
        let closing = server.close_async();
        tokio::pin!(closing);
        let grace = tokio::time::timeout(Duration::from_millis(20), &mut closing).await;
        assert!(grace.is_err(), "connections were still open");
        server.destroy_connections();
        closing.await.expect("it was listening");
        assert_eq!(server.connections(), 0);
        while closed.get() < 3 {
            tokio::task::yield_now().await;
        }
        for c in &clients {
            // The peers see the connection end.
            c.resume();
            let _ = highwater::finished_async(c).await;
            assert!(c.destroyed());
        }
    });
}
