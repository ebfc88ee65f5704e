//! Running a parsed scenario against highwater and recording its trace.
//!
//! The runner owns one context (`Ctx`) shared by every closure it hands to
//! the streams (listeners, hooks, callbacks): the trace so far, the streams,
//! each stream's pending hook callbacks, and the hook listeners added by
//! `on`/`once` steps. Top-level steps run one after another; only `tick`
//! runs the event loop ([`highwater::run_until_idle`]).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::{Rc, Weak};

use bytes::Bytes;
use highwater::{
    ByteChunk, ByteLen, Callback, Done, Error, Hooks, PassThrough, PipeOptions, Readable,
    ReadableEvent, ReadableImpl, ReadableOptions, SharedCallback, Source, Transform, TransformDone,
    TransformImpl, TransformOptions, Writable, WritableEvent, WritableImpl, WritableOptions,
};
use serde_json::{json, Map, Value};

use crate::handle::H;

mod v13;
use crate::scenario::{
    CbSpec, ChunkSpec, Kind, Located, Malformed, Mode, Scenario, Step, StreamSpec,
};

/// A chunk of the runner's streams: bytes in byte mode, JSON in object mode.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// Byte mode.
    Bytes(Bytes),
    /// Object mode.
    Json(Value),
}

impl ByteLen for Val {
    /// A JSON string reaching a byte-mode side counts its UTF-8 bytes, as
    /// Node's byte-mode Writable turns a string into a Buffer.
    fn byte_len(&self) -> usize {
        match self {
            Val::Bytes(b) => b.len(),
            Val::Json(Value::String(s)) => s.len(),
            Val::Json(_) => 1,
        }
    }
}

impl Val {
    /// The bytes a byte-mode side holds for this chunk: a JSON string that
    /// crossed from an object-mode side is its UTF-8 bytes, as in Node.
    /// (Other JSON values cannot cross: Node throws ERR_INVALID_ARG_TYPE;
    /// the format forbids them, and here they count as their JSON text.)
    pub(crate) fn into_bytes(self) -> Bytes {
        match self {
            Val::Bytes(b) => b,
            Val::Json(Value::String(s)) => Bytes::from(s),
            Val::Json(v) => Bytes::from(v.to_string()),
        }
    }
}

impl ByteChunk for Val {
    fn split_to(&mut self, at: usize) -> Self {
        let mut b = std::mem::replace(self, Val::Bytes(Bytes::new())).into_bytes();
        let head = b.split_to(at.min(b.len()));
        *self = Val::Bytes(b);
        Val::Bytes(head)
    }
    fn concat(parts: Vec<Self>, total: usize) -> Self {
        let mut out = Vec::with_capacity(total);
        for p in parts {
            out.extend_from_slice(&p.into_bytes());
        }
        Val::Bytes(Bytes::from(out))
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The scenario ran: its trace, one JSON value a line.
    Ran(Vec<Value>),
    /// Malformed (exit 2): the trace printed before it was found, and why.
    Malformed(Vec<Value>, String),
    /// The scenario needs a part of the format the runner does not drive yet
    /// (exit 2, "not supported yet: ..."); see `run/v13.rs`.
    Unsupported(String),
}

/// A callback handed to a traced hook and not yet called by the runner.
#[derive(Clone)]
enum Pending {
    /// `_write`/`_writev`.
    W(Done),
    /// `_transform`.
    T(TransformDone<Val>),
}

impl Pending {
    /// `cb()`, `cb(err)`, or for a transform `cb(null, value)`.
    fn call(self, error: Option<&str>, value: Option<Val>) {
        match self {
            Pending::W(d) => d.call(error.map_or(Ok(()), |e| Err(make_error(e)))),
            Pending::T(d) => d.call(match error {
                Some(e) => Err(make_error(e)),
                None => Ok(value),
            }),
        }
    }
}

struct HookListener {
    id: u64,
    once: bool,
    then: Rc<Vec<Located>>,
}

/// One stream of the scenario and the runner's bookkeeping for it.
struct RStream {
    name: String,
    h: RefCell<Option<H>>,
    /// Pending `_write`/`_writev` callbacks, oldest first, with an id.
    pending: RefCell<VecDeque<(u64, Pending)>>,
    last_completed: RefCell<Option<Pending>>,
    pending_final: RefCell<Option<Done>>,
    hook_listeners: RefCell<HashMap<String, Vec<HookListener>>>,
}

struct Ctx {
    trace: RefCell<Vec<Value>>,
    /// Set once the run stopped (a dynamic malformation): nothing more is
    /// traced or run, as when the Node runner exits.
    stopped: RefCell<Option<String>>,
    streams: Vec<RStream>,
    labels: HashMap<String, (SharedCallback, usize)>,
    next_id: Cell<u64>,
    /// v1.3: the scenario's AbortControllers, in order, and their names.
    signals: Vec<highwater::AbortController>,
    signal_names: Vec<String>,
    /// v1.3: the cleanup of the latest `finished` with `cleanup: true`, by
    /// stream.
    cleanups: RefCell<HashMap<usize, highwater::Cleanup>>,
}

impl Ctx {
    fn trace(&self, v: Value) {
        if self.stopped.borrow().is_none() {
            self.trace.borrow_mut().push(v);
        }
    }

    fn stop(&self, why: String) {
        let mut s = self.stopped.borrow_mut();
        if s.is_none() {
            *s = Some(why);
        }
    }

    fn stopped(&self) -> bool {
        self.stopped.borrow().is_some()
    }

