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
    ByteLen, Callback, Done, Error, SharedCallback, Writable, WritableEvent, WritableImpl,
    WritableOptions,
};
use serde_json::{json, Map, Value};

use crate::scenario::{CbSpec, ChunkSpec, Kind, Located, Malformed, Mode, Scenario, Step};

/// A chunk of the runner's streams: bytes in byte mode, JSON in object mode.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// Byte mode.
    Bytes(Bytes),
    /// Object mode.
    Json(Value),
}

impl ByteLen for Val {
    fn byte_len(&self) -> usize {
        match self {
            Val::Bytes(b) => b.len(),
            Val::Json(_) => 1,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The scenario ran: its trace, one JSON value a line.
    Ran(Vec<Value>),
    /// Malformed (exit 2): the trace printed before it was found, and why.
    Malformed(Vec<Value>, String),
    /// The scenario needs something highwater does not implement yet (exit 3).
    Unsupported(String),
}

struct HookListener {
    id: u64,
    once: bool,
    then: Rc<Vec<Located>>,
}

/// One stream of the scenario and the runner's bookkeeping for it.
struct RStream {
    name: String,
    w: RefCell<Option<Writable<Val>>>,
    /// Pending `_write`/`_writev` callbacks, oldest first, with an id.
    pending: RefCell<VecDeque<(u64, Done)>>,
    last_completed: RefCell<Option<Done>>,
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

    fn id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }

    fn w(&self, s: usize) -> Writable<Val> {
        match &*self.streams[s].w.borrow() {
            Some(w) => w.clone(),
            None => unreachable!("writable side checked by the parser"),
        }
    }
}

/// Format (Trace): in byte mode the string when at most 32 bytes, else
/// `{"bytes": N}`; in object mode the JSON value.
fn render_chunk(v: &Val) -> Value {
    match v {
        Val::Bytes(b) if b.len() <= 32 => Value::String(String::from_utf8_lossy(b).into_owned()),
        Val::Bytes(b) => json!({ "bytes": b.len() }),
        Val::Json(j) => j.clone(),
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
        st.pending.borrow_mut().push_back((id, done.clone()));
        run_hook_listeners(&ctx, self.s, name);
        if self.write == Mode::Sync {
            let mut p = st.pending.borrow_mut();
            if let Some(i) = p.iter().position(|(x, _)| *x == id) {
                p.remove(i);
            }
            drop(p);
            *st.last_completed.borrow_mut() = Some(done.clone());
            done.ok();
        }
    }
}

impl WritableImpl<Val> for Sink {
    fn write(&self, chunk: Val, done: Done) {
        let rendered = render_chunk(&chunk);
        self.hook_with_callback("_write", vec![("chunk", rendered)], done);
    }

    fn writev(&self, chunks: Vec<Val>, done: Done) {
        let rendered: Vec<Value> = chunks.iter().map(render_chunk).collect();
        self.hook_with_callback("_writev", vec![("chunks", Value::Array(rendered))], done);
    }

    fn has_writev(&self) -> bool {
        self.writev
    }

