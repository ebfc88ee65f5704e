//! Bounded memory, proven by counting every heap byte (dhat as the global
//! allocator): data moved through highwater's streams never piles up. The
//! peak heap of a copy is at most the high-water marks of its buffers, plus
//! one chunk per buffer (a write may take a buffer past its mark by one
//! chunk), plus a small constant for the streams themselves — and it is the
//! same for 64 MiB as for 256 MiB: it does not grow with the data.
//!
//! * `file_copy_peak_heap_is_the_marks_not_the_file`: a 64/256 MiB sparse
//!   file through `create_read_stream` → `create_write_stream` (`/dev/null`).
//! * `transform_pipeline_to_a_slow_sink_peak_heap_is_bounded`: a generated
//!   Readable → a Transform that allocates a new chunk per chunk → a sink that
//!   completes on later turns of the loop (sometimes after a timer).
//! * `fan_out_waits_for_the_slowest_destination`: one Readable piped into a
//!   fast and a slow Writable: the fast one never gets more than the slow
//!   one's mark plus one chunk ahead, and the peak heap is bounded.
//! * `fifo_read_stream_peak_heap_is_bounded` (ignored, a known bug): a file
//!   read stream over a FIFO, whose reads come back short, with a slow
//!   consumer: each short chunk keeps its whole read buffer alive.
//!
//! dhat allows one profiler at a time and counts the allocations of every
//! thread, so the tests of this file run one at a time (`SERIAL`), each with
//! a fresh profiler per measurement. The tokio runtime and highwater's I/O
//! threads are created (warmed up) before profiling starts.

use std::cell::Cell;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use highwater::fs::{
    create_read_stream, create_write_stream, ReadStreamOptions, WriteStreamOptions,
};
use highwater::prelude::*;
use highwater::{
    finished_async, AsyncSink, Error, Pipeline, Readable, ReadableImpl, ReadableOptions, Source,
    Transform, TransformDone, TransformImpl, TransformOptions, Writable, WritableOptions,
};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

static SERIAL: Mutex<()> = Mutex::new(());

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
/// Every case moves 64 KiB chunks.
const CHUNK: usize = 64 * KIB;
/// What is not data: stream state, listeners, tasks, I/O jobs in flight.
const SLACK: usize = 64 * KIB;
/// How far the two peaks of a case may differ: the buffers can be caught at
/// slightly different fill levels (which I/O finished first), never by a
/// whole chunk more.
const SAME: usize = 32 * KIB;
const SMALL: usize = 64 * MIB;
const BIG: usize = 256 * MIB;

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Far longer than any case takes: reaching it means a hang.
const HANG: Duration = Duration::from_secs(60);

/// Runs `fut` on highwater's loop, failing (not hanging) if it never ends.
fn run<F>(rt: &tokio::runtime::Runtime, fut: F) -> F::Output
where
    F: Future + 'static,
    F::Output: 'static,
{
    rt.block_on(highwater::run(async move {
        match tokio::time::timeout(HANG, fut).await {
            Ok(out) => out,
            Err(_) => panic!("hung: no result after {HANG:?}"),
        }
    }))
}

/// Runs `fut` under a fresh profiler: its output and the peak heap (bytes)
/// while it ran.
fn profiled<F>(rt: &tokio::runtime::Runtime, fut: F) -> (F::Output, usize)
where
    F: Future + 'static,
    F::Output: 'static,
{
    let profiler = dhat::Profiler::builder().testing().build();
    let out = run(rt, fut);
    let peak = dhat::HeapStats::get().max_bytes;
    drop(profiler);
    (out, peak)
}

