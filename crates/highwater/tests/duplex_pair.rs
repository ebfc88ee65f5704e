//! `duplex_pair`: Node 22's `duplexPair()`. Node 20 has no `duplexPair`;
//! the expected orders come from Node 22's `lib/internal/streams/duplexpair.js`
//! (a `Duplex` subclass using only public API) run on Node v20.20.2.

use std::rc::Rc;

use bytes::Bytes;
use highwater::prelude::*;
use highwater::{duplex_pair, run_until_idle, DuplexOptions, Error, WritableEvent};

mod common;
use common::{Calls, Log};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn text(c: &Bytes) -> String {
    String::from_utf8_lossy(c).into_owned()
}

// ---------------------------------------------------------------------------
// Port of test/parallel/test-stream-duplexpair.js (Node 22)
// ---------------------------------------------------------------------------

#[test]
fn duplexpair_returns_two_distinct_duplexes() {
    let (a, b2) = duplex_pair::<Bytes>(DuplexOptions::default());
    assert_ne!(a.id(), b2.id());
}

#[test]
fn duplexpair_write_on_one_side_is_data_on_the_other() {
    let (client, server) = duplex_pair::<Bytes>(DuplexOptions::default());
    let data = Calls::default();
    let d = data.clone();
    client.on_data(move |c| {
        assert_eq!(text(c), "foo");
        d.hit();
    });
    client.on_end(|| panic!("'end' must not be emitted"));
    assert!(server.write(b("foo")));
    run_until_idle();
    assert_eq!(data.get(), 1);
}

#[test]
fn duplexpair_end_with_chunk_ends_the_other_side() {
    let (client, server) = duplex_pair::<Bytes>(DuplexOptions::default());
    let (data, end) = (Calls::default(), Calls::default());
    let d = data.clone();
    server.on_data(move |c| {
        assert_eq!(text(c), "foo");
        d.hit();
    });
    server.on_end(end.listener());
    client.end_with_chunk(b("foo"));
    run_until_idle();
    assert_eq!((data.get(), end.get()), (1, 1));
}

fn read_all_on_readable(side: &highwater::Duplex<Bytes, Bytes>) -> Rc<std::cell::RefCell<String>> {
    let chars = Rc::new(std::cell::RefCell::new(String::new()));
    let (s, c) = (side.clone(), chars.clone());
    side.on_readable(move || {
        while let Some(seg) = s.read(None) {
            c.borrow_mut().push_str(&text(&seg));
        }
    });
    chars
}

#[test]
fn duplexpair_corked_writes_arrive_in_order() {
    let (server, client) = duplex_pair::<Bytes>(DuplexOptions::default());
    server.cork();
    assert!(server.write(b("abc")));
    assert!(server.write(b("12")));
    server.end_with_chunk(b("\n"));
    server.uncork();
    let chars = read_all_on_readable(&client);
    let end = Calls::default();
    let (e, c) = (end.clone(), chars.clone());
    client.on_end(move || {
        assert_eq!(*c.borrow(), "abc12\n");
        e.hit();
    });
    run_until_idle();
    assert_eq!(end.get(), 1);
}

#[test]
fn duplexpair_zero_size_writes_complete() {
    // "the _write never calls [kCallback] because a zero-size push doesn't
    // trigger a _read": empty chunks complete on the next tick.
    let (server, client) = duplex_pair::<Bytes>(DuplexOptions::default());
    assert!(server.write(Bytes::new()));
    assert!(server.write(b("12")));
    assert!(server.write(Bytes::new()));
    assert!(server.write(Bytes::new()));
    server.end_with_chunk(b("\n"));
    let chars = read_all_on_readable(&client);
    let end = Calls::default();
    let (e, c) = (end.clone(), chars.clone());
    client.on_end(move || {
        assert_eq!(*c.borrow(), "12\n");
        e.hit();
    });
    run_until_idle();
    assert_eq!(end.get(), 1);
    assert!(server.writable_finished());
}

// ---------------------------------------------------------------------------
// Backpressure and event orders (Node 22's implementation on Node 20)
// ---------------------------------------------------------------------------

