//! TCP sockets and servers: Node's `net.Socket` and `net.Server`
//! (`lib/net.js`).
//!
//! A [`Socket`] is a byte [`Duplex`]: what is written to it goes to the peer,
//! what the peer sends comes out of its readable side. It derefs to
//! `Duplex<Bytes, Bytes>`, so the whole stream API applies (`write`,
//! `write_async`, `end`, `pipe`, [`Pipeline`](crate::Pipeline), `'drain'`,
//! `'end'`, `'close'`…), with Node's socket behaviour on top:
//!
//! * **Connecting.** [`connect`] returns at once with a pending socket;
//!   `'connect'` then `'ready'` follow (or `'error'` and `'close'`, e.g.
//!   `connect ECONNREFUSED 127.0.0.1:8080`). Writes made meanwhile are
//!   buffered (and count toward the mark) and go out together once
//!   connected. [`Socket::connected`] awaits the outcome.
//! * **Writing.** Each write is handed to the kernel at once; if the kernel
//!   takes all of it, the write completes synchronously, as Node's do. When
//!   the kernel's send buffer is full (the peer reads slower than we write),
//!   the write completes only once the kernel took the rest, so the stream's
//!   own buffer fills, `write()` returns `false` at the mark, and `'drain'`
//!   comes when it emptied. Buffered chunks go out as one `writev`.
//! * **Reading.** Reads of up to 64 KiB ([`SocketOptions::read_size`]) are
//!   pushed as they arrive; when `push` returns `false` (the readable buffer
//!   is at its mark) reading stops until the consumer asks for more, so the
//!   kernel's receive buffer fills and TCP's flow control slows the peer.
//!   The read buffer is taken only when the socket is readable (one per
//!   loop thread, as libuv allocates at read time): an idle connection
//!   holds no read buffer.
//! * **Half-close.** `end()` finishes the writes, then shuts the write side
//!   down (the peer reads EOF). The peer's FIN ends the readable side
//!   (`'end'`). With `allow_half_open` off (Node's default) the socket then
//!   ends its own writable side; with it on, it may go on writing.
//! * **Closing.** `'close'` comes once both sides are done, or after
//!   `destroy()`, which closes the descriptor at once.
//! * **Errors** carry Node's codes and words: `read ECONNRESET`,
//!   `write EPIPE`, `listen EADDRINUSE: address already in use …`
//!   ([`Error::code`], [`Error::syscall`], [`Error::address`]).
//!
//! A [`Server`] listens ([`Server::listen`], or [`Server::listen_async`] to
//! await the bound address) and hands each accepted connection to its
//! `'connection'` listeners, or, when it has none, to [`Server::accept`].
//!
//! Sockets do their I/O with tokio, so drive the loop with
//! [`block_on`](crate::block_on) or [`run`](crate::run).
//!
//! # Examples
//!
//! An echo server (each socket piped into itself) and a client:
//!
//! ```
//! use bytes::Bytes;
//! use highwater::prelude::*;
//! use highwater::net::{connect, Server, ServerOptions, SocketOptions};
//!
//! highwater::block_on(async {
//!     let server = Server::new(ServerOptions::default());
//!     server.on_connection(|socket| {
//!         socket.pipe(socket); // echo
//!     });
//!     let addr = server.listen_async("127.0.0.1:0").await?;
//!
//!     let client = connect(addr, SocketOptions::default());
//!     client.write_async(Bytes::from_static(b"hello")).await?; // buffered until connected
//!     client.end();
//!     let mut echoed = Vec::new();
//!     let mut chunks = client.stream();
//!     while let Some(chunk) = futures::StreamExt::next(&mut chunks).await {
//!         echoed.extend_from_slice(&chunk?);
//!     }
//!     assert_eq!(echoed, b"hello");
//!     server.close();
//!     Ok::<_, highwater::Error>(())
//! })
//! .unwrap();
//! ```
//!
//! # Differences from Node
//!
//! * `bytes_written` counts the bytes the kernel accepted; Node's
//!   `bytesWritten` also counts those still buffered in the stream.
//! * A write after the peer's FIN (with `allow_half_open` off) fails with
//!   the stream's `ERR_STREAM_WRITE_AFTER_END`, not Node's
//!   `EPIPE: This socket has been ended by the other party`.
//! * No `ref`/`unref` or IPC. Timeouts ([`Socket::set_timeout`]) are
//!   tokio timers, which never keep [`block_on`](crate::block_on) from
//!   returning (Node's are unref'd timers, too).
//! * Unix-domain sockets have their own entry points ([`connect_path`],
//!   [`Server::listen_path`], [`Server::local_path`]), where Node takes a
//!   path in the same `connect`/`listen`/`address()`. As in Node, an
//!   existing file at the path is `EADDRINUSE` (never removed), and
//!   closing the server removes the socket's file; a path too long is
//!   `EINVAL` (Node 20's libuv truncated it).
//! * A write still waiting for the kernel holds `'timeout'` back by
//!   pushing the timer back each time the kernel takes more of it; Node
//!   checks, when the timer fires, whether the write queue moved since the
//!   last check. Both stay quiet while a slow write progresses.
//!
//! The idle timeout ([`Socket::set_timeout`], `'timeout'`) follows Node's
//! `_unrefTimer`: connecting, every read outcome, the start and the end of
//! every write push it back; after `'timeout'` the next activity arms it
//! again; `destroy` clears it; the socket is never closed by it.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
#[cfg(unix)]
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::AsyncWrite;
use tokio::net::{TcpListener, TcpStream};
#[cfg(unix)]
use tokio::net::{UnixListener, UnixStream};
use tokio::time::Instant;

use crate::runtime::event_loop::{self, next_tick};
use crate::runtime::events::{ListenerId, Listeners};
use crate::state::{DuplexOptions, Error, ReadableOptions, WritableOptions};
use crate::stream::core::Core;
use crate::stream::side::sealed::{Handle, HasReadable, HasWritable};
use crate::stream::{
    Done, Duplex, Hooks, ReadableImpl, ReadableSide, Source, StreamBase, WritableEvent,
    WritableImpl, WritableSide,
};

/// Bytes asked of the kernel per read (libuv's 64 KiB).
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::net::{connect, Server, ServerOptions, SocketOptions, DEFAULT_READ_SIZE};
/// use std::{cell::Cell, rc::Rc};
///
/// assert_eq!(DEFAULT_READ_SIZE, 64 * 1024);
/// highwater::block_on(async {
///     let server = Server::new(ServerOptions::default());
///     let addr = server.listen_async("127.0.0.1:0").await?;
///     let client = connect(addr, SocketOptions::default());
///     let largest = Rc::new(Cell::new(0));
///     let l = largest.clone();
///     client.on_data(move |c| l.set(l.get().max(c.len())));
///     let peer = server.accept().await?;
///     peer.write_async(Bytes::from(vec![7u8; 200_000])).await?;
///     peer.end();
///     highwater::finished_async(&client).await?;
///     assert_eq!(client.bytes_read(), 200_000);
///     assert!(largest.get() <= DEFAULT_READ_SIZE); // no read asks for more
///     server.close();
///     Ok::<_, highwater::Error>(())
/// })
/// .unwrap();
/// ```
pub const DEFAULT_READ_SIZE: usize = 64 * 1024;

thread_local! {
    /// The read buffer of every socket of this loop thread: a socket takes
    /// it only for the duration of one `read` call (see
    /// `SocketState::poll_read`).
    static READ_BUF: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// Chunks read in a row before the reader lets the rest of the loop run
/// (libuv reads at most 32 times per readiness event, too).
const READS_PER_TURN: u32 = 32;

/// At most this many chunks per `writev` system call.
const MAX_IOVECS: usize = 64;

/// Options of a [`Socket`] (Node's `new net.Socket(options)` and
/// `net.connect(options)`), set by chaining.
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::net::SocketOptions;
///
/// let o = SocketOptions::default()
///     .writable_high_water_mark(1 << 20)
///     .writable_low_water_mark(256 << 10)
///     .no_delay(true);
/// # let _ = o;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketOptions {
    allow_half_open: bool,
    high_water_mark: Option<usize>,
    readable_high_water_mark: Option<usize>,
    writable_high_water_mark: Option<usize>,
    writable_low_water_mark: Option<usize>,
    read_size: usize,
    no_delay: bool,
    keep_alive: Option<Duration>,
    timeout: Option<Duration>,
}

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions {
            allow_half_open: false,
            high_water_mark: None,
            readable_high_water_mark: None,
            writable_high_water_mark: None,
            writable_low_water_mark: None,
            read_size: DEFAULT_READ_SIZE,
            no_delay: false,
            keep_alive: None,
            timeout: None,
        }
    }
}

impl SocketOptions {
    /// Keep the writable side open after the peer's FIN (default false, as
    /// Node's: the socket ends its writable side after `'end'`).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::net::SocketOptions;
    /// let _ = SocketOptions::default().allow_half_open(true);
    /// ```
    #[must_use]
    pub fn allow_half_open(mut self, on: bool) -> Self {
        self.allow_half_open = on;
        self
    }

    /// The mark of both sides; overrides the per-side marks.
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::net::SocketOptions;
    /// let _ = SocketOptions::default().high_water_mark(64 << 10);
    /// ```
    #[must_use]
    pub fn high_water_mark(mut self, hwm: usize) -> Self {
        self.high_water_mark = Some(hwm);
        self
    }

    /// The readable side's mark (default: the stream default, 16 KiB).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::net::SocketOptions;
    /// let _ = SocketOptions::default().readable_high_water_mark(64 << 10);
    /// ```
    #[must_use]
    pub fn readable_high_water_mark(mut self, hwm: usize) -> Self {
        self.readable_high_water_mark = Some(hwm);
        self
    }

    /// The writable side's mark (default: the stream default, 16 KiB).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::net::SocketOptions;
    /// let _ = SocketOptions::default().writable_high_water_mark(1 << 20);
    /// ```
    #[must_use]
    pub fn writable_high_water_mark(mut self, hwm: usize) -> Self {
        self.writable_high_water_mark = Some(hwm);
        self
    }

    /// *Beyond Node.* `'drain'` once the writable side's buffer has fallen
    /// to this level, not only when it is empty (see
    /// [`WritableOptions::low_water_mark`](crate::WritableOptions::low_water_mark)).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::net::SocketOptions;
    /// let _ = SocketOptions::default().writable_high_water_mark(1 << 20).writable_low_water_mark(256 << 10);
    /// ```
    #[must_use]
    pub fn writable_low_water_mark(mut self, lwm: usize) -> Self {
        self.writable_low_water_mark = Some(lwm);
        self
    }

    /// Bytes asked of the kernel per read, the largest chunk pushed
    /// (default 64 KiB, at least 1).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::net::SocketOptions;
    /// let _ = SocketOptions::default().read_size(256 << 10);
    /// ```
    #[must_use]
    pub fn read_size(mut self, bytes: usize) -> Self {
        self.read_size = bytes.max(1);
        self
    }

    /// Disable Nagle's algorithm (`TCP_NODELAY`; default false).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::net::SocketOptions;
    /// let _ = SocketOptions::default().no_delay(true);
    /// ```
    #[must_use]
    pub fn no_delay(mut self, on: bool) -> Self {
        self.no_delay = on;
        self
    }

    /// Turn TCP keep-alive on once connected (Node's `keepAlive` and
    /// `keepAliveInitialDelay`; see [`Socket::set_keep_alive`]): probes
    /// start after `initial_delay` of idleness, in whole seconds (below
    /// one second: the system's default, as Node's). No effect on
    /// Unix-domain sockets.
    ///
    /// ```
    /// # use highwater::net::SocketOptions;
    /// use std::time::Duration;
    /// let _ = SocketOptions::default().keep_alive(Some(Duration::from_secs(60)));
    /// ```
    #[must_use]
    pub fn keep_alive(mut self, initial_delay: Option<Duration>) -> Self {
        self.keep_alive = initial_delay;
        self
    }

