//! Faults survived: when the disk is full, a FIFO's writer dies, the source
//! shrinks under a copy, or any stream of a pipeline is destroyed at any
//! point of its life, highwater's streams fail (or end) the way Node's do and
//! leave nothing behind. Every case checks that:
//!
//! * no file descriptor is leaked (the entries of `/proc/self/fd` are the
//!   same before and after the case, the runtime's own included);
//! * no callback is lost or duplicated: `'close'` exactly once per stream,
//!   `'error'` at most once, the pipeline's callback exactly once;
//! * nothing hangs: every case runs under a generous timeout, and the
//!   in-memory pipeline is driven by `run_until_idle` on a thread that must
//!   come back.
//!
//! File descriptors are process-wide, so the tests of this file run one at a
//! time (`SERIAL`).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use highwater::fs::{
    create_read_stream, create_write_stream, ReadStream, ReadStreamOptions, WriteStream,
    WriteStreamOptions,
};
use highwater::prelude::*;
use highwater::{
    next_tick, run_until_idle, Done, Error, Hooks, Pipeline, Readable, ReadableEvent, ReadableImpl,
    ReadableOptions, Source, Transform, TransformDone, TransformImpl, TransformOptions, Writable,
    WritableEvent, WritableImpl, WritableOptions,
};

static SERIAL: Mutex<()> = Mutex::new(());

/// Far longer than any case takes: reaching it means a hang.
const HANG: Duration = Duration::from_secs(30);

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The open descriptors of this process, as `fd -> target`, sorted (without
/// the one used to list them).
fn open_fds() -> Vec<String> {
    let me = format!("/proc/{}/fd", std::process::id());
    let mut v: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(Result::ok)
        .filter_map(|e| {
            let target = std::fs::read_link(e.path()).ok()?;
            let target = target.to_string_lossy().into_owned();
            (target != me).then(|| format!("{} -> {target}", e.file_name().to_string_lossy()))
        })
        .collect();
    v.sort();
    v
}

/// Runs one case on a fresh loop (`block_on`) under the hang timeout, and
/// checks that it leaves the same descriptors open as before it.
fn case<F, Fut>(name: &str, f: F)
where
    F: FnOnce() -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let before = open_fds();
    let n = name.to_string();
    highwater::block_on(async move {
        if tokio::time::timeout(HANG, f()).await.is_err() {
            panic!("{n}: hung (no result after {HANG:?})");
        }
    });
    let after = open_fds();
    assert_eq!(
        before, after,
        "{name}: descriptors leaked (before vs after)"
    );
}

/// Waits (turning the loop) until `cond` holds; the case's timeout catches a
/// condition that never comes.
async fn until(cond: impl Fn() -> bool) {
    while !cond() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Gives late (duplicate) events a chance to show up before counting them.
async fn settle() {
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[derive(Clone, Default)]
struct Count(Rc<Cell<usize>>);

impl Count {
    fn hit(&self) {
        self.0.set(self.0.get() + 1);
    }
    fn get(&self) -> usize {
        self.0.get()
    }
}

/// A stream's `'close'`, `'error'` (codes) and `'end'`/`'finish'` counts.
#[derive(Clone, Default)]
struct Seen {
    close: Count,
    end: Count,
    finish: Count,
    errors: Rc<RefCell<Vec<String>>>,
}

impl Seen {
    fn read_stream(r: &ReadStream) -> Seen {
        let s = Seen::default();
        let c = s.close.clone();
        r.on_close(move || c.hit());
        let e = s.end.clone();
        r.on_end(move || e.hit());
        let e = s.errors.clone();
        r.on_error(move |err| e.borrow_mut().push(err.code().to_string()));
        s
    }
    fn write_stream(w: &WriteStream) -> Seen {
        let s = Seen::default();
        let c = s.close.clone();
        w.on_close(move || c.hit());
        let f = s.finish.clone();
        w.on(WritableEvent::Finish, move || f.hit());
        let e = s.errors.clone();
        w.on_error(move |err| e.borrow_mut().push(err.code().to_string()));
        s
    }
    fn errors(&self) -> Vec<String> {
        self.errors.borrow().clone()
    }
}

/// A scratch folder under the temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("highwater-faults-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("scratch dir");
        Scratch(d)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i * 7 % 251) as u8 ^ (i >> 12) as u8)
        .collect()
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(ok.success(), "mkfifo {}", path.display());
}

