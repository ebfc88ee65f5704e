//! A quick measure of the per-write cost: N writes of 64-byte chunks into a
//! Writable whose sink completes synchronously (every callback path, no I/O),
//! and the same with a sink that completes on a later turn of the loop.
//!
//! `cargo run --release -p highwater --example write_throughput [N]`

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;
use highwater::{Done, Writable, WritableImpl, WritableOptions};

/// A sink that completes each write on the next tick.
#[derive(Clone, Default)]
struct Later(Rc<RefCell<Vec<Done>>>);

impl WritableImpl<Bytes> for Later {
    fn write(&self, _chunk: Bytes, done: Done) {
        self.0.borrow_mut().push(done);
        let q = self.0.clone();
        highwater::next_tick(move || {
            let d = q.borrow_mut().pop();
            if let Some(d) = d {
                d.ok();
            }
        });
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let chunk = Bytes::from_static(&[b'x'; 64]);

    let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    let t = Instant::now();
    for _ in 0..n {
        let _ = w.write(chunk.clone());
    }
    highwater::run_until_idle();
    let s = t.elapsed().as_secs_f64();
    println!(
        "sync sink:  {n} writes in {s:.3}s = {:.1} M writes/s",
        n as f64 / s / 1e6
    );

    let m = n / 10;
    let w = Writable::new(WritableOptions::default(), Later::default());
    let t = Instant::now();
    let mut i = 0;
    while i < m {
        while i < m && w.write(chunk.clone()) {
            i += 1;
        }
        highwater::run_until_idle();
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "later sink: {m} writes in {s:.3}s = {:.1} M writes/s",
        m as f64 / s / 1e6
    );
}