    /// The idle timeout set on the socket from the start (Node's
    /// `net.connect({ timeout })`: [`Socket::set_timeout`] right after
    /// creating it). *Beyond Node*, it applies to accepted sockets too
    /// (through [`ServerOptions::socket`]); Node's servers have no such
    /// option (http's `server.timeout` is the same idea).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    /// use std::time::Duration;
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let opts = SocketOptions::default().timeout(Duration::from_millis(10));
    ///     let client = Socket::connect(addr, opts);
    ///     assert_eq!(client.timeout(), Some(Duration::from_millis(10)));
    ///     let c = client.clone();
    ///     client.on_timeout(move || c.destroy(None));
    ///     highwater::finished_async(&client).await.ok();
    ///     assert!(client.destroyed());
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    fn duplex_options(&self) -> DuplexOptions<Bytes, Bytes> {
        let mut r = ReadableOptions::default();
        if let Some(h) = self.readable_high_water_mark {
            r = r.high_water_mark(h);
        }
        let mut w = WritableOptions::default();
        if let Some(h) = self.writable_high_water_mark {
            w = w.high_water_mark(h);
        }
        if let Some(l) = self.writable_low_water_mark {
            w = w.low_water_mark(l);
        }
        let mut o = DuplexOptions::new(r, w).allow_half_open(self.allow_half_open);
        if let Some(h) = self.high_water_mark {
            o = o.high_water_mark(h);
        }
        o
    }
}

/// Options of a [`Server`] (Node's `net.createServer(options)`), set by
/// chaining.
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::net::{ServerOptions, SocketOptions};
///
/// let o = ServerOptions::default()
///     .socket(SocketOptions::default().no_delay(true))
///     .pause_on_connect(true);
/// # let _ = o;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    socket: SocketOptions,
    pause_on_connect: bool,
    backlog: u32,
}

/// Node's default listen backlog (`server.listen(port, host, backlog)`),
/// what [`ServerOptions::default`] uses.
///
/// ```
/// use highwater::net::{ServerOptions, DEFAULT_BACKLOG};
/// assert_eq!(DEFAULT_BACKLOG, 511);
/// assert_eq!(ServerOptions::default(), ServerOptions::default().backlog(DEFAULT_BACKLOG));
/// ```
pub const DEFAULT_BACKLOG: u32 = 511;

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            socket: SocketOptions::default(),
            pause_on_connect: false,
            backlog: DEFAULT_BACKLOG,
        }
    }
}

impl ServerOptions {
    /// The options of each accepted socket.
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::net::{ServerOptions, SocketOptions};
    /// let _ = ServerOptions::default().socket(SocketOptions::default().allow_half_open(true));
    /// ```
    #[must_use]
    pub fn socket(mut self, opts: SocketOptions) -> Self {
        self.socket = opts;
        self
    }

    /// Accepted sockets start paused: nothing is read until the readable
    /// side is consumed (Node's `pauseOnConnect`).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::net::ServerOptions;
    /// let _ = ServerOptions::default().pause_on_connect(true);
    /// ```
    #[must_use]
    pub fn pause_on_connect(mut self, on: bool) -> Self {
        self.pause_on_connect = on;
        self
    }

    /// The listen backlog: how many connections the kernel completes and
    /// queues before they are accepted (Node's `backlog`, default
    /// [`DEFAULT_BACKLOG`], 511; the kernel caps it at `somaxconn`).
    ///
    /// ```
    /// # use highwater::net::ServerOptions;
    /// let _ = ServerOptions::default().backlog(4096);
    /// ```
    #[must_use]
    pub fn backlog(mut self, n: u32) -> Self {
        self.backlog = n;
        self
    }
}

/// An address as Node prints it in messages: `127.0.0.1:8080`, `::1:8080`.
fn show_addr(a: &SocketAddr) -> String {
    format!("{}:{}", a.ip(), a.port())
}

fn store_waker(slot: &RefCell<Option<Waker>>, cx: &Context<'_>) {
    let mut s = slot.borrow_mut();
    if !s.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
        *s = Some(cx.waker().clone());
    }
}

fn wake_slot(slot: &RefCell<Option<Waker>>) {
    let w = slot.borrow_mut().take();
    if let Some(w) = w {
        w.wake();
    }
}

fn wake_list(list: &RefCell<Vec<Waker>>) {
    let ws = std::mem::take(&mut *list.borrow_mut());
    for w in ws {
        w.wake();
    }
}

fn no_runtime() -> Error {
    Error::msg(
        "network streams need a tokio runtime with I/O enabled: \
         drive the loop with highwater::block_on or highwater::run",
    )
}

fn have_runtime() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

/// What a socket connects to.
#[derive(Debug, Clone)]
enum Target {
    /// `host:port`, or a literal address.
    Inet(String),
    /// A Unix-domain socket's path (Node's `{ path }`).
    #[cfg(unix)]
    Path(PathBuf),
}

/// The connection under a socket: TCP, or a Unix-domain stream (Node's
/// `TCP` and `Pipe` handles).
enum Conn {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
}

impl Conn {
    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Conn::Tcp(t) => Some(t),
            #[cfg(unix)]
            Conn::Unix(_) => None,
        }
    }

    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Conn::Tcp(t) => t.poll_read_ready(cx),
            #[cfg(unix)]
            Conn::Unix(u) => u.poll_read_ready(cx),
        }
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Conn::Tcp(t) => t.poll_write_ready(cx),
            #[cfg(unix)]
            Conn::Unix(u) => u.poll_write_ready(cx),
        }
    }

    fn try_read_buf<B: BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        match self {
            Conn::Tcp(t) => t.try_read_buf(buf),
            #[cfg(unix)]
            Conn::Unix(u) => u.try_read_buf(buf),
        }
    }

    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(t) => t.try_write(buf),
            #[cfg(unix)]
            Conn::Unix(u) => u.try_write(buf),
        }
    }

    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Conn::Tcp(t) => t.try_write_vectored(bufs),
            #[cfg(unix)]
            Conn::Unix(u) => u.try_write_vectored(bufs),
        }
    }

    /// Shuts the write side down; immediate for both kinds of stream.
    fn shutdown_now(&mut self) -> io::Result<()> {
        let mut cx = Context::from_waker(Waker::noop());
        let r = match self {
            Conn::Tcp(t) => Pin::new(t).poll_shutdown(&mut cx),
            #[cfg(unix)]
            Conn::Unix(u) => Pin::new(u).poll_shutdown(&mut cx),
        };
        match r {
            Poll::Ready(r) => r,
            Poll::Pending => Ok(()),
        }
    }
}

/// What the two sides of a socket share: the connection, the counters, the
/// wakers of the tasks doing its I/O, and the `'connect'`/`'ready'`
/// listeners.
struct SocketState {
    /// What a client socket connects to (`None` for an accepted one).
    target: Option<Target>,
    /// The connection: `None` while connecting and after closing.
    tcp: RefCell<Option<Conn>>,
    connecting: Cell<bool>,
    connected: Cell<bool>,
    connect_error: RefCell<Option<Error>>,
    closed: Cell<bool>,
    remote: Cell<Option<SocketAddr>>,
    local: Cell<Option<SocketAddr>>,
    bytes_read: Cell<u64>,
    bytes_written: Cell<u64>,
    read_size: usize,
    no_delay: Cell<bool>,
    /// Keep-alive on, with this initial delay (zero: the system's).
    keep_alive: Cell<Option<Duration>>,
    reset_on_close: Cell<bool>,
    /// Node's `socket.timeout`: `None` until `set_timeout` is called.
    timeout: Cell<Option<Duration>>,
    /// When `'timeout'` is due (`None`: no timer armed).
    deadline: Cell<Option<Instant>>,
    timer_task: Cell<bool>,
    timer_waker: RefCell<Option<Waker>>,
    on_timeout: Listeners<()>,
    /// Node's `handle.reading`: `_read` asked, and `push` has not said stop.
    reading: Cell<bool>,
    read_task: Cell<bool>,
    /// Where the reader pushes (from the first `_read`; dropped on close).
    source: RefCell<Option<Source<Bytes>>>,
    read_waker: RefCell<Option<Waker>>,
    write_waker: RefCell<Option<Waker>>,
    connect_wakers: RefCell<Vec<Waker>>,
    core: RefCell<Weak<Core<Bytes, Bytes>>>,
    server: Option<Weak<ServerState>>,
    on_connect: Listeners<()>,
    on_ready: Listeners<()>,
}

impl SocketState {
    fn new(
        target: Option<Target>,
        opts: &SocketOptions,
        server: Option<Weak<ServerState>>,
    ) -> Self {
        SocketState {
            target,
            tcp: RefCell::new(None),
            connecting: Cell::new(false),
            connected: Cell::new(false),
            connect_error: RefCell::new(None),
            closed: Cell::new(false),
            remote: Cell::new(None),
            local: Cell::new(None),
            bytes_read: Cell::new(0),
            bytes_written: Cell::new(0),
            read_size: opts.read_size.max(1),
            no_delay: Cell::new(opts.no_delay),
            keep_alive: Cell::new(opts.keep_alive),
            reset_on_close: Cell::new(false),
            timeout: Cell::new(None),
            deadline: Cell::new(None),
            timer_task: Cell::new(false),
            timer_waker: RefCell::new(None),
            on_timeout: Listeners::default(),
            reading: Cell::new(false),
            read_task: Cell::new(false),
            source: RefCell::new(None),
            read_waker: RefCell::new(None),
            write_waker: RefCell::new(None),
            connect_wakers: RefCell::new(Vec::new()),
            core: RefCell::new(Weak::new()),
            server,
            on_connect: Listeners::default(),
            on_ready: Listeners::default(),
        }
    }

    /// The connection is up: remember the addresses, apply the options.
    fn attach(&self, conn: Conn) {
        if let Some(tcp) = conn.tcp() {
            self.remote.set(tcp.peer_addr().ok());
            self.local.set(tcp.local_addr().ok());
            if self.no_delay.get() {
                let _ = tcp.set_nodelay(true);
            }
            if self.reset_on_close.get() {
                let _ = tcp.set_zero_linger();
            }
            if let Some(delay) = self.keep_alive.get() {
                let _ = set_keep_alive(tcp, true, delay);
            }
        }
        *self.tcp.borrow_mut() = Some(conn);
        self.connected.set(true);
    }