/// Warms up the I/O threads (created once, on first use, and kept): they
/// hold no descriptor, but the first case should not pay for them.
fn warm_up(s: &Scratch) {
    let p = s.path("warm");
    std::fs::write(&p, b"warm").expect("warm");
    highwater::block_on(async move {
        let r = create_read_stream(&p, ReadStreamOptions::default()).expect("read stream");
        let got = Rc::new(Cell::new(0));
        let g = got.clone();
        r.on_data(move |c| g.set(g.get() + c.len()));
        let c = Count::default();
        let c2 = c.clone();
        r.on_close(move || c2.hit());
        until(move || c.get() == 1).await;
    });
}

// ---------------------------------------------------------------------------
// A full disk.

#[test]
fn a_full_disk_fails_with_enospc_closes_once_and_frees_the_descriptor() {
    let _serial = serial();
    let s = Scratch::new("full");
    warm_up(&s);

    // A write stream on /dev/full: the write fails with ENOSPC.
    case("write stream on /dev/full", || async {
        let w = create_write_stream("/dev/full", WriteStreamOptions::default()).expect("w");
        let seen = Seen::write_stream(&w);
        let cbs: Rc<RefCell<Vec<String>>> = Rc::default();
        let c = cbs.clone();
        let _ = w.write_cb(
            Bytes::from(vec![7u8; 100_000]),
            move |r: Result<(), Error>| {
                c.borrow_mut()
                    .push(r.err().map(|e| e.code().to_string()).unwrap_or_default())
            },
        );
        w.end();
        let close = seen.close.clone();
        until(move || close.get() >= 1).await;
        settle().await;
        assert_eq!(seen.errors(), ["ENOSPC"], "one 'error', ENOSPC");
        assert_eq!(*cbs.borrow(), ["ENOSPC"], "the write's callback, once");
        assert_eq!(seen.close.get(), 1, "'close' once");
        assert_eq!(seen.finish.get(), 0, "no 'finish'");
        assert!(w.pending() && w.fd().is_none(), "the fd is closed");
        assert_eq!(w.errored().map(|e| e.syscall()), Some(Some("write")));
    });

    // A file copied onto /dev/full through a pipeline: the write error
    // destroys the reader too; the callback gets ENOSPC once.
    let src = s.path("src.bin");
    std::fs::write(&src, pattern(2 << 20)).expect("src");
    case("pipeline into /dev/full", move || async move {
        let r = create_read_stream(
            &src,
            ReadStreamOptions::default().high_water_mark(16 * 1024),
        )
        .expect("r");
        let w = create_write_stream("/dev/full", WriteStreamOptions::default()).expect("w");
        let (rs, ws) = (Seen::read_stream(&r), Seen::write_stream(&w));
        let results: Rc<RefCell<Vec<Result<(), Error>>>> = Rc::default();
        let res = results.clone();
        Pipeline::new(&r).to(&w, move |x| res.borrow_mut().push(x));
        let (rc, wc, res) = (rs.close.clone(), ws.close.clone(), results.clone());
        until(move || rc.get() >= 1 && wc.get() >= 1 && !res.borrow().is_empty()).await;
        settle().await;
        let results = results.borrow();
        assert_eq!(results.len(), 1, "the pipeline's callback, once");
        let err = results[0].as_ref().expect_err("the pipeline fails");
        assert_eq!((err.code(), err.syscall()), ("ENOSPC", Some("write")));
        assert_eq!(ws.errors(), ["ENOSPC"]);
        assert!(rs.errors().len() <= 1, "reader errors: {:?}", rs.errors());
        assert_eq!(
            (rs.close.get(), ws.close.get()),
            (1, 1),
            "'close' once each"
        );
        assert_eq!(rs.end.get(), 0, "the reader was stopped before its end");
        assert!(r.pending() && w.pending(), "both fds closed");
    });
}

// ---------------------------------------------------------------------------
// A FIFO whose writer goes away.

