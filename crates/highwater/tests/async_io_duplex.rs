//! `Duplex::from_async_io`: a tokio `AsyncRead + AsyncWrite` as one byte
//! Duplex (the analogue of Node's `Duplex.fromWeb({ readable, writable })`),
//! over `tokio::io::duplex` and a loopback TCP connection.

#![cfg(feature = "compat")]

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use bytes::Bytes;
use futures::StreamExt;
use highwater::prelude::*;
use highwater::{Duplex, DuplexOptions, Error, WritableEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn read_all(d: &Duplex) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let mut s = d.stream();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c?);
    }
    Ok(out)
}

#[test]
fn half_close_end_shuts_down_while_reading_goes_on() {
    highwater::block_on(async {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let d = Duplex::from_async_io(DuplexOptions::default(), ours);
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        d.on(WritableEvent::Finish, move || l.borrow_mut().push("finish"));
        let l = log.clone();
        d.on_end(move || l.borrow_mut().push("end"));
        let l = log.clone();
        d.on_close(move || l.borrow_mut().push("close"));

        d.write_async(b("hello")).await.unwrap();
        d.end_async().await.unwrap();
        // The peer sees our data, then EOF.
        let mut got = Vec::new();
        theirs.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hello");
        assert_eq!(*log.borrow(), ["finish"]);
        assert!(!d.destroyed(), "the readable side is still open");
        // The other direction still works after our half-close.
        theirs.write_all(b"world").await.unwrap();
        theirs.shutdown().await.unwrap();
        assert_eq!(read_all(&d).await.unwrap(), b"world");
        highwater::finished_async(&d).await.unwrap();
        assert_eq!(*log.borrow(), ["finish", "end", "close"]);
    });
}

#[test]
fn eof_with_allow_half_open_false_ends_the_writable_side() {
    highwater::block_on(async {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let d = Duplex::from_async_io(DuplexOptions::default().allow_half_open(false), ours);
        theirs.shutdown().await.unwrap();
        // (Not the async iterator: leaving it destroys the stream, as in Node.)
        d.resume();
        highwater::finished_async(&d).await.unwrap();
        assert!(d.writable_finished(), "'end' ended the writable side");
        let mut rest = Vec::new();
        theirs.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    });
}

#[test]
fn a_peer_that_does_not_read_makes_write_return_false() {
    highwater::block_on(async {
        // 16 bytes of pipe capacity, a mark of 32: the writer must wait.
        let (ours, mut theirs) = tokio::io::duplex(16);
        let d = Duplex::from_async_io(DuplexOptions::default().high_water_mark(32), ours);
        let mut accepted = 0;
        while d.write(b("0123456789abcdef")) {
            accepted += 1;
            assert!(accepted < 100, "write() never said wait");
            highwater::next_tick(|| {});
            tokio::task::yield_now().await;
        }
        // Bounded: what the pipe took plus what the mark allows.
        assert!(d.writable_length() <= 32 + 16);
        let drained = Rc::new(Cell::new(false));
        let dr = drained.clone();
        d.once(WritableEvent::Drain, move || dr.set(true));
        let reader = highwater::spawn(async move {
            let mut got = Vec::new();
            theirs.read_to_end(&mut got).await.map(|_| got.len())
        });
        d.drained().await.unwrap();
        assert!(drained.get());
        d.end_async().await.unwrap();
        let n = reader.await.unwrap();
        assert_eq!(n % 16, 0);
        assert!(n >= 16 * (accepted + 1));
    });
}

#[test]
fn a_reader_that_does_not_read_stops_the_reading() {
    highwater::block_on(async {
        let (ours, mut theirs) = tokio::io::duplex(1 << 20);
        let d = Duplex::from_async_io(DuplexOptions::default().high_water_mark(1024), ours);
        theirs.write_all(&vec![7u8; 100_000]).await.unwrap();
        let _ = d.read(Some(0));
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        // One read per `_read`, at most the mark per read: the buffer stays
        // near the mark, the rest waits in the pipe.
        assert!(d.readable_length() >= 1024 && d.readable_length() <= 2048);
        theirs.shutdown().await.unwrap();
        let all = read_all(&d).await.unwrap();
        assert_eq!(all.len(), 100_000);
    });
}

#[test]
fn destroy_releases_the_io() {
    highwater::block_on(async {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let d = Duplex::from_async_io(DuplexOptions::default(), ours);
        let _ = d.read(Some(0)); // a read in flight
        tokio::task::yield_now().await;
        d.destroy(None);
        // Both halves dropped: the peer reads EOF.
        let mut rest = Vec::new();
        theirs.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        assert!(d.destroyed());
    });
}

#[test]
fn write_to_a_gone_peer_fails_with_its_errno_code() {
    highwater::block_on(async {
        let (ours, theirs) = tokio::io::duplex(64);
        drop(theirs);
        let d = Duplex::from_async_io(DuplexOptions::default(), ours);
        // write() takes the chunk; the write on the task fails.
        assert!(d.write(b("x")));
        let err = highwater::finished_async(&d).await.unwrap_err();
        assert_eq!(err.code(), "EPIPE");
        assert!(d.destroyed());
    });
}

#[cfg(feature = "net")]
#[test]
fn over_a_loopback_tcp_connection() {
    highwater::block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = highwater::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            sock.read_to_end(&mut got).await.unwrap();
            got.reverse();
            sock.write_all(&got).await.unwrap();
            sock.shutdown().await.unwrap();
        });
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let d = Duplex::from_async_io(DuplexOptions::default(), tcp);
        d.write_async(b("abc")).await.unwrap();
        d.end_async().await.unwrap(); // FIN: the server's read_to_end returns
        assert_eq!(read_all(&d).await.unwrap(), b"cba");
        server.await;
        highwater::finished_async(&d).await.unwrap();
    });
}
