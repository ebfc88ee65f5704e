//! File streams: `close(cb)` and the `fs` option (a custom [`FileSystem`]).
//!
//! Node's tests replace `fs.read`/`fs.write`/`fs.close` to inject failures
//! at exact points; the port gives the stream a `FileSystem` doing the same.
//! Node's injected functions are asynchronous callbacks; a `FileSystem`
//! method runs on the I/O pool and returns, which is what decides the
//! outcome the tests check (which call fails, what is closed, what is
//! emitted), not the tick on which the callback runs.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures::channel::oneshot;
use highwater::fs::{
    create_read_stream, create_write_stream, FileSystem, OpenFlags, ReadStreamOptions,
    RealFileSystem, WriteStreamOptions,
};
use highwater::prelude::*;
use highwater::{block_on, Error};

struct Scratch(PathBuf);
impl Scratch {
    fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("hw-fs-extras-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("scratch dir");
        Scratch(d)
    }
    fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, content).expect("scratch file");
        p
    }
}
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn on_close(s: &impl StreamBase) -> oneshot::Receiver<()> {
    let (tx, rx) = oneshot::channel();
    let tx = RefCell::new(Some(tx));
    s.once_close(move || {
        if let Some(tx) = tx.borrow_mut().take() {
            let _ = tx.send(());
        }
    });
    rx
}

// Port of test/parallel/test-fs-read-stream-double-close.js
#[test]
fn read_stream_double_close() {
    let dir = Scratch::new("rdc");
    let path = dir.file("f.txt", b"some data");
    block_on(async move {
        let calls = Rc::new(Cell::new(0));
        // s.close(mustCall()); s.close(mustCall());
        let s = create_read_stream(&path, ReadStreamOptions::default())?;
        let closed = on_close(&s);
        for _ in 0..2 {
            let c = calls.clone();
            s.close_with_callback(move |_r| c.set(c.get() + 1));
        }
        let _ = closed.await;
        let _ = highwater::finished_async(&s).await; // its callbacks ran before
        assert_eq!(calls.get(), 2);
        // s.destroy(null, mustCall()); s.destroy(null, mustCall());
        let s = create_read_stream(&path, ReadStreamOptions::default())?;
        let closed = on_close(&s);
        for _ in 0..2 {
            let c = calls.clone();
            s.destroy_with_callback(None, move |_r: Result<(), Error>| c.set(c.get() + 1));
        }
        let _ = closed.await;
        assert_eq!(calls.get(), 4); // destroy's callbacks: before 'close'
        assert!(s.fd().is_none());
        Ok::<_, Error>(())
    })
    .unwrap();
}

