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
//!
//! `recv` checks its destination before it listens (see [`crate::dest`])
//! but creates it only once the connection brings its first bytes, or its
//! end (an empty transfer is a complete one, and makes an empty file): a
//! receiver stopped or killed before that leaves nothing behind.

use std::cell::Cell;
use std::rc::Rc;

use highwater::net::{connect, Server, ServerOptions, Socket, SocketOptions};
use highwater::prelude::*;
use highwater::{Error, ErrorKind, ReadableEvent};

use crate::dest::{plan_dest, DestPlan};
use crate::endpoint::{open_input, Endpoint};
use crate::engine::{input_stream, transfer, CopyConfig, Signals};
use crate::error::CliError;
use crate::report::Report;

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
        r = highwater::finished_async(sock) => r.map_err(|e| {
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
    let sock = connect(&addr, {
        let o = SocketOptions::default()
            .allow_half_open(true)
            .writable_high_water_mark(cfg.high_water_mark);
        match cfg.low_water_mark {
            Some(l) => o.writable_low_water_mark(l),
            None => o,
        }
    });
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
        reader,
        sock.clone(),
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
    let plan = plan_dest(&dst, cfg.atomic)?;
    let mut signals = Signals::new()?;
    let server = Server::new(
        ServerOptions::default().socket(
            SocketOptions::default()
                .allow_half_open(true)
                .read_size(cfg.chunk_size.min(1 << 20))
                // The socket's buffer is the source's read buffer of the
                // memory bound (`highwater_transfer::buffer_bound`): one read's worth.
                .readable_high_water_mark(cfg.chunk_size),
        ),
    );
    let bound = tokio::select! {
        r = server.listen_async(&addr) => r.map_err(|e| {
            CliError::Failed(format!("cannot listen on {addr}: {e}"))
        })?,
        _ = signals.next() => return Err(CliError::Interrupted),
    };
    // The destination was checked; it is created once data arrives.
    eprintln!("listening on {bound}");
    receive(&server, &dst, &plan, &cfg, &mut signals).await
}

/// Waits until the connection has a first chunk to read, or its end (or
/// fails: reset before any data, interrupted). Reads nothing: the data stays
/// buffered for the transfer.
async fn first_data(sock: &Socket, signals: &mut Signals, what: &str) -> Result<(), CliError> {
    let d = sock;
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    let tx = Rc::new(Cell::new(Some(tx)));
    let ready = move || {
        if let Some(tx) = tx.take() {
            let _ = tx.send(());
        }
    };
    // 'readable': a chunk is buffered, or the end. 'end': the stream ended
    // before the 'readable' listener came (an empty transfer, already over).
    let readable = d.once_readable(ready.clone());
    let end = d.once_event(ReadableEvent::End, ready);
    let failed = |e: Error| CliError::Failed(format!("error while {what}: {e}{}", hint(&e)));
    let finished = highwater::finished_async(d);
    tokio::pin!(finished);
    let outcome = tokio::select! {
        r = rx => match r {
            Ok(()) => Ok(()),
            // The listeners went without a call: the stream is done.
            Err(_) => (&mut finished).await.map_err(failed),
        },
        r = &mut finished => r.map_err(failed),
        _ = signals.next() => Err(CliError::Interrupted),
    };
    // Whichever did not fire goes: a 'readable' listener left behind would
    // keep the stream out of flowing mode.
    d.off(readable);
    d.off(end);
    outcome
}

/// Accepts one connection, waits for its first data, then creates the
/// destination and receives into it.
async fn receive(
    server: &Server,
    dst: &Endpoint,
    plan: &DestPlan,
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
    if let Err(e) = first_data(&sock, signals, &net_what).await {
        sock.reset_and_destroy();
        return Err(e);
    }
    let mut dest = match plan.open(dst, cfg) {
        Ok(d) => d,
        Err(e) => {
            sock.reset_and_destroy();
            return Err(e);
        }
    };
    let done = async {
        let writer = dest.stream(cfg)?;
        let report = transfer(
            sock.clone(),
            writer,
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
            dest.discard();
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