/// A scratch folder under the temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("highwater-mem-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("scratch dir");
        Scratch(d)
    }
    /// A sparse file of `len` zero bytes (no disk I/O to make or read).
    fn sparse(&self, name: &str, len: usize) -> PathBuf {
        let p = self.0.join(name);
        let f = std::fs::File::create(&p).expect("sparse file");
        f.set_len(len as u64).expect("set_len");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn check_peaks(case: &str, small: usize, big: usize, bound: usize) {
    eprintln!(
        "{case}: peak heap {small} B at {} MiB, {big} B at {} MiB (bound {bound} B)",
        SMALL / MIB,
        BIG / MIB
    );
    assert!(
        small <= bound,
        "{case}: {small} B at the small size, above the bound {bound}"
    );
    assert!(
        big <= bound,
        "{case}: {big} B at the big size, above the bound {bound}"
    );
    assert!(
        big.abs_diff(small) <= SAME,
        "{case}: the peak depends on the size: {small} B vs {big} B"
    );
}

// ---------------------------------------------------------------------------
// 1. File to file.

/// The file streams' marks: reads of one chunk, and the write stream's
/// default (16 KiB), so that every chunk makes `write()` return false.
const FILE_READ_MARK: usize = CHUNK;
const FILE_WRITE_MARK: usize = 16 * KIB;

async fn copy_file(src: PathBuf, dst: &'static str) -> (u64, u64) {
    let r = create_read_stream(
        &src,
        ReadStreamOptions::default().high_water_mark(FILE_READ_MARK),
    )
    .expect("read stream");
    let w = create_write_stream(
        dst,
        WriteStreamOptions::default().high_water_mark(FILE_WRITE_MARK),
    )
    .expect("write stream");
    Pipeline::new(&r).run(&w).await.expect("the copy succeeds");
    (r.bytes_read(), w.bytes_written())
}

#[test]
fn file_copy_peak_heap_is_the_marks_not_the_file() {
    let _serial = serial();
    let rt = runtime();
    let s = Scratch::new("file");
    // Warm up: the I/O threads, the loop's queues.
    let warm = s.sparse("warm.bin", MIB);
    let _ = run(&rt, copy_file(warm, "/dev/null"));

    let mut peaks = Vec::new();
    for size in [SMALL, BIG] {
        let src = s.sparse(&format!("src-{size}.bin"), size);
        let ((read, written), peak) = profiled(&rt, copy_file(src.clone(), "/dev/null"));
        assert_eq!((read, written), (size as u64, size as u64), "all copied");
        std::fs::remove_file(&src).expect("remove");
        peaks.push(peak);
    }
    // The read stream's buffer (its mark) and one read in flight; the write
    // stream's buffer (its mark) and the chunk that took it past the mark.
    let bound = FILE_READ_MARK + CHUNK + FILE_WRITE_MARK + CHUNK + SLACK;
    check_peaks("file copy", peaks[0], peaks[1], bound);
}

// ---------------------------------------------------------------------------
// 2. Readable → Transform → slow Writable.

/// Pushes `total` bytes as fresh 64 KiB chunks: chunk `i` is all `i as u8`.
struct Generate {
    total: usize,
    sent: Cell<usize>,
}

impl Generate {
    fn new(total: usize) -> Generate {
        Generate {
            total,
            sent: Cell::new(0),
        }
    }
}

impl ReadableImpl<Bytes> for Generate {
    fn read(&self, _size: usize, src: &Source<Bytes>) {
        let sent = self.sent.get();
        if sent >= self.total {
            src.push_eof();
            return;
        }
        let n = CHUNK.min(self.total - sent);
        self.sent.set(sent + n);
        src.push(Bytes::from(vec![(sent / CHUNK) as u8; n]));
    }
}

/// Makes a new chunk of each chunk (every byte xor 0x5a), as a real
/// transform (compression, encoding) does; the input chunk is then freed.
struct Scramble;

impl TransformImpl<Bytes, Bytes> for Scramble {
    fn transform(&self, chunk: Bytes, done: TransformDone<Bytes>) {
        let out: Vec<u8> = chunk.iter().map(|b| b ^ 0x5a).collect();
        drop(chunk);
        done.call(Ok(Some(Bytes::from(out))));
    }
}

/// A slow consumer: each write completes on a later turn of the loop, every
/// 32nd one after a 1 ms timer. It checks what it gets and counts it.
struct SlowSink {
    bytes: Rc<Cell<usize>>,
    chunks: usize,
    /// What every byte of chunk `i` must be, given chunk `i` was all `i as u8`
    /// (`None`: the chunks are not numbered, nothing to check).
    xor: Option<u8>,
}

impl AsyncSink<Bytes> for SlowSink {
    async fn write(&mut self, chunk: Bytes) -> Result<(), Error> {
        if self.chunks % 32 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        } else {
            tokio::task::yield_now().await;
        }
        if let Some(xor) = self.xor {
            let want = (self.chunks as u8) ^ xor;
            if chunk.iter().any(|&b| b != want) {
                return Err(Error::msg(format!("chunk {} is corrupt", self.chunks)));
            }
        }
        self.chunks += 1;
        self.bytes.set(self.bytes.get() + chunk.len());
        Ok(())
    }
}

const SOURCE_MARK: usize = 64 * KIB;
const TRANSFORM_MARK: usize = 64 * KIB;
const SINK_MARK: usize = 64 * KIB;

async fn transform_pipeline(total: usize) -> usize {
    let src = Readable::new(
        ReadableOptions::default().high_water_mark(SOURCE_MARK),
        Generate::new(total),
    );
    let t: Transform<Bytes, Bytes> = Transform::new(
        TransformOptions::default().high_water_mark(TRANSFORM_MARK),
        Scramble,
    );
    let bytes = Rc::new(Cell::new(0));
    let sink = Writable::from_async(
        WritableOptions::default().high_water_mark(SINK_MARK),
        SlowSink {
            bytes: bytes.clone(),
            chunks: 0,
            xor: Some(0x5a),
        },
    );
    Pipeline::new(&src)
        .through(&t)
        .run(&sink)
        .await
        .expect("the pipeline succeeds");
    bytes.get()
}

