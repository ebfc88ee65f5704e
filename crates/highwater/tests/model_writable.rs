//! Model-based property tests of [`Writable`]: random operation sequences,
//! run on highwater and on a small reference model of Node 20's Writable,
//! compared after every step.
//!
//! What this proves, for every generated sequence (byte and object mode, marks
//! 0..24, `_write`-only and `_writev` sinks, with and without `_final`,
//! `autoDestroy` on and off):
//!
//! * `write()` returns what Node returns, and `writable_length()`,
//!   `writable_need_drain()`, `writable_corked()`, `writable_ended()`,
//!   `writable_finished()`, `writable()`, `destroyed()`, `closed()` and
//!   `errored()` agree with the model after every operation;
//! * the observable trace is Node's, event for event: what the sink receives
//!   (one chunk, or a `_writev` batch) and when, `'drain'`, `'prefinish'`,
//!   `'finish'`, `'error'`, `'close'`, and every write and `end()` callback
//!   with its outcome (`ERR_STREAM_WRITE_AFTER_END`, `ERR_STREAM_DESTROYED`,
//!   `ERR_STREAM_ALREADY_FINISHED`, the sink's error, the destroy error);
//! * and, checked on highwater alone, independently of the model: no callback
//!   runs twice; with `autoDestroy` every write callback has run once the sink
//!   has completed everything; `'drain'` comes only after a `write()` returned
//!   `false`, only with an empty buffer and never once destroyed; `'finish'`,
//!   `'error'` and `'close'` come at most once; a producer that waits for
//!   `'drain'` after `false` never has more than mark + one chunk buffered;
//!   and when nothing failed, the sink received exactly the bytes written, in
//!   order, nothing lost or duplicated.
//!
//! The operations: writes of 0..=10 bytes with or without a callback; sink
//! completions (each `_write`/`_writev`/`_final` call completes synchronously,
//! synchronously with an error, or is held and completed later by the
//! harness, in any order, with or without an error); a sink calling its
//! callback twice; nested cork/uncork; `end()` with and without a chunk and a
//! callback; `destroy()` with and without an error; running the tick queue.
//!
//! The model follows the algorithm of `lib/internal/streams/writable.js` and
//! `destroy.js` (Node v20.20.2), written from Node's source and the reference
//! notes, not from highwater's code. It was itself checked against Node:
//! about 60,000 generated cases, replayed step by step by a script in Node
//! 20.20.2, gave the same return values, getters and traces. Two Node
//! behaviours it keeps (and the model-independent checks allow for):
//! `end(chunk)` on a stream that errored with `autoDestroy` off writes the
//! chunk (which may ask for a `'drain'`) without ending; and a stream corked
//! after `end()` whose last buffered chunk is written by `uncork()` and
//! completes synchronously never emits `'finish'`.
//!
//! Runs are deterministic: a fixed number of cases from a fixed seed. For
//! more, or for another seed:
//!
//! ```text
//! PROPTEST_CASES=100000 cargo test -p highwater --release --test model_writable
//! HIGHWATER_MODEL_SEED=42 cargo test -p highwater --test model_writable
//! ```

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use bytes::Bytes;
use highwater::prelude::*;
use highwater::{
    run_until_idle, Callback, Done, Error, Hooks, Writable, WritableEvent, WritableImpl,
    WritableOptions,
};
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};

mod model_common;

/// Cases per run when `PROPTEST_CASES` is not set.
const DEFAULT_CASES: u32 = 40_000;
/// The largest chunk the generator writes (bytes).
const MAX_CHUNK: usize = 10;

// ---------------------------------------------------------------------------
// Shared vocabulary: sink behaviour, the observable trace
// ---------------------------------------------------------------------------

/// What the sink does with one call of `_write`/`_writev`/`_final`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Calls back before returning.
    SyncOk,
    /// Calls back with an error before returning.
    SyncErr,
    /// Holds the callback; the harness completes it later.
    Async,
}

/// Which hook a held callback belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Write,
    Final,
}

type Res = Result<(), String>;

/// One observable event.
#[derive(Debug, Clone, PartialEq)]
enum Ev {
    /// The sink's `_write` (one chunk) or `_writev` (a batch) was called.
    Sink {
        chunks: Vec<Bytes>,
        writev: bool,
    },
    /// The sink's `_final` was called.
    SinkFinal,
    /// The callback of write number `id` ran.
    Cb(u32, Res),
    /// The callback of `end()` number `id` ran.
    EndCb(u32, Res),
    Drain,
    Prefinish,
    Finish,
    Close,
    Error(String),
    /// A check inside a listener failed.
    Violation(String),
}

/// The bytes of write number `id` (distinct from its neighbours').
fn chunk_bytes(id: u32, len: usize) -> Bytes {
    (0..len)
        .map(|j| (id as usize * 13 + j * 7) as u8)
        .collect::<Vec<u8>>()
        .into()
}

fn outcome(r: &Result<(), Error>) -> Res {
    r.as_ref().map(|_| ()).map_err(|e| e.code().to_string())
}

const WRITE_AFTER_END: &str = "ERR_STREAM_WRITE_AFTER_END";
const DESTROYED: &str = "ERR_STREAM_DESTROYED";
const ALREADY_FINISHED: &str = "ERR_STREAM_ALREADY_FINISHED";
const MULTIPLE_CALLBACK: &str = "ERR_MULTIPLE_CALLBACK";

