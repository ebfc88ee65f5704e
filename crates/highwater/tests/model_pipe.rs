//! Model-based property tests of `readable.pipe(writable)`: a source pushing
//! random-size chunks (from inside `_read` or later, on its own schedule)
//! piped into a sink that completes at random times, under random marks,
//! random sink failures, cork/uncork of the destination, `unpipe()` and
//! re-`pipe()`, and `destroy()` of either side.
//!
//! The model here is the flow of data and the life cycle Node promises, not
//! the exact event order (`model_writable.rs` and the conformance scenarios
//! pin that down): after every step it checks that
//!
//! * the sink has received a prefix of what the source pushed, in order,
//!   nothing lost or duplicated; and when nothing failed or was destroyed,
//!   everything, once the run settles (an `unpipe()` loses nothing: the data
//!   waits in the source until it is piped again);
//! * the destination never holds more than its mark plus one chunk (the
//!   pipe pauses the source whenever `write()` says `false`), and a paused
//!   source is not flowing while the destination waits for `'drain'`;
//! * a source that obeys `push()`'s return value never holds more than its
//!   mark plus one chunk;
//! * `'end'`, `'finish'`, `'close'` and `'error'` come at most once each,
//!   nothing comes after `'close'`, `'drain'` never after `destroy()`; and
//!   once the run settles, each stream has closed exactly once and the
//!   `finished()` callback of each stream (and the `end()` callback the
//!   harness adds when the destination is left open) has run exactly once,
//!   with success exactly when nothing failed.
//!
//! "Settling" is what a user would do at the end: complete every held sink
//! callback, let the source produce the rest of its data and its EOF, uncork
//! the destination, pipe again if unpiped, end a destination whose source
//! died, destroy a source whose destination died. A run that cannot settle
//! (a stall) fails.
//!
//! Runs are deterministic: a fixed number of cases from a fixed seed. For
//! more, or for another seed:
//!
//! ```text
//! PROPTEST_CASES=100000 cargo test -p highwater --release --test model_pipe
//! HIGHWATER_MODEL_SEED=42 cargo test -p highwater --test model_pipe
//! ```

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use bytes::Bytes;
use highwater::prelude::*;
use highwater::{
    finished, run_until_idle, Done, Error, Hooks, Readable, ReadableImpl, ReadableOptions, Source,
    Writable, WritableEvent, WritableImpl, WritableOptions,
};
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};

mod model_common;

/// Cases per run when `PROPTEST_CASES` is not set.
const DEFAULT_CASES: u32 = 25_000;
/// The largest chunk the source pushes (bytes).
const MAX_CHUNK: usize = 10;

