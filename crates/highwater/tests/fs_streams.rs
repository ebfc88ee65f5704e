//! File streams against Node: the cases of `fs_cases.mjs`, run through
//! highwater, must log the same events in the same order as Node does. The
//! expected log is committed below (made by Node 20); where `node` is
//! installed, the test also re-runs the Node script and checks that it still
//! prints exactly that.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use bytes::Bytes;
use futures::channel::oneshot;
use highwater::fs::{
    create_read_stream, create_write_stream, ReadStream, ReadStreamOptions, WriteStream,
    WriteStreamOptions,
};
use highwater::prelude::*;
use highwater::{Error, WritableEvent};

const EXPECTED: &str = r#"read pending=true
read open
read ready
read data "hello" bytesRead=5
read data " worl" bytesRead=10
read data "d\n" bytesRead=12
read end
read close pending=true
enoent error ENOENT open <dir>/missing.txt ENOENT: no such file or directory, open '<dir>/missing.txt'
enoent close pending=true
eisdir open
eisdir ready
eisdir error EISDIR read - EISDIR: illegal operation on a directory, read
eisdir close pending=true
range open
range ready
range data "wo" bytesRead=2
range data "rl" bytesRead=4
range data "d" bytesRead=5
range end
range close pending=true
write write(abc)=true
write write(defg)=false
write open
write ready
write cb abc null bytesWritten=8
write cb defg null bytesWritten=8
write end cb null
write finish bytesWritten=8
write close pending=true
write content "abcdefgh"
wenoent cb ENOENT
wenoent error ENOENT open <dir>/no/such/dir.txt ENOENT: no such file or directory, open '<dir>/no/such/dir.txt'
wenoent close pending=true
full open
full ready
full cb ENOSPC
full error ENOSPC write - ENOSPC: no space left on device, write
full close pending=true
patch open
patch ready
patch finish bytesWritten=3
patch close pending=true
patch content "aaaXYZaaaa""#;

/// A scratch folder with `hello.txt` and `sub/`, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("highwater-fs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).expect("scratch dir");
        std::fs::write(dir.join("hello.txt"), b"hello world\n").expect("hello.txt");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

type Log = Rc<RefCell<Vec<String>>>;

fn err_line(e: &Error, dir: &str) -> String {
    let rel = |s: &str| s.replace(dir, "<dir>");
    format!(
        "{} {} {} {}",
        e.code(),
        e.syscall().unwrap_or("-"),
        e.path().map(rel).unwrap_or_else(|| "-".into()),
        rel(&e.to_string())
    )
}

fn json_str(b: &Bytes) -> String {
    serde_like_quote(&String::from_utf8_lossy(b))
}

/// JSON string quoting for the few characters the cases use.
fn serde_like_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn closed(on_close: impl FnOnce(Box<dyn Fn()>)) -> oneshot::Receiver<()> {
    let (tx, rx) = oneshot::channel();
    let tx = RefCell::new(Some(tx));
    on_close(Box::new(move || {
        if let Some(tx) = tx.borrow_mut().take() {
            let _ = tx.send(());
        }
    }));
    rx
}

fn watch_read(name: &'static str, r: &ReadStream, log: &Log, dir: &str) -> oneshot::Receiver<()> {
    let l = log.clone();
    r.on_open(move |_| l.borrow_mut().push(format!("{name} open")));
    let l = log.clone();
    r.on_ready(move || l.borrow_mut().push(format!("{name} ready")));
    let (l, r2) = (log.clone(), r.clone());
    r.on_data(move |c| {
        l.borrow_mut().push(format!(
            "{name} data {} bytesRead={}",
            json_str(c),
            r2.bytes_read()
        ))
    });
    let l = log.clone();
    r.on_end(move || l.borrow_mut().push(format!("{name} end")));
    let (l, d) = (log.clone(), dir.to_string());
    r.on_error(move |e| {
        l.borrow_mut()
            .push(format!("{name} error {}", err_line(e, &d)))
    });
    let (l, r2) = (log.clone(), r.clone());
    let rx = closed(|f| {
        r.on_close(move || {
            l.borrow_mut()
                .push(format!("{name} close pending={}", r2.pending()));
            f();
        });
    });
    rx
}

fn watch_write(name: &'static str, w: &WriteStream, log: &Log, dir: &str) -> oneshot::Receiver<()> {
    let l = log.clone();
    w.on_open(move |_| l.borrow_mut().push(format!("{name} open")));
    let l = log.clone();
    w.on_ready(move || l.borrow_mut().push(format!("{name} ready")));
    let l = log.clone();
    w.on(WritableEvent::Drain, move || {
        l.borrow_mut().push(format!("{name} drain"))
    });
    let (l, w2) = (log.clone(), w.clone());
    w.on(WritableEvent::Finish, move || {
        l.borrow_mut()
            .push(format!("{name} finish bytesWritten={}", w2.bytes_written()))
    });
    let (l, d) = (log.clone(), dir.to_string());
    w.on_error(move |e| {
        l.borrow_mut()
            .push(format!("{name} error {}", err_line(e, &d)))
    });
    let (l, w2) = (log.clone(), w.clone());
    closed(|f| {
        w.on_close(move || {
            l.borrow_mut()
                .push(format!("{name} close pending={}", w2.pending()));
            f();
        });
    })
}

fn code(r: &Result<(), Error>) -> String {
    match r {
        Ok(()) => "null".into(),
        Err(e) => e.code().to_string(),
    }
}