    /// The scenario name of a stream, from its id (for `'pipe'` lines).
    fn name_of(&self, id: highwater::StreamId) -> Value {
        for (i, st) in self.streams.iter().enumerate() {
            if self.h(i).any().id() == id {
                return json!(st.name);
            }
        }
        Value::Null
    }

    fn id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }

    fn h(&self, s: usize) -> H {
        match &*self.streams[s].h.borrow() {
            Some(h) => h.clone(),
            None => unreachable!("streams are created before the steps run"),
        }
    }
}

/// Format (Trace, and v1.3 "Rendering"): bytes of at most 32 bytes render
/// as their string when every byte is ASCII, else as `{"hex": "..."}`
/// (lowercase); over 32 bytes `{"bytes": N}`. A JSON value (object mode)
/// renders as itself.
fn render_chunk(v: &Val) -> Value {
    match v {
        Val::Bytes(b) if b.len() <= 32 && b.is_ascii() => {
            Value::String(String::from_utf8_lossy(b).into_owned())
        }
        Val::Bytes(b) if b.len() <= 32 => json!({ "hex": hex(b) }),
        Val::Bytes(b) => json!({ "bytes": b.len() }),
        Val::Json(j) => j.clone(),
    }
}

/// Lowercase hex digits of `b`.
fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(char::from(DIGITS[usize::from(x >> 4)]));
        s.push(char::from(DIGITS[usize::from(x & 15)]));
    }
    s
}

/// Renders a chunk as a hook of a side sees it: a byte-mode side turns a
/// string into bytes (Node's `Buffer.from`), so it is rendered as bytes.
fn render_for(v: &Val, object_mode: bool) -> Value {
    match v {
        Val::Json(Value::String(s)) if !object_mode => {
            render_chunk(&Val::Bytes(Bytes::copy_from_slice(s.as_bytes())))
        }
        other => render_chunk(other),
    }
}

fn render_err(r: &Result<(), Error>) -> Value {
    match r {
        Ok(()) => Value::Null,
        Err(e) => Value::String(e.code().to_string()),
    }
}

/// Format: an error given as a code string has that string as code and message.
fn make_error(code: &str) -> Error {
    Error::custom(code, code)
}

fn to_val(c: &ChunkSpec) -> Option<Val> {
    match c {
        ChunkSpec::Null => None,
        ChunkSpec::Bytes(b) => Some(Val::Bytes(Bytes::from(b.clone()))),
        ChunkSpec::Json(j) => Some(Val::Json(j.clone())),
    }
}

/// The sink of a scenario's writable: traces its hooks, runs the hook
/// listeners, keeps manual callbacks for `complete`.
struct Sink {
    ctx: Weak<Ctx>,
    s: usize,
    object_mode: bool,
    write: Mode,
    writev: bool,
    final_: Option<Mode>,
}

impl Sink {
    fn hook_with_callback(&self, name: &str, fields: Vec<(&str, Value)>, done: Done) {
        let Some(ctx) = self.ctx.upgrade() else {
            return;
        };
        if ctx.stopped() {
            return;
        }
        let st = &ctx.streams[self.s];
        let mut line = Map::new();
        line.insert("t".into(), json!("hook"));
        line.insert("s".into(), json!(st.name));
        line.insert("name".into(), json!(name));
        for (k, v) in fields {
            line.insert(k.into(), v);
        }
        ctx.trace(Value::Object(line));
        let id = ctx.id();
        st.pending
            .borrow_mut()
            .push_back((id, Pending::W(done.clone())));
        run_hook_listeners(&ctx, self.s, name);
        if self.write == Mode::Sync {
            let mut p = st.pending.borrow_mut();
            if let Some(i) = p.iter().position(|(x, _)| *x == id) {
                p.remove(i);
            }
            drop(p);
            *st.last_completed.borrow_mut() = Some(Pending::W(done.clone()));
            done.ok();
        }
    }
}

impl WritableImpl<Val> for Sink {
    fn write(&self, chunk: Val, done: Done) {
        let rendered = render_for(&chunk, self.object_mode);
        self.hook_with_callback("_write", vec![("chunk", rendered)], done);
    }

    fn writev(&self, chunks: Vec<Val>, done: Done) {
        let rendered: Vec<Value> = chunks
            .iter()
            .map(|c| render_for(c, self.object_mode))
            .collect();
        self.hook_with_callback("_writev", vec![("chunks", Value::Array(rendered))], done);
    }

    fn hooks(&self) -> Hooks {
        let mut h = Hooks::NONE;
        if self.writev {
            h = h | Hooks::WRITEV;
        }
        if self.final_.is_some() {
            h = h | Hooks::FINAL;
        }
        h
    }

    fn finish(&self, done: Done) {
        let Some(ctx) = self.ctx.upgrade() else {
            return;
        };
        if ctx.stopped() {
            return;
        }
        let st = &ctx.streams[self.s];
        ctx.trace(json!({"t": "hook", "s": st.name, "name": "_final"}));
        *st.pending_final.borrow_mut() = Some(done.clone());
        run_hook_listeners(&ctx, self.s, "_final");
        if self.final_ == Some(Mode::Sync) {
            st.pending_final.borrow_mut().take();
            done.ok();
        }
    }
}

/// The source of a scenario's readable: traces `_read`, runs its hook
/// listeners, and with `read: "sync"` pushes the next item of `source`.
struct SourceHook {
    ctx: Weak<Ctx>,
    s: usize,
    sync: bool,
    source: Vec<ChunkSpec>,
    next: Cell<usize>,
}

