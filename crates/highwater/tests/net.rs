//! TCP sockets and servers on loopback: connecting, echo, half-close,
//! backpressure against the kernel's buffers, Node's errors, and closing.
//!
//! The tests take a lock and run one at a time, so that counting this
//! process's open descriptors means something.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use highwater::net::{connect, Server, ServerOptions, Socket, SocketOptions};
use highwater::prelude::*;
use highwater::{Error, WritableEvent};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `f` on a fresh loop, alone, failing after 20 s instead of hanging.
fn run(f: impl Future<Output = ()> + 'static) {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    highwater::block_on(async move {
        tokio::time::timeout(Duration::from_secs(20), f)
            .await
            .expect("the test timed out");
    });
}

#[derive(Clone, Default)]
struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    fn push(&self, s: impl Into<String>) {
        self.0.borrow_mut().push(s.into());
    }
    fn ev(&self, name: &str) -> impl Fn() + 'static {
        let (l, n) = (self.clone(), name.to_string());
        move || l.push(n.clone())
    }
    fn get(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
    /// Logs the socket's lifecycle events under `tag`.
    fn watch(&self, tag: &str, s: &Socket) {
        s.on_connect(self.ev(&format!("{tag} connect")));
        s.on_ready(self.ev(&format!("{tag} ready")));
        s.on_end(self.ev(&format!("{tag} end")));
        s.on(WritableEvent::Finish, self.ev(&format!("{tag} finish")));
        s.on_close(self.ev(&format!("{tag} close")));
        let (l, t) = (self.clone(), tag.to_string());
        s.on_error(move |e| l.push(format!("{t} error {}", e.code())));
    }
    /// The events logged under `tag`, in order.
    fn of(&self, tag: &str) -> Vec<String> {
        self.get()
            .into_iter()
            .filter(|e| e.starts_with(&format!("{tag} ")))
            .collect()
    }
}