// Port of test/parallel/test-fs-write-stream-double-close.js
#[test]
fn write_stream_double_close() {
    let dir = Scratch::new("wdc");
    let (rw, rw2) = (dir.0.join("rw"), dir.0.join("rw2"));
    block_on(async move {
        // Case 1: s.close(mustCall()); s.close(mustCall());
        let calls = Rc::new(Cell::new(0));
        let s = create_write_stream(&rw, WriteStreamOptions::default())?;
        let closed = on_close(&s);
        for _ in 0..2 {
            let c = calls.clone();
            s.close_with_callback(move || c.set(c.get() + 1));
        }
        let _ = closed.await;
        assert_eq!(calls.get(), 2);

        // Case 2: 'close' is emitted once; a close(cb) after it calls back on
        // the next tick, from the callback and from a nextTick alike.
        let s = create_write_stream(&rw2, WriteStreamOptions::default())?;
        let emits = Rc::new(Cell::new(0));
        let e = emits.clone();
        s.on_close(move || e.set(e.get() + 1));
        let (tx, rx) = oneshot::channel::<()>();
        let tx = Rc::new(RefCell::new(Some(tx)));
        let inner = Rc::new(Cell::new(0));
        let (s2, e2, i2, t2) = (s.clone(), emits.clone(), inner.clone(), tx.clone());
        s.close_with_callback(move || {
            assert_eq!(e2.get(), 1);
            let (e3, i3) = (e2.clone(), i2.clone());
            s2.close_with_callback(move || {
                assert_eq!(e3.get(), 1);
                i3.set(i3.get() + 1);
            });
            let (s4, e4, i4, t4) = (s2.clone(), e2.clone(), i2.clone(), t2.clone());
            highwater::next_tick(move || {
                s4.close_with_callback(move || {
                    assert_eq!(e4.get(), 1);
                    i4.set(i4.get() + 1);
                    if let Some(tx) = t4.borrow_mut().take() {
                        let _ = tx.send(());
                    }
                });
            });
        });
        let _ = rx.await;
        assert_eq!((emits.get(), inner.get()), (1, 2));

        // Case 3: autoClose: false; s.close(mustCall()); s.close(mustCall());
        let calls = Rc::new(Cell::new(0));
        let s = create_write_stream(&rw, WriteStreamOptions::default().auto_close(false))?;
        let closed = on_close(&s);
        for _ in 0..2 {
            let c = calls.clone();
            s.close_with_callback(move || c.set(c.get() + 1));
        }
        let _ = closed.await;
        assert_eq!(calls.get(), 2);
        assert!(s.destroyed() && s.fd().is_none()); // destroyed on 'finish'
        Ok::<_, Error>(())
    })
    .unwrap();
}

/// Records the file descriptors opened and closed, and fails the chosen
/// call of `read` or `write` (counting from 0) with "BAM".
#[derive(Default)]
struct Faulty {
    fail_read: Option<usize>,
    fail_write: Option<usize>,
    reads: AtomicUsize,
    writes: AtomicUsize,
    opened: AtomicI32,
    closed: AtomicI32,
    closes: AtomicUsize,
}

fn bam() -> io::Error {
    io::Error::other("BAM")
}

impl FileSystem for Faulty {
    fn open(&self, path: &std::path::Path, flags: OpenFlags, mode: u32) -> io::Result<File> {
        let f = RealFileSystem.open(path, flags, mode)?;
        self.opened.store(f.as_raw_fd(), Ordering::SeqCst);
        Ok(f)
    }
    fn read(&self, file: &File, buf: &mut [u8], pos: Option<u64>) -> io::Result<usize> {
        let n = self.reads.fetch_add(1, Ordering::SeqCst);
        if Some(n) == self.fail_read {
            return Err(bam());
        }
        assert!(
            self.fail_read.is_none_or(|f| n < f),
            "read called after the failure"
        );
        RealFileSystem.read(file, buf, pos)
    }
    fn write(&self, file: &File, buf: &[u8], pos: Option<u64>) -> io::Result<usize> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst);
        if Some(n) == self.fail_write {
            return Err(bam());
        }
        RealFileSystem.write(file, buf, pos)
    }
    fn close(&self, file: File) -> io::Result<()> {
        self.closed.store(file.as_raw_fd(), Ordering::SeqCst);
        self.closes.fetch_add(1, Ordering::SeqCst);
        RealFileSystem.close(file)
    }
}