impl ReadableImpl<Val> for SourceHook {
    fn read(&self, size: usize, src: &Source<Val>) {
        let Some(ctx) = self.ctx.upgrade() else {
            return;
        };
        if ctx.stopped() {
            return;
        }
        ctx.trace(
            json!({"t": "hook", "s": ctx.streams[self.s].name, "name": "_read", "size": size}),
        );
        run_hook_listeners(&ctx, self.s, "_read");
        let i = self.next.get();
        if self.sync && i < self.source.len() {
            self.next.set(i + 1);
            match to_val(&self.source[i]) {
                Some(v) => src.push(v),
                None => src.push_eof(),
            };
        }
    }
}

/// The transform function of a scenario's transform: traces `_transform`
/// (and `_flush`), runs the hook listeners, then completes by itself
/// (`identity`, `upper`) or waits for `complete` (`manual`).
struct TransformHook {
    ctx: Weak<Ctx>,
    s: usize,
    object_mode: bool,
    mode: String,
    flush: Option<ChunkSpec>,
    /// v1.3 `"lines"`: the text after the last complete line.
    remainder: RefCell<String>,
}

impl TransformImpl<Val, Val> for TransformHook {
    fn transform(&self, chunk: Val, done: TransformDone<Val>) {
        let Some(ctx) = self.ctx.upgrade() else {
            return;
        };
        if ctx.stopped() {
            return;
        }
        // v1.3 "twice"/"lines": run/v13.rs.
        if matches!(&*self.mode, "twice" | "lines") {
            v13::transform_pushing(&ctx, self, chunk, done);
            return;
        }
        let st = &ctx.streams[self.s];
        ctx.trace(
            json!({"t": "hook", "s": st.name, "name": "_transform", "chunk": render_for(&chunk, self.object_mode)}),
        );
        let id = ctx.id();
        st.pending
            .borrow_mut()
            .push_back((id, Pending::T(done.clone())));
        run_hook_listeners(&ctx, self.s, "_transform");
        if self.mode != "manual" {
            self_complete(st, id, &done);
            let out = match (&*self.mode, chunk) {
                ("upper", Val::Bytes(b)) => Val::Bytes(Bytes::from(b.to_ascii_uppercase())),
                // A string on a byte-mode side is its bytes (Node's Buffer.from).
                ("upper", c @ Val::Json(Value::String(_))) if !self.object_mode => {
                    Val::Bytes(Bytes::from(c.into_bytes().to_ascii_uppercase()))
                }
                (_, c) => c,
            };
            done.call(Ok(Some(out)));
        }
    }

    fn flush(&self, done: TransformDone<Val>) {
        let Some(ctx) = self.ctx.upgrade() else {
            return;
        };
        if ctx.stopped() {
            return;
        }
        ctx.trace(json!({"t": "hook", "s": ctx.streams[self.s].name, "name": "_flush"}));
        if self.mode == "lines" {
            v13::flush_lines(self, done);
            return;
        }
        done.call(Ok(self.flush.as_ref().and_then(to_val)));
    }

    fn hooks(&self) -> Hooks {
        if self.flush.is_some() || self.mode == "lines" {
            Hooks::FLUSH
        } else {
            Hooks::NONE
        }
    }
}

/// A transform completing by itself: its callback (`id`) is no longer
/// pending, and is the last one completed (for `complete` with `again`).
fn self_complete(st: &RStream, id: u64, done: &TransformDone<Val>) {
    let mut p = st.pending.borrow_mut();
    if let Some(i) = p.iter().position(|(x, _)| *x == id) {
        p.remove(i);
    }
    drop(p);
    *st.last_completed.borrow_mut() = Some(Pending::T(done.clone()));
}

/// Runs the `then` of a hook's listeners: in order of addition, on a
/// snapshot, a `once` listener removed before it runs.
fn run_hook_listeners(ctx: &Rc<Ctx>, s: usize, hook: &str) {
    let snapshot: Vec<(u64, bool, Rc<Vec<Located>>)> = ctx.streams[s]
        .hook_listeners
        .borrow()
        .get(hook)
        .map(|l| l.iter().map(|h| (h.id, h.once, h.then.clone())).collect())
        .unwrap_or_default();
    for (id, once, then) in snapshot {
        if once {
            let mut map = ctx.streams[s].hook_listeners.borrow_mut();
            if let Some(list) = map.get_mut(hook) {
                match list.iter().position(|h| h.id == id) {
                    Some(i) => {
                        list.remove(i);
                    }
                    None => continue,
                }
            }
        }
        run_steps(ctx, &then);
    }
}

fn call_line(ctx: &Ctx, s: usize, m: &str, extra: Option<(&str, Value)>) {
    let mut line = Map::new();
    line.insert("t".into(), json!("call"));
    line.insert("s".into(), json!(ctx.streams[s].name));
    line.insert("m".into(), json!(m));
    if let Some((k, v)) = extra {
        line.insert(k.into(), v);
    }
    ctx.trace(Value::Object(line));
}

/// Format (cb): a new callback for `true`; the label's shared function for a label.
fn callback_for(ctx: &Rc<Ctx>, cb: &CbSpec, s: usize, m: &'static str, top: usize) -> Callback {
    match cb {
        CbSpec::Fresh => {
            let c = Rc::downgrade(ctx);
            let name = ctx.streams[s].name.clone();
            Callback::once(move |r| {
                if let Some(c) = c.upgrade() {
                    c.trace(
                        json!({"t": "cb", "s": name, "m": m, "step": top, "err": render_err(&r)}),
                    );
                }
            })
        }
        CbSpec::Label(l) => match ctx.labels.get(l) {
            Some((f, _)) => f.into(),
            None => unreachable!("labels are collected by the parser"),
        },
    }
}