// ---------------------------------------------------------------------------
// The reference model
// ---------------------------------------------------------------------------

/// A user callback as the model sees it (Node's `nop`, a write's or an
/// `end()`'s callback, or the combined callback of a `_writev` batch).
#[derive(Debug, Clone, PartialEq)]
enum MCb {
    Nop,
    Write(u32),
    End(u32),
    Batch(Vec<MCb>),
}

#[derive(Debug)]
struct Entry {
    id: u32,
    len: usize,
    cb: MCb,
}

/// A job of the model's next-tick queue.
#[derive(Debug)]
enum Tick {
    CallCb(MCb, Res),
    AfterWrite(MCb),
    OnWriteError(String, MCb),
    FinishMaybe,
    Finish,
    ErrorBuffer,
    EmitError(String),
    EmitErrorClose(String),
    EmitClose,
}

/// Node's `WritableState` for a stream whose `_destroy` is the default
/// (calls back synchronously), without encodings or `_construct`.
struct Model {
    object_mode: bool,
    hwm: usize,
    has_writev: bool,
    has_final: bool,
    auto_destroy: bool,
    modes: Vec<Mode>,
    sink_calls: usize,
    /// The bytes of every write, by id.
    chunks: Vec<Bytes>,

    length: usize,
    writelen: usize,
    writing: bool,
    sync: bool,
    expect_write_cb: bool,
    corked: u32,
    buffer_processing: bool,
    buffered: VecDeque<Entry>,
    /// Node's `kBuffered`: set by a push, cleared by `resetBuffer`.
    buffered_flag: bool,
    all_noop: bool,
    need_drain: bool,
    pendingcb: i64,
    writecb: MCb,
    after_write_pending: bool,
    ending: bool,
    ended: bool,
    final_called: bool,
    prefinished: bool,
    finished: bool,
    on_finished: Vec<MCb>,
    destroyed: bool,
    closed: bool,
    close_emitted: bool,
    error_emitted: bool,
    errored: Option<String>,

    ticks: VecDeque<Tick>,
    log: Vec<Ev>,
    /// Callbacks the sink holds, in the order it received them.
    held: Vec<Kind>,
    /// The last callback the sink called (for a second call).
    last_done: Option<Kind>,
}

impl Model {
    fn new(case: &Case) -> Self {
        Model {
            object_mode: case.object_mode,
            hwm: case.hwm,
            has_writev: case.writev,
            has_final: case.final_,
            auto_destroy: case.auto_destroy,
            modes: case.modes.clone(),
            sink_calls: 0,
            chunks: Vec::new(),
            length: 0,
            writelen: 0,
            writing: false,
            sync: true,
            expect_write_cb: false,
            corked: 0,
            buffer_processing: false,
            buffered: VecDeque::new(),
            buffered_flag: false,
            all_noop: true,
            need_drain: false,
            pendingcb: 0,
            writecb: MCb::Nop,
            after_write_pending: false,
            ending: false,
            ended: false,
            final_called: false,
            prefinished: false,
            finished: false,
            on_finished: Vec::new(),
            destroyed: false,
            closed: false,
            close_emitted: false,
            error_emitted: false,
            errored: None,
            ticks: VecDeque::new(),
            log: Vec::new(),
            held: Vec::new(),
            last_done: None,
        }
    }

    // --- getters (Node's public properties) ---

    fn need_drain_getter(&self) -> bool {
        self.need_drain && !self.destroyed && !self.ending
    }
    fn writable(&self) -> bool {
        !self.ending && !self.ended && !self.destroyed && self.errored.is_none()
    }

    // --- plumbing ---

    fn call(&mut self, cb: MCb, r: Res) {
        match cb {
            MCb::Nop => {}
            MCb::Write(id) => self.log.push(Ev::Cb(id, r)),
            MCb::End(id) => self.log.push(Ev::EndCb(id, r)),
            MCb::Batch(list) => {
                for cb in list {
                    self.call(cb, r.clone());
                }
            }
        }
    }

    fn run_ticks(&mut self) {
        while let Some(t) = self.ticks.pop_front() {
            match t {
                Tick::CallCb(cb, r) => self.call(cb, r),
                Tick::AfterWrite(cb) => self.after_write(cb),
                Tick::OnWriteError(er, cb) => self.on_write_error(er, cb),
                Tick::FinishMaybe => {
                    if self.need_finish() {
                        self.finish();
                    } else {
                        self.pendingcb -= 1;
                    }
                }
                Tick::Finish => self.finish(),
                Tick::ErrorBuffer => self.error_buffer(),
                Tick::EmitError(e) => self.emit_error_nt(e),
                Tick::EmitErrorClose(e) => {
                    self.emit_error_nt(e);
                    self.emit_close_nt();
                }
                Tick::EmitClose => self.emit_close_nt(),
            }
        }
    }

    /// A call into the sink: it completes now (maybe with an error) or holds
    /// its callback, as the case's modes say.
    fn sink_dispatch(&mut self, kind: Kind) {
        let k = self.sink_calls;
        self.sink_calls += 1;
        let mode = self.modes[k % self.modes.len()];
        match mode {
            Mode::Async => self.held.push(kind),
            Mode::SyncOk | Mode::SyncErr => {
                let err = (mode == Mode::SyncErr).then(|| format!("s{k}"));
                self.last_done = Some(kind);
                self.complete(kind, err);
            }
        }
    }