/// Reads until `'end'` (or the error), without destroying the socket (as
/// iterating with `stream()` would, like Node's async iterator).
async fn read_all(s: &Socket) -> Result<Vec<u8>, Error> {
    let out = Rc::new(RefCell::new(Vec::new()));
    let o = out.clone();
    s.on_data(move |c| o.borrow_mut().extend_from_slice(c));
    let ended = Rc::new(Cell::new(false));
    let e = ended.clone();
    s.on_end(move || e.set(true));
    loop {
        if ended.get() {
            return Ok(std::mem::take(&mut *out.borrow_mut()));
        }
        if let Some(e) = s.errored() {
            return Err(e);
        }
        if s.destroyed() {
            return Err(Error::msg("destroyed before 'end'"));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Resolves at the socket's `'close'`.
async fn closed(s: &Socket) {
    let done = Rc::new(Cell::new(s.closed() && s.destroyed()));
    let d = done.clone();
    s.on_close(move || d.set(true));
    while !done.get() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

async fn listen(opts: ServerOptions) -> (Server, std::net::SocketAddr) {
    let server = Server::new(opts);
    let addr = server.listen_async("127.0.0.1:0").await.expect("listen");
    (server, addr)
}

#[test]
fn connect_accept_echo_and_events_in_nodes_order() {
    run(async {
        let log = Log::default();
        let (server, addr) = listen(ServerOptions::default()).await;
        let l = log.clone();
        let server_side = Rc::new(RefCell::new(None));
        let ss = server_side.clone();
        server.on_connection(move |s| {
            l.push("server connection");
            l.watch("server", s);
            s.pipe(s); // echo
            *ss.borrow_mut() = Some(s.clone());
        });
        let client = connect(addr, SocketOptions::default());
        log.watch("client", &client);
        assert!(client.pending());
        let data = pattern(1 << 20);
        for chunk in data.chunks(50_000) {
            client
                .write_async(Bytes::copy_from_slice(chunk))
                .await
                .expect("write");
        }
        client.end();
        let echoed = read_all(&client).await.expect("read");
        assert_eq!(echoed.len(), data.len());
        assert!(echoed == data, "echoed bytes differ");
        closed(&client).await;
        let s = server_side.borrow().clone().expect("accepted");
        closed(&s).await;
        // Node: connect, ready, then (after end()) finish, end, close.
        assert_eq!(
            log.of("client"),
            [
                "client connect",
                "client ready",
                "client finish",
                "client end",
                "client close"
            ]
        );
        // Node (allowHalfOpen false): connection, then end, finish, close.
        assert_eq!(
            log.of("server"),
            [
                "server connection",
                "server end",
                "server finish",
                "server close"
            ]
        );
        assert_eq!(client.bytes_written(), data.len() as u64);
        assert_eq!(client.bytes_read(), data.len() as u64);
        assert_eq!(s.bytes_read(), data.len() as u64);
        assert_eq!(client.remote_addr(), Some(addr));
        assert_eq!(s.remote_addr(), client.local_addr());
        assert_eq!(s.local_addr(), Some(addr));
        server.close();
        until(|| server.connections() == 0).await;
    });
}

#[test]
fn writes_before_connect_are_buffered_then_sent() {
    run(async {
        let (server, addr) = listen(ServerOptions::default()).await;
        let client = connect(addr, SocketOptions::default());
        // Node: write -> true, connecting true, writableLength 5.
        assert!(client.connecting() || client.pending());
        assert!(client.write(Bytes::from_static(b"hello")));
        assert!(client.write(Bytes::from_static(b" world")));
        assert_eq!(client.writable_length(), 11);
        client.end();
        let accepted = server.accept().await.expect("accept");
        assert_eq!(read_all(&accepted).await.expect("read"), b"hello world");
        client.connected().await.expect("connected");
        assert!(!client.connecting());
        server.close();
    });
}

#[test]
fn half_close_keeps_the_writable_side_with_allow_half_open() {
    run(async {
        let log = Log::default();
        let half = SocketOptions::default().allow_half_open(true);
        let (server, addr) = listen(ServerOptions::default().socket(half.clone())).await;
        let client = connect(addr, half);
        log.watch("client", &client);
        client
            .write_async(Bytes::from_static(b"question"))
            .await
            .expect("write");
        client.end();
        let s = server.accept().await.expect("accept");
        log.watch("server", &s);
        // The client's FIN ends the server's readable side ('end')...
        let got = read_all(&s).await.expect("read");
        assert_eq!(got, b"question");
        assert!(s.readable_ended());
        // ...and its writable side is still open: the answer goes back.
        assert!(!s.writable_ended());
        assert!(s.writable());
        s.write_async(Bytes::from_static(b"answer"))
            .await
            .expect("write after 'end'");
        s.end();
        assert_eq!(read_all(&client).await.expect("read"), b"answer");
        closed(&s).await;
        closed(&client).await;
        assert_eq!(
            log.of("server"),
            ["server end", "server finish", "server close"]
        );
        assert_eq!(
            log.of("client"),
            [
                "client connect",
                "client ready",
                "client finish",
                "client end",
                "client close"
            ]
        );
        server.close();
    });
}

#[test]
fn without_allow_half_open_the_peers_fin_ends_the_writable_side() {
    run(async {
        let (server, addr) = listen(ServerOptions::default()).await;
        let client = connect(addr, SocketOptions::default().allow_half_open(true));
        client.end();
        let s = server.accept().await.expect("accept");
        assert!(!s.allow_half_open());
        assert!(read_all(&s).await.expect("read").is_empty());
        // Node: after 'end', the socket calls end() on the next tick.
        until(|| s.writable_ended()).await;
        // The client reads the FIN that end() sent.
        assert!(read_all(&client).await.expect("read").is_empty());
        closed(&s).await;
        closed(&client).await;
        server.close();
    });
}

#[test]
fn write_returns_false_at_the_mark_when_the_peer_stops_reading_and_drain_follows() {
    run(async {
        const MARK: usize = 64 * 1024;
        const CHUNK: usize = 64 * 1024;
        // The receiver reads nothing until told to.
        let (server, addr) = listen(ServerOptions::default().pause_on_connect(true)).await;
        let client = connect(
            addr,
            SocketOptions::default().writable_high_water_mark(MARK),
        );
        client.connected().await.expect("connected");
        let receiver = server.accept().await.expect("accept");
        let chunk = Bytes::from(vec![7u8; CHUNK]);
        let mut sent = 0usize;
        let mut refused = false;
        // The kernel's buffers (send and receive) take the first megabytes;
        // then writes stop completing and the stream's buffer fills.
        for _ in 0..4096 {
            let ok = client.write(chunk.clone());
            sent += CHUNK;
            assert!(
                client.writable_length() <= MARK + CHUNK,
                "the buffer stays within the mark and one chunk: {}",
                client.writable_length()
            );
            if !ok {
                refused = true;
                break;
            }
            // Let the kernel's answer (the write could not finish) arrive.
            tokio::task::yield_now().await;
        }
        assert!(refused, "write() returned false after {sent} bytes");
        assert!(client.writable_need_drain());
        // Nobody reads: no 'drain' however long we wait.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(client.writable_need_drain());
        assert!(client.writable_length() > 0);
        assert!(client.writable_length() <= MARK + CHUNK);
        // The receiver starts reading: the buffer empties, 'drain' comes.
        let drains = Rc::new(Cell::new(0));
        let d = drains.clone();
        client.on(WritableEvent::Drain, move || d.set(d.get() + 1));
        let received = Rc::new(Cell::new(0usize));
        let r = received.clone();
        receiver.on_data(move |c| r.set(r.get() + c.len()));
        // Paused on connect: a 'data' listener alone does not start it (Node).
        receiver.resume();
        client.drained().await.expect("drained");
        assert_eq!(drains.get(), 1);
        assert_eq!(client.writable_length(), 0);
        client.end();
        until(|| receiver.readable_ended()).await;
        assert_eq!(received.get(), sent);
        assert_eq!(client.bytes_written(), sent as u64);
        server.close();
    });
}

#[test]
fn reading_stops_at_the_mark_so_tcp_slows_the_sender() {
    run(async {
        const RMARK: usize = 32 * 1024;
        let (server, addr) = listen(
            ServerOptions::default()
                .socket(SocketOptions::default().readable_high_water_mark(RMARK)),
        )
        .await;
        let client = connect(
            addr,
            SocketOptions::default().writable_high_water_mark(64 * 1024),
        );
        let receiver = server.accept().await.expect("accept");
        // Nobody consumes the receiver's readable side: it reads (Node's
        // read(0) on a new socket) until push() says the buffer is full.
        let chunk = Bytes::from(vec![1u8; 64 * 1024]);
        let mut stuck = false;
        for _ in 0..4096 {
            if !client.write(chunk.clone()) {
                stuck = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(stuck, "the sender is held back");
        tokio::time::sleep(Duration::from_millis(20)).await;
        let buffered = receiver.readable_length();
        assert!(buffered > 0, "something was read");
        assert!(
            buffered <= RMARK + 64 * 1024,
            "reading stopped at the mark (+ one read): {buffered}"
        );
        assert_eq!(receiver.bytes_read(), buffered as u64);
        client.destroy(None);
        receiver.destroy(None);
        server.close();
    });
}

#[test]
fn a_refused_connection_is_econnrefused_then_close() {
    run(async {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        }; // closed here: nobody listens on it now
        let log = Log::default();
        let client = connect(format!("127.0.0.1:{port}"), SocketOptions::default());
        log.watch("client", &client);
        let err = client.connected().await.expect_err("refused");
        assert_eq!(err.code(), "ECONNREFUSED");
        assert_eq!(err.syscall(), Some("connect"));
        assert_eq!(
            err.to_string(),
            format!("connect ECONNREFUSED 127.0.0.1:{port}")
        );
        let addr = format!("127.0.0.1:{port}");
        assert_eq!(err.address(), Some(addr.as_str()));
        closed(&client).await;
        assert_eq!(
            log.of("client"),
            ["client error ECONNREFUSED", "client close"]
        );
        assert!(client.destroyed());
        // A write before the failure fails with it.
        let c2 = connect(format!("127.0.0.1:{port}"), SocketOptions::default());
        let r = c2.write_async(Bytes::from_static(b"x")).await;
        assert!(r.is_ok(), "buffered: 1 < mark");
        let e = c2.end_async().await.expect_err("refused");
        assert_eq!(e.code(), "ECONNREFUSED");
    });
}

#[test]
fn a_name_is_resolved_and_each_address_tried() {
    // Only where the hosts file names localhost: no name may be looked up
    // anywhere but on this machine.
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let listed = hosts.lines().any(|l| {
        let l = l.split('#').next().unwrap_or("");
        l.split_whitespace().skip(1).any(|name| name == "localhost")
    });
    if !listed {
        eprintln!("SKIPPED: localhost is not in /etc/hosts");
        return;
    }
    run(async {
        // `localhost` comes from the hosts file (no DNS query), maybe as ::1
        // first: refused there, the IPv4 address answers.
        let (server, addr) = listen(ServerOptions::default()).await;
        let client = connect(
            format!("localhost:{}", addr.port()),
            SocketOptions::default(),
        );
        client.connected().await.expect("connected");
        assert_eq!(client.remote_addr(), Some(addr));
        client.destroy(None);
        server.close();
    });
}

#[test]
fn listening_on_a_port_in_use_is_eaddrinuse() {
    run(async {
        let (first, addr) = listen(ServerOptions::default()).await;
        let second = Server::new(ServerOptions::default());
        let seen = Rc::new(RefCell::new(None));
        let s = seen.clone();
        second.on_error(move |e| *s.borrow_mut() = Some(e.clone()));
        let err = second.listen_async(addr).await.expect_err("in use");
        assert_eq!(err.code(), "EADDRINUSE");
        assert_eq!(
            err.to_string(),
            format!("listen EADDRINUSE: address already in use {addr}")
        );
        until(|| seen.borrow().is_some()).await;
        assert!(!second.listening());
        let e = second.accept().await.expect_err("not listening");
        assert_eq!(e.code(), "EADDRINUSE");
        first.close();
    });
}

#[test]
fn a_peer_that_resets_mid_transfer_gives_econnreset_or_epipe() {
    run(async {
        // A plain tokio peer: reads a little, then aborts (SO_LINGER 0).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let peer = highwater::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut buf = vec![0u8; 256 * 1024];
            let mut got = 0;
            while got < 1 << 20 {
                let n = tokio::io::AsyncReadExt::read(&mut s, &mut buf)
                    .await
                    .expect("read");
                assert!(n > 0);
                got += n;
            }
            s.set_zero_linger().expect("linger");
            drop(s); // RST
        });
        let log = Log::default();
        let client = connect(addr, SocketOptions::default());
        log.watch("client", &client);
        client.resume();
        let chunk = Bytes::from(vec![3u8; 64 * 1024]);
        let mut err = None;
        for _ in 0..100_000 {
            if let Err(e) = client.write_async(chunk.clone()).await {
                err = Some(e);
                break;
            }
        }
        peer.await;
        let err = err.expect("the transfer failed");
        assert!(["ECONNRESET", "EPIPE"].contains(&err.code()), "{err:?}");
        let text = err.to_string();
        assert!(
            ["write ECONNRESET", "write EPIPE", "read ECONNRESET"].contains(&text.as_str()),
            "{text}"
        );
        closed(&client).await;
        let events = log.of("client");
        assert_eq!(events.len(), 4, "{events:?}");
        assert!(events[2].starts_with("client error E"), "{events:?}");
        assert_eq!(events[3], "client close");
    });
}

#[test]
fn a_reset_while_reading_is_read_econnreset() {
    run(async {
        let (server, addr) = listen(ServerOptions::default()).await;
        let client = connect(addr, SocketOptions::default());
        let s = server.accept().await.expect("accept");
        s.write_async(Bytes::from_static(b"partial"))
            .await
            .expect("write");
        let got = Rc::new(RefCell::new(Vec::new()));
        let g = got.clone();
        client.on_data(move |c| g.borrow_mut().extend_from_slice(c));
        until(|| got.borrow().len() == 7).await;
        s.reset_and_destroy();
        let err = read_all(&client).await.expect_err("reset");
        assert_eq!(err.code(), "ECONNRESET");
        assert_eq!(err.to_string(), "read ECONNRESET");
        assert_eq!(
            client.errored().map(|e| e.code().to_string()),
            Some("ECONNRESET".into())
        );
        closed(&client).await;
        server.close();
    });
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn destroy_closes_the_descriptors_and_the_server_closes_after_its_connections() {
    run(async {
        let before = open_fds();
        let (server, addr) = listen(ServerOptions::default()).await;
        let server_closed = Rc::new(Cell::new(false));
        let sc = server_closed.clone();
        server.on_close(move || sc.set(true));
        let mut clients = Vec::new();
        let mut accepted = Vec::new();
        for _ in 0..20 {
            let c = connect(addr, SocketOptions::default());
            accepted.push(server.accept().await.expect("accept"));
            c.connected().await.expect("connected");
            clients.push(c);
        }
        assert_eq!(server.connections(), 20);
        assert!(open_fds() >= before + 41, "a listener and 40 sockets");
        // Closing the server stops accepting; 'close' waits for the sockets.
        server.close();
        assert!(!server.listening());
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!server_closed.get());
        let e = server.accept().await.expect_err("closed");
        assert_eq!(e.code(), "ERR_SERVER_NOT_RUNNING");
        let refused = connect(addr, SocketOptions::default());
        assert_eq!(
            refused.connected().await.expect_err("no listener").code(),
            "ECONNREFUSED"
        );
        for s in clients.iter().chain(accepted.iter()) {
            s.destroy(None);
            assert!(s.pending(), "destroy() closes the descriptor at once");
        }
        for s in clients.iter().chain(accepted.iter()) {
            closed(s).await;
        }
        until(|| server_closed.get()).await;
        assert_eq!(server.connections(), 0);
        assert_eq!(open_fds(), before, "every descriptor is closed");
    });
}

#[test]
fn destroy_while_connecting_closes_without_connect_or_error() {
    run(async {
        let (server, addr) = listen(ServerOptions::default()).await;
        let log = Log::default();
        let client = connect(addr, SocketOptions::default());
        log.watch("client", &client);
        client.destroy(None);
        closed(&client).await;
        assert_eq!(log.of("client"), ["client close"]);
        assert!(client.pending());
        server.close();
    });
}

#[test]
fn a_socket_in_a_pipeline_carries_a_large_transfer_both_ways_intact() {
    run(async {
        let (server, addr) = listen(ServerOptions::default()).await;
        // Echo through a pipeline (socket -> socket).
        server.on_connection(|s| {
            let p = highwater::Pipeline::new(s).run(s);
            let _t = highwater::spawn(p);
        });
        let client = connect(addr, SocketOptions::default().high_water_mark(16 * 1024));
        let data = Rc::new(pattern(8 << 20));
        let d = data.clone();
        let c = client.clone();
        let writer = highwater::spawn(async move {
            for chunk in d.chunks(100_000) {
                c.write_async(Bytes::copy_from_slice(chunk)).await?;
                assert!(c.writable_length() <= 16 * 1024 + 100_000);
            }
            c.end_async().await
        });
        let echoed = read_all(&client).await.expect("read");
        writer.await.expect("written");
        assert!(
            echoed == *data,
            "{} bytes back of {}",
            echoed.len(),
            data.len()
        );
        server.close();
    });
}

/// What `net_cases.mjs` prints under Node 20 (see that script): per case,
/// the client socket's events, then the server socket's.
const NODE_EXPECTED: &str = "\
basic client write true length=5 connecting=true
basic client connect
basic client ready
basic client finish
basic client end
basic client close false bytesWritten=5
basic server data 5
basic server end
basic server finish
basic server close false bytesRead=5
halfopen client connect
halfopen client ready
halfopen client finish
halfopen client data 3
halfopen client end
halfopen client close false bytesWritten=0
halfopen server end
halfopen server finish
halfopen server close false bytesRead=0
reset client connect
reset client ready
reset client error ECONNRESET read read ECONNRESET
reset client close true bytesWritten=1
reset server data 1
reset server close false bytesRead=1
refused client error ECONNREFUSED connect connect ECONNREFUSED 127.0.0.1:PORT
refused client close true
inuse server error EADDRINUSE listen listen EADDRINUSE: address already in use 127.0.0.1:PORT listening=false";

fn node_err(e: &Error, port: u16) -> String {
    format!(
        "error {} {} {}",
        e.code(),
        e.syscall().unwrap_or("-"),
        e.to_string().replace(&format!(":{port}"), ":PORT")
    )
}

/// The events of `s`, as `net_cases.mjs` logs them; `extra` adds the
/// counter Node's script prints at 'close'.
fn node_watch(log: &Log, s: &Socket, port: u16, extra: Option<&'static str>) {
    s.on_connect(log.ev("connect"));
    s.on_ready(log.ev("ready"));
    let l = log.clone();
    s.on_data(move |d| l.push(format!("data {}", d.len())));
    s.on_end(log.ev("end"));
    s.on(WritableEvent::Finish, log.ev("finish"));
    let l = log.clone();
    s.on_error(move |e| l.push(node_err(e, port)));
    let (l, s2) = (log.clone(), s.clone());
    s.on_close(move || {
        let count = match extra {
            Some("bytesRead") => format!(" bytesRead={}", s2.bytes_read()),
            Some(_) => format!(" bytesWritten={}", s2.bytes_written()),
            None => String::new(),
        };
        l.push(format!("close {}{count}", s2.errored().is_some()));
    });
}

async fn node_case(
    name: &str,
    server_opts: ServerOptions,
    on_server: impl Fn(&Socket) + 'static,
    on_client: impl FnOnce(&Socket, &Log),
) -> Vec<String> {
    let (client_log, server_log) = (Log::default(), Log::default());
    let server = Server::new(server_opts);
    let accepted: Rc<RefCell<Option<Socket>>> = Rc::default();
    let (a, sl) = (accepted.clone(), server_log.clone());
    let port = Rc::new(Cell::new(0u16));
    let p = port.clone();
    server.on_connection(move |s| {
        node_watch(&sl, s, p.get(), Some("bytesRead"));
        on_server(s);
        *a.borrow_mut() = Some(s.clone());
    });
    let addr = server.listen_async("127.0.0.1:0").await.expect("listen");
    port.set(addr.port());
    let c = connect(addr, SocketOptions::default());
    node_watch(&client_log, &c, addr.port(), Some("bytesWritten"));
    on_client(&c, &client_log);
    closed(&c).await;
    until(|| accepted.borrow().is_some()).await;
    let s = accepted.borrow().clone().expect("accepted");
    closed(&s).await;
    server.close();
    let mut out: Vec<String> = client_log
        .get()
        .into_iter()
        .map(|l| format!("{name} client {l}"))
        .collect();
    out.extend(
        server_log
            .get()
            .into_iter()
            .map(|l| format!("{name} server {l}")),
    );
    out
}

async fn node_cases() -> Vec<String> {
    let mut out = Vec::new();
    out.extend(
        node_case(
            "basic",
            ServerOptions::default(),
            |_| {},
            |c, log| {
                let ok = c.write(Bytes::from_static(b"hello"));
                log.push(format!(
                    "write {ok} length={} connecting={}",
                    c.writable_length(),
                    c.connecting()
                ));
                let c2 = c.clone();
                c.on_connect(move || c2.end());
            },
        )
        .await,
    );
    out.extend(
        node_case(
            "halfopen",
            ServerOptions::default().socket(SocketOptions::default().allow_half_open(true)),
            |s| {
                let s2 = s.clone();
                s.on_end(move || s2.end_with_chunk(Bytes::from_static(b"bye")));
            },
            |c, _| {
                let c2 = c.clone();
                c.on_connect(move || c2.end());
            },
        )
        .await,
    );
    out.extend(
        node_case(
            "reset",
            ServerOptions::default(),
            |s| {
                let s2 = s.clone();
                s.on_data(move |_| s2.reset_and_destroy());
            },
            |c, _| {
                let c2 = c.clone();
                c.on_connect(move || {
                    let _ = c2.write(Bytes::from_static(b"x"));
                });
            },
        )
        .await,
    );
    // Refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let log = Log::default();
    let c = connect(format!("127.0.0.1:{port}"), SocketOptions::default());
    node_watch(&log, &c, port, None);
    closed(&c).await;
    out.extend(log.get().into_iter().map(|l| format!("refused client {l}")));
    // In use.
    let (a, addr) = listen(ServerOptions::default()).await;
    let b = Server::new(ServerOptions::default());
    let seen: Rc<RefCell<Option<Error>>> = Rc::default();
    let s = seen.clone();
    b.on_error(move |e| *s.borrow_mut() = Some(e.clone()));
    b.listen(addr);
    until(|| seen.borrow().is_some()).await;
    let e = seen.borrow().clone().expect("error");
    out.push(format!(
        "inuse server {} listening={}",
        node_err(&e, addr.port()),
        b.listening()
    ));
    a.close();
    out
}

#[test]
fn sockets_emit_what_node_emits() {
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    run(async move {
        *g.borrow_mut() = node_cases().await;
    });
    let expected: Vec<&str> = NODE_EXPECTED.lines().collect();
    assert_eq!(*got.borrow(), expected);
}

#[test]
fn the_committed_expectation_is_still_what_node_prints() {
    let node_ok = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok {
        assert!(
            std::env::var_os("HIGHWATER_REQUIRE_NODE").is_none(),
            "HIGHWATER_REQUIRE_NODE is set but node cannot be run"
        );
        eprintln!("SKIPPED: node is not installed");
        return;
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/net_cases.mjs");
    let out = std::process::Command::new("node")
        .arg(&script)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let actual: Vec<&str> = text.lines().collect();
    let expected: Vec<&str> = NODE_EXPECTED.lines().collect();
    assert_eq!(actual, expected);
}

/// Empty writes batched before the connection (Node accepts them): they
/// are done when reached, not written as a 0-byte writev (which used to
/// fail the socket with `write UNKNOWN`).
#[test]
fn empty_writes_batched_while_connecting_are_harmless() {
    run(async {
        let (server, addr) = listen(ServerOptions::default()).await;
        let client = connect(addr, SocketOptions::default());
        assert!(client.write(Bytes::new()));
        assert!(client.write(Bytes::new()));
        let accepted = server.accept().await.expect("accept");
        client.end_async().await.expect("end");
        assert_eq!(read_all(&accepted).await.expect("read"), b"");
        server.close();
    });
}

/// A second `listen()` is an 'error' (ERR_SERVER_ALREADY_LISTEN) and
/// nothing more: the first listen goes on and its future resolves. (The
/// second used to overwrite the server's state, so the first failed too.)
#[test]
fn a_second_listen_is_an_error_event_and_the_first_goes_on() {
    run(async {
        let server = Server::new(ServerOptions::default());
        let seen = Rc::new(RefCell::new(None));
        let s = seen.clone();
        server.on_error(move |e| *s.borrow_mut() = Some(e.code().to_string()));
        let first = server.listen_async("127.0.0.1:0");
        server.listen("127.0.0.1:0");
        let addr = first.await.expect("the first listen goes on");
        assert!(server.listening());
        until(|| seen.borrow().is_some()).await;
        assert_eq!(seen.borrow().as_deref(), Some("ERR_SERVER_ALREADY_LISTEN"));
        assert_eq!(server.local_addr(), Some(addr));
        server.close();
    });
}