    /// Closes the descriptor (with a reset if asked) and wakes every task
    /// waiting on it, so that each sees the socket closed and ends.
    fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        let tcp = self.tcp.borrow_mut().take();
        if let Some(t) = tcp.as_ref().and_then(Conn::tcp) {
            if self.reset_on_close.get() {
                let _ = t.set_zero_linger();
            }
        }
        drop(tcp);
        self.source.borrow_mut().take();
        // Node's `_destroy` clears the timer.
        self.deadline.set(None);
        wake_slot(&self.timer_waker);
        wake_slot(&self.read_waker);
        wake_slot(&self.write_waker);
        wake_list(&self.connect_wakers);
    }

    /// One read: data, EOF, an error, or the socket closed (`None`).
    ///
    /// The read buffer is the loop thread's ([`READ_BUF`]), taken only once
    /// the socket is readable: a socket waiting for data holds none (as
    /// libuv allocates at read time), so idle connections cost only their
    /// state.
    fn poll_read(&self, cx: &mut Context<'_>) -> Poll<Option<ReadOutcome>> {
        loop {
            if self.closed.get() {
                return Poll::Ready(None);
            }
            if !self.reading.get() {
                store_waker(&self.read_waker, cx);
                return Poll::Pending;
            }
            let guard = self.tcp.borrow();
            let Some(tcp) = guard.as_ref() else {
                return Poll::Ready(None);
            };
            match tcp.poll_read_ready(cx) {
                Poll::Pending => {
                    drop(guard);
                    store_waker(&self.read_waker, cx);
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => {
                    return Poll::Ready(Some(ReadOutcome::Error(Error::net(e, "read", None))))
                }
                Poll::Ready(Ok(())) => {}
            }
            let read = READ_BUF.with(|cell| {
                let mut buf = cell.borrow_mut();
                if buf.capacity() - buf.len() < self.read_size {
                    buf.reserve(self.read_size);
                }
                match tcp.try_read_buf(&mut (&mut *buf).limit(self.read_size)) {
                    Ok(0) => Ok(ReadOutcome::Eof),
                    // A large read keeps its buffer (at most half of it
                    // unused); a small one is copied out, and the buffer is
                    // reused, so that a small chunk never pins a large
                    // allocation.
                    Ok(n) if n >= self.read_size / 2 => Ok(ReadOutcome::Data(buf.split().freeze())),
                    Ok(_) => {
                        let chunk = Bytes::copy_from_slice(&buf);
                        buf.clear();
                        Ok(ReadOutcome::Data(chunk))
                    }
                    Err(e) => Err(e),
                }
            });
            match read {
                Ok(outcome) => return Poll::Ready(Some(outcome)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Poll::Ready(Some(ReadOutcome::Error(Error::net(e, "read", None))))
                }
            }
        }
    }

    /// Writes as much of `chunk` as the kernel takes now, without waiting.
    /// Returns how much it took.
    fn try_write_one(&self, chunk: &[u8]) -> Result<usize, Error> {
        let guard = self.tcp.borrow();
        let Some(tcp) = guard.as_ref() else {
            return Err(Error::net(io::Error::from_raw_os_error(9), "write", None));
        };
        let mut off = 0;
        let mut failed = None;
        while off < chunk.len() {
            match tcp.try_write(&chunk[off..]) {
                Ok(0) => {
                    failed = Some(Error::net(io::ErrorKind::WriteZero.into(), "write", None));
                    break;
                }
                Ok(n) => off += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(Error::net(e, "write", None));
                    break;
                }
            }
        }
        self.bytes_written
            .set(self.bytes_written.get() + off as u64);
        match failed {
            Some(e) => Err(e),
            None => Ok(off),
        }
    }

    /// Writes as much of `bufs` as the kernel takes now, without waiting.
    fn try_write_bufs(&self, bufs: &mut VecDeque<Bytes>) -> Result<(), Error> {
        let guard = self.tcp.borrow();
        let Some(tcp) = guard.as_ref() else {
            return Err(Error::net(io::Error::from_raw_os_error(9), "write", None));
        };
        loop {
            // Empty chunks are done as soon as they are reached; a write of
            // nothing would come back as 0 bytes, which means failure.
            while bufs.front().is_some_and(Bytes::is_empty) {
                bufs.pop_front();
            }
            if bufs.is_empty() {
                break;
            }
            let r = if bufs.len() == 1 {
                tcp.try_write(&bufs[0])
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                let mut k = 0;
                for (slot, b) in slices.iter_mut().zip(bufs.iter()) {
                    *slot = IoSlice::new(b);
                    k += 1;
                }
                tcp.try_write_vectored(&slices[..k])
            };
            let mut n = match r {
                Ok(0) => return Err(Error::net(io::ErrorKind::WriteZero.into(), "write", None)),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::net(e, "write", None)),
            };
            self.bytes_written.set(self.bytes_written.get() + n as u64);
            while n > 0 {
                let Some(front) = bufs.front_mut() else { break };
                if n >= front.len() {
                    n -= front.len();
                    bufs.pop_front();
                } else {
                    front.advance(n);
                    n = 0;
                }
            }
        }
        Ok(())
    }

    /// Writes the rest of `bufs` as the kernel makes room.
    fn poll_write_rest(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut VecDeque<Bytes>,
    ) -> Poll<Result<(), Error>> {
        loop {
            // Node: a write cut short by destroy() calls back without an
            // error (the stream is destroyed; its own errors are reported).
            if bufs.is_empty() || self.closed.get() {
                return Poll::Ready(Ok(()));
            }
            {
                let guard = self.tcp.borrow();
                let Some(tcp) = guard.as_ref() else {
                    return Poll::Ready(Ok(()));
                };
                match tcp.poll_write_ready(cx) {
                    Poll::Pending => {
                        drop(guard);
                        store_waker(&self.write_waker, cx);
                        return Poll::Pending;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::net(e, "write", None))),
                    Poll::Ready(Ok(())) => {}
                }
            }
            let before = self.bytes_written.get();
            if let Err(e) = self.try_write_bufs(bufs) {
                return Poll::Ready(Err(e));
            }
            // Node's `_onTimeout` holds 'timeout' back while a pending
            // write makes progress: here, progress pushes the timer back.
            if self.bytes_written.get() != before {
                if let (Some(_), Some(d)) = (self.deadline.get(), self.timeout.get()) {
                    self.deadline.set(Some(Instant::now() + d));
                }
            }
        }
    }

    /// Finishes `bufs` on a task, then calls `done`.
    fn write_later(self: &Rc<Self>, mut bufs: VecDeque<Bytes>, done: Done) {
        let st = self.clone();
        let _task = event_loop::spawn(tokio::task::unconstrained(async move {
            let r = std::future::poll_fn(|cx| st.poll_write_rest(cx, &mut bufs)).await;
            // Node's onWriteComplete: the end of a write is activity.
            st.refresh_timer();
            done.call(r);
        }));
    }

    fn wake_connect_waiters(&self) {
        wake_list(&self.connect_wakers);
    }

    /// Node's `_unrefTimer`: activity (a read, a write, connecting) pushes
    /// the idle timer back; a timer that fired is armed again.
    fn refresh_timer(self: &Rc<Self>) {
        let Some(d) = self.timeout.get().filter(|d| !d.is_zero()) else {
            return;
        };
        if self.closed.get() {
            return;
        }
        let was = self.deadline.replace(Some(Instant::now() + d));
        if !self.timer_task.replace(true) {
            let weak = Rc::downgrade(self);
            let _task = event_loop::spawn(tokio::task::unconstrained(timer_loop(weak)));
        } else if was.is_none() {
            // The task waits for a deadline: give it this one. (A later
            // deadline than the one it sleeps to is found when it wakes.)
            wake_slot(&self.timer_waker);
        }
    }

    /// Node's `setTimeout(msecs)`: a new idle timer (zero: none).
    fn set_timeout(self: &Rc<Self>, d: Duration) {
        self.timeout.set(Some(d));
        self.deadline.set(None);
        wake_slot(&self.timer_waker);
        self.refresh_timer();
    }
}

/// The idle timer: sleeps to the deadline (moved later by activity, found
/// on waking), emits `'timeout'` when reached, then waits for the next
/// deadline. It holds the socket weakly, and ends when it closes.
async fn timer_loop(weak: Weak<SocketState>) {
    let sleep = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    loop {
        let due = std::future::poll_fn(|cx| {
            let Some(st) = weak.upgrade() else {
                return Poll::Ready(false);
            };
            if st.closed.get() {
                st.timer_task.set(false);
                return Poll::Ready(false);
            }
            let Some(d) = st.deadline.get() else {
                store_waker(&st.timer_waker, cx);
                return Poll::Pending;
            };
            if armed != Some(d) {
                sleep.as_mut().reset(d);
                armed = Some(d);
            }
            match sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(true),
                Poll::Pending => {
                    store_waker(&st.timer_waker, cx);
                    Poll::Pending
                }
            }
        })
        .await;
        let Some(st) = weak.upgrade() else { return };
        if !due {
            return;
        }
        armed = None;
        st.deadline.set(None);
        st.on_timeout.emit(&());
    }
}

/// Node's `setKeepAlive`: `SO_KEEPALIVE`, and the idle time before the
/// first probe (`TCP_KEEPIDLE`) in whole seconds when at least one.
fn set_keep_alive(tcp: &TcpStream, on: bool, initial_delay: Duration) -> io::Result<()> {
    let sock = socket2::SockRef::from(tcp);
    if on && initial_delay.as_secs() > 0 {
        let ka =
            socket2::TcpKeepalive::new().with_time(Duration::from_secs(initial_delay.as_secs()));
        sock.set_tcp_keepalive(&ka)
    } else {
        sock.set_keepalive(on)
    }
}

enum ReadOutcome {
    Data(Bytes),
    Eof,
    Error(Error),
}

/// The reader: reads while `_read` asked for data, pushes each chunk, stops
/// when `push` says the buffer is full (Node's `readStop`).
async fn read_loop(st: Rc<SocketState>) {
    let mut in_a_row = 0u32;
    loop {
        let Some(outcome) = std::future::poll_fn(|cx| st.poll_read(cx)).await else {
            return;
        };
        // Node's onStreamRead: any read outcome is activity.
        st.refresh_timer();
        let src = st.source.borrow().clone();
        let Some(src) = src else { return };
        match outcome {
            ReadOutcome::Data(chunk) => {
                st.bytes_read.set(st.bytes_read.get() + chunk.len() as u64);
                if !src.push(chunk) {
                    st.reading.set(false);
                }
            }
            ReadOutcome::Eof => {
                st.reading.set(false);
                src.push_eof();
                return;
            }
            ReadOutcome::Error(e) => {
                st.reading.set(false);
                src.destroy(Some(e));
                return;
            }
        }
        in_a_row += 1;
        if in_a_row == READS_PER_TURN {
            in_a_row = 0;
            tokio::task::yield_now().await;
        }
    }
}

/// Resolves when the stream is destroyed (or gone).
fn destroyed_signal(core: Weak<Core<Bytes, Bytes>>) -> impl Future<Output = ()> {
    std::future::poll_fn(move |cx| match core.upgrade() {
        Some(c) if !c.is_destroyed() => {
            event_loop::park_waker(&mut c.ws().borrow_mut().wakers, cx.waker());
            Poll::Pending
        }
        _ => Poll::Ready(()),
    })
}

/// Connects to `target`: a Unix-domain path, or [`connect_inet`].
async fn connect_to(target: &Target) -> Result<Conn, Error> {
    if !have_runtime() {
        return Err(no_runtime());
    }
    match target {
        Target::Inet(t) => connect_inet(t).await.map(Conn::Tcp),
        #[cfg(unix)]
        Target::Path(p) => UnixStream::connect(p)
            .await
            .map(Conn::Unix)
            .map_err(|e| Error::net(einval(e), "connect", Some(p.display().to_string()))),
    }
}

/// Resolves `target` (`host:port`, or a literal address) and connects to
/// the first address that answers.
async fn connect_inet(target: &str) -> Result<TcpStream, Error> {
    let host = || {
        target
            .rsplit_once(':')
            .map_or(target, |(h, _)| h)
            .trim_matches(|c| c == '[' || c == ']')
            .to_string()
    };
    let addrs: Vec<SocketAddr> = match target.parse::<SocketAddr>() {
        Ok(a) => vec![a],
        Err(_) => match tokio::net::lookup_host(target).await {
            Ok(it) => it.collect(),
            Err(e) => return Err(Error::net_code("ENOTFOUND", e, "getaddrinfo", Some(host()))),
        },
    };
    let mut last = None;
    for a in addrs {
        match TcpStream::connect(a).await {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(Error::net(e, "connect", Some(show_addr(&a)))),
        }
    }
    Err(last.unwrap_or_else(|| {
        Error::net_code(
            "ENOTFOUND",
            io::Error::other("no address"),
            "getaddrinfo",
            Some(host()),
        )
    }))
}

struct SocketSource(Rc<SocketState>);

impl ReadableImpl<Bytes> for SocketSource {
    /// Node's `_read`: start reading (`tryReadStart`).
    fn read(&self, _size: usize, src: &Source<Bytes>) {
        let st = &self.0;
        if st.closed.get() {
            return;
        }
        if st.source.borrow().is_none() {
            *st.source.borrow_mut() = Some(src.clone());
        }
        st.reading.set(true);
        if st.read_task.replace(true) {
            wake_slot(&st.read_waker);
        } else {
            let _task = event_loop::spawn(tokio::task::unconstrained(read_loop(st.clone())));
        }
    }
}

struct SocketSink(Rc<SocketState>);

impl WritableImpl<Bytes> for SocketSink {
    /// A client socket connects here: writes wait in the buffer meanwhile.
    fn construct(&self, done: Done) {
        let st = self.0.clone();
        let _task = event_loop::spawn(tokio::task::unconstrained(async move {
            let target = st
                .target
                .clone()
                .unwrap_or_else(|| Target::Inet(String::new()));
            let destroyed = destroyed_signal(st.core.borrow().clone());
            let outcome = tokio::select! {
                biased;
                () = destroyed => None,
                r = connect_to(&target) => Some(r),
            };
            st.connecting.set(false);
            match outcome {
                // destroy() while connecting: its destroy hook runs next.
                None => done.ok(),
                Some(Ok(conn)) => {
                    st.attach(conn);
                    // Node's afterConnect: `_unrefTimer()`.
                    st.refresh_timer();
                    done.ok();
                    st.wake_connect_waiters();
                    st.on_connect.emit(&());
                    st.on_ready.emit(&());
                    // Node's afterConnect: `if (!isPaused()) read(0)`, once
                    // the construct callback's tick has run.
                    let core = st.core.borrow().clone();
                    next_tick(move || {
                        if let Some(core) = core.upgrade() {
                            let d = Duplex { core };
                            if !d.is_paused() && !d.destroyed() {
                                let _ = d.read(Some(0));
                            }
                        }
                    });
                }
                Some(Err(e)) => {
                    *st.connect_error.borrow_mut() = Some(e.clone());
                    done.err(e);
                    st.wake_connect_waiters();
                }
            }
        }));
    }