    fn final_(&self, done: Done) {
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

    fn has_final(&self) -> bool {
        self.final_.is_some()
    }
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

fn run_step(ctx: &Rc<Ctx>, l: &Located) {
    let top = l.top;
    match &l.step {
        Step::Write { s, chunk, cb } => {
            let s = *s;
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
            let w = ctx.w(s);
            let ret = match cb {
                Some(cb) => w.write_cb(v, callback_for(ctx, cb, s, "write", top)),
                None => w.write(v),
            };
            call_line(ctx, s, "write", Some(("ret", json!(ret))));
        }
        Step::End { s, chunk, cb } => {
            let s = *s;
            let w = ctx.w(s);
            let chunk = chunk.as_ref().and_then(to_val);
            let cb = cb.as_ref().map(|cb| callback_for(ctx, cb, s, "end", top));
            w.end_with(chunk, cb);
            call_line(ctx, s, "end", None);
        }
        Step::Cork { s } => {
            ctx.w(*s).cork();
            call_line(ctx, *s, "cork", None);
        }
        Step::Uncork { s } => {
            ctx.w(*s).uncork();
            call_line(ctx, *s, "uncork", None);
        }
        Step::Destroy { s, error } => {
            ctx.w(*s).destroy(error.as_deref().map(make_error));
            call_line(ctx, *s, "destroy", None);
        }
        Step::Complete {
            s,
            error,
            value: _,
            again,
        } => {
            let st = &ctx.streams[*s];
            let done = if *again {
                if !st.pending.borrow().is_empty() {
                    ctx.stop(format!(
                        "{}: \"again\" on {} while a callback is pending",
                        l.at, st.name
                    ));
                    return;
                }
                match st.last_completed.borrow().clone() {
                    Some(d) => d,
                    None => {
                        ctx.stop(format!(
                            "{}: \"again\" on {} with nothing completed yet",
                            l.at, st.name
                        ));
                        return;
                    }
                }
            } else {
                let next = st.pending.borrow_mut().pop_front();
                match next {
                    Some((_, d)) => {
                        *st.last_completed.borrow_mut() = Some(d.clone());
                        d
                    }
                    None => {
                        ctx.stop(format!(
                            "{}: \"complete\" on {} with nothing pending",
                            l.at, st.name
                        ));
                        return;
                    }
                }
            };
            done.call(error.as_deref().map_or(Ok(()), |e| Err(make_error(e))));
            call_line(ctx, *s, "complete", None);
        }
        Step::CompleteFinal { s, error } => {
            let st = &ctx.streams[*s];
            let pending = st.pending_final.borrow_mut().take();
            let Some(done) = pending else {
                ctx.stop(format!(
                    "{}: \"completeFinal\" on {} with nothing pending",
                    l.at, st.name
                ));
                return;
            };
            done.call(error.as_deref().map_or(Ok(()), |e| Err(make_error(e))));
            call_line(ctx, *s, "completeFinal", None);
        }
        Step::On {
            s,
            event,
            once,
            then,
        } => {
            let s = *s;
            let m = if *once { "once" } else { "on" };
            if event.starts_with('_') {
                ctx.streams[s]
                    .hook_listeners
                    .borrow_mut()
                    .entry(event.clone())
                    .or_default()
                    .push(HookListener {
                        id: ctx.id(),
                        once: *once,
                        then: then.clone(),
                    });
            } else {
                let w = ctx.w(s);
                let c = Rc::downgrade(ctx);
                let then = then.clone();
                let run = move || {
                    if let Some(c) = c.upgrade() {
                        run_steps(&c, &then);
                    }
                };
                let ev = match event.as_str() {
                    "drain" => Some(WritableEvent::Drain),
                    "prefinish" => Some(WritableEvent::Prefinish),
                    "finish" => Some(WritableEvent::Finish),
                    "close" => Some(WritableEvent::Close),
                    _ => None,
                };
                match (ev, *once) {
                    (Some(ev), false) => {
                        w.on(ev, run);
                    }
                    (Some(ev), true) => {
                        w.once(ev, run);
                    }
                    (None, false) if event == "error" => {
                        w.on_error(move |_| run());
                    }
                    (None, true) if event == "error" => {
                        w.once_error(move |_| run());
                    }
                    // 'pipe'/'unpipe' need a Readable to be emitted at all:
                    // such a listener never runs here.
                    _ => {}
                }
            }
            call_line(ctx, s, m, None);
        }
        Step::Tick => highwater::run_until_idle(),
        // Filtered out by `unsupported()` before the run starts.
        Step::Push { .. }
        | Step::Unshift { .. }
        | Step::Read { .. }
        | Step::ReadAll { .. }
        | Step::Pause { .. }
        | Step::Resume { .. }
        | Step::Pipe { .. }
        | Step::Unpipe { .. }
        | Step::Pipeline { .. }
        | Step::Finished { .. } => unreachable!("unsupported steps are refused before running"),
    }
}

fn trace_state(ctx: &Ctx) {
    let mut line = Map::new();
    line.insert("t".into(), json!("state"));
    for (i, st) in ctx.streams.iter().enumerate() {
        let w = ctx.w(i);
        line.insert(
            st.name.clone(),
            json!({
                "len": w.writable_length(),
                "needDrain": w.writable_need_drain(),
                "corked": w.writable_corked(),
                "ended": w.writable_ended(),
                "finished": w.writable_finished(),
                "destroyed": w.destroyed(),
            }),
        );
    }
    ctx.trace(Value::Object(line));
}

/// What of the scenario highwater cannot run yet, if anything.
fn unsupported(sc: &Scenario) -> Option<String> {
    if let Some(s) = sc.streams.iter().find(|s| s.kind != Kind::Writable) {
        return Some(format!(
            "stream {} is a {:?}: only writable streams are implemented",
            s.name, s.kind
        ));
    }
    fn walk(steps: &[Located]) -> Option<String> {
        for l in steps {
            match &l.step {
                Step::Finished { .. } | Step::Pipeline { .. } => {
                    return Some(format!(
                        "{}: finished/pipeline are not implemented yet",
                        l.at
                    ))
                }
                Step::On { then, .. } => {
                    if let Some(u) = walk(then) {
                        return Some(u);
                    }
                }
                _ => {}
            }
        }
        None
    }
    walk(&sc.steps)
}

/// Runs a parsed scenario on this thread's event loop. Run each scenario on
/// a fresh thread: the loop is per thread, and a scenario may leave work in it.
pub fn run(sc: &Scenario) -> Outcome {
    if let Some(why) = unsupported(sc) {
        return Outcome::Unsupported(why);
    }
    let ctx = Rc::new_cyclic(|weak: &Weak<Ctx>| {
        let streams = sc
            .streams
            .iter()
            .map(|spec| RStream {
                name: spec.name.clone(),
                w: RefCell::new(None),
                pending: RefCell::new(VecDeque::new()),
                last_completed: RefCell::new(None),
                pending_final: RefCell::new(None),
                hook_listeners: RefCell::new(HashMap::new()),
            })
            .collect();
        let labels = sc
            .labels
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
            .collect();
        Ctx {
            trace: RefCell::new(Vec::new()),
            stopped: RefCell::new(None),
            streams,
            labels,
            next_id: Cell::new(0),
        }
    });

    // Format (File): streams are created in order, then the traced listeners.
    for (i, spec) in sc.streams.iter().enumerate() {
        let sink = Sink {
            ctx: Rc::downgrade(&ctx),
            s: i,
            write: spec.write,
            writev: spec.writev,
            final_: spec.final_,
        };
        let opts = WritableOptions {
            high_water_mark: spec.hwm,
            object_mode: spec.object_mode,
            auto_destroy: spec.auto_destroy,
            emit_close: spec.emit_close,
        };
        let w = if spec.object_mode {
            Writable::new_object(opts, sink)
        } else {
            Writable::new(opts, sink)
        };
        *ctx.streams[i].w.borrow_mut() = Some(w);
    }
    for (i, st) in ctx.streams.iter().enumerate() {
        let w = ctx.w(i);
        for (ev, name) in [
            (WritableEvent::Drain, "drain"),
            (WritableEvent::Prefinish, "prefinish"),
            (WritableEvent::Finish, "finish"),
            (WritableEvent::Close, "close"),
        ] {
            let c = Rc::downgrade(&ctx);
            let s = st.name.clone();
            w.on(ev, move || {
                if let Some(c) = c.upgrade() {
                    c.trace(json!({"t": "event", "s": s, "name": name}));
                }
            });
        }
        let c = Rc::downgrade(&ctx);
        let s = st.name.clone();
        w.on_error(move |e| {
            if let Some(c) = c.upgrade() {
                c.trace(json!({"t": "event", "s": s, "name": "error", "err": e.code()}));
            }
        });
    }

    for l in &sc.steps {
        run_step(&ctx, l);
        if ctx.stopped() {
            break;
        }
        trace_state(&ctx);
    }
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