fn run_steps(ctx: &Rc<Ctx>, steps: &[Located]) {
    for l in steps {
        if ctx.stopped() {
            return;
        }
        run_step(ctx, l);
    }
}

/// Runs one step: a short dispatch to the function of its kind. Each traces
/// its `call` line after the call, as the Node runner does.
fn run_step(ctx: &Rc<Ctx>, l: &Located) {
    let top = l.top;
    match &l.step {
        Step::Write { s, chunk, cb } => step_write(ctx, *s, chunk, cb, top),
        Step::End { s, chunk, cb } => step_end(ctx, *s, chunk, cb, top),
        Step::Cork { s } => step_cork(ctx, *s),
        Step::Uncork { s } => step_uncork(ctx, *s),
        Step::Destroy { s, error } => step_destroy(ctx, *s, error),
        Step::Complete {
            s,
            error,
            value,
            again,
        } => step_complete(ctx, l, *s, error, value, *again),
        Step::CompleteFinal { s, error } => step_complete_final(ctx, l, *s, error),
        Step::On {
            s,
            event,
            once,
            then,
        } => step_on(ctx, *s, event, *once, then),
        // Format (tick): the event loop runs until it is idle.
        Step::Tick => highwater::run_until_idle(),
        Step::Push { s, chunk } => step_push(ctx, *s, chunk),
        Step::Unshift { s, chunk } => step_unshift(ctx, *s, chunk),
        Step::Read { s, n } => step_read(ctx, *s, n),
        Step::ReadAll { s } => step_read_all(ctx, *s),
        Step::Pause { s } => step_pause(ctx, *s),
        Step::Resume { s } => step_resume(ctx, *s),
        Step::Pipe { from, to, end } => step_pipe(ctx, *from, *to, end),
        Step::Unpipe { from, to } => step_unpipe(ctx, *from, to),
        Step::Finished { s, opts } if !opts.has_options() && !opts.cleanup => {
            step_finished(ctx, *s, top)
        }
        Step::Pipeline { streams } => step_pipeline(ctx, streams, top),
        // v1.3 steps: run/v13.rs.
        Step::Finished { s, opts } => v13::step_finished_with(ctx, *s, opts, top),
        Step::SetEncoding { s } => v13::step_set_encoding(ctx, *s),
        Step::Abort { signal } => v13::step_abort(ctx, *signal),
        Step::AddAbortSignal { signal, s } => v13::step_add_abort_signal(ctx, *signal, *s),
        Step::PipelineAsync {
            streams,
            end,
            signal,
        } => v13::step_pipeline_async(ctx, streams, *end, *signal, top),
        Step::FinishedCleanup { s } => v13::step_finished_cleanup(ctx, *s),
    }
}

/// `write`: Node's `writable.write(chunk[, cb])`, tracing its return value.
/// A `null` chunk is not written: Node throws, and the trace says so.
fn step_write(ctx: &Rc<Ctx>, s: usize, chunk: &ChunkSpec, cb: &Option<CbSpec>, top: usize) {
    let Some(v) = to_val(chunk) else {
        // Node throws ERR_STREAM_NULL_VALUES; a Rust chunk cannot be null.
        call_line(
            ctx,
            s,
            "write",
            Some(("throw", json!("ERR_STREAM_NULL_VALUES"))),
        );
        return;
    };
    let h = ctx.h(s);
    let cb = cb.as_ref().map(|cb| callback_for(ctx, cb, s, "write", top));
    let ret = h.w().write(v, cb);
    call_line(ctx, s, "write", Some(("ret", json!(ret))));
}

/// `end`: Node's `writable.end([chunk][, cb])`.
fn step_end(ctx: &Rc<Ctx>, s: usize, chunk: &Option<ChunkSpec>, cb: &Option<CbSpec>, top: usize) {
    let chunk = chunk.as_ref().and_then(to_val);
    let cb = cb.as_ref().map(|cb| callback_for(ctx, cb, s, "end", top));
    ctx.h(s).w().end_with(chunk, cb);
    call_line(ctx, s, "end", None);
}

/// `cork`: Node's `writable.cork()`.
fn step_cork(ctx: &Rc<Ctx>, s: usize) {
    ctx.h(s).w().cork();
    call_line(ctx, s, "cork", None);
}

/// `uncork`: Node's `writable.uncork()`.
fn step_uncork(ctx: &Rc<Ctx>, s: usize) {
    ctx.h(s).w().uncork();
    call_line(ctx, s, "uncork", None);
}

/// `destroy`: Node's `stream.destroy([error])`.
fn step_destroy(ctx: &Rc<Ctx>, s: usize, error: &Option<String>) {
    ctx.h(s).any().destroy(error.as_deref().map(make_error));
    call_line(ctx, s, "destroy", None);
}

/// `complete`: calls the callback Node passed to `_write`/`_writev`
/// (`callback([err])`) or `_transform` (`callback(err, value)`): the oldest
/// pending one, or with `again` the last one completed (a second call).
/// Nothing to complete is a dynamic malformation: the run stops.
fn step_complete(
    ctx: &Rc<Ctx>,
    l: &Located,
    s: usize,
    error: &Option<String>,
    value: &Option<ChunkSpec>,
    again: bool,
) {
    let st = &ctx.streams[s];
    let done = if again {
        completed_again(ctx, l, st)
    } else {
        next_pending(ctx, l, st)
    };
    let Some(done) = done else {
        return;
    };
    done.call(error.as_deref(), value.as_ref().and_then(to_val));
    call_line(ctx, s, "complete", None);
}

