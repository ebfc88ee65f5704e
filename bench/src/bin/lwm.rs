//! When the low-water mark helps: a producer that needs time to resume
//! (here 5 ms, like a fetch over a network) feeding a device that takes
//! 1 ms per chunk. With Node's `'drain'` at 0 the device sits idle while
//! the producer resumes; with a low-water mark the producer resumes while
//! the device still has buffered work.
//!
//! `cargo run --release -p highwater-bench --bin lwm`: one line per
//! low-water mark, `label chunks_per_second device_idle_percent`.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use highwater::prelude::*;
use highwater::{AsyncSink, Error, Writable, WritableOptions};

const CHUNK: usize = 64 * 1024;
const CHUNKS: usize = 320;
const MARK_CHUNKS: usize = 16;
const DEVICE: Duration = Duration::from_millis(1);
const RESUME: Duration = Duration::from_millis(5);

/// A device that takes `DEVICE` per chunk and tracks its busy time.
struct Device(Rc<Cell<Duration>>);

impl AsyncSink<Bytes> for Device {
    async fn write(&mut self, _chunk: Bytes) -> Result<(), Error> {
        let t = Instant::now();
        tokio::time::sleep(DEVICE).await;
        self.0.set(self.0.get() + t.elapsed());
        Ok(())
    }
}

fn run(lwm: Option<usize>) -> (f64, f64) {
    highwater::block_on(async move {
        let busy = Rc::new(Cell::new(Duration::ZERO));
        let mut opts = WritableOptions::default().high_water_mark(MARK_CHUNKS * CHUNK);
        if let Some(l) = lwm {
            opts = opts.low_water_mark(l);
        }
        let w = Writable::from_async(opts, Device(busy.clone()));
        let chunk = Bytes::from(vec![0u8; CHUNK]);
        let t = Instant::now();
        for _ in 0..CHUNKS {
            if !w.write(chunk.clone()) {
                let _ = w.drained().await;
                // The producer needs time to get going again.
                tokio::time::sleep(RESUME).await;
            }
        }
        let _ = w.end_async().await;
        let total = t.elapsed();
        let idle = 1.0 - busy.get().as_secs_f64() / total.as_secs_f64();
        (CHUNKS as f64 / total.as_secs_f64(), idle * 100.0)
    })
}

fn main() {
    for (label, lwm) in [
        ("drain_at_0_(Node)", None),
        ("low_water_mark_1/4", Some(MARK_CHUNKS * CHUNK / 4)),
        ("low_water_mark_1/2", Some(MARK_CHUNKS * CHUNK / 2)),
        ("low_water_mark_3/4", Some(MARK_CHUNKS * CHUNK * 3 / 4)),
    ] {
        let (rate, idle) = run(lwm);
        println!("{label} {rate:.0} {idle:.1}");
    }
}