// Port of test/parallel/test-fs-read-stream-err.js: the first read works, the
// second fails with BAM; 'error' carries it, with the file closed (fd null)
// and closed once, with the stream's fd; no 'data' after the first.
#[test]
fn read_stream_err() {
    let dir = Scratch::new("rerr");
    let path = dir.file("f.txt", &[b'x'; 1000]);
    let fs = Arc::new(Faulty {
        fail_read: Some(1),
        ..Faulty::default()
    });
    let f = fs.clone();
    block_on(async move {
        let s = create_read_stream(&path, ReadStreamOptions::default().fs(f.clone()))?;
        let data = Rc::new(Cell::new(0));
        let d = data.clone();
        s.on_data(move |_c| d.set(d.get() + 1));
        let fd_at_open = Rc::new(Cell::new(None));
        let (fo, s2) = (fd_at_open.clone(), s.clone());
        s.on_open(move |fd| fo.set(Some(fd)));
        let seen = Rc::new(RefCell::new(None));
        let sn = seen.clone();
        s.on_error(move |e| *sn.borrow_mut() = Some((e.clone(), s2.fd())));
        let _ = on_close(&s).await;
        let (e, fd_then) = seen.borrow_mut().take().expect("'error' was emitted");
        assert!(e.to_string().contains("BAM"), "{e}");
        assert_eq!(e.syscall(), Some("read"));
        assert_eq!(fd_then, None); // closed before 'error' (Node: stream.fd === null)
        assert_eq!(data.get(), 1);
        assert_eq!(f.reads.load(Ordering::SeqCst), 2);
        assert_eq!(f.closes.load(Ordering::SeqCst), 1);
        assert_eq!(Some(f.closed.load(Ordering::SeqCst)), fd_at_open.get());
        Ok::<_, Error>(())
    })
    .unwrap();
}

// Port of test/parallel/test-fs-write-stream-err.js: highWaterMark 10; the
// first write works, the second (made from the first's callback) fails with
// BAM: its callback and 'error' get it, the file is closed once, fd null.
#[test]
fn write_stream_err() {
    let dir = Scratch::new("werr");
    let path = dir.0.join("out");
    let fs = Arc::new(Faulty {
        fail_write: Some(1),
        ..Faulty::default()
    });
    let f = fs.clone();
    block_on(async move {
        let s = create_write_stream(
            &path,
            WriteStreamOptions::default()
                .high_water_mark(10)
                .fs(f.clone()),
        )?;
        let seen = Rc::new(RefCell::new(None));
        let (sn, s2) = (seen.clone(), s.clone());
        s.on_error(move |e| *sn.borrow_mut() = Some((e.clone(), s2.fd())));
        let second = Rc::new(RefCell::new(None));
        let (sc, s3) = (second.clone(), s.clone());
        let _ = s.write_cb(Bytes::from(vec![0u8; 256]), move |r: Result<(), Error>| {
            assert!(r.is_ok());
            let _ = s3.write_cb(Bytes::from(vec![0u8; 256]), move |r: Result<(), Error>| {
                *sc.borrow_mut() = Some(r);
            });
        });
        let _ = on_close(&s).await;
        let (e, fd_then) = seen.borrow_mut().take().expect("'error' was emitted");
        assert!(e.to_string().contains("BAM"), "{e}");
        assert_eq!(e.syscall(), Some("write"));
        assert_eq!(fd_then, None);
        let second_err = second
            .borrow_mut()
            .take()
            .expect("second callback")
            .unwrap_err();
        assert!(second_err.same(&e));
        assert_eq!(f.writes.load(Ordering::SeqCst), 2);
        assert_eq!(f.closes.load(Ordering::SeqCst), 1);
        assert_eq!(
            f.closed.load(Ordering::SeqCst),
            f.opened.load(Ordering::SeqCst)
        );
        Ok::<_, Error>(())
    })
    .unwrap();
}

/// Counts the files open: `open` adds one, `close` removes one.
#[derive(Default)]
struct Counting(AtomicI32);
impl FileSystem for Counting {
    fn open(&self, path: &std::path::Path, flags: OpenFlags, mode: u32) -> io::Result<File> {
        self.0.fetch_add(1, Ordering::SeqCst);
        RealFileSystem.open(path, flags, mode)
    }
    fn close(&self, file: File) -> io::Result<()> {
        self.0.fetch_sub(1, Ordering::SeqCst);
        RealFileSystem.close(file)
    }
}