#[test]
fn duplexpair_write_callback_waits_for_the_reader() {
    // Node: ["w0:true","w1:false","w2:false","w3:false","cb0",
    // "b.len=6 a.wlen=9","cb1","read:abcabcabc","cb2","cb3",
    // "b.len=3 a.wlen=0","b.len=0 a.wlen=0"]
    let log = Log::default();
    let (a, b2) = duplex_pair::<Bytes>(DuplexOptions::default().high_water_mark(4));
    for i in 0..4 {
        let l = log.clone();
        let ok = a.write_cb(b("abc"), move |_r: Result<(), Error>| {
            l.push(format!("cb{i}"))
        });
        log.push(format!("w{i}:{ok}"));
    }
    run_until_idle();
    log.push(format!(
        "b.len={} a.wlen={}",
        b2.readable_length(),
        a.writable_length()
    ));
    let got = b2.read(None).map(|c| text(&c)).unwrap_or_default();
    log.push(format!("read:{got}"));
    run_until_idle();
    log.push(format!(
        "b.len={} a.wlen={}",
        b2.readable_length(),
        a.writable_length()
    ));
    b2.resume();
    run_until_idle();
    log.push(format!(
        "b.len={} a.wlen={}",
        b2.readable_length(),
        a.writable_length()
    ));
    assert_eq!(
        log.take(),
        [
            "w0:true",
            "w1:false",
            "w2:false",
            "w3:false",
            "cb0",
            "b.len=6 a.wlen=9",
            "cb1",
            "read:abcabcabc",
            "cb2",
            "cb3",
            "b.len=3 a.wlen=0",
            "b.len=0 a.wlen=0"
        ]
    );
}

#[test]
fn duplexpair_half_close_each_way() {
    // Node: ["b:end","a:prefinish","a:finish","--","a:end","b:prefinish",
    // "b:finish","a:close","b:close"]
    let log = Log::default();
    let (a, b2) = duplex_pair::<Bytes>(DuplexOptions::default());
    for (n, s) in [("a", &a), ("b", &b2)] {
        s.on(WritableEvent::Finish, log.ev(format!("{n}:finish")));
        s.on_end(log.ev(format!("{n}:end")));
        s.on_close(log.ev(format!("{n}:close")));
        s.on(WritableEvent::Prefinish, log.ev(format!("{n}:prefinish")));
        let l = log.clone();
        s.on_error(move |e| l.push(format!("{n}:error:{}", e.code())));
    }
    a.end_with_chunk(b("x"));
    b2.resume();
    run_until_idle();
    log.push("--");
    b2.end();
    a.resume();
    run_until_idle();
    assert_eq!(
        log.take(),
        [
            "b:end",
            "a:prefinish",
            "a:finish",
            "--",
            "a:end",
            "b:prefinish",
            "b:finish",
            "a:close",
            "b:close"
        ]
    );
}

#[test]
fn duplexpair_destroying_one_side_leaves_the_other() {
    // Node: ["a:close","b.destroyed=false write=true"]
    let log = Log::default();
    let (a, b2) = duplex_pair::<Bytes>(DuplexOptions::default());
    for (n, s) in [("a", &a), ("b", &b2)] {
        s.on(WritableEvent::Finish, log.ev(format!("{n}:finish")));
        s.on_end(log.ev(format!("{n}:end")));
        s.on_close(log.ev(format!("{n}:close")));
        let l = log.clone();
        s.on_error(move |e| l.push(format!("{n}:error:{}", e.code())));
    }
    a.destroy(None);
    run_until_idle();
    let ok = b2.write(b("q"));
    log.push(format!("b.destroyed={} write={ok}", b2.destroyed()));
    run_until_idle();
    assert_eq!(log.take(), ["a:close", "b.destroyed=false write=true"]);
}

#[test]
fn duplexpair_objects_mode() {
    let (a, b2) = duplex_pair::<u32>(DuplexOptions::objects());
    for i in 0..3 {
        assert!(a.write(i));
    }
    a.end();
    let got = Rc::new(std::cell::RefCell::new(Vec::new()));
    let g = got.clone();
    b2.on_data(move |x| g.borrow_mut().push(*x));
    run_until_idle();
    assert_eq!(*got.borrow(), [0, 1, 2]);
    assert!(b2.readable_ended());
}