/// Defined behaviour: a FIFO's writer closing it, or dying (the kernel then
/// closes its end), is end-of-file for the reader: a read returns 0 bytes.
/// The read stream cannot tell the two apart, and neither can Node's: it
/// pushes EOF, so the stream emits `'end'` (no `'error'`) after the bytes
/// written before, then `'close'`.
#[test]
fn a_fifo_whose_writer_closes_or_dies_ends_the_read_stream() {
    let _serial = serial();
    let s = Scratch::new("fifo");
    warm_up(&s);

    // 1. A writer (a thread) writes in pieces, then closes.
    let fifo = s.path("fifo-1");
    mkfifo(&fifo);
    let sent = pattern(300_000);
    let (f, data) = (fifo.clone(), sent.clone());
    let writer = std::thread::spawn(move || {
        // Blocks until the read stream opens the FIFO.
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .open(&f)
            .expect("open the fifo");
        for piece in data.chunks(40_000) {
            out.write_all(piece).expect("write to the fifo");
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    let got: Rc<RefCell<Vec<u8>>> = Rc::default();
    let g = got.clone();
    case("fifo, writer closes", move || async move {
        let r = create_read_stream(&fifo, ReadStreamOptions::default()).expect("r");
        let seen = Seen::read_stream(&r);
        r.on_data(move |c| g.borrow_mut().extend_from_slice(c));
        let close = seen.close.clone();
        until(move || close.get() >= 1).await;
        settle().await;
        assert_eq!(seen.errors(), Vec::<String>::new(), "no 'error'");
        assert_eq!(
            (seen.end.get(), seen.close.get()),
            (1, 1),
            "'end' and 'close' once"
        );
        assert!(r.pending(), "the fd is closed");
    });
    writer.join().expect("writer");
    assert_eq!(
        *got.borrow(),
        sent,
        "every byte written came through, in order"
    );

    // 2. A writer process writes, then is killed (SIGKILL) while it still
    // holds the FIFO open.
    let fifo = s.path("fifo-2");
    mkfifo(&fifo);
    let child = Command::new("sh")
        .args(["-c", "exec >\"$1\"; printf 'hello'; exec sleep 60", "sh"])
        .arg(&fifo)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh");
    let child = Rc::new(RefCell::new(child));
    let got: Rc<RefCell<Vec<u8>>> = Rc::default();
    let (g, ch) = (got.clone(), child.clone());
    case("fifo, writer killed", move || async move {
        let r = create_read_stream(&fifo, ReadStreamOptions::default()).expect("r");
        let seen = Seen::read_stream(&r);
        let g2 = g.clone();
        r.on_data(move |c| g2.borrow_mut().extend_from_slice(c));
        // Kill the writer once its bytes are in; nothing else closes the FIFO.
        let g3 = g.clone();
        until(move || g3.borrow().len() >= 5).await;
        assert_eq!(seen.end.get(), 0, "no 'end' while the writer lives");
        ch.borrow_mut().kill().expect("kill the writer");
        let close = seen.close.clone();
        until(move || close.get() >= 1).await;
        settle().await;
        assert_eq!(seen.errors(), Vec::<String>::new(), "no 'error'");
        assert_eq!(
            (seen.end.get(), seen.close.get()),
            (1, 1),
            "'end' and 'close' once"
        );
        assert!(r.pending(), "the fd is closed");
    });
    let status = child.borrow_mut().wait().expect("reap the writer");
    assert!(!status.success(), "the writer was killed: {status:?}");
    assert_eq!(&*got.borrow(), b"hello");
}

// ---------------------------------------------------------------------------
// The source shrinks during the copy.

/// Defined behaviour: a read stream reads until a read returns 0 bytes. When
/// the source is truncated during the copy, reads past the new end return 0:
/// the copy is short, and it ends normally (`'end'`, `'finish'`, no error),
/// as in Node. What was copied is exactly the source's bytes up to where the
/// reads stopped:
///
/// * truncated beyond what was read: the copy is exactly the new length;
/// * truncated below what was read: the copy is what was read before the
///   truncation (plus at most the one read in flight at that moment).
#[test]
fn a_source_truncated_during_the_copy_gives_a_short_copy_and_a_normal_end() {
    let _serial = serial();
    let s = Scratch::new("trunc");
    warm_up(&s);
    const CHUNK: usize = 64 * 1024;
    const AT: u64 = 2 << 20;
    let original = Rc::new(pattern(8 << 20));
    for new_len in [4u64 << 20, 1 << 20] {
        let (src, dst) = (s.path("src.bin"), s.path("dst.bin"));
        std::fs::write(&src, &*original).expect("src");
        let copied = Rc::new(Cell::new(0u64));
        let read_at_truncation = Rc::new(Cell::new(0u64));
        let (cp, rat) = (copied.clone(), read_at_truncation.clone());
        let (src2, dst2) = (src.clone(), dst.clone());
        case(&format!("truncate to {new_len}"), move || async move {
            let r = create_read_stream(&src2, ReadStreamOptions::default().high_water_mark(CHUNK))
                .expect("r");
            let w = create_write_stream(&dst2, WriteStreamOptions::default()).expect("w");
            let (rs, ws) = (Seen::read_stream(&r), Seen::write_stream(&w));
            let results: Rc<RefCell<Vec<Result<(), Error>>>> = Rc::default();
            let res = results.clone();
            Pipeline::new(&r).to(&w, move |x| res.borrow_mut().push(x));
            let r2 = r.clone();
            r.on_data(move |_| {
                if rat.get() == 0 && r2.bytes_read() >= AT {
                    rat.set(r2.bytes_read());
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(&src2)
                        .and_then(|f| f.set_len(new_len))
                        .expect("truncate the source");
                }
            });
            let (rc, wc, res) = (rs.close.clone(), ws.close.clone(), results.clone());
            until(move || rc.get() >= 1 && wc.get() >= 1 && !res.borrow().is_empty()).await;
            settle().await;
            assert_eq!(results.borrow().len(), 1, "the pipeline's callback, once");
            assert!(results.borrow()[0].is_ok(), "{:?}", results.borrow()[0]);
            assert!(rs.errors().is_empty() && ws.errors().is_empty());
            assert_eq!(
                (rs.end.get(), ws.finish.get()),
                (1, 1),
                "'end' and 'finish'"
            );
            assert_eq!(
                (rs.close.get(), ws.close.get()),
                (1, 1),
                "'close' once each"
            );
            assert_eq!(r.bytes_read(), w.bytes_written());
            cp.set(w.bytes_written());
        });
        let copied = copied.get();
        let at = read_at_truncation.get();
        assert!(at >= AT, "the truncation happened during the copy");
        if new_len > at {
            assert_eq!(copied, new_len, "the copy stops at the new end");
        } else {
            assert!(
                (at..=at + CHUNK as u64).contains(&copied),
                "read {at} before the truncation to {new_len}, copied {copied}"
            );
        }
        let out = std::fs::read(&dst).expect("dst");
        assert_eq!(out.len() as u64, copied);
        assert!(
            out == original[..out.len()],
            "the copy is a prefix of the source"
        );
        eprintln!("truncated to {new_len} after {at} B read: {copied} B copied");
    }
}

// ---------------------------------------------------------------------------
// destroy() at every point of a file pipeline's life.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Point {
    /// Right after the pipeline is made: no file is open yet.
    BeforeOpen,
    /// The writer has a write in flight (on the I/O threads).
    DuringWrite,
    /// The reader is paused by backpressure.
    WhilePaused,
    /// The transform's `_final` (its flush) has not called back yet.
    DuringFinal,
    /// The pipeline's callback has been called.
    AfterFinish,
}

const POINTS: [Point; 5] = [
    Point::BeforeOpen,
    Point::DuringWrite,
    Point::WhilePaused,
    Point::DuringFinal,
    Point::AfterFinish,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Source,
    Middle,
    Sink,
}

const TARGETS: [Target; 3] = [Target::Source, Target::Middle, Target::Sink];

/// A pass-through whose transform and flush call back on a later turn of
/// the loop (like real asynchronous work), and which says when its flush
/// starts.
struct Later {
    flush_started: Rc<dyn Fn()>,
}

impl TransformImpl<Bytes, Bytes> for Later {
    fn transform(&self, chunk: Bytes, done: TransformDone<Bytes>) {
        let _t = highwater::spawn(async move {
            tokio::task::yield_now().await;
            done.call(Ok(Some(chunk)));
        });
    }
    fn flush(&self, done: TransformDone<Bytes>) {
        (self.flush_started)();
        let _t = highwater::spawn(async move {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            done.call(Ok(None));
        });
    }
    fn hooks(&self) -> Hooks {
        Hooks::FLUSH
    }
}

/// The pipeline's result, and whether the destroyed stream was still live.
type Outcome = (Result<(), Error>, bool);

/// Destroys one stream of a file pipeline at one point, and checks what follows.
fn file_pipeline_case(s: &Scratch, point: Point, target: Target, with_error: bool) {
    let name = format!("destroy {target:?} {point:?} error={with_error}");
    let (src, dst) = (s.path("src.bin"), s.path("dst.bin"));
    let _ = std::fs::remove_file(&dst);
    let len = 1 << 20;
    let outcome: Rc<RefCell<Option<Outcome>>> = Rc::default();
    let out = outcome.clone();
    let n = name.clone();
    case(&name, move || async move {
        let mark = 16 * 1024;
        let r = create_read_stream(&src, ReadStreamOptions::default().high_water_mark(mark))
            .expect("r");
        let flush_started = Rc::new(Cell::new(false));
        let fs2 = flush_started.clone();
        let t: Transform<Bytes, Bytes> = Transform::new(
            TransformOptions::default().high_water_mark(mark),
            Later {
                flush_started: Rc::new(move || fs2.set(true)),
            },
        );
        let w = create_write_stream(&dst, WriteStreamOptions::default().high_water_mark(mark))
            .expect("w");
        let (rs, ws) = (Seen::read_stream(&r), Seen::write_stream(&w));
        let tclose = Count::default();
        let tc = tclose.clone();
        t.on_close(move || tc.hit());
        let results: Rc<RefCell<Vec<Result<(), Error>>>> = Rc::default();
        let res = results.clone();
        Pipeline::new(&r)
            .through(&t)
            .to(&w, move |x| res.borrow_mut().push(x));

        // Destroys the target; says whether it was still live.
        let destroy = {
            let (r, t, w) = (r.clone(), t.clone(), w.clone());
            move || {
                let err = with_error.then(|| Error::custom("EBOOM", "boom"));
                let live = match target {
                    Target::Source => !r.destroyed(),
                    Target::Middle => !t.destroyed(),
                    Target::Sink => !w.destroyed(),
                };
                match target {
                    Target::Source => r.destroy(err),
                    Target::Middle => t.destroy(err),
                    Target::Sink => w.destroy(err),
                }
                live
            }
        };
        let live = Rc::new(Cell::new(None::<bool>));
        let fire: Rc<dyn Fn()> = {
            let live = live.clone();
            Rc::new(move || {
                if live.get().is_none() {
                    live.set(Some(destroy()));
                }
            })
        };
        match point {
            Point::BeforeOpen => {
                assert!(r.pending() && w.pending());
                fire();
            }
            Point::DuringWrite => {
                // The pipe writes each chunk of the transform to the writer
                // in its 'data' listener, which comes first: on the 4th, the
                // writer has that write in flight.
                let (n, w2, f) = (Count::default(), w.clone(), fire.clone());
                t.on_data(move |_| {
                    n.hit();
                    if n.get() == 4 {
                        assert!(w2.writable_length() > 0, "a write is in flight");
                        f();
                    }
                });
            }
            Point::WhilePaused => {
                let (r2, f) = (r.clone(), fire.clone());
                r.once_event(ReadableEvent::Pause, move || {
                    let (r3, f2) = (r2.clone(), f.clone());
                    next_tick(move || {
                        assert!(r3.is_paused(), "still paused");
                        f2();
                    });
                });
            }
            Point::DuringFinal => {
                let (fs3, f) = (flush_started.clone(), fire.clone());
                until(move || fs3.get()).await;
                f();
            }
            Point::AfterFinish => {}
        }
        let (rc, wc, tc, res) = (
            rs.close.clone(),
            ws.close.clone(),
            tclose.clone(),
            results.clone(),
        );
        until(move || rc.get() >= 1 && wc.get() >= 1 && tc.get() >= 1 && !res.borrow().is_empty())
            .await;
        if point == Point::AfterFinish {
            fire();
        }
        settle().await;
        assert_eq!(
            results.borrow().len(),
            1,
            "{n}: the pipeline's callback, once"
        );
        assert_eq!(
            (rs.close.get(), tclose.get(), ws.close.get()),
            (1, 1, 1),
            "{n}: 'close' once per stream"
        );
        assert!(
            rs.errors().len() <= 1 && ws.errors().len() <= 1,
            "{n}: 'error' at most once"
        );
        assert!(r.pending() && w.pending(), "{n}: both files closed");
        let live = live
            .get()
            .unwrap_or_else(|| panic!("{n}: the point was never reached"));
        let result = results.borrow_mut().remove(0);
        *out.borrow_mut() = Some((result, live));
    });
    let (result, live) = outcome.borrow_mut().take().expect("outcome");
    let copied = std::fs::read(s.path("dst.bin")).unwrap_or_default();
    // The destroy could not interrupt anything: after the end, or on a
    // stream already done (the source, once it ended, closes itself).
    let harmless = point == Point::AfterFinish || !live;
    eprintln!("{name}: live={live} -> {}", outcome_code(&result));
    if let Err(e) = check_outcome(&result, harmless, with_error) {
        panic!("{name}: {e}");
    }
    if result.is_ok() {
        assert!(copied == pattern(len), "{name}: a successful copy is whole");
    }
}

fn outcome_code(r: &Result<(), Error>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => e.code().to_string(),
    }
}

/// The pipeline's result after a destroy: success if the destroy was
/// harmless, else the destroy's error if it had one (the first error wins),
/// else the error of a stream stopped before its end, as Node reports it:
/// `ERR_STREAM_PREMATURE_CLOSE`, `ABORT_ERR` (the pipeline destroying the
/// others), or `ERR_STREAM_DESTROYED` (a file write in flight when its stream
/// was destroyed: Node's `writeAll` fails it so, and the stream emits it).
fn check_outcome(
    result: &Result<(), Error>,
    harmless: bool,
    with_error: bool,
) -> Result<(), String> {
    match result {
        Ok(()) if harmless => Ok(()),
        Ok(()) => Err("the pipeline succeeded though a live stream was destroyed".into()),
        Err(e) if harmless => Err(format!("a harmless destroy failed the pipeline: {e:?}")),
        Err(e) if with_error && e.code() != "EBOOM" => {
            Err(format!("the destroy's error should win, got {e:?}"))
        }
        Err(e)
            if !with_error
                && !matches!(
                    e.code(),
                    "ERR_STREAM_PREMATURE_CLOSE" | "ABORT_ERR" | "ERR_STREAM_DESTROYED"
                ) =>
        {
            Err(format!("unexpected error {e:?}"))
        }
        Err(_) => Ok(()),
    }
}

#[test]
fn destroy_at_every_point_of_a_file_pipeline_closes_everything_once() {
    let _serial = serial();
    let s = Scratch::new("destroy");
    warm_up(&s);
    std::fs::write(s.path("src.bin"), pattern(1 << 20)).expect("src");
    for point in POINTS {
        for target in TARGETS {
            for with_error in [false, true] {
                file_pipeline_case(&s, point, target, with_error);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// destroy() at every point of an in-memory pipeline, driven by hand.

/// Completions the test holds and releases one at a time, oldest first, as
/// asynchronous work finishing on later turns of the loop.
type Held = Rc<RefCell<VecDeque<(&'static str, Box<dyn FnOnce()>)>>>;

fn hold(held: &Held, what: &'static str, f: impl FnOnce() + 'static) {
    held.borrow_mut().push_back((what, Box::new(f)));
}

fn holds(held: &Held, what: &str) -> bool {
    held.borrow().iter().any(|(w, _)| *w == what)
}

const MEM_CHUNK: usize = 1024;
const MEM_CHUNKS: usize = 32;
const MEM_MARK: usize = 4 * 1024;

/// A source with an asynchronous open (`_construct`) that pushes
/// `MEM_CHUNKS` chunks synchronously.
struct HeldSource {
    held: Held,
    left: Cell<usize>,
}

impl ReadableImpl<Bytes> for HeldSource {
    fn construct(&self, done: Done) {
        hold(&self.held, "source open", move || done.ok());
    }
    fn read(&self, _size: usize, src: &Source<Bytes>) {
        match self.left.get() {
            0 => {
                src.push_eof();
            }
            n => {
                self.left.set(n - 1);
                src.push(Bytes::from(vec![n as u8; MEM_CHUNK]));
            }
        }
    }
    fn hooks(&self) -> Hooks {
        Hooks::CONSTRUCT
    }
}

/// A transform whose transform and flush call back when released.
struct HeldTransform(Held);

impl TransformImpl<Bytes, Bytes> for HeldTransform {
    fn transform(&self, chunk: Bytes, done: TransformDone<Bytes>) {
        hold(&self.0, "transform", move || done.call(Ok(Some(chunk))));
    }
    fn flush(&self, done: TransformDone<Bytes>) {
        hold(&self.0, "flush", move || done.call(Ok(None)));
    }
    fn hooks(&self) -> Hooks {
        Hooks::FLUSH
    }
}

/// A sink with an asynchronous open, writes and `_final`.
struct HeldSink {
    held: Held,
    bytes: Rc<Cell<usize>>,
}

impl WritableImpl<Bytes> for HeldSink {
    fn construct(&self, done: Done) {
        hold(&self.held, "sink open", move || done.ok());
    }
    fn write(&self, chunk: Bytes, done: Done) {
        let b = self.bytes.clone();
        hold(&self.held, "write", move || {
            b.set(b.get() + chunk.len());
            done.ok();
        });
    }
    fn finish(&self, done: Done) {
        hold(&self.held, "final", move || done.ok());
    }
    fn hooks(&self) -> Hooks {
        Hooks::CONSTRUCT | Hooks::FINAL
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MemPoint {
    /// Before the loop ran: the opens have not even started.
    BeforeOpen,
    /// Both opens started, neither finished.
    DuringOpen,
    /// The sink has a write in flight (its 3rd).
    DuringWrite,
    /// The source is paused by backpressure.
    WhilePaused,
    /// The transform's flush (its `_final`) is in flight.
    DuringFlush,
    /// The sink's `_final` is in flight.
    DuringFinal,
    /// The pipeline's callback has been called.
    AfterFinish,
}

const MEM_POINTS: [MemPoint; 7] = [
    MemPoint::BeforeOpen,
    MemPoint::DuringOpen,
    MemPoint::DuringWrite,
    MemPoint::WhilePaused,
    MemPoint::DuringFlush,
    MemPoint::DuringFinal,
    MemPoint::AfterFinish,
];

/// Runs one in-memory case; returns a description of what went wrong.
fn mem_case(point: MemPoint, target: Target, with_error: bool) -> Result<(), String> {
    let name = format!("destroy {target:?} {point:?} error={with_error}");
    let held: Held = Rc::default();
    let src = Readable::new(
        ReadableOptions::default().high_water_mark(MEM_MARK),
        HeldSource {
            held: held.clone(),
            left: Cell::new(MEM_CHUNKS),
        },
    );
    let t: Transform<Bytes, Bytes> = Transform::new(
        TransformOptions::default().high_water_mark(MEM_MARK),
        HeldTransform(held.clone()),
    );
    let bytes = Rc::new(Cell::new(0));
    let sink = Writable::new(
        WritableOptions::default().high_water_mark(MEM_MARK),
        HeldSink {
            held: held.clone(),
            bytes: bytes.clone(),
        },
    );
    let closes = [Count::default(), Count::default(), Count::default()];
    let c = closes[0].clone();
    src.on_close(move || c.hit());
    let c = closes[1].clone();
    t.on_close(move || c.hit());
    let c = closes[2].clone();
    sink.on_close(move || c.hit());
    let results: Rc<RefCell<Vec<Result<(), Error>>>> = Rc::default();
    let res = results.clone();
    Pipeline::new(&src)
        .through(&t)
        .to(&sink, move |x| res.borrow_mut().push(x));

    let writes = Rc::new(Cell::new(0));
    let reached = |held: &Held| match point {
        MemPoint::BeforeOpen => true,
        MemPoint::DuringOpen => holds(held, "source open") && holds(held, "sink open"),
        MemPoint::DuringWrite => holds(held, "write") && writes.get() >= 2,
        MemPoint::WhilePaused => src.readable_flowing() == Some(false) && !src.readable_ended(),
        MemPoint::DuringFlush => holds(held, "flush"),
        MemPoint::DuringFinal => holds(held, "final"),
        MemPoint::AfterFinish => !results.borrow().is_empty(),
    };
    let mut live = None;
    let mut steps = 0;
    loop {
        if point != MemPoint::BeforeOpen {
            run_until_idle();
        }
        if live.is_none() && reached(&held) {
            let err = with_error.then(|| Error::custom("EBOOM", "boom"));
            live = Some(match target {
                Target::Source => !src.destroyed(),
                Target::Middle => !t.destroyed(),
                Target::Sink => !sink.destroyed(),
            });
            match target {
                Target::Source => src.destroy(err),
                Target::Middle => t.destroy(err),
                Target::Sink => sink.destroy(err),
            }
        }
        run_until_idle();
        steps += 1;
        if steps > 10_000 {
            return Err(format!("{name}: never settles"));
        }
        let next = held.borrow_mut().pop_front();
        match next {
            Some((what, f)) => {
                if what == "write" {
                    writes.set(writes.get() + 1);
                }
                f();
            }
            None => break,
        }
    }
    run_until_idle();
    let Some(live) = live else {
        return Err(format!("{name}: the point was never reached"));
    };
    let n_results = results.borrow().len();
    let counts: Vec<usize> = closes.iter().map(Count::get).collect();
    if n_results != 1 {
        return Err(format!(
            "{name}: the pipeline's callback ran {n_results} times"
        ));
    }
    if counts != [1, 1, 1] {
        return Err(format!(
            "{name}: 'close' counts (source, transform, sink) {counts:?}"
        ));
    }
    let result = results.borrow_mut().remove(0);
    // As in Node, a Writable that was ended and has nothing left to write
    // counts as finished when it closes (end-of-stream's non-strict
    // `isWritableFinished`): destroying it during its `_final`, without an
    // error, is not a premature close.
    let harmless = point == MemPoint::AfterFinish
        || !live
        || (target == Target::Sink && point == MemPoint::DuringFinal && !with_error);
    eprintln!("{name}: live={live} -> {}", outcome_code(&result));
    check_outcome(&result, harmless, with_error).map_err(|e| format!("{name}: {e}"))?;
    if result.is_ok() && bytes.get() != MEM_CHUNK * MEM_CHUNKS {
        return Err(format!("{name}: success with {} bytes", bytes.get()));
    }
    Ok(())
}

#[test]
fn destroy_at_every_point_of_an_in_memory_pipeline_settles_with_run_until_idle() {
    let _serial = serial();
    // On its own thread, so that a run_until_idle that never returns is a
    // failure here rather than a hung test binary.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut failures = Vec::new();
        for point in MEM_POINTS {
            for target in TARGETS {
                for with_error in [false, true] {
                    if let Err(e) = mem_case(point, target, with_error) {
                        failures.push(e);
                    }
                }
            }
        }
        let _ = tx.send(failures);
    });
    let failures = rx
        .recv_timeout(HANG)
        .expect("the cases finished: no panic, and run_until_idle came back every time");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A chunk that counts its drops.
struct Tracked(Rc<std::cell::Cell<usize>>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// A Transform whose write completion is held (its readable side is full)
/// holds that completion weakly: once the user drops the stream, it and its
/// buffered chunks are freed. (It used to keep itself alive forever, a leak
/// LeakSanitizer found under the fuzzer.)
#[test]
fn an_abandoned_transform_holding_a_write_is_freed() {
    let drops = Rc::new(std::cell::Cell::new(0));
    {
        let t: highwater::PassThrough<Tracked> =
            highwater::PassThrough::new(highwater::TransformOptions::objects().high_water_mark(0));
        t.end_with_chunk(Tracked(drops.clone()));
        highwater::run_until_idle();
        assert_eq!(t.readable_length(), 1, "the chunk waits to be read");
        assert_eq!(drops.get(), 0);
    }
    highwater::run_until_idle();
    assert_eq!(drops.get(), 1, "the stream and its chunk were freed");
}