/// The callback a `complete` with `again` calls a second time: the last one
/// completed, when none is pending; else the run stops.
fn completed_again(ctx: &Ctx, l: &Located, st: &RStream) -> Option<Pending> {
    if !st.pending.borrow().is_empty() {
        ctx.stop(format!(
            "{}: \"again\" on {} while a callback is pending",
            l.at, st.name
        ));
        return None;
    }
    let last = st.last_completed.borrow().clone();
    if last.is_none() {
        ctx.stop(format!(
            "{}: \"again\" on {} with nothing completed yet",
            l.at, st.name
        ));
    }
    last
}

/// The oldest pending callback, taken (and kept as the last completed); if
/// none is pending the run stops.
fn next_pending(ctx: &Ctx, l: &Located, st: &RStream) -> Option<Pending> {
    let next = st.pending.borrow_mut().pop_front();
    match next {
        Some((_, d)) => {
            *st.last_completed.borrow_mut() = Some(d.clone());
            Some(d)
        }
        None => {
            ctx.stop(format!(
                "{}: \"complete\" on {} with nothing pending",
                l.at, st.name
            ));
            None
        }
    }
}

/// `completeFinal`: calls the callback Node passed to `_final`
/// (`callback([err])`); nothing pending stops the run.
fn step_complete_final(ctx: &Rc<Ctx>, l: &Located, s: usize, error: &Option<String>) {
    let st = &ctx.streams[s];
    let pending = st.pending_final.borrow_mut().take();
    let Some(done) = pending else {
        ctx.stop(format!(
            "{}: \"completeFinal\" on {} with nothing pending",
            l.at, st.name
        ));
        return;
    };
    done.call(error.as_deref().map_or(Ok(()), |e| Err(make_error(e))));
    call_line(ctx, s, "completeFinal", None);
}

/// `on`/`once`: Node's `emitter.on(event, fn)`/`emitter.once(event, fn)`
/// for a stream event; for a hook (`_write`, ...) a listener of the runner's,
/// run when the hook is called.
fn step_on(ctx: &Rc<Ctx>, s: usize, event: &str, once: bool, then: &Rc<Vec<Located>>) {
    let m = if once { "once" } else { "on" };
    if event.starts_with('_') {
        ctx.streams[s]
            .hook_listeners
            .borrow_mut()
            .entry(event.to_string())
            .or_default()
            .push(HookListener {
                id: ctx.id(),
                once,
                then: then.clone(),
            });
    } else {
        add_listener(ctx, s, event, once, then.clone());
    }
    call_line(ctx, s, m, None);
}

/// `push`: Node's `readable.push(chunk)` (`null` ends the stream), tracing
/// its return value.
fn step_push(ctx: &Rc<Ctx>, s: usize, chunk: &ChunkSpec) {
    let ret = ctx.h(s).r().push(to_val(chunk));
    call_line(ctx, s, "push", Some(("ret", json!(ret))));
}

/// `unshift`: Node's `readable.unshift(chunk)` (`null` ends the stream).
fn step_unshift(ctx: &Rc<Ctx>, s: usize, chunk: &ChunkSpec) {
    ctx.h(s).r().unshift(to_val(chunk));
    call_line(ctx, s, "unshift", None);
}

/// `read`: Node's `readable.read([n])`, tracing the chunk read (or null).
fn step_read(ctx: &Rc<Ctx>, s: usize, n: &Option<usize>) {
    let h = ctx.h(s);
    let ret = h.r().read(*n);
    let rendered = ret
        .as_ref()
        .map_or(Value::Null, |v| v13::render_read(&h, v));
    call_line(ctx, s, "read", Some(("ret", rendered)));
}

/// `readAll`: Node's `readable.read()` again and again until it returns
/// null, tracing each call.
fn step_read_all(ctx: &Rc<Ctx>, s: usize) {
    loop {
        if ctx.stopped() {
            return;
        }
        let h = ctx.h(s);
        let ret = h.r().read(None);
        let rendered = ret
            .as_ref()
            .map_or(Value::Null, |v| v13::render_read(&h, v));
        call_line(ctx, s, "readAll", Some(("ret", rendered)));
        if ret.is_none() {
            break;
        }
    }
}

/// `pause`: Node's `readable.pause()`.
fn step_pause(ctx: &Rc<Ctx>, s: usize) {
    ctx.h(s).r().pause();
    call_line(ctx, s, "pause", None);
}

/// `resume`: Node's `readable.resume()`.
fn step_resume(ctx: &Rc<Ctx>, s: usize) {
    ctx.h(s).r().resume();
    call_line(ctx, s, "resume", None);
}

/// `pipe`: Node's `readable.pipe(destination, { end })`.
fn step_pipe(ctx: &Rc<Ctx>, from: usize, to: usize, end: &Option<bool>) {
    let opts = PipeOptions::default().end(end.unwrap_or(true));
    ctx.h(from).r().pipe_to(&ctx.h(to), opts);
    call_line(ctx, from, "pipe", None);
}

/// `unpipe`: Node's `readable.unpipe([destination])`.
fn step_unpipe(ctx: &Rc<Ctx>, from: usize, to: &Option<usize>) {
    let src = ctx.h(from);
    match to {
        Some(to) => src.r().unpipe(&ctx.h(*to)),
        None => src.r().unpipe_all(),
    }
    call_line(ctx, from, "unpipe", None);
}

