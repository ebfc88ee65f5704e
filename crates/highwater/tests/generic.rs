//! User code generic over the side traits, the way the crate docs suggest:
//! one producer written against `&impl WritableSide<Bytes>` and one consumer
//! written against `&impl ReadableSide<Bytes>`, each called with every kind
//! of stream that has that side (a `Writable`, a `PassThrough`, a file write
//! stream, a socket; a `Readable`, a file read stream, a `Transform`'s
//! output). The marks are small, so that the producer waits on `'drain'`
//! where the destination completes its writes later (the file, the socket);
//! every case checks that the bytes arrive, whole and in order.

use std::cell::RefCell;
use std::future::Future;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use futures::channel::oneshot;
use highwater::fs::{
    create_read_stream, create_write_stream, ReadStreamOptions, WriteStreamOptions,
};
use highwater::net::{connect, Server, ServerOptions, SocketOptions};
use highwater::prelude::*;
use highwater::{
    Error, PassThrough, Readable, ReadableOptions, Transform, TransformOptions, Writable,
    WritableOptions,
};

const PARTS: [&[u8]; 5] = [b"generic ", b"code ", b"over ", b"the side ", b"traits\n"];

fn expected() -> Vec<u8> {
    PARTS.concat()
}

/// Writes `PARTS` to any byte destination, waiting whenever `write()` says
/// so, then ends it and waits for `'finish'`.
async fn produce(dest: &impl WritableSide<Bytes>) -> Result<(), Error> {
    for part in PARTS {
        dest.write_async(Bytes::from_static(part)).await?;
    }
    dest.end_async().await
}

/// Everything any byte source emits until `'end'`, or its error.
fn consume(
    src: &impl ReadableSide<Bytes>,
) -> impl Future<Output = Result<Vec<u8>, Error>> + 'static {
    let got = Rc::new(RefCell::new(Vec::new()));
    let (tx, rx) = oneshot::channel();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let g = got.clone();
    src.on_data(move |c| g.borrow_mut().extend_from_slice(c));
    let t = tx.clone();
    src.on_end(move || {
        if let Some(t) = t.borrow_mut().take() {
            let _ = t.send(Ok(std::mem::take(&mut *got.borrow_mut())));
        }
    });
    src.on_error(move |e| {
        if let Some(t) = tx.borrow_mut().take() {
            let _ = t.send(Err(e.clone()));
        }
    });
    async move { rx.await.expect("'end' or 'error' comes") }
}

/// Runs `f` on a fresh loop, failing after 20 s instead of hanging.
fn run(f: impl Future<Output = ()> + 'static) {
    highwater::block_on(async move {
        tokio::time::timeout(Duration::from_secs(20), f)
            .await
            .expect("the test timed out");
    });
}

/// A scratch folder under the temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let d =
            std::env::temp_dir().join(format!("highwater-generic-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("scratch dir");
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------
// One producer, four destinations

#[test]
fn produce_into_a_writable() {
    run(async {
        let got = Rc::new(RefCell::new(Vec::new()));
        let g = got.clone();
        let w = Writable::from_fn(
            WritableOptions::default().high_water_mark(4),
            move |c: Bytes| {
                g.borrow_mut().extend_from_slice(&c);
                Ok(())
            },
        );
        produce(&w).await.expect("produce");
        assert!(w.writable_finished());
        assert_eq!(*got.borrow(), expected());
    });
}

#[test]
fn produce_into_a_pass_through() {
    run(async {
        let p = PassThrough::<Bytes>::new(TransformOptions::default().high_water_mark(4));
        let out = consume(&p);
        produce(&p).await.expect("produce");
        assert_eq!(out.await.expect("consume"), expected());
        assert!(p.writable_finished());
    });
}

#[test]
fn produce_into_a_file_write_stream() {
    let s = Scratch::new("write");
    let path = s.0.join("out.txt");
    let p = path.clone();
    run(async move {
        let ws = create_write_stream(&p, WriteStreamOptions::default().high_water_mark(4))
            .expect("opens");
        produce(&ws).await.expect("produce");
        assert!(ws.writable_stats().drains > 0, "the producer waited");
        assert_eq!(ws.bytes_written(), expected().len() as u64);
    });
    assert_eq!(std::fs::read(&path).expect("read back"), expected());
}

#[test]
fn produce_into_a_socket() {
    run(async {
        let server = Server::new(ServerOptions::default());
        let addr = server.listen_async("127.0.0.1:0").await.expect("listen");
        let client = connect(addr, SocketOptions::default().writable_high_water_mark(4));
        let received = {
            let server = server.clone();
            highwater::spawn(async move {
                let s = server.accept().await.expect("accept");
                consume(&s).await
            })
        };
        produce(&client).await.expect("produce");
        assert!(client.writable_stats().drains > 0, "the producer waited");
        assert_eq!(client.bytes_written(), expected().len() as u64);
        assert_eq!(received.await.expect("server side reads"), expected());
        server.close();
    });
}

// ---------------------------------------------------------------------------
// One consumer, three sources

#[test]
fn consume_a_readable() {
    run(async {
        let r = Readable::<Bytes>::pushed(ReadableOptions::default().high_water_mark(4));
        let out = consume(&r);
        for part in PARTS {
            let _ = r.push(Bytes::from_static(part));
        }
        r.push_eof();
        assert_eq!(out.await.expect("consume"), expected());
        assert!(r.readable_ended());
    });
}

#[test]
fn consume_a_file_read_stream() {
    let s = Scratch::new("read");
    let path = s.0.join("in.txt");
    std::fs::write(&path, expected()).expect("write the file");
    run(async move {
        let rs = create_read_stream(&path, ReadStreamOptions::default().high_water_mark(4))
            .expect("opens");
        assert_eq!(consume(&rs).await.expect("consume"), expected());
        assert_eq!(rs.bytes_read(), expected().len() as u64);
    });
}

#[test]
fn consume_a_transforms_output_while_producing_into_its_input() {
    run(async {
        let upper: Transform = Transform::from_fn(
            TransformOptions::default().high_water_mark(4),
            |c: Bytes| Ok(Some(Bytes::from(c.to_ascii_uppercase()))),
        );
        let out = consume(&upper);
        produce(&upper).await.expect("produce");
        assert_eq!(out.await.expect("consume"), expected().to_ascii_uppercase());
    });
}