    fn complete(&mut self, kind: Kind, err: Option<String>) {
        match kind {
            Kind::Write => self.on_write(err),
            Kind::Final => self.on_finish(err),
        }
    }

    fn sink_write(&mut self, ids: Vec<u32>, writev: bool) {
        let chunks = ids
            .iter()
            .map(|&i| self.chunks[i as usize].clone())
            .collect();
        self.log.push(Ev::Sink { chunks, writev });
        self.sink_dispatch(Kind::Write);
    }

    // --- writable.js ---

    /// `write(chunk, cb)`: the chunk is write number `id`.
    fn write(&mut self, id: u32, cb: MCb) -> bool {
        matches!(self.write_(id, cb), Ok(true))
    }

    fn write_(&mut self, id: u32, cb: MCb) -> Result<bool, String> {
        let err = if self.ending {
            Some(WRITE_AFTER_END)
        } else if self.destroyed {
            Some(DESTROYED)
        } else {
            None
        };
        if let Some(e) = err {
            self.ticks.push_back(Tick::CallCb(cb, Err(e.into())));
            self.error_or_destroy(e.into(), true);
            return Err(e.into());
        }
        self.pendingcb += 1;
        Ok(self.write_or_buffer(id, cb))
    }

    fn write_or_buffer(&mut self, id: u32, cb: MCb) -> bool {
        let len = if self.object_mode {
            1
        } else {
            self.chunks[id as usize].len()
        };
        self.length += len;
        if self.writing || self.errored.is_some() || self.corked > 0 {
            if cb != MCb::Nop {
                self.all_noop = false;
            }
            self.buffered.push_back(Entry { id, len, cb });
            self.buffered_flag = true;
        } else {
            self.writelen = len;
            self.writecb = cb;
            self.writing = true;
            self.sync = true;
            self.expect_write_cb = true;
            self.sink_write(vec![id], false);
            self.sync = false;
        }
        let ret = self.length < self.hwm || self.length == 0;
        if !ret {
            self.need_drain = true;
        }
        ret && !self.destroyed && self.errored.is_none()
    }

    fn do_write(&mut self, len: usize, ids: Vec<u32>, writev: bool, cb: MCb) {
        self.writelen = len;
        self.writecb = cb;
        self.writing = true;
        self.sync = true;
        self.expect_write_cb = true;
        if self.destroyed {
            self.on_write(Some(DESTROYED.into()));
        } else {
            self.sink_write(ids, writev);
        }
        self.sync = false;
    }

    fn on_write_error(&mut self, er: String, cb: MCb) {
        self.pendingcb -= 1;
        self.call(cb, Err(er.clone()));
        self.error_buffer();
        self.error_or_destroy(er, false);
    }

    /// `onwrite`: the sink called back.
    fn on_write(&mut self, er: Option<String>) {
        if !self.expect_write_cb {
            self.error_or_destroy(MULTIPLE_CALLBACK.into(), false);
            return;
        }
        let sync = self.sync;
        let cb = std::mem::replace(&mut self.writecb, MCb::Nop);
        self.writing = false;
        self.expect_write_cb = false;
        self.length -= self.writelen;
        self.writelen = 0;
        if let Some(er) = er {
            if self.errored.is_none() {
                self.errored = Some(er.clone());
            }
            if sync {
                self.ticks.push_back(Tick::OnWriteError(er, cb));
            } else {
                self.on_write_error(er, cb);
            }
            return;
        }
        if self.buffered_flag {
            self.clear_buffer();
        }
        if !sync {
            self.after_write(cb);
            return;
        }
        let need_drain = self.need_drain && self.length == 0;
        // Node's `state[kState] & kDestroyed !== 0` is `state[kState] & 1`,
        // the objectMode bit, by operator precedence.
        let need_tick = need_drain || self.object_mode || cb != MCb::Nop;
        // Every callback here is a distinct function, so Node's coalescing
        // of same-callback ticks (afterWriteTickInfo) never applies.
        if cb == MCb::Nop && (self.after_write_pending || !need_tick) {
            self.pendingcb -= 1;
            if self.ending {
                self.finish_maybe(true);
            }
        } else {
            self.ticks.push_back(Tick::AfterWrite(cb));
            self.after_write_pending = true;
        }
    }

    fn after_write(&mut self, cb: MCb) {
        self.after_write_pending = false;
        if self.need_drain && !self.ending && !self.destroyed && self.length == 0 {
            self.need_drain = false;
            self.log.push(Ev::Drain);
        }
        self.pendingcb -= 1;
        self.call(cb, Ok(()));
        if self.destroyed {
            self.error_buffer();
        }
        if self.ending {
            self.finish_maybe(true);
        }
    }

    fn error_buffer(&mut self) {
        if self.writing {
            return;
        }
        let err = self.errored.clone().unwrap_or_else(|| DESTROYED.into());
        while let Some(e) = self.buffered.pop_front() {
            self.length -= e.len;
            self.call(e.cb, Err(err.clone()));
        }
        self.call_finished_callbacks(Err(err));
        self.reset_buffer();
    }

    fn reset_buffer(&mut self) {
        debug_assert!(self.buffered.is_empty());
        self.buffered_flag = false;
        self.all_noop = true;
    }