/// `finished`: Node's `stream.finished(stream, callback)`, the callback
/// traced as a `cb` line.
fn step_finished(ctx: &Rc<Ctx>, s: usize, top: usize) {
    let c = Rc::downgrade(ctx);
    let name = ctx.streams[s].name.clone();
    let cb = move |r: Result<(), Error>| {
        if let Some(c) = c.upgrade() {
            c.trace(
                json!({"t": "cb", "s": name, "m": "finished", "step": top, "err": render_err(&r)}),
            );
        }
    };
    ctx.h(s).any().finished(Box::new(cb));
    call_line(ctx, s, "finished", None);
}

/// `pipeline`: Node's `stream.pipeline(...streams, callback)`, the callback
/// traced as a `cb` line on the first stream.
fn step_pipeline(ctx: &Rc<Ctx>, streams: &[usize], top: usize) {
    let first = streams[0];
    let c = Rc::downgrade(ctx);
    let name = ctx.streams[first].name.clone();
    let cb = move |r: Result<(), Error>| {
        if let Some(c) = c.upgrade() {
            c.trace(
                json!({"t": "cb", "s": name, "m": "pipeline", "step": top, "err": render_err(&r)}),
            );
        }
    };
    let mut p = ctx.h(first).r().pipeline();
    for &mid in &streams[1..streams.len() - 1] {
        p = ctx.h(mid).through(p);
    }
    ctx.h(streams[streams.len() - 1])
        .w()
        .pipeline_to(p, Box::new(cb));
    call_line(ctx, first, "pipeline", None);
}

fn side_state(h: &H) -> Value {
    let mut o = Map::new();
    if let Some(w) = h.writable() {
        w.state(&mut o);
    }
    if let Some(r) = h.readable() {
        r.state(&mut o);
    }
    o.insert("destroyed".into(), json!(h.any().destroyed()));
    Value::Object(o)
}

fn trace_state(ctx: &Ctx) {
    let mut line = Map::new();
    line.insert("t".into(), json!("state"));
    for (i, st) in ctx.streams.iter().enumerate() {
        line.insert(st.name.clone(), side_state(&ctx.h(i)));
    }
    ctx.trace(Value::Object(line));
}

/// Adds the listener of an `on`/`once` step for a stream event: it runs
/// `then`; for `data` and `readable` it first prints the event line.
fn add_listener(ctx: &Rc<Ctx>, s: usize, event: &str, once: bool, then: Rc<Vec<Located>>) {
    let h = ctx.h(s);
    let c = Rc::downgrade(ctx);
    let run = move || {
        if let Some(c) = c.upgrade() {
            run_steps(&c, &then);
        }
    };
    match event {
        "drain" | "prefinish" | "finish" => listen_writable(&h, event, once, run),
        "error" => listen_error(&h, once, run),
        "close" => listen_close(&h, once, run),
        "data" => listen_data(ctx, s, &h, once, run),
        "readable" => listen_readable(ctx, s, &h, once, run),
        "end" | "pause" | "resume" => listen_readable_event(&h, event, once, run),
        "pipe" | "unpipe" => listen_pipe(&h, event, once, run),
        _ => unreachable!("the parser checks event names"),
    }
}

/// `drain`, `prefinish`, `finish`: Node's `writable.on`/`once(event, fn)`.
fn listen_writable(h: &H, event: &str, once: bool, run: impl Fn() + 'static) {
    let ev = match event {
        "drain" => WritableEvent::Drain,
        "prefinish" => WritableEvent::Prefinish,
        _ => WritableEvent::Finish,
    };
    h.w().on(ev, once, Box::new(run));
}

/// `error`: Node's `stream.on`/`once('error', fn)`.
fn listen_error(h: &H, once: bool, run: impl Fn() + 'static) {
    h.any().on_error(once, Box::new(move |_| run()));
}

/// `close`: Node's `stream.on`/`once('close', fn)`.
fn listen_close(h: &H, once: bool, run: impl Fn() + 'static) {
    h.any().on_close(once, Box::new(run));
}

/// `data`: Node's `readable.on`/`once('data', fn)`; the listener traces the
/// event line (with the chunk) before it runs `then`.
fn listen_data(ctx: &Rc<Ctx>, s: usize, h: &H, once: bool, run: impl Fn() + 'static) {
    let name = ctx.streams[s].name.clone();
    let c = Rc::downgrade(ctx);
    let f = move |v: &Val| {
        if let Some(c) = c.upgrade() {
            let chunk = v13::render_read(&c.h(s), v);
            c.trace(json!({"t": "event", "s": name, "name": "data", "chunk": chunk}));
        }
        run();
    };
    h.r().on_data(once, Box::new(f));
}

/// `readable`: Node's `readable.on`/`once('readable', fn)`; the listener
/// traces the event line before it runs `then`.
fn listen_readable(ctx: &Rc<Ctx>, s: usize, h: &H, once: bool, run: impl Fn() + 'static) {
    let name = ctx.streams[s].name.clone();
    let c = Rc::downgrade(ctx);
    let f = move || {
        if let Some(c) = c.upgrade() {
            c.trace(json!({"t": "event", "s": name, "name": "readable"}));
        }
        run();
    };
    h.r().on_readable(once, Box::new(f));
}

/// `end`, `pause`, `resume`: Node's `readable.on`/`once(event, fn)`.
fn listen_readable_event(h: &H, event: &str, once: bool, run: impl Fn() + 'static) {
    let ev = match event {
        "end" => ReadableEvent::End,
        "pause" => ReadableEvent::Pause,
        "resume" => ReadableEvent::Resume,
        _ => unreachable!("the parser checks event names"),
    };
    h.r().on_event(ev, once, Box::new(run));
}