    /// A socket made to connect has a construct hook (the connect); an
    /// accepted one is connected already.
    fn hooks(&self) -> Hooks {
        let mut h = Hooks::WRITEV | Hooks::FINAL;
        if self.0.target.is_some() {
            h = h | Hooks::CONSTRUCT;
        }
        h
    }

    fn write(&self, chunk: Bytes, done: Done) {
        let st = &self.0;
        // Node's `_writeGeneric`: a write is activity.
        st.refresh_timer();
        match st.try_write_one(&chunk) {
            Ok(n) if n == chunk.len() => done.ok(),
            Ok(n) => st.write_later(VecDeque::from([chunk.slice(n..)]), done),
            Err(e) => done.err(e),
        }
    }

    fn writev(&self, chunks: Vec<Bytes>, done: Done) {
        let st = &self.0;
        st.refresh_timer();
        let mut bufs = VecDeque::from(chunks);
        match st.try_write_bufs(&mut bufs) {
            Ok(()) if bufs.is_empty() => done.ok(),
            Ok(()) => st.write_later(bufs, done),
            Err(e) => done.err(e),
        }
    }

    /// Node's `_final`: shut the write side down (the peer reads EOF).
    fn finish(&self, done: Done) {
        let r = {
            let mut guard = self.0.tcp.borrow_mut();
            match guard.as_mut().map(Conn::shutdown_now) {
                Some(Err(e)) if e.kind() != io::ErrorKind::NotConnected => {
                    Err(Error::net(e, "shutdown", None))
                }
                _ => Ok(()),
            }
        };
        done.call(r);
    }

    /// Node's `_destroy`: close the descriptor now.
    fn destroy(&self, err: Option<Error>, done: Done) {
        let st = &self.0;
        st.close();
        if let Some(srv) = st.server.as_ref().and_then(Weak::upgrade) {
            srv.connections.set(srv.connections.get().saturating_sub(1));
            srv.emit_close_if_drained();
        }
        done.call(err.map_or(Ok(()), Err));
    }
}

/// A TCP connection as a byte Duplex (Node's `net.Socket`): its stream
/// methods are [`StreamBase`], [`ReadableSide`](crate::ReadableSide),
/// [`WritableSide`](crate::WritableSide) and [`ReadableExt`](crate::ReadableExt),
/// so a socket pipes into itself (`socket.pipe(&socket)`, an echo) or into
/// anything else. A cheap handle: clones are the same socket.
///
/// See the [module documentation](self) for how it behaves.
///
/// # Examples
///
/// ```
/// use highwater::net::{Server, ServerOptions, SocketOptions};
/// use highwater::prelude::*;
///
/// highwater::block_on(async {
///     let server = Server::new(ServerOptions::default());
///     server.on_connection(|s| { s.pipe(s); }); // echo
///     server.listen_async("127.0.0.1:0").await?;
///     let addr = server.local_addr().unwrap();
///     let c = highwater::net::connect(addr, SocketOptions::default());
///     c.connected().await?;
///     c.write_async(bytes::Bytes::from_static(b"ping")).await?;
///     c.end();
///     server.close();
///     Ok::<_, highwater::Error>(())
/// })
/// .unwrap();
/// ```
#[derive(Clone)]
pub struct Socket {
    duplex: Duplex<Bytes, Bytes>,
    st: Rc<SocketState>,
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("remote_addr", &self.st.remote.get())
            .field("local_addr", &self.st.local.get())
            .field("connecting", &self.st.connecting.get())
            .field("bytes_read", &self.st.bytes_read.get())
            .field("bytes_written", &self.st.bytes_written.get())
            .field("destroyed", &self.duplex.destroyed())
            .finish()
    }
}

impl Handle for Socket {
    type R = Bytes;
    type W = Bytes;
    fn core(&self) -> &Rc<Core<Bytes, Bytes>> {
        &self.duplex.core
    }
}
impl HasReadable for Socket {}
impl HasWritable for Socket {}

/// Connects to `addr` (`"host:port"` or a `SocketAddr`): Node's
/// `net.connect(options)`. Returns at once with a pending socket; see
/// [`Socket::connect`].
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::net::{connect, Server, ServerOptions, SocketOptions};
///
/// highwater::block_on(async {
///     let server = Server::new(ServerOptions::default());
///     let addr = server.listen_async("127.0.0.1:0").await?;
///     let client = connect(format!("127.0.0.1:{}", addr.port()), SocketOptions::default());
///     assert!(client.connecting()); // returned at once
///     client.connected().await?;
///     assert_eq!(client.remote_addr(), Some(addr));
///     client.destroy(None);
///     server.close();
///     Ok::<_, highwater::Error>(())
/// })
/// .unwrap();
/// ```
pub fn connect(addr: impl ToString, opts: SocketOptions) -> Socket {
    Socket::connect(addr, opts)
}

/// Connects to the Unix-domain socket at `path`: Node's
/// `net.connect({ path })`. Returns at once with a pending socket; see
/// [`Socket::connect_path`].
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::net::{connect_path, Server, ServerOptions, SocketOptions};
///
/// highwater::block_on(async {
///     let dir = std::env::temp_dir().join(format!("hw-doc-cp-{}", std::process::id()));
///     std::fs::create_dir_all(&dir).unwrap();
///     let path = dir.join("echo.sock");
///     let server = Server::new(ServerOptions::default());
///     server.on_connection(|s| { s.pipe(s); }); // echo
///     server.listen_path_async(&path).await?;
///     let client = connect_path(&path, SocketOptions::default());
///     client.connected().await?;
///     assert_eq!(client.remote_addr(), None); // no IP address, as Node's undefined
///     client.destroy(None);
///     server.close();
///     std::fs::remove_dir(&dir).unwrap();
///     Ok::<_, highwater::Error>(())
/// })
/// .unwrap();
/// ```
#[cfg(unix)]
pub fn connect_path(path: impl AsRef<Path>, opts: SocketOptions) -> Socket {
    Socket::connect_path(path, opts)
}

impl Socket {
    fn build(st: SocketState, opts: &SocketOptions) -> Socket {
        let st = Rc::new(st);
        let duplex = Duplex::new(
            opts.duplex_options(),
            SocketSource(st.clone()),
            SocketSink(st.clone()),
        );
        *st.core.borrow_mut() = Rc::downgrade(&duplex.core);
        if let Some(t) = opts.timeout {
            st.set_timeout(t);
        }
        Socket { duplex, st }
    }

    /// Connects to `addr` (`"host:port"`, resolved if it is a name, or a
    /// `SocketAddr`). The connection is made on a later turn of the loop:
    /// then `'connect'` and `'ready'`, or `'error'` (`connect ECONNREFUSED
    /// 127.0.0.1:8080`, `getaddrinfo ENOTFOUND nohost`) and `'close'`.
    /// Writes made before are buffered, and sent once connected.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use futures::StreamExt;
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     assert!(client.write(Bytes::from_static(b"early"))); // buffered until connected
    ///     client.end();
    ///     let peer = server.accept().await?;
    ///     let got: Vec<u8> = peer.stream().map(|c| c.unwrap().to_vec()).concat().await;
    ///     assert_eq!(got, b"early");
    ///     server.close();
    ///
    ///     // Nobody listens on that port any more: the connect is refused.
    ///     let refused = Socket::connect(addr, SocketOptions::default());
    ///     let err = refused.connected().await.unwrap_err();
    ///     assert_eq!(err.code(), "ECONNREFUSED");
    ///     assert_eq!(err.to_string(), format!("connect ECONNREFUSED {addr}"));
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn connect(addr: impl ToString, opts: SocketOptions) -> Socket {
        let st = SocketState::new(Some(Target::Inet(addr.to_string())), &opts, None);
        // Node's `connecting` is true from the call on.
        st.connecting.set(true);
        Socket::build(st, &opts)
    }

    /// Connects to the Unix-domain socket at `path` (Node's
    /// `net.connect({ path })`), on a later turn of the loop: then
    /// `'connect'` and `'ready'`, or `'error'` (`connect ENOENT /tmp/x.sock`
    /// when nothing is there, `connect ECONNREFUSED …` when nobody listens
    /// on it) and `'close'`. Everything else is as for [`Socket::connect`];
    /// `remote_addr` and `local_addr` stay `None`, and `set_no_delay` and
    /// `set_keep_alive` do nothing (as in Node, a pipe has neither).
    ///
    /// ```
    /// use highwater::net::{Socket, SocketOptions};
    ///
    /// highwater::block_on(async {
    ///     let missing = std::env::temp_dir().join(format!("hw-doc-none-{}.sock", std::process::id()));
    ///     let s = Socket::connect_path(&missing, SocketOptions::default());
    ///     let err = s.connected().await.unwrap_err();
    ///     assert_eq!(err.code(), "ENOENT");
    ///     assert_eq!(err.to_string(), format!("connect ENOENT {}", missing.display()));
    /// });
    /// ```
    #[cfg(unix)]
    pub fn connect_path(path: impl AsRef<Path>, opts: SocketOptions) -> Socket {
        let target = Target::Path(path.as_ref().to_path_buf());
        let st = SocketState::new(Some(target), &opts, None);
        st.connecting.set(true);
        Socket::build(st, &opts)
    }

    fn accepted(conn: Conn, opts: &ServerOptions, server: Weak<ServerState>) -> Socket {
        let st = SocketState::new(None, &opts.socket, Some(server));
        st.attach(conn);
        let s = Socket::build(st, &opts.socket);
        // Node's Socket constructor: start reading at once, unless paused.
        if opts.pause_on_connect {
            s.duplex.pause();
        } else {
            let _ = s.duplex.read(Some(0));
        }
        s
    }

    /// Node's `allowHalfOpen`: whether the writable side stays open after
    /// the peer's FIN (see [`SocketOptions::allow_half_open`]).
    ///
    /// ```
    /// use highwater::net::{Socket, SocketOptions};
    /// highwater::block_on(async {
    ///     let s = Socket::connect("127.0.0.1:9", SocketOptions::default());
    ///     assert!(!s.allow_half_open()); // Node's default for sockets
    /// });
    /// ```
    pub fn allow_half_open(&self) -> bool {
        self.duplex.allow_half_open()
    }

    /// Connecting now (Node's `connecting`).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     assert!(client.connecting());
    ///     client.connected().await?;
    ///     assert!(!client.connecting());
    ///     client.destroy(None);
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn connecting(&self) -> bool {
        self.st.connecting.get()
    }

    /// Not connected: still connecting, failed, or closed (Node's `pending`).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     assert!(client.pending()); // connecting
    ///     client.connected().await?;
    ///     assert!(!client.pending());
    ///     client.destroy(None);
    ///     assert!(client.pending()); // closed
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn pending(&self) -> bool {
        self.st.tcp.borrow().is_none()
    }

