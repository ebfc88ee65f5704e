//! `highwater send ADDR FILE` and `highwater recv ADDR FILE`: a file over TCP
//! through highwater's socket streams, with the copy engine's reports.
//!
//! The bytes on the wire are the file's and nothing else (any TCP peer will
//! do, `nc` for one), and the end follows one rule, so that a transfer cut
//! short never looks complete:
//!
//! * While the data flows, both sides set reset-on-close (`SO_LINGER` 0):
//!   if either process fails, is interrupted or dies (even by SIGKILL), its
//!   kernel resets the connection, and the other side fails with
//!   `ECONNRESET` or `EPIPE` instead of seeing a clean end.
//! * The sender ends its writes (the receiver reads EOF), then waits for the
//!   receiver to close; the receiver closes only once the file is written
//!   (synced with `--fsync`, renamed with `--atomic`). So `send` exits 0
//!   only when `recv` has the whole file.

use highwater::net::{connect, Server, ServerOptions, Socket, SocketOptions};
use highwater::{Error, ErrorKind};

use crate::dest::{open_dest, Dest};
use crate::endpoint::{check_dest, open_input, Endpoint};
use crate::engine::{input_stream, transfer, CopyConfig, Input, Output, Report, Signals};
use crate::error::CliError;

/// What a network error means for the person running the command.
fn hint(e: &Error) -> &'static str {
    match e.code() {
        "ECONNRESET" => " (the connection was reset by the other side)",
        "EPIPE" => " (the other side closed the connection)",
        "ECONNREFUSED" => " (is a receiver listening there?)",
        _ => "",
    }
}

/// Says which side failed: the network, or the file.
fn describe(e: &Error, file: &Endpoint, std_name: &str, net_what: &str) -> CliError {
    if matches!(e.kind(), ErrorKind::Net { .. }) {
        return CliError::Failed(format!("error while {net_what}: {e}{}", hint(e)));
    }
    let side = match e.syscall() {
        Some("read") => format!("reading {}", file.show(std_name)),
        Some("write") | Some("fsync") => format!("writing {}", file.show(std_name)),
        _ => net_what.to_string(),
    };
    CliError::Failed(format!("error while {side}: {e}"))
}

/// `host:port`, checked enough to give a clear error before any I/O.
fn check_addr(addr: &str) -> Result<(), CliError> {
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => Err(CliError::Usage(format!(
            "'{addr}' is not an address: expected HOST:PORT, e.g. 127.0.0.1:9000"
        ))),
    }
}

/// Waits until the peer closed its side (the end of a transfer), or fails
/// with what went wrong.
async fn peer_closed(sock: &Socket, signals: &mut Signals, what: &str) -> Result<(), CliError> {
    tokio::select! {
        r = highwater::finished_async(sock.duplex()) => r.map_err(|e| {
            CliError::Failed(format!("{what}: {e}{}", hint(&e)))
        }),
        _ = signals.next() => {
            sock.reset_and_destroy();
            Err(CliError::Interrupted)
        }
    }
}

