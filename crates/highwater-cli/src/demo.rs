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
use highwater::prelude::*;
use highwater::{AsyncSink, Error, Writable, WritableEvent, WritableOptions};

/// Options of `highwater demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many chunks the producer writes in the first part.
    #[arg(long, default_value_t = 12)]
    chunks: usize,
    /// Size of each chunk (units: B, KiB, MiB, KB, MB).
    #[arg(long, value_name = "SIZE", default_value = "1KiB", value_parser = crate::size::parse_buffer_size)]
    chunk_size: usize,
    /// The Writable's high-water mark: the buffer level at which write() starts returning false.
    #[arg(long, value_name = "SIZE", default_value = "4KiB", value_parser = crate::size::parse_mark)]
    high_water_mark: usize,
    /// How long the slow sink takes per chunk (e.g. 5ms, 0.1s; a bare number is milliseconds).
    #[arg(long, alias = "delay-ms", value_name = "DURATION", default_value = "5ms", value_parser = parse_delay)]
    delay: Duration,
    /// Print only the results: no explanation, no narration of each write.
    #[arg(long, short)]
    quiet: bool,
    /// Size of the sample file copied in the second part.
    #[arg(long, value_name = "SIZE", default_value = "4MiB", value_parser = crate::size::parse_buffer_size)]
    file_size: usize,
    /// How fast the slow destination of the second part takes data.
    #[arg(long, value_name = "RATE", default_value = "16MiB/s", value_parser = crate::size::parse_rate)]
    rate: u64,
    /// Where to write the plot of the second part.
    #[arg(long, value_name = "FILE.svg", default_value = "highwater-demo.svg")]
    plot: std::path::PathBuf,
    /// Skip the file copy (second part).
    #[arg(long)]
    no_copy: bool,
}