    /// The peer's address, once connected (kept after closing).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     assert_eq!(client.remote_addr(), None);
    ///     client.connected().await?;
    ///     assert_eq!(client.remote_addr(), Some(addr));
    ///     client.destroy(None);
    ///     assert_eq!(client.remote_addr(), Some(addr)); // kept
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.st.remote.get()
    }

    /// This end's address, once connected (kept after closing).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     assert_eq!(client.local_addr(), None);
    ///     let peer = server.accept().await?;
    ///     client.connected().await?;
    ///     let local = client.local_addr().unwrap();
    ///     assert_eq!(local.ip(), addr.ip());
    ///     assert_eq!(peer.remote_addr(), Some(local)); // the server sees this end
    ///     assert_eq!(peer.local_addr(), Some(addr));
    ///     client.destroy(None);
    ///     peer.destroy(None);
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.st.local.get()
    }

    /// Bytes received (Node's `bytesRead`).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use futures::StreamExt;
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     let peer = server.accept().await?;
    ///     peer.write_async(Bytes::from_static(b"hello")).await?;
    ///     peer.end();
    ///     let got: Vec<u8> = client.stream().map(|c| c.unwrap().to_vec()).concat().await;
    ///     assert_eq!(got, b"hello");
    ///     assert_eq!(client.bytes_read(), 5);
    ///     assert_eq!(peer.bytes_read(), 0); // the client sent nothing
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn bytes_read(&self) -> u64 {
        self.st.bytes_read.get()
    }

    /// Bytes the kernel accepted for sending. (Node's `bytesWritten` also
    /// counts what is still buffered: add `writable_length()` for that.)
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     client.write(Bytes::from_static(b"hello")); // buffered: not connected yet
    ///     assert_eq!(client.bytes_written(), 0);
    ///     assert_eq!(client.writable_length(), 5); // Node's bytesWritten would say 5
    ///     client.end_async().await?; // connected, sent, write side shut down
    ///     assert_eq!(client.bytes_written(), 5);
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn bytes_written(&self) -> u64 {
        self.st.bytes_written.get()
    }

    /// Adds a `'connect'` listener: the connection is established.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     let calls = Rc::new(Cell::new(0));
    ///     let c = calls.clone();
    ///     client.on_connect(move || c.set(c.get() + 1));
    ///     assert_eq!(calls.get(), 0); // the connection is made on a later turn
    ///     client.connected().await?;
    ///     assert_eq!(calls.get(), 1);
    ///     client.destroy(None);
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn on_connect(&self, f: impl Fn() + 'static) -> ListenerId {
        self.st.on_connect.add(Rc::new(move |_| f()), false, false)
    }

    /// Adds a `'connect'` listener called once.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     let calls = Rc::new(Cell::new(0));
    ///     let c = calls.clone();
    ///     let id = client.once_connect(move || c.set(c.get() + 1));
    ///     client.connected().await?;
    ///     assert_eq!(calls.get(), 1);
    ///     assert!(!client.off(id)); // removed once called
    ///     client.destroy(None);
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn once_connect(&self, f: impl Fn() + 'static) -> ListenerId {
        self.st.on_connect.add(Rc::new(move |_| f()), true, false)
    }

    /// Adds a `'ready'` listener (right after `'connect'`).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    /// use std::{cell::RefCell, rc::Rc};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     let log = Rc::new(RefCell::new(Vec::new()));
    ///     let (l1, l2) = (log.clone(), log.clone());
    ///     client.on_ready(move || l1.borrow_mut().push("ready"));
    ///     client.on_connect(move || l2.borrow_mut().push("connect"));
    ///     client.connected().await?;
    ///     assert_eq!(*log.borrow(), ["connect", "ready"]);
    ///     client.destroy(None);
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn on_ready(&self, f: impl Fn() + 'static) -> ListenerId {
        self.st.on_ready.add(Rc::new(move |_| f()), false, false)
    }

    /// Removes a listener added by any `on`/`once` method of the socket
    /// (`'connect'`, `'ready'`) or of its stream; it shadows
    /// [`StreamBase::off`], which knows only the stream's. Returns whether
    /// it was registered.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Socket, SocketOptions};
    /// highwater::block_on(async {
    ///     let s = Socket::connect("127.0.0.1:9", SocketOptions::default());
    ///     let id = s.on_connect(|| ());
    ///     assert!(s.off(id));
    /// });
    /// ```
    pub fn off(&self, id: ListenerId) -> bool {
        self.st.on_connect.remove(id)
            || self.st.on_ready.remove(id)
            || self.st.on_timeout.remove(id)
            || self.duplex.off(id)
    }

    /// Sets the idle timeout (Node's `setTimeout(msecs)`): once the socket
    /// has been idle (nothing read, nothing written, no write progressing)
    /// for `timeout`, `'timeout'` is emitted ([`Socket::on_timeout`]). The
    /// socket is **not** closed: the listener decides (`destroy`, `end`, or
    /// nothing). After `'timeout'`, the next activity arms the timer again.
    /// `Duration::ZERO` disables it. Does nothing on a destroyed socket.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    /// use std::time::Duration;
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     client.set_timeout(Duration::from_millis(20));
    ///     assert_eq!(client.timeout(), Some(Duration::from_millis(20)));
    ///     let c = client.clone();
    ///     client.on_timeout(move || c.destroy(None)); // idle: close it
    ///     let _peer = server.accept().await?; // the peer sends nothing
    ///     highwater::finished_async(&client).await.ok();
    ///     assert!(client.destroyed());
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn set_timeout(&self, timeout: Duration) {
        if self.duplex.destroyed() {
            return;
        }
        self.st.set_timeout(timeout);
    }

    /// Node's `setTimeout(msecs, callback)`: [`Socket::set_timeout`], and
    /// `f` as a once-listener of `'timeout'` (returned) unless `timeout`
    /// is zero. (Node's zero removes `callback` if it was a listener: here
    /// remove it with [`Socket::off`].)
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    /// use std::{cell::Cell, rc::Rc, time::Duration};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     assert!(client.set_timeout_with(Duration::ZERO, || ()).is_none());
    ///     let c = client.clone();
    ///     let id = client.set_timeout_with(Duration::from_millis(10), move || c.destroy(None));
    ///     assert!(id.is_some());
    ///     highwater::finished_async(&client).await.ok();
    ///     assert!(client.destroyed());
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn set_timeout_with(
        &self,
        timeout: Duration,
        f: impl Fn() + 'static,
    ) -> Option<ListenerId> {
        if self.duplex.destroyed() {
            return None;
        }
        self.st.set_timeout(timeout);
        if timeout.is_zero() {
            None
        } else {
            Some(self.once_timeout(f))
        }
    }

    /// The idle timeout last set (Node's `socket.timeout`): `None` until
    /// [`Socket::set_timeout`] is called, `Some(Duration::ZERO)` once
    /// disabled.
    ///
    /// ```
    /// use highwater::net::{Socket, SocketOptions};
    /// use std::time::Duration;
    /// highwater::block_on(async {
    ///     let s = Socket::connect("127.0.0.1:9", SocketOptions::default());
    ///     assert_eq!(s.timeout(), None);
    ///     s.set_timeout(Duration::from_secs(5));
    ///     s.set_timeout(Duration::ZERO);
    ///     assert_eq!(s.timeout(), Some(Duration::ZERO));
    /// });
    /// ```
    pub fn timeout(&self) -> Option<Duration> {
        self.st.timeout.get()
    }

    /// Adds a `'timeout'` listener: the socket has been idle for the
    /// timeout set with [`Socket::set_timeout`]. Called each time the
    /// socket goes idle again.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    /// use std::{cell::Cell, rc::Rc, time::Duration};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     let peer = server.accept().await?;
    ///     let timeouts = Rc::new(Cell::new(0));
    ///     let (t, c) = (timeouts.clone(), client.clone());
    ///     client.on_timeout(move || {
    ///         t.set(t.get() + 1);
    ///         if t.get() == 1 {
    ///             c.write(Bytes::from_static(b"still here")); // activity: armed again
    ///         } else {
    ///             c.destroy(None);
    ///         }
    ///     });
    ///     client.set_timeout(Duration::from_millis(10));
    ///     highwater::finished_async(&client).await.ok();
    ///     assert_eq!(timeouts.get(), 2);
    ///     peer.destroy(None);
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn on_timeout(&self, f: impl Fn() + 'static) -> ListenerId {
        self.st.on_timeout.add(Rc::new(move |_| f()), false, false)
    }

    /// Adds a `'timeout'` listener called once.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Socket, SocketOptions};
    /// highwater::block_on(async {
    ///     let s = Socket::connect("127.0.0.1:9", SocketOptions::default());
    ///     let id = s.once_timeout(|| ());
    ///     assert!(s.off(id));
    ///     s.destroy(None);
    /// });
    /// ```
    pub fn once_timeout(&self, f: impl Fn() + 'static) -> ListenerId {
        self.st.on_timeout.add(Rc::new(move |_| f()), true, false)
    }

    /// Turns TCP keep-alive on or off (Node's `setKeepAlive(enable,
    /// initialDelay)`): when on, probes start after `initial_delay` of
    /// idleness, counted in whole seconds; below one second the system's
    /// delay stays. Applies now if connected, else once connected; does
    /// nothing on a Unix-domain socket (as in Node).
    ///
    /// # Errors
    ///
    /// The OS error of `setsockopt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    /// use std::time::Duration;
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     client.set_keep_alive(true, Duration::from_secs(30))?; // once connected
    ///     client.connected().await?;
    ///     client.set_keep_alive(false, Duration::ZERO)?; // now
    ///     client.destroy(None);
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn set_keep_alive(&self, enable: bool, initial_delay: Duration) -> Result<(), Error> {
        self.st
            .keep_alive
            .set(if enable { Some(initial_delay) } else { None });
        match self.st.tcp.borrow().as_ref().and_then(Conn::tcp) {
            Some(t) => set_keep_alive(t, enable, initial_delay)
                .map_err(|e| Error::net(e, "setsockopt", None)),
            None => Ok(()),
        }
    }

    /// Ends the writable side, then destroys the socket once it finished
    /// (Node's `destroySoon`): buffered writes still go out, then the
    /// socket closes without waiting for the peer's end.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use futures::StreamExt;
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     client.write(Bytes::from_static(b"last words"));
    ///     client.destroy_soon();
    ///     assert!(!client.destroyed()); // not yet: the write is pending
    ///     let peer = server.accept().await?;
    ///     let got: Vec<u8> = peer.stream().map(|c| c.unwrap().to_vec()).concat().await;
    ///     assert_eq!(got, b"last words");
    ///     highwater::finished_async(&client).await.ok();
    ///     assert!(client.destroyed());
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn destroy_soon(&self) {
        let d = &self.duplex;
        if d.writable() {
            d.end();
        }
        if d.writable_finished() {
            d.destroy(None);
        } else {
            let core = Rc::downgrade(&d.core);
            d.once(WritableEvent::Finish, move || {
                if let Some(core) = core.upgrade() {
                    crate::stream::core::destroy(&core, None);
                }
            });
        }
    }

    /// Resolves once connected (at once for an accepted socket).
    ///
    /// # Errors
    ///
    /// The connect error (`ECONNREFUSED`, `ENOTFOUND`, …), or the stream's
    /// error, or `ERR_STREAM_DESTROYED` if it was destroyed first.
    ///
    /// # Examples
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     client.connected().await?;
    ///     assert!(!client.pending());
    ///     let peer = server.accept().await?;
    ///     peer.connected().await?; // accepted: connected already
    ///
    ///     let gone = Socket::connect(addr, SocketOptions::default());
    ///     gone.destroy(None);
    ///     assert_eq!(gone.connected().await.unwrap_err().code(), "ERR_STREAM_DESTROYED");
    ///     client.destroy(None);
    ///     peer.destroy(None);
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn connected(&self) -> impl Future<Output = Result<(), Error>> + 'static {
        let st = self.st.clone();
        let core = self.duplex.core.clone();
        std::future::poll_fn(move |cx| {
            if st.connected.get() {
                return Poll::Ready(Ok(()));
            }
            if let Some(e) = st.connect_error.borrow().clone() {
                return Poll::Ready(Err(e));
            }
            if let Some(e) = core.errored() {
                return Poll::Ready(Err(e));
            }
            if core.is_destroyed() || st.closed.get() {
                return Poll::Ready(Err(Error::destroyed("connect")));
            }
            event_loop::park_waker(&mut st.connect_wakers.borrow_mut(), cx.waker());
            event_loop::park_waker(&mut core.ws().borrow_mut().wakers, cx.waker());
            Poll::Pending
        })
    }

    /// Disables (or re-enables) Nagle's algorithm (Node's `setNoDelay`).
    /// Applies now if connected, else once connected.
    ///
    /// # Errors
    ///
    /// The OS error of `setsockopt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use futures::StreamExt;
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     server.on_connection(|s| { s.pipe(s); }); // echo
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     client.set_no_delay(true)?; // not connected: applied once connected
    ///     client.connected().await?;
    ///     client.set_no_delay(false)?; // connected: applied now
    ///     client.set_no_delay(true)?;
    ///     client.write_async(Bytes::from_static(b"ping")).await?;
    ///     client.end();
    ///     let got: Vec<u8> = client.stream().map(|c| c.unwrap().to_vec()).concat().await;
    ///     assert_eq!(got, b"ping");
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn set_no_delay(&self, on: bool) -> Result<(), Error> {
        self.st.no_delay.set(on);
        match self.st.tcp.borrow().as_ref().and_then(Conn::tcp) {
            Some(t) => t
                .set_nodelay(on)
                .map_err(|e| Error::net(e, "setsockopt", None)),
            None => Ok(()),
        }
    }

    /// Makes closing the socket reset the connection (`SO_LINGER` 0: the
    /// peer gets `ECONNRESET` instead of EOF, and unsent data is dropped),
    /// also when the process dies; `false` restores the ordinary close.
    /// Applies now if connected, else once connected.
    ///
    /// A transfer that must not look complete when it is cut short sets it
    /// while transferring and clears it once the peer confirmed the end.
    ///
    /// # Errors
    ///
    /// The OS error of `setsockopt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     for reset in [false, true] {
    ///         let client = Socket::connect(addr, SocketOptions::default());
    ///         let peer = server.accept().await?;
    ///         client.connected().await?;
    ///         peer.set_reset_on_close(reset)?;
    ///         peer.destroy(None);
    ///         let first = client.stream().next().await;
    ///         if reset {
    ///             assert_eq!(first.unwrap().unwrap_err().code(), "ECONNRESET");
    ///         } else {
    ///             assert!(first.is_none()); // an ordinary close: EOF
    ///         }
    ///     }
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn set_reset_on_close(&self, on: bool) -> Result<(), Error> {
        self.st.reset_on_close.set(on);
        let guard = self.st.tcp.borrow();
        let Some(t) = guard.as_ref().and_then(Conn::tcp) else {
            return Ok(());
        };
        let r = if on {
            t.set_zero_linger()
        } else {
            // `set_linger(None)` restores the default close, which never
            // blocks (tokio deprecates `set_linger` for durations).
            #[allow(deprecated)]
            t.set_linger(None)
        };
        r.map_err(|e| Error::net(e, "setsockopt", None))
    }

    /// Closes the connection with a reset (`RST`) and destroys the socket
    /// (Node's `resetAndDestroy`). While connecting, the reset happens once
    /// connected.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use futures::StreamExt;
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     let peer = server.accept().await?;
    ///     peer.write_async(Bytes::from_static(b"partial")).await?;
    ///     let mut chunks = client.stream();
    ///     assert_eq!(chunks.next().await.unwrap()?, "partial");
    ///     peer.reset_and_destroy();
    ///     assert!(peer.destroyed());
    ///     let err = chunks.next().await.unwrap().unwrap_err();
    ///     assert_eq!(err.to_string(), "read ECONNRESET");
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn reset_and_destroy(&self) {
        let _ = self.set_reset_on_close(true);
        self.duplex.destroy(None);
    }
}

