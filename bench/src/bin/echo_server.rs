//! The highwater echo server of the load benchmark (`bench/run.sh`, the
//! "Echo server under load" section): every connection piped into itself,
//! written as a user would write it.
//!
//! ```text
//! echo_server [HOST:PORT]     # default 127.0.0.1:0
//! ```
//!
//! Prints the bound port on stdout once listening. When stdin is closed or
//! on SIGTERM / SIGINT it prints one line of stats on stdout and exits:
//!
//! ```text
//! stats connections=N closed=N errors=N peak_buffered=B peak_buffered_socket=B
//! ```
//!
//! `peak_buffered` is the largest sum, over the open sockets, of
//! `writable_length() + readable_length()` seen by a sampler that runs every
//! `ECHO_SAMPLE_MS` milliseconds (default 20); `peak_buffered_socket` is the
//! largest value of one socket. The Node twin is `bench/node/echo_server.mjs`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use highwater::net::{Server, ServerOptions, Socket};
use highwater::prelude::*;
use highwater::Error;
use tokio::io::AsyncReadExt;
use tokio::signal::unix::{signal, SignalKind};

/// What the server counts.
#[derive(Default)]
struct Stats {
    connections: Cell<u64>,
    closed: Cell<u64>,
    errors: Cell<u64>,
    peak_buffered: Cell<usize>,
    peak_buffered_socket: Cell<usize>,
    /// The open sockets, for the sampler.
    open: RefCell<HashMap<u64, Socket>>,
}

impl Stats {
    fn sample(&self) {
        let mut total = 0;
        let mut most = self.peak_buffered_socket.get();
        for s in self.open.borrow().values() {
            let b = s.writable_length() + s.readable_length();
            total += b;
            most = most.max(b);
        }
        self.peak_buffered_socket.set(most);
        self.peak_buffered.set(self.peak_buffered.get().max(total));
    }

    /// A socket's last word: its buffers as it closes (normally empty).
    fn sample_one(&self, s: &Socket) {
        let b = s.writable_length() + s.readable_length();
        self.peak_buffered_socket
            .set(self.peak_buffered_socket.get().max(b));
    }

    fn line(&self) -> String {
        format!(
            "stats connections={} closed={} errors={} peak_buffered={} peak_buffered_socket={}",
            self.connections.get(),
            self.closed.get(),
            self.errors.get(),
            self.peak_buffered.get(),
            self.peak_buffered_socket.get()
        )
    }
}

/// Resolves on SIGTERM, SIGINT or the end of stdin, whichever comes first.
async fn stop_requested() -> Result<(), Error> {
    let mut term = signal(SignalKind::terminate()).map_err(|e| Error::msg(e.to_string()))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| Error::msg(e.to_string()))?;
    let stdin_closed = async {
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 256];
        // Anything read is ignored; EOF (or a read error) means stop.
        while let Ok(n) = stdin.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        () = stdin_closed => {}
    }
    Ok(())
}

async fn serve(addr: String) -> Result<String, Error> {
    let stats = Rc::new(Stats::default());
    let server = Server::new(ServerOptions::default());
    let st = stats.clone();
    let next_id = Cell::new(0u64);
    server.on_connection(move |socket| {
        socket.pipe(socket); // the echo
        let id = next_id.get();
        next_id.set(id + 1);
        st.connections.set(st.connections.get() + 1);
        st.open.borrow_mut().insert(id, socket.clone());
        let errs = st.clone();
        socket.on_error(move |_e| errs.errors.set(errs.errors.get() + 1));
        let closing = st.clone();
        let s = socket.clone();
        socket.on_close(move || {
            // What a user would do here: look at the socket that closed.
            closing.sample_one(&s);
            closing.closed.set(closing.closed.get() + 1);
            closing.open.borrow_mut().remove(&id);
        });
    });
    let st = stats.clone();
    server.on_error(move |e| {
        eprintln!("echo_server: {e}");
        st.errors.set(st.errors.get() + 1);
    });
    let bound = server.listen_async(addr).await?;
    println!("{}", bound.port());
    let _ = std::io::stdout().flush();

    let every = std::env::var("ECHO_SAMPLE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(20)
        .max(1);
    let st = stats.clone();
    let _sampler = highwater::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(every));
        loop {
            tick.tick().await;
            st.sample();
        }
    });

    stop_requested().await?;
    stats.sample();
    server.close();
    Ok(stats.line())
}

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_string());
    match highwater::block_on(serve(addr)) {
        Ok(line) => {
            println!("{line}");
            let _ = std::io::stdout().flush();
            // Open connections (if any) are dropped with the process.
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("echo_server: {e}");
            std::process::exit(1);
        }
    }
}