/// `pipe`, `unpipe`: Node's `writable.on`/`once(event, fn)`.
fn listen_pipe(h: &H, event: &str, once: bool, run: impl Fn() + 'static) {
    let unpipe = match event {
        "pipe" => false,
        "unpipe" => true,
        _ => unreachable!("the parser checks event names"),
    };
    h.w().on_pipe(unpipe, once, Box::new(move |_| run()));
}

/// Runs a parsed scenario on this thread's event loop. Run each scenario on
/// a fresh thread: the loop is per thread, and a scenario may leave work in it.
pub fn run(sc: &Scenario) -> Outcome {
    if let Some(what) = v13::unsupported(sc) {
        return Outcome::Unsupported(format!("not supported yet: {what}"));
    }
    let ctx = new_ctx(sc);
    // Format (File): streams are created in order, then the traced listeners.
    for (i, spec) in sc.streams.iter().enumerate() {
        let h = build_stream(&ctx, i, spec);
        *ctx.streams[i].h.borrow_mut() = Some(h);
    }
    for i in 0..ctx.streams.len() {
        trace_events(&ctx, i);
    }
    run_top_steps(&ctx, sc);
    collect(&ctx)
}

/// The run's context, before any stream exists: one entry a stream, and the
/// shared function of each callback label.
fn new_ctx(sc: &Scenario) -> Rc<Ctx> {
    Rc::new_cyclic(|weak: &Weak<Ctx>| {
        let streams = sc
            .streams
            .iter()
            .map(|spec| RStream {
                name: spec.name.clone(),
                h: RefCell::new(None),
                pending: RefCell::new(VecDeque::new()),
                last_completed: RefCell::new(None),
                pending_final: RefCell::new(None),
                hook_listeners: RefCell::new(HashMap::new()),
            })
            .collect();
        Ctx {
            trace: RefCell::new(Vec::new()),
            stopped: RefCell::new(None),
            streams,
            labels: label_callbacks(sc, weak),
            next_id: Cell::new(0),
            signals: sc
                .signals
                .iter()
                .map(|_| highwater::AbortController::new())
                .collect(),
            signal_names: sc.signals.clone(),
            cleanups: RefCell::new(HashMap::new()),
        }
    })
}

/// Format (cb): one shared function a label, traced with its label and the
/// step of its first use, whichever step calls it.
fn label_callbacks(sc: &Scenario, weak: &Weak<Ctx>) -> HashMap<String, (SharedCallback, usize)> {
    sc.labels
        .iter()
        .map(|(label, l)| {
            let c = weak.clone();
            let name = sc.streams[l.s].name.clone();
            let (m, step, label_s) = (l.m, l.step, label.clone());
            let f = SharedCallback::new(move |r| {
                if let Some(c) = c.upgrade() {
                    c.trace(json!({"t": "cb", "s": name, "m": m, "step": step, "err": render_err(&r), "cb": label_s}));
                }
            });
            (label.clone(), (f, l.step))
        })
        .collect()
}

/// Builds stream `i` from its spec: the function of its kind.
fn build_stream(ctx: &Rc<Ctx>, i: usize, spec: &StreamSpec) -> H {
    match spec.kind {
        Kind::Writable => build_writable(ctx, i, spec),
        Kind::Readable => build_readable(ctx, i, spec),
        Kind::Transform => build_transform(ctx, i, spec),
        Kind::PassThrough => build_passthrough(ctx, spec),
    }
}

/// A `writable`: Node's `new Writable({ write, writev, final, ... })`, its
/// hooks a [`Sink`].
fn build_writable(ctx: &Rc<Ctx>, i: usize, spec: &StreamSpec) -> H {
    let sink = Sink {
        ctx: Rc::downgrade(ctx),
        s: i,
        object_mode: spec.object_mode,
        write: spec.write,
        writev: spec.writev,
        final_: spec.final_,
    };
    let mut opts = if spec.object_mode {
        WritableOptions::objects()
    } else {
        WritableOptions::default()
    }
    .auto_destroy(spec.auto_destroy)
    .emit_close(spec.emit_close);
    if let Some(h) = spec.hwm {
        opts = opts.high_water_mark(h);
    }
    if let Some(sig) = spec.signal {
        opts = opts.signal(ctx.signals[sig].signal());
    }
    H::W(Writable::new(opts, sink))
}

/// A `readable`: Node's `new Readable({ read, ... })`, its `_read` a
/// [`SourceHook`].
fn build_readable(ctx: &Rc<Ctx>, i: usize, spec: &StreamSpec) -> H {
    let src = SourceHook {
        ctx: Rc::downgrade(ctx),
        s: i,
        sync: spec.read == Mode::Sync,
        source: spec.source.clone(),
        next: Cell::new(0),
    };
    let mut opts = if spec.object_mode {
        ReadableOptions::objects()
    } else {
        ReadableOptions::default()
    }
    .auto_destroy(spec.auto_destroy)
    .emit_close(spec.emit_close);
    if let Some(h) = spec.hwm {
        opts = opts.high_water_mark(h);
    }
    if let Some(sig) = spec.signal {
        opts = opts.signal(ctx.signals[sig].signal());
    }
    H::R(Readable::new(opts, src))
}

