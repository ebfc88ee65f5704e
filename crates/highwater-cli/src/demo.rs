//! `highwater demo`: backpressure narrated.
//!
//! A producer that could write as fast as memory allows writes chunks into a
//! Writable whose sink is slow (it sleeps for each chunk, like a congested
//! disk or network). The producer obeys `write()`: when it returns `false` it
//! stops and waits for `'drain'`. The narration shows each decision and the
//! buffer level against the mark; the summary shows that the buffer never
//! held more than the mark plus one chunk.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use highwater::{AsyncSink, Error, Writable, WritableEvent, WritableOptions};

/// Options of `highwater demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many chunks the producer writes.
    #[arg(long, default_value_t = 24)]
    chunks: usize,
    /// Size of each chunk in bytes.
    #[arg(long, default_value_t = 1024)]
    chunk_size: usize,
    /// The Writable's high-water mark in bytes.
    #[arg(long, default_value_t = 4096)]
    high_water_mark: usize,
    /// How long the slow sink takes per chunk, in milliseconds.
    #[arg(long, default_value_t = 5)]
    delay_ms: u64,
    /// Print only the summary.
    #[arg(long, short)]
    quiet: bool,
}

/// The slow consumer: takes `delay` per chunk and counts what it got.
struct SlowSink {
    delay: Duration,
    received: Rc<Cell<usize>>,
}

impl AsyncSink<Bytes> for SlowSink {
    async fn write(&mut self, chunk: Bytes) -> Result<(), Error> {
        tokio::time::sleep(self.delay).await;
        self.received.set(self.received.get() + chunk.len());
        Ok(())
    }
}

fn kib(n: usize) -> String {
    if n % 1024 == 0 {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} B")
    }
}

/// Runs the demo and prints its narration and summary.
pub fn run(args: DemoArgs) -> Result<(), String> {
    if args.chunk_size == 0 {
        return Err("--chunk-size must be at least 1".into());
    }
    highwater::block_on(async move { demo(args).await })
}

async fn demo(args: DemoArgs) -> Result<(), String> {
    let received = Rc::new(Cell::new(0));
    let w = Writable::from_async(
        WritableOptions::default().high_water_mark(args.high_water_mark),
        SlowSink {
            delay: Duration::from_millis(args.delay_ms),
            received: received.clone(),
        },
    );
    let quiet = args.quiet;
    let say = move |line: String| {
        if !quiet {
            println!("{line}");
        }
    };

    let drains = Rc::new(Cell::new(0usize));
    {
        let drains = drains.clone();
        let w2 = w.clone();
        w.on(WritableEvent::Drain, move || {
            drains.set(drains.get() + 1);
            say(format!(
                "           'drain': buffer empty ({} buffered), producer may go on",
                kib(w2.writable_length())
            ));
        });
    }

    println!(
        "highwater demo: {} chunks of {} into a Writable with highWaterMark {} whose sink takes {} ms per chunk\n",
        args.chunks,
        kib(args.chunk_size),
        kib(args.high_water_mark),
        args.delay_ms
    );

    let started = Instant::now();
    let chunk = Bytes::from(vec![b'x'; args.chunk_size]);
    let (mut falses, mut peak) = (0usize, 0usize);
    let mut paused_for = Duration::ZERO;
    for i in 1..=args.chunks {
        let ok = w.write(chunk.clone());
        let len = w.writable_length();
        peak = peak.max(len);
        say(format!(
            "write #{i:<3} -> {ok:<5}  buffered {:>7} / {}",
            kib(len),
            kib(args.high_water_mark)
        ));
        if !ok {
            falses += 1;
            say("           write() returned false: producer pauses".into());
            let t = Instant::now();
            w.drained().await.map_err(|e| e.to_string())?;
            paused_for += t.elapsed();
        }
    }
    w.end_async().await.map_err(|e| e.to_string())?;
    let elapsed = started.elapsed();

    let total = args.chunks * args.chunk_size;
    println!();
    println!("summary");
    println!(
        "  bytes written        {} ({} chunks), all received: {}",
        kib(total),
        args.chunks,
        received.get() == total
    );
    println!(
        "  write() returned     false {falses} times, true {} times",
        args.chunks - falses
    );
    println!("  'drain' events       {}", drains.get());
    println!(
        "  peak buffered        {} against a mark of {} (mark + one chunk = {})",
        kib(peak),
        kib(args.high_water_mark),
        kib(args.high_water_mark + args.chunk_size)
    );
    println!(
        "  producer paused      {:.0?} of {:.0?}",
        paused_for, elapsed
    );
    if received.get() != total {
        return Err(format!(
            "the sink received {} of {total} bytes",
            received.get()
        ));
    }
    Ok(())
}