    fn clear_buffer(&mut self) {
        if self.destroyed || self.buffer_processing || self.corked > 0 || !self.buffered_flag {
            return;
        }
        let n = self.buffered.len();
        if n == 0 {
            return;
        }
        self.buffer_processing = true;
        if n > 1 && self.has_writev {
            self.pendingcb -= n as i64 - 1;
            let entries: Vec<Entry> = self.buffered.drain(..).collect();
            let cb = if self.all_noop {
                MCb::Nop
            } else {
                MCb::Batch(entries.iter().map(|e| e.cb.clone()).collect())
            };
            let ids = entries.iter().map(|e| e.id).collect();
            // `kBuffered` stays set while the batch is handed over.
            self.do_write(self.length, ids, true, cb);
            self.reset_buffer();
        } else {
            while let Some(e) = self.buffered.pop_front() {
                self.do_write(e.len, vec![e.id], false, e.cb);
                if self.writing {
                    break;
                }
            }
            if self.buffered.is_empty() {
                self.reset_buffer();
            }
        }
        self.buffer_processing = false;
    }

    fn cork(&mut self) {
        self.corked += 1;
    }

    fn uncork(&mut self) {
        if self.corked > 0 {
            self.corked -= 1;
            if !self.writing {
                self.clear_buffer();
            }
        }
    }

    /// `end([chunk][, cb])`; the chunk, if any, is write number `chunk`.
    fn end(&mut self, chunk: Option<u32>, cb: MCb) {
        let mut err = None;
        if let Some(id) = chunk {
            if let Err(e) = self.write_(id, MCb::Nop) {
                err = Some(e);
            }
        }
        if self.corked > 0 {
            self.corked = 1;
            self.uncork();
        }
        if err.is_none() {
            if !self.ending && self.errored.is_none() {
                self.ending = true;
                self.finish_maybe(true);
                self.ended = true;
            } else if self.finished {
                err = Some(ALREADY_FINISHED.to_string());
            } else if self.destroyed {
                err = Some(DESTROYED.to_string());
            }
        }
        if cb == MCb::Nop {
            return;
        }
        if let Some(e) = err.or_else(|| self.errored.clone()) {
            self.ticks.push_back(Tick::CallCb(cb, Err(e)));
        } else if self.finished {
            self.ticks.push_back(Tick::CallCb(cb, Ok(())));
        } else {
            self.on_finished.push(cb);
        }
    }

    fn need_finish(&self) -> bool {
        self.ending
            && self.length == 0
            && !self.destroyed
            && !self.finished
            && !self.writing
            && !self.error_emitted
            && !self.close_emitted
            && self.errored.is_none()
            && !self.buffered_flag
    }

    /// `onFinish`: the `_final` callback.
    fn on_finish(&mut self, err: Option<String>) {
        if self.prefinished {
            self.error_or_destroy(err.unwrap_or_else(|| MULTIPLE_CALLBACK.into()), false);
            return;
        }
        self.pendingcb -= 1;
        if let Some(e) = err {
            self.call_finished_callbacks(Err(e.clone()));
            let sync = self.sync;
            self.error_or_destroy(e, sync);
        } else if self.need_finish() {
            self.prefinished = true;
            self.log.push(Ev::Prefinish);
            self.pendingcb += 1;
            self.ticks.push_back(Tick::Finish);
        }
    }

    fn prefinish(&mut self) {
        if self.prefinished || self.final_called {
            return;
        }
        self.final_called = true;
        if self.has_final && !self.destroyed {
            self.sync = true;
            self.pendingcb += 1;
            self.log.push(Ev::SinkFinal);
            self.sink_dispatch(Kind::Final);
            self.sync = false;
        } else {
            self.prefinished = true;
            self.log.push(Ev::Prefinish);
        }
    }

    fn finish_maybe(&mut self, sync: bool) {
        if !self.need_finish() {
            return;
        }
        self.prefinish();
        if self.pendingcb == 0 {
            if sync {
                self.pendingcb += 1;
                self.ticks.push_back(Tick::FinishMaybe);
            } else if self.need_finish() {
                self.pendingcb += 1;
                self.finish();
            }
        }
    }

    fn finish(&mut self) {
        self.pendingcb -= 1;
        self.finished = true;
        self.call_finished_callbacks(Ok(()));
        self.log.push(Ev::Finish);
        if self.auto_destroy {
            self.destroy(None);
        }
    }

    fn call_finished_callbacks(&mut self, r: Res) {
        for cb in std::mem::take(&mut self.on_finished) {
            self.call(cb, r.clone());
        }
    }

    // --- destroy.js ---

    /// `Writable.prototype.destroy(err)`.
    fn destroy(&mut self, err: Option<String>) {
        if (self.buffered_flag || !self.on_finished.is_empty()) && !self.destroyed {
            self.ticks.push_back(Tick::ErrorBuffer);
        }
        if self.destroyed {
            return;
        }
        if let Some(e) = &err {
            if self.errored.is_none() {
                self.errored = Some(e.clone());
            }
        }
        self.destroyed = true;
        // The default `_destroy(err, cb)` is `cb(err)`: onDestroy, now.
        self.closed = true;
        self.ticks.push_back(match err {
            Some(e) => Tick::EmitErrorClose(e),
            None => Tick::EmitClose,
        });
    }

    fn error_or_destroy(&mut self, err: String, sync: bool) {
        if self.destroyed {
            return;
        }
        if self.auto_destroy {
            self.destroy(Some(err));
        } else {
            if self.errored.is_none() {
                self.errored = Some(err.clone());
            }
            if sync {
                self.ticks.push_back(Tick::EmitError(err));
            } else {
                self.emit_error_nt(err);
            }
        }
    }