#[test]
fn transform_pipeline_to_a_slow_sink_peak_heap_is_bounded() {
    let _serial = serial();
    let rt = runtime();
    let _ = run(&rt, transform_pipeline(MIB));
    let mut peaks = Vec::new();
    for size in [SMALL, BIG] {
        let (got, peak) = profiled(&rt, transform_pipeline(size));
        assert_eq!(got, size, "the sink got everything");
        peaks.push(peak);
    }
    // Four buffers (the source's, the transform's two sides, the sink's),
    // each its mark plus one chunk past it.
    let bound = SOURCE_MARK + 2 * TRANSFORM_MARK + SINK_MARK + 4 * CHUNK + SLACK;
    check_peaks("transform pipeline", peaks[0], peaks[1], bound);
}

// ---------------------------------------------------------------------------
// 3. Fan-out: one source, a fast and a slow destination.

const SLOW_MARK: usize = 128 * KIB;

async fn fan_out(total: usize) -> (usize, usize, usize) {
    let src = Readable::new(
        ReadableOptions::default().high_water_mark(SOURCE_MARK),
        Generate::new(total),
    );
    let slow_bytes = Rc::new(Cell::new(0));
    let fast_bytes = Rc::new(Cell::new(0));
    let max_lead = Rc::new(Cell::new(0));
    let (fb, sb, lead) = (fast_bytes.clone(), slow_bytes.clone(), max_lead.clone());
    let fast = Writable::from_fn(
        WritableOptions::default().high_water_mark(SOURCE_MARK),
        move |c: Bytes| {
            fb.set(fb.get() + c.len());
            lead.set(lead.get().max(fb.get() - sb.get()));
            Ok(())
        },
    );
    let slow = Writable::from_async(
        WritableOptions::default().high_water_mark(SLOW_MARK),
        SlowSink {
            bytes: slow_bytes.clone(),
            chunks: 0,
            xor: Some(0),
        },
    );
    let (f, s) = (finished_async(&fast), finished_async(&slow));
    src.pipe(&fast);
    src.pipe(&slow);
    f.await.expect("the fast destination finishes");
    s.await.expect("the slow destination finishes");
    (fast_bytes.get(), slow_bytes.get(), max_lead.get())
}

#[test]
fn fan_out_waits_for_the_slowest_destination() {
    let _serial = serial();
    let rt = runtime();
    let _ = run(&rt, fan_out(MIB));
    let mut peaks = Vec::new();
    for size in [SMALL, BIG] {
        let ((fast, slow, lead), peak) = profiled(&rt, fan_out(size));
        assert_eq!((fast, slow), (size, size), "both got everything");
        eprintln!(
            "fan-out {} MiB: the fast destination was at most {lead} B ahead",
            size / MIB
        );
        // The slow one takes the chunk right after the fast one; before it,
        // it had less than its mark waiting (else the source was paused).
        assert!(
            lead < SLOW_MARK + CHUNK,
            "the fast destination ran {lead} B ahead of the slow one"
        );
        assert!(
            lead >= SLOW_MARK,
            "the slow destination did fill up: {lead}"
        );
        peaks.push(peak);
    }
    // The chunks are shared by both destinations: the source's buffer and the
    // slow destination's, each with one chunk past its mark.
    let bound = SOURCE_MARK + SLOW_MARK + 2 * CHUNK + SLACK;
    check_peaks("fan-out", peaks[0], peaks[1], bound);
}

// ---------------------------------------------------------------------------
// 4. A read stream whose reads come back short (a FIFO).

const FIFO_READ_MARK: usize = MIB;

fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(ok.success(), "mkfifo {}", path.display());
}

static ZEROS: [u8; CHUNK] = [0; CHUNK];

async fn drain_fifo(fifo: PathBuf) -> usize {
    let r = create_read_stream(
        &fifo,
        ReadStreamOptions::default().high_water_mark(FIFO_READ_MARK),
    )
    .expect("read stream");
    let bytes = Rc::new(Cell::new(0));
    let w = Writable::from_async(
        WritableOptions::default().high_water_mark(16 * KIB),
        SlowSink {
            bytes: bytes.clone(),
            chunks: 0,
            xor: None,
        },
    );
    Pipeline::new(&r).run(&w).await.expect("the copy succeeds");
    bytes.get()
}

#[test]
fn fifo_read_stream_peak_heap_is_bounded() {
    let _serial = serial();
    let rt = runtime();
    let s = Scratch::new("fifo");
    let total = 16 * MIB;
    let fifo = s.0.join("fifo");
    mkfifo(&fifo);
    let f = fifo.clone();
    // Started before profiling: it blocks in open() until the stream opens.
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .open(&f)
            .expect("fifo");
        for _ in 0..total / CHUNK {
            out.write_all(&ZEROS).expect("write to the fifo");
        }
    });
    let (got, peak) = profiled(&rt, drain_fifo(fifo));
    writer.join().expect("writer");
    assert_eq!(got, total);
    // The read stream's buffer (its mark), one read in flight (a buffer of
    // the mark's size) and its data copied to fit, the sink's buffer and the
    // chunk past it: not the mark times the number of chunks buffered.
    let bound = 2 * FIFO_READ_MARK + CHUNK + 16 * KIB + CHUNK + SLACK;
    eprintln!("fifo read stream: peak heap {peak} B (bound {bound} B)");
    assert!(peak <= bound, "{peak} B above the bound {bound}");
}