/// A listening socket on `a` with the given backlog (and `SO_REUSEADDR`, as
/// Node and the standard library set it), not yet registered with tokio.
fn listen_socket(a: SocketAddr, backlog: u32) -> io::Result<std::net::TcpListener> {
    let sock = if a.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    sock.bind(a)?;
    // tokio registers the listener with its reactor here: a runtime is
    // needed, and given back by `into_std` (the accept task registers it
    // again on its own runtime).
    if !have_runtime() {
        return Err(io::Error::other(no_runtime().to_string()));
    }
    let l = sock.listen(backlog)?.into_std()?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// A Unix-domain listening socket on `path` with the given backlog, not
/// yet registered with tokio. An existing file at `path` (a socket still
/// listening, or one left behind) is `EADDRINUSE`, as in Node: it is not
/// removed.
#[cfg(unix)]
fn listen_unix(path: &Path, backlog: u32) -> io::Result<std::os::unix::net::UnixListener> {
    let sock = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
    sock.bind(&socket2::SockAddr::unix(path).map_err(einval)?)?;
    let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
    if let Err(e) = sock
        .listen(backlog)
        .and_then(|()| sock.set_nonblocking(true))
    {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(sock.into())
}

/// A path too long for a Unix-domain socket is `EINVAL`, as libuv's
/// `UV_PIPE_NO_TRUNCATE` makes it (Node 20's libuv silently truncated the
/// path instead; Node's test accepts either): the standard library's own
/// error carries no OS code.
#[cfg(unix)]
fn einval(e: io::Error) -> io::Error {
    const EINVAL: i32 = 22; // the same on every Unix
    if e.kind() == io::ErrorKind::InvalidInput && e.raw_os_error().is_none() {
        io::Error::from_raw_os_error(EINVAL)
    } else {
        e
    }
}

/// A bound listener, not yet registered with tokio.
enum StdListener {
    Tcp(std::net::TcpListener),
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixListener),
}

/// A listener registered with tokio (by the accept task).
enum Listener {
    Tcp(TcpListener),
    #[cfg(unix)]
    Unix(UnixListener),
}

impl Listener {
    fn from_std(l: StdListener) -> io::Result<Listener> {
        match l {
            StdListener::Tcp(t) => TcpListener::from_std(t).map(Listener::Tcp),
            #[cfg(unix)]
            StdListener::Unix(u) => UnixListener::from_std(u).map(Listener::Unix),
        }
    }

    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<Conn>> {
        match self {
            Listener::Tcp(t) => t.poll_accept(cx).map_ok(|(s, _)| Conn::Tcp(s)),
            #[cfg(unix)]
            Listener::Unix(u) => u.poll_accept(cx).map_ok(|(s, _)| Conn::Unix(s)),
        }
    }
}

/// What a listening server shares with its accept task and its sockets.
struct ServerState {
    opts: ServerOptions,
    /// Bound, not yet registered with tokio (done by the accept task).
    std_listener: RefCell<Option<StdListener>>,
    listener: RefCell<Option<Listener>>,
    addr: Cell<Option<SocketAddr>>,
    /// The path of a Unix-domain listener (removed on close, as libuv does).
    #[cfg(unix)]
    path: RefCell<Option<PathBuf>>,
    binding: Cell<bool>,
    listening: Cell<bool>,
    accept_task: Cell<bool>,
    closing: Cell<bool>,
    close_emitted: Cell<bool>,
    /// Accepted sockets not yet closed (Node's `_connections`).
    connections: Cell<usize>,
    /// `'close'` was emitted (since the last `listen`).
    closed: Cell<bool>,
    /// The same sockets, weakly (for `destroy_connections`); pruned as
    /// they close.
    open: RefCell<Vec<Weak<Core<Bytes, Bytes>>>>,
    /// Accepted sockets waiting for `accept()`.
    queue: RefCell<VecDeque<Socket>>,
    /// `accept()` calls waiting.
    accepters: Cell<usize>,
    wakers: RefCell<Vec<Waker>>,
    accept_waker: RefCell<Option<Waker>>,
    error: RefCell<Option<Error>>,
    on_listening: Listeners<()>,
    on_connection: Listeners<Socket>,
    on_close: Listeners<()>,
    on_error: Listeners<Error>,
}

impl ServerState {
    fn wake_all(&self) {
        wake_list(&self.wakers);
    }

    fn bind(self: &Rc<Self>, a: SocketAddr) {
        self.binding.set(false);
        match listen_socket(a, self.opts.backlog) {
            Ok(l) => {
                self.addr.set(l.local_addr().ok());
                self.bound(StdListener::Tcp(l));
            }
            Err(e) => self.fail(Error::net(e, "listen", Some(show_addr(&a)))),
        }
    }

    #[cfg(unix)]
    fn bind_path(self: &Rc<Self>, path: PathBuf) {
        self.binding.set(false);
        match listen_unix(&path, self.opts.backlog) {
            Ok(l) => {
                self.addr.set(None);
                *self.path.borrow_mut() = Some(path);
                self.bound(StdListener::Unix(l));
            }
            Err(e) => self.fail(Error::net(e, "listen", Some(path.display().to_string()))),
        }
    }

    /// Listening: the accept task, and `'listening'` on the next tick.
    fn bound(self: &Rc<Self>, l: StdListener) {
        *self.std_listener.borrow_mut() = Some(l);
        self.listening.set(true);
        if !self.accept_task.replace(true) {
            let _task = event_loop::spawn(tokio::task::unconstrained(accept_loop(self.clone())));
        }
        let st = self.clone();
        next_tick(move || {
            if st.listening.get() {
                st.on_listening.emit(&());
            }
            st.wake_all();
        });
    }

    /// A listen error: `'error'` on the next tick.
    fn fail(self: &Rc<Self>, err: Error) {
        self.binding.set(false);
        *self.error.borrow_mut() = Some(err.clone());
        let st = self.clone();
        next_tick(move || {
            st.wake_all();
            st.on_error.emit(&err);
        });
    }

    fn wanted(&self) -> bool {
        self.on_connection.count() > 0 || self.accepters.get() > self.queue.borrow().len()
    }

    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Conn>>> {
        if !self.listening.get() {
            return Poll::Ready(None);
        }
        if self.listener.borrow().is_none() {
            let Some(l) = self.std_listener.borrow_mut().take() else {
                return Poll::Ready(None);
            };
            if !have_runtime() {
                return Poll::Ready(Some(Err(io::Error::other(no_runtime().to_string()))));
            }
            match Listener::from_std(l) {
                Ok(t) => *self.listener.borrow_mut() = Some(t),
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
        if !self.wanted() {
            store_waker(&self.accept_waker, cx);
            return Poll::Pending;
        }
        let guard = self.listener.borrow();
        let Some(l) = guard.as_ref() else {
            return Poll::Ready(None);
        };
        match l.poll_accept(cx) {
            Poll::Ready(Ok(conn)) => Poll::Ready(Some(Ok(conn))),
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Pending => {
                drop(guard);
                store_waker(&self.accept_waker, cx);
                Poll::Pending
            }
        }
    }

    /// Node's `onconnection`: a new socket, to the `'connection'` listeners
    /// or to a waiting `accept()`.
    fn deliver(self: &Rc<Self>, conn: Conn) {
        let socket = Socket::accepted(conn, &self.opts, Rc::downgrade(self));
        self.connections.set(self.connections.get() + 1);
        {
            let mut open = self.open.borrow_mut();
            open.retain(|c| c.upgrade().is_some_and(|c| !c.is_destroyed()));
            open.push(Rc::downgrade(&socket.duplex.core));
        }
        if self.on_connection.count() > 0 {
            self.on_connection.emit(&socket);
        } else {
            self.queue.borrow_mut().push_back(socket);
            self.wake_all();
        }
    }

    /// Node's `_emitCloseIfDrained`: `'close'` once closed with no
    /// connection left.
    fn emit_close_if_drained(self: &Rc<Self>) {
        if !self.closing.get()
            || self.listening.get()
            || self.connections.get() > 0
            || self.close_emitted.replace(true)
        {
            return;
        }
        let st = self.clone();
        next_tick(move || {
            st.closed.set(true);
            st.on_close.emit(&());
            st.wake_all();
        });
    }
}

async fn accept_loop(st: Rc<ServerState>) {
    loop {
        let Some(r) = std::future::poll_fn(|cx| st.poll_accept(cx)).await else {
            st.accept_task.set(false);
            return;
        };
        match r {
            Ok(conn) => st.deliver(conn),
            Err(e) => {
                st.on_error.emit(&Error::net(e, "accept", None));
                if !have_runtime() {
                    st.accept_task.set(false);
                    return;
                }
                // Out of descriptors, say: let some close before retrying.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// An `accept()` call waiting: counted while it waits, so that the server
/// accepts only as many connections as there are takers.
struct Accepter(Rc<ServerState>);

impl Accepter {
    fn new(st: &Rc<ServerState>) -> Accepter {
        st.accepters.set(st.accepters.get() + 1);
        wake_slot(&st.accept_waker);
        Accepter(st.clone())
    }
}

impl Drop for Accepter {
    fn drop(&mut self) {
        self.0
            .accepters
            .set(self.0.accepters.get().saturating_sub(1));
    }
}

/// A TCP server (Node's `net.Server`). A cheap handle: clones are the same
/// server.
///
/// Accepted connections go to the `'connection'` listeners
/// ([`on_connection`](Self::on_connection)); when there is none, to
/// [`accept`](Self::accept) calls, and then only as many are accepted as
/// there are callers waiting (the others wait in the kernel's backlog).
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::net::{connect, Server, ServerOptions, SocketOptions};
///
/// highwater::block_on(async {
///     let server = Server::new(ServerOptions::default());
///     let addr = server.listen_async("127.0.0.1:0").await?;
///     let client = connect(addr, SocketOptions::default());
///     let accepted = server.accept().await?;
///     client.connected().await?;
///     assert_eq!(accepted.remote_addr(), client.local_addr());
///     client.destroy(None);
///     accepted.destroy(None);
///     server.close();
///     Ok::<_, highwater::Error>(())
/// })
/// .unwrap();
/// ```
#[derive(Clone)]
pub struct Server {
    st: Rc<ServerState>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.st.addr.get())
            .field("listening", &self.st.listening.get())
            .field("connections", &self.st.connections.get())
            .finish()
    }
}

impl Server {
    /// A server, not listening yet (Node's `net.createServer(options)`).
    ///
    /// ```
    /// use highwater::net::{Server, ServerOptions};
    ///
    /// let server = Server::new(ServerOptions::default());
    /// assert!(!server.listening());
    /// assert_eq!(server.local_addr(), None);
    /// assert_eq!(server.connections(), 0);
    /// ```
    pub fn new(opts: ServerOptions) -> Server {
        Server {
            st: Rc::new(ServerState {
                opts,
                std_listener: RefCell::new(None),
                #[cfg(unix)]
                path: RefCell::new(None),
                listener: RefCell::new(None),
                addr: Cell::new(None),
                binding: Cell::new(false),
                listening: Cell::new(false),
                accept_task: Cell::new(false),
                closing: Cell::new(false),
                close_emitted: Cell::new(false),
                connections: Cell::new(0),
                closed: Cell::new(false),
                open: RefCell::new(Vec::new()),
                queue: RefCell::new(VecDeque::new()),
                accepters: Cell::new(0),
                wakers: RefCell::new(Vec::new()),
                accept_waker: RefCell::new(None),
                error: RefCell::new(None),
                on_listening: Listeners::default(),
                on_connection: Listeners::default(),
                on_close: Listeners::default(),
                on_error: Listeners::default(),
            }),
        }
    }

    /// Starts listening on `addr` (`"host:port"` or a `SocketAddr`; port 0
    /// picks a free port). A literal address is bound now, so
    /// [`local_addr`](Self::local_addr) has the port at once; a name is
    /// resolved first. `'listening'` follows on the next tick, or
    /// `'error'` (`listen EADDRINUSE: address already in use …`).
    ///
    /// Calling it again while listening (or while a listen is under way)
    /// emits `'error'` with `ERR_SERVER_ALREADY_LISTEN` on the next tick and
    /// changes nothing else. Node throws that error from the call instead;
    /// this method has no result to carry it.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions};
    /// use std::{cell::RefCell, rc::Rc};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let errors = Rc::new(RefCell::new(Vec::new()));
    ///     let e = errors.clone();
    ///     server.on_error(move |err| e.borrow_mut().push(err.code().to_string()));
    ///     server.listen("127.0.0.1:0");
    ///     let addr = server.local_addr().unwrap(); // a literal address is bound now
    ///     assert_ne!(addr.port(), 0);
    ///     server.listen("127.0.0.1:0"); // again: an 'error', the first listen goes on
    ///     tokio::task::yield_now().await;
    ///     assert_eq!(*errors.borrow(), ["ERR_SERVER_ALREADY_LISTEN"]);
    ///     assert_eq!(server.local_addr(), Some(addr));
    ///     server.close();
    /// });
    /// ```
    pub fn listen(&self, addr: impl ToString) {
        if !self.begin_listen() {
            return;
        }
        let st = &self.st;
        let target = addr.to_string();
        match target.parse::<SocketAddr>() {
            Ok(a) => st.bind(a),
            Err(_) => {
                let st = st.clone();
                let _task = event_loop::spawn(async move {
                    let host = target
                        .rsplit_once(':')
                        .map_or(target.as_str(), |(h, _)| h)
                        .to_string();
                    if !have_runtime() {
                        st.fail(no_runtime());
                        return;
                    }
                    let found = tokio::net::lookup_host(target.as_str())
                        .await
                        .map(|mut it| it.next());
                    match found {
                        Ok(Some(a)) if st.binding.get() => st.bind(a),
                        Ok(Some(_)) => {}
                        Ok(None) => st.fail(Error::net_code(
                            "ENOTFOUND",
                            io::Error::other("no address"),
                            "getaddrinfo",
                            Some(host),
                        )),
                        Err(e) => {
                            st.fail(Error::net_code("ENOTFOUND", e, "getaddrinfo", Some(host)))
                        }
                    }
                });
            }
        }
    }

    /// Listens on a Unix-domain socket at `path` (Node's
    /// `server.listen(path)`): `'listening'` on the next tick, or
    /// `'error'`: `listen EADDRINUSE: address already in use /tmp/x.sock`
    /// when a file is there already (a socket still listening, or one left
    /// behind: as Node, it is not removed), `EACCES`, `ENOENT` for a
    /// missing directory. [`Server::close`] removes the socket's file, as
    /// Node (libuv) does.
    ///
    /// ```
    /// use highwater::net::{Server, ServerOptions};
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// highwater::block_on(async {
    ///     let dir = std::env::temp_dir().join(format!("hw-doc-lp-{}", std::process::id()));
    ///     std::fs::create_dir_all(&dir).unwrap();
    ///     let path = dir.join("s.sock");
    ///     let server = Server::new(ServerOptions::default());
    ///     let listening = Rc::new(Cell::new(false));
    ///     let l = listening.clone();
    ///     server.on_listening(move || l.set(true));
    ///     server.listen_path(&path);
    ///     assert!(path.exists()); // bound at once; 'listening' comes on the next tick
    ///     tokio::task::yield_now().await;
    ///     assert!(listening.get());
    ///     server.close_async().await?;
    ///     assert!(!path.exists()); // removed on close
    ///     std::fs::remove_dir(&dir).unwrap();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    #[cfg(unix)]
    pub fn listen_path(&self, path: impl AsRef<Path>) {
        if self.begin_listen() {
            self.st.bind_path(path.as_ref().to_path_buf());
        }
    }

    /// Listens on a Unix-domain socket at `path` ([`Server::listen_path`]),
    /// and resolves to the path once listening.
    ///
    /// # Errors
    ///
    /// The listen error (`EADDRINUSE`, `EACCES`, `ENOENT`, …).
    ///
    /// # Examples
    ///
    /// ```
    /// use highwater::net::{Server, ServerOptions};
    ///
    /// highwater::block_on(async {
    ///     let dir = std::env::temp_dir().join(format!("hw-doc-lpa-{}", std::process::id()));
    ///     std::fs::create_dir_all(&dir).unwrap();
    ///     let path = dir.join("s.sock");
    ///     let server = Server::new(ServerOptions::default());
    ///     assert_eq!(server.listen_path_async(&path).await?, path);
    ///     assert_eq!(server.local_path(), Some(path.clone()));
    ///     assert_eq!(server.local_addr(), None); // no IP address
    ///
    ///     let second = Server::new(ServerOptions::default());
    ///     let err = second.listen_path_async(&path).await.unwrap_err();
    ///     assert_eq!(err.code(), "EADDRINUSE");
    ///     assert_eq!(err.to_string(), format!("listen EADDRINUSE: address already in use {}", path.display()));
    ///     server.close();
    ///     std::fs::remove_dir(&dir).unwrap();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    #[cfg(unix)]
    pub fn listen_path_async(
        &self,
        path: impl AsRef<Path>,
    ) -> impl Future<Output = Result<PathBuf, Error>> + 'static {
        self.listen_path(path);
        let st = self.st.clone();
        std::future::poll_fn(move |cx| {
            if let Some(e) = st.error.borrow().clone() {
                return Poll::Ready(Err(e));
            }
            match st.path.borrow().clone() {
                Some(p) if st.listening.get() => Poll::Ready(Ok(p)),
                _ if !st.binding.get() && !st.listening.get() => {
                    Poll::Ready(Err(server_not_running()))
                }
                _ => {
                    event_loop::park_waker(&mut st.wakers.borrow_mut(), cx.waker());
                    Poll::Pending
                }
            }
        })
    }

    /// The path of the Unix-domain socket listened on (Node's
    /// `server.address()` of a pipe server), while listening.
    ///
    /// ```
    /// use highwater::net::{Server, ServerOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     assert_eq!(server.local_path(), None);
    ///     server.listen_async("127.0.0.1:0").await?;
    ///     assert_eq!(server.local_path(), None); // TCP
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    #[cfg(unix)]
    pub fn local_path(&self) -> Option<PathBuf> {
        if self.st.listening.get() {
            self.st.path.borrow().clone()
        } else {
            None
        }
    }

    /// Node's listen preamble: `ERR_SERVER_ALREADY_LISTEN` (as `'error'`)
    /// if listening or binding, else a fresh start. Returns whether to go on.
    fn begin_listen(&self) -> bool {
        let st = &self.st;
        if st.listening.get() || st.binding.get() {
            // Node throws ERR_SERVER_ALREADY_LISTEN here; `listen` has no
            // return value to carry it, so it is an 'error' event, and the
            // listen already under way (or done) goes on, as in Node.
            let err = Error::custom(
                "ERR_SERVER_ALREADY_LISTEN",
                "Listen method has been called more than once without closing.",
            );
            let st = st.clone();
            next_tick(move || {
                st.on_error.emit(&err);
            });
            return false;
        }
        st.error.borrow_mut().take();
        st.closing.set(false);
        st.close_emitted.set(false);
        st.closed.set(false);
        st.binding.set(true);
        true
    }

    /// [`listen`](Self::listen), then waits until listening.
    ///
    /// # Errors
    ///
    /// The listen error (`EADDRINUSE`, `EACCES`, `ENOTFOUND`, …).
    ///
    /// # Examples
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     assert!(server.listening());
    ///     assert_eq!(server.local_addr(), Some(addr));
    ///
    ///     let other = Server::new(ServerOptions::default());
    ///     let err = other.listen_async(addr).await.unwrap_err();
    ///     assert_eq!(err.code(), "EADDRINUSE");
    ///     assert_eq!(err.to_string(), format!("listen EADDRINUSE: address already in use {addr}"));
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn listen_async(
        &self,
        addr: impl ToString,
    ) -> impl Future<Output = Result<SocketAddr, Error>> + 'static {
        self.listen(addr);
        let st = self.st.clone();
        std::future::poll_fn(move |cx| {
            if let Some(e) = st.error.borrow().clone() {
                return Poll::Ready(Err(e));
            }
            match st.addr.get() {
                Some(a) if st.listening.get() => Poll::Ready(Ok(a)),
                _ if !st.binding.get() && !st.listening.get() => {
                    Poll::Ready(Err(server_not_running()))
                }
                _ => {
                    event_loop::park_waker(&mut st.wakers.borrow_mut(), cx.waker());
                    Poll::Pending
                }
            }
        })
    }

    /// The bound address (Node's `server.address()`), while listening.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     assert_eq!(server.local_addr(), None);
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     assert_eq!(server.local_addr(), Some(addr));
    ///     assert!(addr.ip().is_loopback() && addr.port() != 0); // the port picked
    ///     server.close();
    ///     assert_eq!(server.local_addr(), None);
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn local_addr(&self) -> Option<SocketAddr> {
        if self.st.listening.get() {
            self.st.addr.get()
        } else {
            None
        }
    }

    /// Whether the server is listening (Node's `server.listening`).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     assert!(!server.listening());
    ///     server.listen_async("127.0.0.1:0").await?;
    ///     assert!(server.listening());
    ///     server.close();
    ///     assert!(!server.listening());
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn listening(&self) -> bool {
        self.st.listening.get()
    }

    /// Accepted sockets not closed yet (Node's `getConnections`).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     let peer = server.accept().await?;
    ///     assert_eq!(server.connections(), 1);
    ///     peer.destroy(None);
    ///     assert_eq!(server.connections(), 0);
    ///     client.destroy(None);
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn connections(&self) -> usize {
        self.st.connections.get()
    }

    /// Waits for the next connection (when the server has no
    /// `'connection'` listener).
    ///
    /// # Errors
    ///
    /// `ERR_SERVER_NOT_RUNNING` once the server is closed (or was never
    /// listening), or the listen error.
    ///
    /// # Examples
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     let peer = server.accept().await?;
    ///     client.connected().await?;
    ///     assert_eq!(peer.remote_addr(), client.local_addr());
    ///     server.close();
    ///     assert_eq!(server.accept().await.unwrap_err().code(), "ERR_SERVER_NOT_RUNNING");
    ///     client.destroy(None);
    ///     peer.destroy(None);
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn accept(&self) -> impl Future<Output = Result<Socket, Error>> + 'static {
        let st = self.st.clone();
        async move {
            let _waiting = Accepter::new(&st);
            std::future::poll_fn(|cx| {
                if let Some(s) = st.queue.borrow_mut().pop_front() {
                    return Poll::Ready(Ok(s));
                }
                if !st.listening.get() && !st.binding.get() {
                    let e = st.error.borrow().clone();
                    return Poll::Ready(Err(e.unwrap_or_else(server_not_running)));
                }
                event_loop::park_waker(&mut st.wakers.borrow_mut(), cx.waker());
                Poll::Pending
            })
            .await
        }
    }

    /// Stops accepting (Node's `server.close()`): the listening socket is
    /// closed now, connections already accepted go on, and `'close'` comes
    /// once the last of them closed.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let closed = Rc::new(Cell::new(false));
    ///     let c = closed.clone();
    ///     server.on_close(move || c.set(true));
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     let peer = server.accept().await?;
    ///     server.close();
    ///     let refused = Socket::connect(addr, SocketOptions::default());
    ///     assert_eq!(refused.connected().await.unwrap_err().code(), "ECONNREFUSED");
    ///     assert!(!closed.get()); // a connection is still open
    ///     peer.destroy(None);
    ///     tokio::task::yield_now().await;
    ///     assert!(closed.get());
    ///     client.destroy(None);
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn close(&self) {
        let st = &self.st;
        st.listening.set(false);
        st.binding.set(false);
        let was_bound = st.std_listener.borrow_mut().take().is_some()
            | st.listener.borrow_mut().take().is_some();
        // libuv removes a Unix-domain socket's file when it closes the
        // listener (a server that never listened removes nothing).
        #[cfg(unix)]
        if let Some(p) = st.path.borrow_mut().take() {
            if was_bound {
                let _ = std::fs::remove_file(p);
            }
        }
        #[cfg(not(unix))]
        let _ = was_bound;
        wake_slot(&st.accept_waker);
        st.wake_all();
        st.closing.set(true);
        st.emit_close_if_drained();
    }

    /// Graceful shutdown, Node's `server.close(callback)` awaited:
    /// [`close`](Self::close), then waits for `'close'`, which comes once
    /// every connection accepted before has closed (the listening socket is
    /// closed at once: no new connection is accepted). Give the connections
    /// a grace period with a timeout on this future, then end the
    /// stragglers with [`destroy_connections`](Self::destroy_connections).
    ///
    /// # Errors
    ///
    /// `ERR_SERVER_NOT_RUNNING` (after `'close'`, as Node's callback gets
    /// it) when the server was not listening: never listened, or already
    /// closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use highwater::net::{connect, Server, ServerOptions, SocketOptions};
    /// use highwater::prelude::*;
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     server.on_connection(|s| { s.pipe(s); });
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = connect(addr, SocketOptions::default());
    ///     client.connected().await?;
    ///     while server.connections() == 0 {
    ///         tokio::task::yield_now().await;
    ///     }
    ///     let closing = server.close_async();
    ///     tokio::pin!(closing);
    ///     // The client never hangs up: after the grace period, end it.
    ///     let graceful = tokio::time::timeout(Duration::from_millis(50), &mut closing).await;
    ///     assert!(graceful.is_err(), "a connection is still open");
    ///     server.destroy_connections();
    ///     closing.await?; // every connection closed, then 'close'
    ///     assert_eq!(server.connections(), 0);
    ///     // Closing again: Node's ERR_SERVER_NOT_RUNNING.
    ///     let again = server.close_async().await.unwrap_err();
    ///     assert_eq!(again.code(), "ERR_SERVER_NOT_RUNNING");
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn close_async(&self) -> impl Future<Output = Result<(), Error>> + 'static {
        let was_running = self.st.listening.get() || self.st.binding.get();
        self.close();
        let st = self.st.clone();
        std::future::poll_fn(move |cx| {
            if st.closed.get() && !st.listening.get() {
                return Poll::Ready(if was_running {
                    Ok(())
                } else {
                    Err(server_not_running())
                });
            }
            event_loop::park_waker(&mut st.wakers.borrow_mut(), cx.waker());
            Poll::Pending
        })
    }

    /// Destroys every connection this server accepted that is still open
    /// (as Node's `http.Server.closeAllConnections()` does for HTTP): the end
    /// of a grace period in a graceful shutdown.
    ///
    /// ```
    /// use highwater::net::{connect, Server, ServerOptions, SocketOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = connect(addr, SocketOptions::default());
    ///     let accepted = server.accept().await?;
    ///     client.connected().await?;
    ///     server.destroy_connections();
    ///     assert!(highwater::prelude::StreamBase::destroyed(&accepted));
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn destroy_connections(&self) {
        let open: Vec<_> = self.st.open.borrow_mut().drain(..).collect();
        for c in open.iter().filter_map(Weak::upgrade) {
            crate::stream::core::destroy(&c, None);
        }
    }

    /// Adds a `'listening'` listener.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions};
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let heard = Rc::new(Cell::new(false));
    ///     let h = heard.clone();
    ///     server.on_listening(move || h.set(true));
    ///     server.listen("127.0.0.1:0");
    ///     assert!(!heard.get()); // on the next tick
    ///     tokio::task::yield_now().await;
    ///     assert!(heard.get());
    ///     server.close();
    /// });
    /// ```
    pub fn on_listening(&self, f: impl Fn() + 'static) -> ListenerId {
        self.st
            .on_listening
            .add(Rc::new(move |_| f()), false, false)
    }

    /// Adds a `'connection'` listener: called with each accepted socket.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use futures::StreamExt;
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     server.on_connection(|socket| {
    ///         socket.write(Bytes::from_static(b"welcome"));
    ///         socket.end();
    ///     });
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     for _ in 0..2 {
    ///         let client = Socket::connect(addr, SocketOptions::default());
    ///         let got: Vec<u8> = client.stream().map(|c| c.unwrap().to_vec()).concat().await;
    ///         assert_eq!(got, b"welcome");
    ///     }
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn on_connection(&self, f: impl Fn(&Socket) + 'static) -> ListenerId {
        let id = self.st.on_connection.add(Rc::new(f), false, false);
        wake_slot(&self.st.accept_waker);
        id
    }

    /// Adds a `'close'` listener.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions};
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let closed = Rc::new(Cell::new(false));
    ///     let c = closed.clone();
    ///     server.on_close(move || c.set(true));
    ///     server.listen_async("127.0.0.1:0").await?;
    ///     server.close(); // no connection open: 'close' on the next tick
    ///     assert!(!closed.get());
    ///     tokio::task::yield_now().await;
    ///     assert!(closed.get());
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn on_close(&self, f: impl Fn() + 'static) -> ListenerId {
        self.st.on_close.add(Rc::new(move |_| f()), false, false)
    }

    /// Adds an `'error'` listener (listen and accept errors).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions};
    /// use std::{cell::RefCell, rc::Rc};
    ///
    /// highwater::block_on(async {
    ///     let first = Server::new(ServerOptions::default());
    ///     let addr = first.listen_async("127.0.0.1:0").await?;
    ///     let second = Server::new(ServerOptions::default());
    ///     let seen = Rc::new(RefCell::new(None));
    ///     let s = seen.clone();
    ///     second.on_error(move |e| *s.borrow_mut() = Some(e.code().to_string()));
    ///     second.listen(addr); // the port is taken
    ///     tokio::task::yield_now().await;
    ///     assert_eq!(seen.borrow().as_deref(), Some("EADDRINUSE"));
    ///     assert!(!second.listening());
    ///     first.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn on_error(&self, f: impl Fn(&Error) + 'static) -> ListenerId {
        self.st.on_error.add(Rc::new(f), false, false)
    }

    /// Removes a listener. Returns whether it was registered.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
    ///
    /// highwater::block_on(async {
    ///     let server = Server::new(ServerOptions::default());
    ///     let id = server.on_connection(|_| panic!("removed: never called"));
    ///     assert!(server.off(id));
    ///     assert!(!server.off(id)); // already gone
    ///     let addr = server.listen_async("127.0.0.1:0").await?;
    ///     let client = Socket::connect(addr, SocketOptions::default());
    ///     let peer = server.accept().await?; // no listener: accept() gets it
    ///     client.connected().await?;
    ///     assert_eq!(peer.remote_addr(), client.local_addr());
    ///     client.destroy(None);
    ///     peer.destroy(None);
    ///     server.close();
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn off(&self, id: ListenerId) -> bool {
        let st = &self.st;
        st.on_listening.remove(id)
            || st.on_connection.remove(id)
            || st.on_close.remove(id)
            || st.on_error.remove(id)
    }
}

fn server_not_running() -> Error {
    Error::custom("ERR_SERVER_NOT_RUNNING", "Server is not running.")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `SO_KEEPALIVE` and `TCP_KEEPIDLE` of a connected TCP socket.
    fn keep_alive_of(s: &Socket) -> (bool, Duration) {
        let guard = s.st.tcp.borrow();
        let tcp = guard.as_ref().and_then(Conn::tcp).expect("a TCP socket");
        let r = socket2::SockRef::from(tcp);
        (
            r.keepalive().expect("SO_KEEPALIVE"),
            r.tcp_keepalive_time().expect("TCP_KEEPIDLE"),
        )
    }

    // Node's setKeepAlive(enable, initialDelay): libuv's uv_tcp_keepalive
    // with `~~(initialDelay / 1000)` seconds; a delay under one second
    // leaves the system's idle time; set before connecting, it applies
    // once connected; the server's `keepAlive` option applies to accepted
    // sockets.
    #[test]
    fn set_keep_alive_sets_so_keepalive_and_the_idle_time_in_whole_seconds() {
        crate::block_on(async {
            let server = Server::new(
                ServerOptions::default()
                    .socket(SocketOptions::default().keep_alive(Some(Duration::from_secs(60)))),
            );
            let addr = server.listen_async("127.0.0.1:0").await?;

            let plain = Socket::connect(addr, SocketOptions::default());
            plain.connected().await?;
            let (on, system_idle) = keep_alive_of(&plain);
            assert!(!on);

            let c = Socket::connect(addr, SocketOptions::default());
            c.set_keep_alive(true, Duration::from_millis(30_900))?; // before connecting
            c.connected().await?;
            assert_eq!(keep_alive_of(&c), (true, Duration::from_secs(30)));
            c.set_keep_alive(false, Duration::ZERO)?;
            assert!(!keep_alive_of(&c).0);

            let sub_second = Socket::connect(addr, SocketOptions::default());
            sub_second.connected().await?;
            sub_second.set_keep_alive(true, Duration::from_millis(999))?;
            assert_eq!(keep_alive_of(&sub_second), (true, system_idle));

            let peer = server.accept().await?;
            assert_eq!(keep_alive_of(&peer), (true, Duration::from_secs(60)));

            for s in [plain, c, sub_second, peer] {
                s.destroy(None);
            }
            server.close();
            Ok::<_, Error>(())
        })
        .expect("keep-alive");
    }

    // A Unix-domain socket has no TCP options: as in Node (the Pipe handle
    // has no setNoDelay/setKeepAlive), setting them does nothing.
    #[cfg(unix)]
    #[test]
    fn tcp_options_on_a_unix_socket_do_nothing() {
        crate::block_on(async {
            let dir = std::env::temp_dir().join(format!("hwu-{}", std::process::id()));
            std::fs::create_dir_all(&dir).map_err(|e| Error::msg(e.to_string()))?;
            let path = dir.join("k.sock");
            let server = Server::new(ServerOptions::default());
            server.listen_path_async(&path).await?;
            let c = Socket::connect_path(&path, SocketOptions::default().no_delay(true));
            c.connected().await?;
            assert!(c
                .st
                .tcp
                .borrow()
                .as_ref()
                .is_some_and(|t| t.tcp().is_none()));
            c.set_keep_alive(true, Duration::from_secs(5))?;
            c.set_no_delay(true)?;
            c.set_reset_on_close(true)?;
            c.destroy(None);
            server.close();
            let _ = std::fs::remove_dir_all(&dir);
            Ok::<_, Error>(())
        })
        .expect("unix");
    }
}