    fn emit_error_nt(&mut self, err: String) {
        if self.error_emitted {
            return;
        }
        self.error_emitted = true;
        self.log.push(Ev::Error(err));
    }

    fn emit_close_nt(&mut self) {
        self.close_emitted = true;
        self.log.push(Ev::Close);
    }
}

// ---------------------------------------------------------------------------
// The stream under test
// ---------------------------------------------------------------------------

type Held = Rc<RefCell<Vec<(Done, Kind)>>>;

/// A sink that logs what it is given and completes as the modes say.
struct Sink {
    log: Rc<RefCell<Vec<Ev>>>,
    held: Held,
    last: Rc<RefCell<Option<(Done, Kind)>>>,
    modes: Vec<Mode>,
    calls: Cell<usize>,
    writev: bool,
    final_: bool,
}

impl Sink {
    fn dispatch(&self, done: Done, kind: Kind) {
        let k = self.calls.get();
        self.calls.set(k + 1);
        match self.modes[k % self.modes.len()] {
            Mode::Async => self.held.borrow_mut().push((done, kind)),
            Mode::SyncOk => {
                *self.last.borrow_mut() = Some((done.clone(), kind));
                done.ok();
            }
            Mode::SyncErr => {
                *self.last.borrow_mut() = Some((done.clone(), kind));
                done.err(Error::msg(format!("s{k}")));
            }
        }
    }
}

impl WritableImpl<Bytes> for Sink {
    fn write(&self, chunk: Bytes, done: Done) {
        self.log.borrow_mut().push(Ev::Sink {
            chunks: vec![chunk],
            writev: false,
        });
        self.dispatch(done, Kind::Write);
    }
    fn writev(&self, chunks: Vec<Bytes>, done: Done) {
        self.log.borrow_mut().push(Ev::Sink {
            chunks,
            writev: true,
        });
        self.dispatch(done, Kind::Write);
    }
    fn hooks(&self) -> Hooks {
        let mut h = Hooks::NONE;
        if self.writev {
            h = h | Hooks::WRITEV;
        }
        if self.final_ {
            h = h | Hooks::FINAL;
        }
        h
    }
    fn finish(&self, done: Done) {
        self.log.borrow_mut().push(Ev::SinkFinal);
        self.dispatch(done, Kind::Final);
    }
}

struct Real {
    w: Writable<Bytes>,
    log: Rc<RefCell<Vec<Ev>>>,
    held: Held,
    last: Rc<RefCell<Option<(Done, Kind)>>>,
    /// Listeners that hold a handle to `w` (removed at the end, to free it).
    self_listeners: Vec<highwater::ListenerId>,
    /// A `write()` returned false and no `'drain'` came since.
    awaiting_drain: Rc<Cell<bool>>,
}

impl Real {
    fn new(case: &Case) -> Self {
        let log = Rc::new(RefCell::new(Vec::new()));
        let held: Held = Rc::default();
        let last = Rc::new(RefCell::new(None));
        let sink = Sink {
            log: log.clone(),
            held: held.clone(),
            last: last.clone(),
            modes: case.modes.clone(),
            calls: Cell::new(0),
            writev: case.writev,
            final_: case.final_,
        };
        let base = if case.object_mode {
            WritableOptions::objects()
        } else {
            WritableOptions::default()
        };
        let opts = base
            .high_water_mark(case.hwm)
            .auto_destroy(case.auto_destroy);
        let w = Writable::new(opts, sink);
        let awaiting_drain = Rc::new(Cell::new(false));

        let drain_listener = {
            let (l, w2, awaiting) = (log.clone(), w.clone(), awaiting_drain.clone());
            w.on(WritableEvent::Drain, move || {
                let mut log = l.borrow_mut();
                log.push(Ev::Drain);
                if w2.writable_length() != 0 {
                    log.push(Ev::Violation(format!(
                        "'drain' with length {}",
                        w2.writable_length()
                    )));
                }
                if w2.destroyed() {
                    log.push(Ev::Violation("'drain' after destroy".into()));
                }
                if !awaiting.replace(false) {
                    log.push(Ev::Violation("'drain' without a false write()".into()));
                }
            })
        };
        for (ev, e) in [
            (WritableEvent::Prefinish, Ev::Prefinish),
            (WritableEvent::Finish, Ev::Finish),
        ] {
            let l = log.clone();
            w.on(ev, move || l.borrow_mut().push(e.clone()));
        }
        let l = log.clone();
        w.on_close(move || l.borrow_mut().push(Ev::Close));
        let l = log.clone();
        w.on_error(move |e| l.borrow_mut().push(Ev::Error(e.code().to_string())));
        Real {
            w,
            log,
            held,
            last,
            self_listeners: vec![drain_listener],
            awaiting_drain,
        }
    }

    fn write_cb(&self, id: u32) -> Callback {
        let l = self.log.clone();
        Callback::once(move |r| l.borrow_mut().push(Ev::Cb(id, outcome(&r))))
    }

    fn end_cb(&self, id: u32) -> Callback {
        let l = self.log.clone();
        Callback::once(move |r| l.borrow_mut().push(Ev::EndCb(id, outcome(&r))))
    }

    /// Completes the `pick`-th held callback.
    fn complete(&self, pick: usize, err: Option<String>) -> Kind {
        let (done, kind) = self.held.borrow_mut().remove(pick);
        *self.last.borrow_mut() = Some((done.clone(), kind));
        match err {
            None => done.ok(),
            Some(e) => done.err(Error::msg(e)),
        }
        kind
    }
}