/// The options of a transform or passthrough (both duplex).
fn duplex_options(ctx: &Ctx, spec: &StreamSpec) -> TransformOptions<Val, Val> {
    let mut o = if spec.object_mode {
        TransformOptions::objects()
    } else {
        TransformOptions::default()
    }
    .auto_destroy(spec.auto_destroy)
    .emit_close(spec.emit_close);
    if let Some(h) = spec.readable_hwm {
        o = o.readable_high_water_mark(h);
    }
    if let Some(h) = spec.writable_hwm {
        o = o.writable_high_water_mark(h);
    }
    if let Some(h) = spec.hwm {
        o = o.high_water_mark(h);
    }
    if let Some(sig) = spec.signal {
        o = o.signal(ctx.signals[sig].signal());
    }
    o
}

/// A `transform`: Node's `new Transform({ transform, flush, ... })`, its
/// hooks a [`TransformHook`].
fn build_transform(ctx: &Rc<Ctx>, i: usize, spec: &StreamSpec) -> H {
    let opts = if spec.transform == "lines" {
        v13::lines_options(ctx, spec)
    } else {
        duplex_options(ctx, spec)
    };
    let object_mode = spec.object_mode;
    let hook = TransformHook {
        ctx: Rc::downgrade(ctx),
        s: i,
        object_mode,
        mode: spec.transform.clone(),
        flush: spec.flush.clone(),
        remainder: RefCell::new(String::new()),
    };
    H::T(Transform::new(opts, hook))
}

/// A `passthrough`: Node's `new PassThrough({ ... })`.
fn build_passthrough(ctx: &Ctx, spec: &StreamSpec) -> H {
    H::P(PassThrough::new(duplex_options(ctx, spec)))
}

/// A listener that traces event `name` of stream `s`.
fn event_tracer(ctx: &Rc<Ctx>, s: usize, name: &'static str) -> impl Fn() + 'static {
    let c = Rc::downgrade(ctx);
    let s = ctx.streams[s].name.clone();
    move || {
        if let Some(c) = c.upgrade() {
            c.trace(json!({"t": "event", "s": s, "name": name}));
        }
    }
}

/// Adds the traced listeners of stream `i`.
///
/// Format (Trace): writable side drain, prefinish, finish, close,
/// error, pipe, unpipe; readable side end, close, error, pause,
/// resume; an event both sides emit is listened to once.
fn trace_events(ctx: &Rc<Ctx>, i: usize) {
    let h = ctx.h(i);
    let tracer = |name: &'static str| event_tracer(ctx, i, name);
    if let Some(w) = h.writable() {
        w.on(WritableEvent::Drain, false, Box::new(tracer("drain")));
        w.on(
            WritableEvent::Prefinish,
            false,
            Box::new(tracer("prefinish")),
        );
        w.on(WritableEvent::Finish, false, Box::new(tracer("finish")));
    }
    h.any().on_close(false, Box::new(tracer("close")));
    trace_error(ctx, i, &h);
    if h.writable().is_some() {
        trace_pipes(ctx, i, &h);
    }
    if let Some(r) = h.readable() {
        r.on_event(ReadableEvent::End, false, Box::new(tracer("end")));
        r.on_event(ReadableEvent::Pause, false, Box::new(tracer("pause")));
        r.on_event(ReadableEvent::Resume, false, Box::new(tracer("resume")));
    }
}

/// Traces `error` events of stream `i`, with the error's code.
fn trace_error(ctx: &Rc<Ctx>, i: usize, h: &H) {
    let c = Rc::downgrade(ctx);
    let s = ctx.streams[i].name.clone();
    h.any().on_error(
        false,
        Box::new(move |e| {
            if let Some(c) = c.upgrade() {
                c.trace(json!({"t": "event", "s": s, "name": "error", "err": e.code()}));
            }
        }),
    );
}

/// Traces `pipe` and `unpipe` events of writable stream `i`, with the
/// source's name.
fn trace_pipes(ctx: &Rc<Ctx>, i: usize, h: &H) {
    for (unpipe, name) in [(false, "pipe"), (true, "unpipe")] {
        let c = Rc::downgrade(ctx);
        let s = ctx.streams[i].name.clone();
        let f = move |src: highwater::StreamId| {
            if let Some(c) = c.upgrade() {
                let src = c.name_of(src);
                c.trace(json!({"t": "event", "s": s, "name": name, "src": src}));
            }
        };
        h.w().on_pipe(unpipe, false, Box::new(f));
    }
}

/// Runs the top-level steps, tracing the state after each, until the end or
/// until a step stops the run.
fn run_top_steps(ctx: &Rc<Ctx>, sc: &Scenario) {
    for l in &sc.steps {
        run_step(ctx, l);
        if ctx.stopped() {
            break;
        }
        trace_state(ctx);
    }
}

/// The outcome of the run: its trace, and why it stopped if it did.
fn collect(ctx: &Ctx) -> Outcome {
    let trace = std::mem::take(&mut *ctx.trace.borrow_mut());
    let stopped = ctx.stopped.borrow_mut().take();
    // Break the cycles (streams hold sinks that point back at the context).
    for st in &ctx.streams {
        st.pending.borrow_mut().clear();
        st.last_completed.borrow_mut().take();
        st.pending_final.borrow_mut().take();
        st.hook_listeners.borrow_mut().clear();
    }
    match stopped {
        Some(why) => Outcome::Malformed(trace, why),
        None => Outcome::Ran(trace),
    }
}

/// Parses and runs a scenario's text.
pub fn run_text(text: &str) -> Outcome {
    match crate::scenario::parse(text) {
        Ok(sc) => run(&sc),
        Err(Malformed(why)) => Outcome::Malformed(Vec::new(), why),
    }
}