/// `5ms`, `0.2s`, `1s`, or a bare number of milliseconds.
fn parse_delay(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else {
        (t, 1e-3)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (e.g. 5ms, 0.2s)"))?;
    let secs = v * scale;
    if !secs.is_finite() || !(0.0..=60.0).contains(&secs) {
        return Err(format!("'{s}': from 0 to 60 s"));
    }
    Ok(Duration::from_secs_f64(secs))
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
    crate::size::human(n as u64)
}

/// What the first part shows, for someone who has not met Node's streams.
const INTRO: &str = "\
A Writable is a stream you write chunks into. It hands them to its sink one at
a time; chunks the sink has not taken yet wait in the Writable's internal
buffer. The high-water mark is the buffer level at which write() starts to
return false. false does not mean the chunk was rejected: it was accepted and
buffered. It means \"wait\": stop writing until 'drain' says the buffer has
emptied. A producer that obeys it never makes the buffer grow past the mark
plus one chunk, however fast it could go.
";

/// Runs the demo and prints its narration and summary.
pub fn run(args: DemoArgs) -> Result<(), String> {
    if args.chunk_size == 0 {
        return Err("--chunk-size must be at least 1".into());
    }
    let (file_size, rate, plot, no_copy, quiet) = (
        args.file_size,
        args.rate,
        args.plot.clone(),
        args.no_copy,
        args.quiet,
    );
    highwater::block_on(async move { demo(args).await })?;
    if no_copy {
        return Ok(());
    }
    file_copy(file_size, rate, &plot, quiet)
}

/// Peak resident memory of this process (Linux's VmHWM), if known.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A new folder of our own under the temporary folder (mode 0700, made by
/// this call: a folder or link planted there in advance is never used, so
/// nobody can point the demo's writes at their own files).
fn private_dir() -> Result<std::path::PathBuf, String> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    for attempt in 0..100u32 {
        let dir = base.join(format!(
            "highwater-demo-{}-{:x}",
            std::process::id(),
            stamp.wrapping_add(attempt.wrapping_mul(0x9e37_79b9))
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create '{}': {e}", dir.display())),
        }
    }
    Err(format!(
        "cannot create a new folder in '{}': every name tried exists",
        base.display()
    ))
}

/// Part two: a sample file copied through a rate-limited destination with
/// highwater's file streams; the report, the plot, then clean up.
fn file_copy(size: usize, rate: u64, plot: &std::path::Path, quiet: bool) -> Result<(), String> {
    use crate::copy::copy;
    use crate::endpoint::Endpoint;
    use crate::engine::CopyConfig;
    use crate::size::human;

    let dir = private_dir()?;
    let (src, dst) = (dir.join("sample.bin"), dir.join("copy.bin"));
    let result = (|| {
        // Sample data: a repeating pattern, different in every block.
        let data: Vec<u8> = (0..size)
            .map(|i| (i % 251) as u8 ^ (i >> 12) as u8)
            .collect();
        std::fs::write(&src, &data)
            .map_err(|e| format!("cannot write '{}': {e}", src.display()))?;
        let cfg = CopyConfig {
            command: "demo",
            low_water_mark: None,
            max_memory: None,
            read_rate: None,
            size: None,
            chunk_size: 64 * 1024,
            high_water_mark: 256 * 1024,
            rate: Some(rate),
            atomic: false,
            fsync: false,
            // Time as it goes: the progress line on stderr.
            progress: !quiet,
            progress_interval: std::time::Duration::from_millis(100),
            sample_every: std::time::Duration::from_millis(10),
        };
        println!();
        println!(
            "part 2: copying {} of sample data with file streams (64 KiB reads) into a destination that takes {}/s, write buffer mark 256 KiB",
            human(size as u64),
            human(rate)
        );
        let mut report = highwater::block_on(copy(
            Endpoint::Path(src.clone()),
            Endpoint::Path(dst.clone()),
            cfg,
        ))
        .map_err(|e| e.to_string())?;
        // The files are scratch files; say what they stand for instead.
        report.label = format!(
            "sample data into a destination that takes {}/s",
            human(rate)
        );
        let same = std::fs::read(&dst).map_err(|e| e.to_string())? == data;
        println!();
        print!("{}", crate::report::text(&report));
        println!(
            "  {:<24}{}",
            "copy identical",
            if same { "yes" } else { "NO" }
        );
        if let Some(rss) = peak_rss() {
            println!(
                "  {:<24}{} (peak resident memory of this process)",
                "memory",
                human(rss)
            );
        }
        println!(
            "\nThe reader ran ahead until the write buffer reached its mark, then waited: write() returned false {} times, and each 'drain' let it go on.",
            report.transfer.write_false
        );
        std::fs::write(
            plot,
            crate::plot::svg(&report, "highwater demo: a fast reader, a slow writer"),
        )
        .map_err(|e| format!("cannot write the plot '{}': {e}", plot.display()))?;
        println!("plot: {}", plot.display());
        if same {
            Ok(())
        } else {
            Err("the copy differs from the sample".to_string())
        }
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn demo(args: DemoArgs) -> Result<(), String> {
    let received = Rc::new(Cell::new(0));
    let w = Writable::from_async(
        WritableOptions::default().high_water_mark(args.high_water_mark),
        SlowSink {
            delay: args.delay,
            received: received.clone(),
        },
    );
    let quiet = args.quiet;
    let started = Instant::now();
    // Each narrated line starts with the time since the first write.
    let say = move |line: String| {
        if !quiet {
            println!("{:>8.1} ms  {line}", started.elapsed().as_secs_f64() * 1e3);
        }
    };

    let drains = Rc::new(Cell::new(0usize));
    {
        let drains = drains.clone();
        let w2 = w.clone();
        w.on(WritableEvent::Drain, move || {
            drains.set(drains.get() + 1);
            say(format!(
                "           'drain': buffer empty ({} buffered), the producer goes on",
                kib(w2.writable_length())
            ));
        });
    }

    println!(
        "highwater demo, part 1: {} chunks of {} into a Writable with highWaterMark {} whose sink takes {:?} per chunk\n",
        args.chunks,
        kib(args.chunk_size),
        kib(args.high_water_mark),
        args.delay
    );
    if !quiet {
        println!("{INTRO}");
    }

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
            say("           write() returned false: the chunk is buffered; the producer waits for 'drain'".into());
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