impl Drop for Real {
    fn drop(&mut self) {
        // Break the cycles (listener <-> stream, sink's callbacks <-> stream).
        for id in self.self_listeners.drain(..) {
            self.w.off(id);
        }
        self.last.borrow_mut().take();
        self.held.borrow_mut().clear();
    }
}

// ---------------------------------------------------------------------------
// Generated cases
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Write {
        len: usize,
        cb: bool,
    },
    /// Complete the `pick % n`-th held sink callback (with an error if `err`).
    Complete {
        pick: usize,
        err: bool,
    },
    Cork,
    Uncork,
    End {
        chunk: Option<usize>,
        cb: bool,
    },
    Destroy {
        err: bool,
    },
    /// The sink calls its last callback again.
    DoubleCall,
    Tick,
}

#[derive(Debug, Clone)]
struct Case {
    object_mode: bool,
    hwm: usize,
    writev: bool,
    final_: bool,
    auto_destroy: bool,
    /// The producer writes only while the last `write()` said true (or
    /// after `'drain'`).
    obey: bool,
    /// Completions may fail (sync modes and harness completions).
    errors: bool,
    destroys: bool,
    double_calls: bool,
    /// End the stream once everything is complete.
    end_at_rest: bool,
    modes: Vec<Mode>,
    ops: Vec<Op>,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => (0..=MAX_CHUNK, prop::bool::weighted(0.8)).prop_map(|(len, cb)| Op::Write { len, cb }),
        25 => (any::<usize>(), prop::bool::weighted(0.1)).prop_map(|(pick, err)| Op::Complete { pick, err }),
        4 => Just(Op::Cork),
        5 => Just(Op::Uncork),
        1 => (prop::option::of(0..=MAX_CHUNK), any::<bool>()).prop_map(|(chunk, cb)| Op::End { chunk, cb }),
        1 => any::<bool>().prop_map(|err| Op::Destroy { err }),
        1 => Just(Op::DoubleCall),
        12 => Just(Op::Tick),
    ]
}

fn case_strategy() -> impl Strategy<Value = Case> {
    let mode =
        prop_oneof![4 => Just(Mode::SyncOk), 5 => Just(Mode::Async), 1 => Just(Mode::SyncErr)];
    (
        (
            any::<bool>(),
            0usize..=24,
            any::<bool>(),
            prop::bool::weighted(0.3),
        ),
        (
            prop::bool::weighted(0.8),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            prop::bool::weighted(0.2),
            any::<bool>(),
        ),
        prop::collection::vec(mode, 1..6),
        prop::collection::vec(op_strategy(), 0..70),
    )
        .prop_map(
            |(
                (object_mode, hwm, writev, final_),
                (auto_destroy, obey, errors, destroys, double_calls, end_at_rest),
                modes,
                ops,
            )| Case {
                object_mode,
                // Object mode counts items: keep the mark in the same range
                // as the number of writes in flight.
                hwm: if object_mode { hwm / 4 } else { hwm },
                writev,
                final_,
                auto_destroy,
                obey,
                errors,
                destroys,
                double_calls,
                end_at_rest,
                modes,
                ops,
            },
        )
}

// ---------------------------------------------------------------------------
// Running a case
// ---------------------------------------------------------------------------

struct Harness {
    case: Case,
    model: Model,
    real: Real,
    next_id: u32,
    next_end: u32,
    /// Bytes of every write the stream accepted (not rejected after end or
    /// destroy), in order.
    accepted: Vec<u8>,
    /// Ids of writes with a callback.
    with_cb: Vec<u32>,
    /// The producer is waiting for `'drain'` (obedient mode).
    blocked: bool,
    /// Something failed or was destroyed: the byte-for-byte check is off.
    disturbed: bool,
    /// `cork()` after `end()`: Node may then never finish (see `settle`).
    corked_after_end: bool,
    trace: Vec<Ev>,
}

impl Harness {
    fn new(case: Case) -> Self {
        let mut case = case;
        if !case.errors {
            for m in &mut case.modes {
                if *m == Mode::SyncErr {
                    *m = Mode::SyncOk;
                }
            }
        }
        Harness {
            model: Model::new(&case),
            real: Real::new(&case),
            case,
            next_id: 0,
            next_end: 0,
            accepted: Vec::new(),
            with_cb: Vec::new(),
            blocked: false,
            disturbed: false,
            corked_after_end: false,
            trace: Vec::new(),
        }
    }

    fn new_chunk(&mut self, len: usize) -> (u32, Bytes) {
        let id = self.next_id;
        self.next_id += 1;
        let bytes = chunk_bytes(id, len);
        self.model.chunks.push(bytes.clone());
        (id, bytes)
    }

    fn accepting(&self) -> bool {
        !self.real.w.writable_ended() && !self.real.w.destroyed()
    }