/// Sends `src` to the receiver at `addr`.
///
/// # Errors
///
/// One line: the connection refused or reset, the file unreadable, an
/// interruption.
pub async fn send(addr: String, src: Endpoint, cfg: CopyConfig) -> Result<Report, CliError> {
    check_addr(&addr)?;
    let (file, size) = open_input(&src)?;
    let mut signals = Signals::new()?;
    let sock = connect(
        &addr,
        SocketOptions {
            writable_low_water_mark: cfg.low_water_mark,
            ..SocketOptions::default()
                .allow_half_open(true)
                .writable_high_water_mark(cfg.high_water_mark)
        },
    );
    tokio::select! {
        r = sock.connected() => r.map_err(|e| {
            CliError::Failed(format!("cannot connect to {addr}: {e}{}", hint(&e)))
        })?,
        _ = signals.next() => {
            sock.destroy(None);
            return Err(CliError::Interrupted);
        }
    }
    sock.set_reset_on_close(true)
        .map_err(|e| CliError::Failed(format!("cannot set up the connection: {e}")))?;
    // Whatever the receiver sends is discarded (not buffered) until it closes.
    sock.resume();
    let reader = input_stream(file, &cfg)?;
    let net_what = format!("sending to {addr}");
    let describe = |e: &Error| describe(e, &src, "standard input", &net_what);
    let report = match transfer(
        Input::File(reader),
        Output::Socket(sock.clone()),
        size,
        &cfg,
        format!("{} to {addr}", src.show("standard input")),
        &mut signals,
        &describe,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            sock.reset_and_destroy();
            return Err(e);
        }
    };
    // Every byte is with the kernel and the end is sent: an ordinary close
    // is right from here (the kernel still delivers what it holds).
    let _ = sock.set_reset_on_close(false);
    peer_closed(
        &sock,
        &mut signals,
        &format!("{addr} did not confirm the end of the transfer"),
    )
    .await?;
    Ok(report)
}

/// Listens on `addr`, receives one connection into `dst`.
///
/// # Errors
///
/// One line: the address unusable, the connection reset (the sender died
/// or was interrupted), the destination unwritable, an interruption.
pub async fn recv(addr: String, dst: Endpoint, cfg: CopyConfig) -> Result<Report, CliError> {
    check_addr(&addr)?;
    check_dest(&dst)?;
    let mut signals = Signals::new()?;
    let server = Server::new(
        ServerOptions::default().socket(
            SocketOptions::default()
                .allow_half_open(true)
                .read_size(cfg.chunk_size.min(1 << 20)),
        ),
    );
    let bound = tokio::select! {
        r = server.listen_async(&addr) => r.map_err(|e| {
            CliError::Failed(format!("cannot listen on {addr}: {e}"))
        })?,
        _ = signals.next() => return Err(CliError::Interrupted),
    };
    // The destination is ready before anyone is told where to connect.
    let mut dest = open_dest(&dst, cfg.atomic)?;
    eprintln!("listening on {bound}");
    let result = receive(&server, &dst, &mut dest, &cfg, &mut signals).await;
    if result.is_err() {
        dest.discard();
    }
    result
}

async fn receive(
    server: &Server,
    dst: &Endpoint,
    dest: &mut Dest,
    cfg: &CopyConfig,
    signals: &mut Signals,
) -> Result<Report, CliError> {
    let sock = tokio::select! {
        r = server.accept() => r.map_err(|e| CliError::Failed(format!("cannot accept a connection: {e}")))?,
        _ = signals.next() => {
            server.close();
            return Err(CliError::Interrupted);
        }
    };
    // One connection: nobody else gets in.
    server.close();
    if let Err(e) = sock.set_reset_on_close(true) {
        sock.reset_and_destroy();
        return Err(CliError::Failed(format!(
            "cannot set up the connection: {e}"
        )));
    }
    let peer = sock
        .remote_addr()
        .map_or_else(|| "the sender".to_string(), |a| a.to_string());
    let net_what = format!("receiving from {peer}");
    let describe = |e: &Error| describe(e, dst, "standard output", &net_what);
    let done = async {
        let writer = dest.stream(cfg)?;
        let report = transfer(
            Input::Socket(sock.clone()),
            Output::File(writer),
            None,
            cfg,
            format!("{peer} to {}", dst.show("standard output")),
            signals,
            &describe,
        )
        .await?;
        dest.commit(dst)?;
        Ok::<_, CliError>(report)
    }
    .await;
    let report = match done {
        Ok(r) => r,
        Err(e) => {
            sock.reset_and_destroy();
            return Err(e);
        }
    };
    // The file is whole: close normally, which tells the sender so.
    let _ = sock.set_reset_on_close(false);
    sock.end();
    peer_closed(&sock, signals, &format!("closing the connection to {peer}")).await?;
    Ok(report)
}