async fn run_cases(dir: PathBuf) -> Vec<String> {
    let log: Log = Rc::default();
    let d = dir.to_string_lossy().into_owned();
    let p = |name: &str| dir.join(name);

    // 1.
    let r = create_read_stream(
        p("hello.txt"),
        ReadStreamOptions::default().high_water_mark(5),
    )
    .expect("options");
    log.borrow_mut()
        .push(format!("read pending={}", r.pending()));
    let _ = watch_read("read", &r, &log, &d).await;
    // 2.
    let r = create_read_stream(p("missing.txt"), ReadStreamOptions::default()).expect("options");
    let c = watch_read("enoent", &r, &log, &d);
    r.resume();
    let _ = c.await;
    // 3.
    let r = create_read_stream(p("sub"), ReadStreamOptions::default()).expect("options");
    let _ = watch_read("eisdir", &r, &log, &d).await;
    // 4.
    let r = create_read_stream(
        p("hello.txt"),
        ReadStreamOptions::default()
            .start(6)
            .end(10)
            .high_water_mark(2),
    )
    .expect("options");
    let _ = watch_read("range", &r, &log, &d).await;
    // 5.
    let w = create_write_stream(
        p("out.txt"),
        WriteStreamOptions::default().high_water_mark(4),
    )
    .expect("options");
    let c = watch_write("write", &w, &log, &d);
    for chunk in ["abc", "defg"] {
        let (l, w2) = (log.clone(), w.clone());
        let ok = w.write_cb(
            Bytes::from_static(chunk.as_bytes()),
            move |r: Result<(), Error>| {
                l.borrow_mut().push(format!(
                    "write cb {chunk} {} bytesWritten={}",
                    code(&r),
                    w2.bytes_written()
                ))
            },
        );
        log.borrow_mut().push(format!("write write({chunk})={ok}"));
    }
    let l = log.clone();
    w.end_with(
        Some(Bytes::from_static(b"h")),
        Some(
            (move |r: Result<(), Error>| l.borrow_mut().push(format!("write end cb {}", code(&r))))
                .into(),
        ),
    );
    let _ = c.await;
    let content = std::fs::read_to_string(p("out.txt")).unwrap_or_default();
    log.borrow_mut()
        .push(format!("write content {}", serde_like_quote(&content)));
    // 6.
    let w =
        create_write_stream(p("no/such/dir.txt"), WriteStreamOptions::default()).expect("options");
    let c = watch_write("wenoent", &w, &log, &d);
    let l = log.clone();
    let _ = w.write_cb(Bytes::from_static(b"x"), move |r: Result<(), Error>| {
        l.borrow_mut().push(format!("wenoent cb {}", code(&r)))
    });
    let _ = c.await;
    // 7.
    let w = create_write_stream("/dev/full", WriteStreamOptions::default()).expect("options");
    let c = watch_write("full", &w, &log, &d);
    let l = log.clone();
    let _ = w.write_cb(Bytes::from_static(b"x"), move |r: Result<(), Error>| {
        l.borrow_mut().push(format!("full cb {}", code(&r)))
    });
    let _ = c.await;
    // 8.
    std::fs::write(p("patch.txt"), b"aaaaaaaaaa").expect("patch.txt");
    let w = create_write_stream(
        p("patch.txt"),
        WriteStreamOptions::default().flags("r+").start(3),
    )
    .expect("options");
    let c = watch_write("patch", &w, &log, &d);
    let _ = w.write(Bytes::from_static(b"XY"));
    w.end_with_chunk(Bytes::from_static(b"Z"));
    let _ = c.await;
    let content = std::fs::read_to_string(p("patch.txt")).unwrap_or_default();
    log.borrow_mut()
        .push(format!("patch content {}", serde_like_quote(&content)));

    let out = log.borrow().clone();
    out
}

fn first_difference(expected: &[&str], actual: &[String]) -> Option<String> {
    let i = (0..expected.len().max(actual.len()))
        .find(|&i| expected.get(i).copied() != actual.get(i).map(String::as_str))?;
    Some(format!(
        "first difference at line {}:\n  expected (Node): {:?}\n  actual:          {:?}\n\nexpected:\n{}\n\nactual:\n{}",
        i + 1,
        expected.get(i),
        actual.get(i),
        expected.join("\n"),
        actual.join("\n")
    ))
}

#[test]
fn file_streams_emit_what_node_emits() {
    let scratch = Scratch::new("rust");
    let dir = scratch.0.clone();
    let actual = highwater::block_on(run_cases(dir));
    let expected: Vec<&str> = EXPECTED.lines().collect();
    if let Some(d) = first_difference(&expected, &actual) {
        panic!("{d}");
    }
}

#[test]
fn the_committed_expectation_is_still_what_node_prints() {
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok {
        assert!(
            std::env::var_os("HIGHWATER_REQUIRE_NODE").is_none(),
            "HIGHWATER_REQUIRE_NODE is set but node cannot be run"
        );
        eprintln!("SKIPPED: node is not installed");
        return;
    }
    let scratch = Scratch::new("node");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fs_cases.mjs");
    let out = Command::new("node")
        .arg(&script)
        .arg(&scratch.0)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let actual: Vec<String> = text.lines().map(str::to_string).collect();
    let expected: Vec<&str> = EXPECTED.lines().collect();
    if let Some(d) = first_difference(&expected, &actual) {
        panic!("Node's output changed: {d}");
    }
}