// Port of test/parallel/test-fs-read-stream-fd-leak.js: 50 read streams of
// an empty file, each closed (then each destroyed) right after creation,
// leave no file open. Node creates one every 2 ms with setInterval and
// checks 100 ms later; here every stream is awaited to its 'close'.
#[test]
fn read_stream_fd_leak() {
    let dir = Scratch::new("leak");
    let path = dir.file("empty.txt", b"");
    block_on(async move {
        for end_with_close in [true, false] {
            let fs = Arc::new(Counting::default());
            let mut waits = Vec::new();
            for _ in 0..50 {
                let s = create_read_stream(&path, ReadStreamOptions::default().fs(fs.clone()))?;
                waits.push(on_close(&s));
                if end_with_close {
                    s.close();
                } else {
                    s.destroy(None);
                }
            }
            for w in waits {
                let _ = w.await;
            }
            assert_eq!(fs.0.load(Ordering::SeqCst), 0, "close: {end_with_close}");
        }
        Ok::<_, Error>(())
    })
    .unwrap();
}

/// Node's `signal` option of the fs streams (`addAbortSignal` in the
/// Readable/Writable constructors). Printed by Node 20:
///
/// ```js
/// // A: an aborted signal: destroyed at once; 'error' ABORT_ERR (cause the
/// //    reason), 'close' with fd null
/// // B: abort after the first 'data': destroyed synchronously, 'error' ABORT_ERR, 'close'
/// // C: a write pending, abort on 'open': the write's callback ABORT_ERR, 'error', 'close'
/// // D: abort after 'close': nothing (errored stays null)
/// ```
#[test]
fn abort_signal() {
    let dir = Scratch::new("sig");
    let path = dir.file("f.txt", &[b'x'; 100]);
    let out = dir.0.join("out.txt");
    block_on(async move {
        // A
        let ac = highwater::AbortController::new();
        ac.abort();
        let s = create_read_stream(&path, ReadStreamOptions::default())?.with_signal(&ac.signal());
        assert!(s.destroyed());
        let e = highwater::finished_async(&s).await.unwrap_err();
        assert_eq!(e.code(), "ABORT_ERR");
        assert!(e.cause().is_some());
        assert!(s.closed() && s.fd().is_none());

        // B
        let ac = highwater::AbortController::new();
        let s = create_read_stream(&path, ReadStreamOptions::default().high_water_mark(16))?
            .with_signal(&ac.signal());
        let (a, s2, datas) = (ac.clone(), s.clone(), Rc::new(Cell::new(0)));
        let d = datas.clone();
        s.on_data(move |_c| {
            d.set(d.get() + 1);
            a.abort();
            assert!(s2.destroyed());
        });
        let e = highwater::finished_async(&s).await.unwrap_err();
        assert_eq!((e.code(), datas.get()), ("ABORT_ERR", 1));
        assert!(s.fd().is_none());

        // C
        let ac = highwater::AbortController::new();
        let w = create_write_stream(&out, WriteStreamOptions::default())?.with_signal(&ac.signal());
        let cb = Rc::new(RefCell::new(None));
        let c = cb.clone();
        let _ = w.write_cb(Bytes::from_static(b"abc"), move |r: Result<(), Error>| {
            *c.borrow_mut() = Some(r)
        });
        let a = ac.clone();
        w.on_open(move |_fd| a.abort());
        let e = highwater::finished_async(&w).await.unwrap_err();
        assert_eq!(e.code(), "ABORT_ERR");
        let r = cb.borrow_mut().take().expect("the write's callback");
        assert_eq!(r.unwrap_err().code(), "ABORT_ERR");
        assert!(w.fd().is_none());

        // D
        let ac = highwater::AbortController::new();
        let w = create_write_stream(&out, WriteStreamOptions::default())?.with_signal(&ac.signal());
        w.end_with(Some(Bytes::from_static(b"x")), None);
        highwater::finished_async(&w).await?;
        assert_eq!(ac.signal().listener_count(), 0); // removed when the stream finished
        ac.abort();
        assert!(w.errored().is_none());
        Ok::<_, Error>(())
    })
    .unwrap();
}