    /// Applies one operation to both; returns false if it was skipped.
    fn apply(&mut self, step: usize, op: &Op) -> Result<bool, TestCaseError> {
        let (m, r) = (&mut self.model, &self.real);
        match *op {
            Op::Write { len, cb } => {
                if self.case.obey && self.blocked {
                    return Ok(false);
                }
                let accepting = self.accepting();
                let (id, bytes) = self.new_chunk(len);
                if accepting {
                    self.accepted.extend_from_slice(&bytes);
                }
                let (m, r) = (&mut self.model, &self.real);
                let (want, got) = if cb {
                    self.with_cb.push(id);
                    (
                        m.write(id, MCb::Write(id)),
                        r.w.write_cb(bytes, r.write_cb(id)),
                    )
                } else {
                    (m.write(id, MCb::Nop), r.w.write(bytes))
                };
                prop_assert_eq!(got, want, "write() return value");
                if !got {
                    self.blocked = true;
                    if accepting {
                        self.real.awaiting_drain.set(true);
                    }
                }
            }
            Op::Complete { pick, err } => {
                let n = r.held.borrow().len();
                prop_assert_eq!(n, m.held.len(), "held sink callbacks");
                if n == 0 {
                    return Ok(false);
                }
                let pick = pick % n;
                let err = (err && self.case.errors).then(|| format!("c{step}"));
                if err.is_some() {
                    self.disturbed = true;
                }
                let kind = m.held.remove(pick);
                m.last_done = Some(kind);
                m.complete(kind, err.clone());
                let real_kind = r.complete(pick, err);
                prop_assert_eq!(real_kind, kind, "kind of the completed callback");
            }
            Op::Cork => {
                self.corked_after_end |= m.ending;
                m.cork();
                r.w.cork();
            }
            Op::Uncork => {
                m.uncork();
                r.w.uncork();
            }
            Op::End { chunk, cb } => {
                let chunk = if self.case.obey && self.blocked {
                    None
                } else {
                    chunk
                };
                let accepting = self.accepting();
                let chunk = chunk.map(|len| self.new_chunk(len));
                if let (true, Some((_, b))) = (accepting, &chunk) {
                    self.accepted.extend_from_slice(b);
                }
                let end_id = self.next_end;
                self.next_end += 1;
                let (m, r) = (&mut self.model, &self.real);
                m.end(
                    chunk.as_ref().map(|c| c.0),
                    if cb { MCb::End(end_id) } else { MCb::Nop },
                );
                let wrote = accepting && chunk.is_some();
                r.w.end_with(chunk.map(|c| c.1), cb.then(|| r.end_cb(end_id)));
                // The chunk's write may ask for a 'drain' (when end() then
                // does not end: the stream had errored).
                if wrote && r.w.writable_need_drain() {
                    r.awaiting_drain.set(true);
                    self.blocked = true;
                }
            }
            Op::Destroy { err } => {
                if !self.case.destroys {
                    return Ok(false);
                }
                self.disturbed = true;
                let err = err.then(|| format!("d{step}"));
                m.destroy(err.clone());
                r.w.destroy(err.map(Error::msg));
            }
            Op::DoubleCall => {
                if !self.case.double_calls {
                    return Ok(false);
                }
                let last = r.last.borrow().clone();
                let Some((done, kind)) = last else {
                    prop_assert!(m.last_done.is_none());
                    return Ok(false);
                };
                prop_assert_eq!(Some(kind), m.last_done, "last completed callback");
                self.disturbed = true;
                m.complete(kind, None);
                done.ok();
            }
            Op::Tick => {
                m.run_ticks();
                run_until_idle();
            }
        }
        Ok(true)
    }

    /// Compares the trace and the getters after a step.
    fn check(&mut self) -> Result<(), TestCaseError> {
        let got = std::mem::take(&mut *self.real.log.borrow_mut());
        let want = std::mem::take(&mut self.model.log);
        prop_assert_eq!(&got, &want, "trace");
        for ev in &got {
            if *ev == Ev::Drain {
                self.blocked = false;
            }
        }
        self.trace.extend(got);

        let (m, w) = (&self.model, &self.real.w);
        prop_assert_eq!(w.writable_length(), m.length, "writable_length");
        prop_assert_eq!(w.writable_need_drain(), m.need_drain_getter(), "need_drain");
        prop_assert_eq!(w.writable_corked(), m.corked, "corked");
        prop_assert_eq!(w.writable_ended(), m.ending, "writable_ended");
        prop_assert_eq!(w.writable_finished(), m.finished, "writable_finished");
        prop_assert_eq!(w.writable(), m.writable(), "writable");
        prop_assert_eq!(w.destroyed(), m.destroyed, "destroyed");
        prop_assert_eq!(w.closed(), m.closed, "closed");
        prop_assert_eq!(
            w.errored().map(|e| e.code().to_string()),
            m.errored.clone(),
            "errored"
        );
        prop_assert_eq!(self.real.held.borrow().len(), m.held.len(), "held");

        // Model-independent invariants.
        if self.case.obey {
            let unit = if self.case.object_mode { 1 } else { MAX_CHUNK };
            prop_assert!(
                w.writable_length() <= self.case.hwm + unit,
                "an obedient producer has {} buffered (mark {})",
                w.writable_length(),
                self.case.hwm
            );
        }
        let mut seen = std::collections::HashSet::new();
        let (mut finish, mut close, mut error) = (0, 0, 0);
        for ev in &self.trace {
            match ev {
                Ev::Cb(id, _) => prop_assert!(seen.insert(*id), "callback {} ran twice", id),
                Ev::EndCb(id, _) => {
                    prop_assert!(seen.insert(u32::MAX - id), "end callback {} ran twice", id)
                }
                Ev::Finish => finish += 1,
                Ev::Close => close += 1,
                Ev::Error(_) => error += 1,
                Ev::Violation(v) => prop_assert!(false, "{}", v),
                _ => {}
            }
        }
        prop_assert!(finish <= 1 && close <= 1 && error <= 1, "an event twice");
        Ok(())
    }

