//! Composition: `Compose` (Node's `stream.compose`), `Duplex::from_pair`
//! (Node's `Duplex.from({ readable, writable })`) and `duplex_pair` (Node
//! 22's `duplexPair()`), runnable:
//! `cargo run -p highwater --example compose`.

use bytes::Bytes;
use highwater::prelude::*;
use highwater::{
    duplex_pair, Compose, Duplex, DuplexOptions, Error, PassThrough, Readable, ReadableOptions,
    Transform, TransformOptions,
};

fn upper() -> Transform<Bytes, Bytes> {
    Transform::from_fn(TransformOptions::default(), |c: Bytes| {
        Ok(Some(Bytes::from(c.to_ascii_uppercase())))
    })
}

fn reverse_lines() -> Transform<Bytes, Bytes> {
    Transform::from_fn(TransformOptions::default(), |c: Bytes| {
        let mut v = c.to_vec();
        v.reverse();
        Ok(Some(Bytes::from(v)))
    })
}

fn main() -> Result<(), Error> {
    highwater::block_on(async {
        // compose: two transforms as one Duplex; writes go in the first,
        // reads come out of the last, an error anywhere destroys the whole.
        let both = Compose::new(&upper())
            .then(&reverse_lines())
            .build(DuplexOptions::default());
        both.end_with_chunk(Bytes::from_static(b"hello"));
        let out = both.read_all().await?;
        println!("compose: {}", String::from_utf8_lossy(&out));

        // Duplex::from_pair: writes to one stream, reads from another.
        let inbox = PassThrough::<Bytes>::new(TransformOptions::default());
        let outbox = Readable::<Bytes>::pushed(ReadableOptions::default());
        let d = Duplex::from_pair(&outbox, &inbox, DuplexOptions::default());
        d.write_async(Bytes::from_static(b"to the inbox")).await?;
        outbox.push(Bytes::from_static(b"from the outbox"));
        outbox.push_eof();
        println!(
            "from_pair: inbox holds {:?}; the Duplex reads {}",
            inbox.read(None),
            String::from_utf8_lossy(&d.read_all().await?)
        );

        // duplex_pair: what one side writes the other reads; end() on one
        // ends the other's readable side.
        let (client, server) = duplex_pair::<Bytes>(DuplexOptions::default());
        client.end_with_chunk(Bytes::from_static(b"ping"));
        let got = server.read_all().await?;
        println!(
            "duplex_pair: the server read {}",
            String::from_utf8_lossy(&got)
        );
        Ok(())
    })
}

trait ReadAll {
    /// Reads the readable side to its end (not with the async iterator,
    /// which destroys a Duplex whose writable side is still open).
    async fn read_all(&self) -> Result<Vec<u8>, Error>;
}

impl<S: ReadableSide<Bytes> + Clone + 'static> ReadAll for S {
    async fn read_all(&self) -> Result<Vec<u8>, Error> {
        let buf = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let b = buf.clone();
        let id = self.on_data(move |c| b.borrow_mut().extend_from_slice(c));
        let (tx, rx) = futures::channel::oneshot::channel();
        let tx = std::cell::RefCell::new(Some(tx));
        self.on_end(move || {
            if let Some(tx) = tx.borrow_mut().take() {
                let _ = tx.send(());
            }
        });
        let _ = rx.await;
        self.off(id);
        let out = buf.borrow().clone();
        Ok(out)
    }
}