/// The bytes of chunk number `id` (distinct from its neighbours').
fn chunk_bytes(id: u32, len: usize) -> Bytes {
    (0..len)
        .map(|j| (id as usize * 13 + j * 7 + 1) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// What the source does when the stream calls its `_read`.
#[derive(Debug, Clone, Copy)]
enum ReadMode {
    /// Pushes up to this many chunks before returning (fewer if `push()`
    /// says stop and the source obeys).
    Sync(u8),
    /// Pushes later, when the harness says so.
    Async,
}

/// What the sink does with one `_write`/`_writev` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    SyncOk,
    SyncErr,
    Async,
}

/// One observable event (only what the checks need).
#[derive(Debug, Clone, PartialEq)]
enum Ev {
    SrcEnd,
    SrcClose,
    SrcError(String),
    SrcFinished(Result<(), String>),
    DestFinish,
    DestClose,
    DestError(String),
    DestFinished(Result<(), String>),
    DestEndCb(Result<(), String>),
    Drain,
    Violation(String),
}

type Log = Rc<RefCell<Vec<Ev>>>;

fn code(e: &Error) -> String {
    e.code().to_string()
}

// ---------------------------------------------------------------------------
// The source
// ---------------------------------------------------------------------------

struct SrcState {
    /// Sizes of the chunks still to push; when empty, the next push is EOF.
    script: RefCell<VecDeque<usize>>,
    modes: Vec<ReadMode>,
    calls: Cell<usize>,
    obey: bool,
    /// `_read` was called and no `push()` said stop since.
    requested: Cell<bool>,
    eof: Cell<bool>,
    handle: RefCell<Option<Source<Bytes>>>,
    next_id: Cell<u32>,
    /// Bytes the stream accepted, in order.
    pushed: RefCell<Vec<u8>>,
    pushes: Cell<usize>,
}

impl SrcState {
    /// Pushes the next chunk (or EOF). Returns false if there was nothing to do.
    fn produce(&self) -> bool {
        if self.eof.get() {
            return false;
        }
        let Some(src) = self.handle.borrow().clone() else {
            return false;
        };
        let next = self.script.borrow_mut().pop_front();
        match next {
            None => {
                self.eof.set(true);
                self.requested.set(false);
                src.push_eof();
            }
            Some(len) => {
                let id = self.next_id.get();
                self.next_id.set(id + 1);
                let bytes = chunk_bytes(id, len);
                let accepted = !src.destroyed();
                if accepted {
                    self.pushed.borrow_mut().extend_from_slice(&bytes);
                }
                self.pushes.set(self.pushes.get() + 1);
                if !src.push(bytes) {
                    self.requested.set(false);
                }
            }
        }
        true
    }
}

struct SrcImpl(Rc<SrcState>);

impl ReadableImpl<Bytes> for SrcImpl {
    fn read(&self, _size: usize, src: &Source<Bytes>) {
        let s = &self.0;
        *s.handle.borrow_mut() = Some(src.clone());
        s.requested.set(true);
        let k = s.calls.get();
        s.calls.set(k + 1);
        if let ReadMode::Sync(n) = s.modes[k % s.modes.len()] {
            for _ in 0..n {
                if s.obey && !s.requested.get() {
                    break;
                }
                if !s.produce() {
                    break;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The sink
// ---------------------------------------------------------------------------

struct SinkState {
    modes: Vec<Mode>,
    calls: Cell<usize>,
    held: RefCell<Vec<Done>>,
    /// Bytes the sink received, in order.
    sunk: RefCell<Vec<u8>>,
}

struct Sink(Rc<SinkState>, bool);

impl Sink {
    fn take(&self, chunks: &[Bytes], done: Done) {
        let s = &self.0;
        for c in chunks {
            s.sunk.borrow_mut().extend_from_slice(c);
        }
        let k = s.calls.get();
        s.calls.set(k + 1);
        match s.modes[k % s.modes.len()] {
            Mode::SyncOk => done.ok(),
            Mode::SyncErr => done.err(Error::msg(format!("sink{k}"))),
            Mode::Async => s.held.borrow_mut().push(done),
        }
    }
}

impl WritableImpl<Bytes> for Sink {
    fn write(&self, chunk: Bytes, done: Done) {
        self.take(&[chunk], done);
    }
    fn writev(&self, chunks: Vec<Bytes>, done: Done) {
        self.take(&chunks, done);
    }
    fn hooks(&self) -> Hooks {
        if self.1 {
            Hooks::WRITEV
        } else {
            Hooks::NONE
        }
    }
}

// ---------------------------------------------------------------------------
// Generated cases
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    /// The source pushes its next chunk (an obedient source only if asked).
    Produce,
    /// Complete the `pick % n`-th held sink callback.
    Complete {
        pick: usize,
        err: bool,
    },
    Cork,
    Uncork,
    Unpipe,
    Repipe,
    DestroySrc {
        err: bool,
    },
    DestroyDest {
        err: bool,
    },
    Tick,
}

#[derive(Debug, Clone)]
struct Case {
    object_mode: bool,
    src_hwm: usize,
    dest_hwm: usize,
    writev: bool,
    obey: bool,
    errors: bool,
    destroys: bool,
    read_modes: Vec<ReadMode>,
    sink_modes: Vec<Mode>,
    script: Vec<usize>,
    ops: Vec<Op>,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => Just(Op::Produce),
        25 => (any::<usize>(), prop::bool::weighted(0.05)).prop_map(|(pick, err)| Op::Complete { pick, err }),
        2 => Just(Op::Cork),
        3 => Just(Op::Uncork),
        1 => Just(Op::Unpipe),
        2 => Just(Op::Repipe),
        1 => any::<bool>().prop_map(|err| Op::DestroySrc { err }),
        1 => any::<bool>().prop_map(|err| Op::DestroyDest { err }),
        15 => Just(Op::Tick),
    ]
}

fn case_strategy() -> impl Strategy<Value = Case> {
    let read_mode = prop_oneof![
        3 => (0u8..=3).prop_map(ReadMode::Sync),
        2 => Just(ReadMode::Async),
    ];
    let sink_mode =
        prop_oneof![4 => Just(Mode::SyncOk), 5 => Just(Mode::Async), 1 => Just(Mode::SyncErr)];
    (
        (any::<bool>(), 0usize..=24, 0usize..=24, any::<bool>()),
        (
            prop::bool::weighted(0.7),
            prop::bool::weighted(0.3),
            prop::bool::weighted(0.3),
        ),
        prop::collection::vec(read_mode, 1..5),
        prop::collection::vec(sink_mode, 1..5),
        prop::collection::vec(0..=MAX_CHUNK, 0..40),
        prop::collection::vec(op_strategy(), 0..80),
    )
        .prop_map(
            |(
                (object_mode, src_hwm, dest_hwm, writev),
                (obey, errors, destroys),
                read_modes,
                sink_modes,
                script,
                ops,
            )| Case {
                object_mode,
                src_hwm: if object_mode { src_hwm / 4 } else { src_hwm },
                dest_hwm: if object_mode { dest_hwm / 4 } else { dest_hwm },
                writev,
                obey,
                errors,
                destroys,
                read_modes,
                sink_modes,
                script,
                ops,
            },
        )
}

// ---------------------------------------------------------------------------
// Running a case
// ---------------------------------------------------------------------------

struct Harness {
    case: Case,
    src: Readable<Bytes>,
    dest: Writable<Bytes>,
    source: Rc<SrcState>,
    sink: Rc<SinkState>,
    log: Log,
    piped: Rc<Cell<bool>>,
    /// Something failed or was destroyed: delivery may stop short.
    disturbed: bool,
    /// The harness ended the destination itself (its source died).
    ended_dest: bool,
    trace: Vec<Ev>,
    drain_listener: Option<highwater::ListenerId>,
}

impl Harness {
    fn new(case: Case) -> Self {
        let mut case = case;
        if !case.errors {
            for m in &mut case.sink_modes {
                if *m == Mode::SyncErr {
                    *m = Mode::SyncOk;
                }
            }
        }
        let source = Rc::new(SrcState {
            script: RefCell::new(case.script.iter().copied().collect()),
            modes: case.read_modes.clone(),
            calls: Cell::new(0),
            obey: case.obey,
            requested: Cell::new(false),
            eof: Cell::new(false),
            handle: RefCell::new(None),
            next_id: Cell::new(0),
            pushed: RefCell::default(),
            pushes: Cell::new(0),
        });
        let sink = Rc::new(SinkState {
            modes: case.sink_modes.clone(),
            calls: Cell::new(0),
            held: RefCell::default(),
            sunk: RefCell::default(),
        });
        let src_opts = if case.object_mode {
            ReadableOptions::objects()
        } else {
            ReadableOptions::default()
        };
        let src = Readable::new(
            src_opts.high_water_mark(case.src_hwm),
            SrcImpl(source.clone()),
        );
        let dest_opts = if case.object_mode {
            WritableOptions::objects()
        } else {
            WritableOptions::default()
        };
        let dest = Writable::new(
            dest_opts.high_water_mark(case.dest_hwm),
            Sink(sink.clone(), case.writev),
        );
        let log: Log = Rc::default();
        let piped = Rc::new(Cell::new(false));

        let l = log.clone();
        src.on_end(move || l.borrow_mut().push(Ev::SrcEnd));
        let l = log.clone();
        src.on_close(move || l.borrow_mut().push(Ev::SrcClose));
        let l = log.clone();
        src.on_error(move |e| l.borrow_mut().push(Ev::SrcError(code(e))));
        let l = log.clone();
        finished(&src, move |r| {
            l.borrow_mut()
                .push(Ev::SrcFinished(r.map_err(|e| code(&e))))
        });
        let l = log.clone();
        dest.on(WritableEvent::Finish, move || {
            l.borrow_mut().push(Ev::DestFinish)
        });
        let l = log.clone();
        dest.on_close(move || l.borrow_mut().push(Ev::DestClose));
        let l = log.clone();
        dest.on_error(move |e| l.borrow_mut().push(Ev::DestError(code(e))));
        let l = log.clone();
        finished(&dest, move |r| {
            l.borrow_mut()
                .push(Ev::DestFinished(r.map_err(|e| code(&e))))
        });
        let p = piped.clone();
        dest.on_unpipe(move |_| p.set(false));
        let drain_listener = {
            let (l, d) = (log.clone(), dest.clone());
            dest.on(WritableEvent::Drain, move || {
                let mut l = l.borrow_mut();
                l.push(Ev::Drain);
                if d.destroyed() {
                    l.push(Ev::Violation("'drain' after destroy".into()));
                }
                if d.writable_length() != 0 {
                    l.push(Ev::Violation("'drain' with data buffered".into()));
                }
            })
        };

        src.pipe(&dest);
        piped.set(true);
        Harness {
            case,
            src,
            dest,
            source,
            sink,
            log,
            piped,
            disturbed: false,
            ended_dest: false,
            trace: Vec::new(),
            drain_listener: Some(drain_listener),
        }
    }

    fn src_alive(&self) -> bool {
        !self.src.destroyed() && !self.src.readable_ended()
    }

    fn dest_alive(&self) -> bool {
        !self.dest.destroyed() && !self.dest.writable_ended()
    }

    /// Applies one operation; returns false if it was skipped.
    fn apply(&mut self, op: &Op) -> bool {
        match *op {
            Op::Produce => {
                if self.case.obey && !self.source.requested.get() {
                    return false;
                }
                self.source.produce()
            }
            Op::Complete { pick, err } => {
                let n = self.sink.held.borrow().len();
                if n == 0 {
                    return false;
                }
                let done = self.sink.held.borrow_mut().remove(pick % n);
                if err && self.case.errors {
                    self.disturbed = true;
                    done.err(Error::msg("late"));
                } else {
                    done.ok();
                }
                true
            }
            Op::Cork => {
                // Node 20 may never finish a stream corked after end() (see
                // model_writable.rs): not a pipe property, left out here.
                if self.dest.writable_ended() {
                    return false;
                }
                self.dest.cork();
                true
            }
            Op::Uncork => {
                self.dest.uncork();
                true
            }
            Op::Unpipe => {
                if !self.piped.get() {
                    return false;
                }
                self.src.unpipe(&self.dest);
                true
            }
            Op::Repipe => {
                if self.piped.get() || !self.src_alive() || !self.dest_alive() {
                    return false;
                }
                self.src.pipe(&self.dest);
                self.piped.set(true);
                true
            }
            Op::DestroySrc { err } => {
                if !self.case.destroys {
                    return false;
                }
                self.disturbed = true;
                self.src.destroy(err.then(|| Error::msg("src")));
                true
            }
            Op::DestroyDest { err } => {
                if !self.case.destroys {
                    return false;
                }
                self.disturbed = true;
                self.dest.destroy(err.then(|| Error::msg("dest")));
                true
            }
            Op::Tick => {
                run_until_idle();
                true
            }
        }
    }

    /// The invariants that hold after every step.
    fn check(&mut self) -> Result<(), TestCaseError> {
        let new: Vec<Ev> = std::mem::take(&mut *self.log.borrow_mut());
        self.trace.extend(new);

        let pushed = self.source.pushed.borrow();
        let sunk = self.sink.sunk.borrow();
        prop_assert!(
            sunk.len() <= pushed.len() && pushed[..sunk.len()] == sunk[..],
            "the sink did not receive a prefix of the pushed data:\n sunk   {:?}\n pushed {:?}",
            &sunk[..],
            &pushed[..]
        );

        let unit = if self.case.object_mode { 1 } else { MAX_CHUNK };
        prop_assert!(
            self.dest.writable_length() <= self.case.dest_hwm + unit,
            "destination holds {} (mark {})",
            self.dest.writable_length(),
            self.case.dest_hwm
        );
        if self.case.obey {
            prop_assert!(
                self.src.readable_length() <= self.case.src_hwm + unit,
                "an obedient source holds {} (mark {})",
                self.src.readable_length(),
                self.case.src_hwm
            );
        }
        if self.piped.get() && self.dest.writable_need_drain() {
            prop_assert!(
                self.src.readable_flowing() != Some(true),
                "the source flows while the destination waits for 'drain'"
            );
        }

        let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
        let (mut src_closed, mut dest_closed) = (false, false);
        for ev in &self.trace {
            let key = match ev {
                Ev::SrcEnd => "src end",
                Ev::SrcClose => "src close",
                Ev::SrcError(_) => "src error",
                Ev::SrcFinished(_) => "src finished()",
                Ev::DestFinish => "dest finish",
                Ev::DestClose => "dest close",
                Ev::DestError(_) => "dest error",
                Ev::DestFinished(_) => "dest finished()",
                Ev::DestEndCb(_) => "dest end()",
                Ev::Drain => "drain",
                Ev::Violation(v) => {
                    prop_assert!(false, "{}", v);
                    unreachable!()
                }
            };
            *counts.entry(key).or_default() += 1;
            match ev {
                Ev::SrcEnd | Ev::SrcError(_) => {
                    prop_assert!(!src_closed, "{:?} after the source's 'close'", ev)
                }
                Ev::DestFinish | Ev::DestError(_) | Ev::Drain => {
                    prop_assert!(!dest_closed, "{:?} after the destination's 'close'", ev)
                }
                Ev::SrcClose => src_closed = true,
                Ev::DestClose => dest_closed = true,
                _ => {}
            }
        }
        for (k, n) in &counts {
            prop_assert!(*k == "drain" || *n <= 1, "{} happened {} times", k, n);
        }
        Ok(())
    }

    /// Finishes the run as a user would, then checks the outcome.
    fn settle(&mut self) -> Result<(), TestCaseError> {
        for round in 0.. {
            prop_assert!(round < 100_000, "does not settle");
            run_until_idle();
            self.check()?;
            if !self.sink.held.borrow().is_empty() {
                self.apply(&Op::Complete {
                    pick: 0,
                    err: false,
                });
            } else if self.dest.writable_corked() > 0 && !self.dest.destroyed() {
                self.dest.uncork();
            } else if self.source.requested.get() && !self.src.destroyed() {
                self.source.produce();
            } else if !self.piped.get() && self.src_alive() && self.dest_alive() {
                self.src.pipe(&self.dest);
                self.piped.set(true);
            } else if self.src_alive() && self.dest.destroyed() {
                // Nowhere to go: a user would tear the source down.
                self.src.destroy(None);
            } else if self.dest_alive() && !self.src_alive() && !self.ended_dest {
                // pipe() ends the destination only at the source's 'end'.
                self.ended_dest = true;
                let l = self.log.clone();
                self.dest.end_with(
                    None,
                    Some(highwater::Callback::once(move |r| {
                        l.borrow_mut().push(Ev::DestEndCb(r.map_err(|e| code(&e))))
                    })),
                );
            } else {
                break;
            }
            self.check()?;
        }

        let count = |f: &dyn Fn(&Ev) -> bool| self.trace.iter().filter(|e| f(e)).count();
        prop_assert!(
            self.src.destroyed() && self.dest.destroyed(),
            "a stream is still open at rest (src destroyed {}, ended {}, length {}, flowing {:?}; dest destroyed {}, ended {}, length {})",
            self.src.destroyed(),
            self.src.readable_ended(),
            self.src.readable_length(),
            self.src.readable_flowing(),
            self.dest.destroyed(),
            self.dest.writable_ended(),
            self.dest.writable_length()
        );
        prop_assert_eq!(count(&|e| *e == Ev::SrcClose), 1, "source 'close'");
        prop_assert_eq!(count(&|e| *e == Ev::DestClose), 1, "destination 'close'");
        prop_assert_eq!(
            count(&|e| matches!(e, Ev::SrcFinished(_))),
            1,
            "source finished()"
        );
        prop_assert_eq!(
            count(&|e| matches!(e, Ev::DestFinished(_))),
            1,
            "destination finished()"
        );
        prop_assert_eq!(
            count(&|e| matches!(e, Ev::DestEndCb(_))),
            usize::from(self.ended_dest),
            "the end() callback"
        );
        prop_assert_eq!(self.dest.writable_length(), 0);

        let errors = count(&|e| matches!(e, Ev::SrcError(_) | Ev::DestError(_)));
        // A sink that failed synchronously disturbs the run too.
        if !self.disturbed && errors == 0 {
            prop_assert_eq!(
                &self.sink.sunk.borrow()[..],
                &self.source.pushed.borrow()[..],
                "not everything pushed reached the sink"
            );
            for ev in [Ev::SrcEnd, Ev::DestFinish] {
                prop_assert_eq!(count(&|e| *e == ev), 1, "{:?}", ev);
            }
            prop_assert!(self.trace.contains(&Ev::SrcFinished(Ok(()))));
            prop_assert!(self.trace.contains(&Ev::DestFinished(Ok(()))));
        }
        Ok(())
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // Break the cycles (source <-> its stream, listener <-> stream).
        self.source.handle.borrow_mut().take();
        self.sink.held.borrow_mut().clear();
        if let Some(id) = self.drain_listener.take() {
            self.dest.off(id);
        }
    }
}

thread_local! {
    /// What the generated cases reached (printed with `--nocapture`).
    static COVERAGE: RefCell<BTreeMap<String, usize>> = RefCell::default();
}

fn count(key: impl Into<String>, n: usize) {
    COVERAGE.with(|c| *c.borrow_mut().entry(key.into()).or_default() += n);
}

fn run_case(case: Case) -> Result<(), TestCaseError> {
    run_until_idle();
    let mut h = Harness::new(case.clone());
    let mut steps = 0;
    for (step, op) in case.ops.iter().enumerate() {
        if h.apply(op) {
            steps += 1;
            let name = format!("{op:?}");
            count(
                format!("op {}", name.split([' ', '{']).next().unwrap_or("")),
                1,
            );
            h.check()
                .map_err(|e| TestCaseError::fail(format!("step {step} ({op:?}): {e}")))?;
        }
    }
    h.settle()
        .map_err(|e| TestCaseError::fail(format!("at rest: {e}")))?;

    count("cases", 1);
    count("steps", steps);
    count("chunks pushed", h.source.pushes.get());
    count("sink calls", h.sink.calls.get());
    count("bytes delivered", h.sink.sunk.borrow().len());
    if !h.disturbed {
        count("cases delivering everything", 1);
    }
    for ev in &h.trace {
        let k = match ev {
            Ev::SrcError(_) => "src error".to_string(),
            Ev::DestError(_) => "dest error".to_string(),
            Ev::SrcFinished(r) => format!("src finished() {r:?}"),
            Ev::DestFinished(r) => format!("dest finished() {r:?}"),
            other => format!("{other:?}"),
        };
        count(k, 1);
    }
    Ok(())
}

fn runner() -> TestRunner {
    model_common::runner(DEFAULT_CASES)
}

#[test]
fn pipe_keeps_data_and_bounds() {
    let mut runner = runner();
    if let Err(e) = runner.run(&case_strategy(), run_case) {
        panic!("{e}");
    }
    COVERAGE.with(|c| {
        for (k, n) in c.borrow().iter() {
            eprintln!("{n:>9}  {k}");
        }
    });
}