    /// Completes everything the sink holds (and uncorks, and maybe ends),
    /// then checks what must hold at rest.
    fn settle(&mut self) -> Result<(), TestCaseError> {
        let mut ended_here = false;
        for round in 0.. {
            prop_assert!(round < 10_000, "does not settle");
            self.apply(usize::MAX, &Op::Tick)?;
            self.check()?;
            if !self.model.held.is_empty() {
                self.apply(
                    usize::MAX,
                    &Op::Complete {
                        pick: 0,
                        err: false,
                    },
                )?;
            } else if self.model.corked > 0 {
                self.apply(usize::MAX, &Op::Uncork)?;
            } else if self.case.end_at_rest && !ended_here && !self.model.ending {
                ended_here = true;
                self.apply(
                    usize::MAX,
                    &Op::End {
                        chunk: None,
                        cb: true,
                    },
                )?;
            } else {
                break;
            }
            self.check()?;
        }

        let w = &self.real.w;
        if self.case.auto_destroy {
            let called: std::collections::HashSet<u32> = self
                .trace
                .iter()
                .filter_map(|e| match e {
                    Ev::Cb(id, _) => Some(*id),
                    _ => None,
                })
                .collect();
            for id in &self.with_cb {
                prop_assert!(called.contains(id), "write callback {} never ran", id);
            }
        }
        let failed =
            self.disturbed || w.errored().is_some() || w.destroyed() && !w.writable_finished();
        if !failed {
            let mut sunk = Vec::new();
            for ev in &self.trace {
                if let Ev::Sink { chunks, .. } = ev {
                    for c in chunks {
                        sunk.extend_from_slice(c);
                    }
                }
            }
            prop_assert_eq!(
                sunk,
                std::mem::take(&mut self.accepted),
                "bytes at the sink"
            );
            prop_assert_eq!(w.writable_length(), 0);
            // Node 20 never finishes a stream corked after end() whose last
            // buffered chunk is then written by uncork() and completes
            // synchronously: finishMaybe() runs while the buffer is still
            // being cleared, and nothing calls it again. (Checked with node;
            // the model reproduces it.)
            if w.writable_ended() && !self.corked_after_end {
                prop_assert!(w.writable_finished(), "not finished after end()");
                let count = |ev: Ev| self.trace.iter().filter(|e| **e == ev).count();
                prop_assert_eq!(count(Ev::Finish), 1);
                prop_assert_eq!(count(Ev::Close), usize::from(self.case.auto_destroy));
            }
        }
        Ok(())
    }
}

thread_local! {
    /// How often each kind of event was seen, over the whole run (printed
    /// with `--nocapture`, to show what the generated cases reach).
    static COVERAGE: RefCell<std::collections::BTreeMap<String, usize>> = RefCell::default();
}

fn count(key: impl Into<String>) {
    COVERAGE.with(|c| *c.borrow_mut().entry(key.into()).or_default() += 1);
}

fn record_coverage(h: &Harness, steps: usize) {
    count("cases");
    COVERAGE.with(|c| *c.borrow_mut().entry("steps".into()).or_default() += steps);
    for ev in &h.trace {
        let key = match ev {
            Ev::Sink { writev: true, .. } => "sink _writev".to_string(),
            Ev::Sink { .. } => "sink _write".to_string(),
            Ev::SinkFinal => "sink _final".to_string(),
            Ev::Cb(_, Ok(())) | Ev::EndCb(_, Ok(())) => "callback ok".to_string(),
            Ev::Cb(_, Err(e)) | Ev::EndCb(_, Err(e)) => {
                let e = if e.starts_with("ERR_") {
                    e.as_str()
                } else {
                    "<sink/destroy error>"
                };
                format!("callback {e}")
            }
            Ev::Error(e) => {
                let e = if e.starts_with("ERR_") {
                    e.as_str()
                } else {
                    "<sink/destroy error>"
                };
                format!("'error' {e}")
            }
            other => format!("{other:?}"),
        };
        count(key);
    }
    if h.trace.contains(&Ev::Finish) && !h.disturbed {
        count("cases finished cleanly");
    }
}

fn run_case(case: Case) -> Result<(), TestCaseError> {
    run_until_idle();
    let mut h = Harness::new(case.clone());
    let mut steps = 0;
    for (step, op) in case.ops.iter().enumerate() {
        let at = |e| TestCaseError::fail(format!("step {step} ({op:?}): {e}"));
        if h.apply(step, op).map_err(at)? {
            steps += 1;
            let name = format!("{op:?}");
            count(format!(
                "op {}",
                name.split([' ', '{']).next().unwrap_or("")
            ));
            h.check().map_err(at)?;
        }
    }
    h.settle()
        .map_err(|e| TestCaseError::fail(format!("at rest: {e}")))?;
    record_coverage(&h, steps);
    Ok(())
}

fn runner() -> TestRunner {
    model_common::runner(DEFAULT_CASES)
}

#[test]
fn writable_matches_the_model() {
    let mut runner = runner();
    if let Err(e) = runner.run(&case_strategy(), run_case) {
        panic!("{e}");
    }
    COVERAGE.with(|c| {
        for (k, n) in c.borrow().iter() {
            eprintln!("{n:>8}  {k}");
        }
    });
}
