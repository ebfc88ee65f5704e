//! The v1.3 parts of a run (conformance/SCENARIO-FORMAT.md, "v1.3
//! additions"), all driven: `setEncoding` (with the rendering of decoded
//! strings), the `"twice"` and `"lines"` transforms, signals (`signal` on
//! streams, `abort`, `addAbortSignal`), `pipelineAsync`, and `finished`'s
//! options with `finishedCleanup`. Hex chunks and the rest of the v1.3
//! rendering need no new API and are done in `run.rs`.
//!
//! A part added to the format before the library has its API would be
//! refused before the run by [`unsupported`] with
//! [`Outcome::Unsupported`](super::Outcome::Unsupported) ("not supported
//! yet: ...", exit 2), its scenarios listed in
//! `conformance/scenarios/pending-v13.txt`; that list also holds a scenario
//! that runs but differs from Node (with the reason beside it).

use std::rc::Rc;

use highwater::{ReadableOptions, TextChunk, TransformDone, TransformOptions, WritableOptions};
use serde_json::{json, Value};

use super::{call_line, render_chunk, render_err, render_for, run_hook_listeners, self_complete};
use super::{Ctx, Pending, TransformHook, Val};
use crate::handle::H;
use crate::scenario::{FinishedOpts, Scenario, StreamSpec};

/// `setEncoding` decodes the runner's chunks: a bytes value is its bytes, a
/// JSON string (from an object-mode side) its UTF-8 bytes, as Node's
/// byte-mode side turns a string into a Buffer. Other JSON values cannot
/// reach a byte-mode side (the format forbids them) and hold no bytes.
impl TextChunk for Val {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Val::Bytes(b) => b,
            Val::Json(Value::String(s)) => s.as_bytes(),
            Val::Json(_) => &[],
        }
    }
    /// A decoded string stays a string (a JSON string), as in Node: on
    /// a byte-mode side it counts and renders as its UTF-8 bytes, on an
    /// object-mode side it reaches by `pipe` it is a string value.
    fn from_text(text: String) -> Self {
        Val::Json(Value::String(text))
    }
}

/// Format v1.3 (Rendering): a chunk read from (or `data` on) a readable
/// side. On a side after `setEncoding` the chunk is a decoded string: the
/// string when its UTF-8 form is at most 32 bytes, else `{"bytes": N}`.
/// Otherwise the usual rule ([`render_chunk`]).
pub(super) fn render_read(h: &H, v: &Val) -> Value {
    let Some(r) = h.readable() else {
        return render_chunk(v);
    };
    if r.object_mode() {
        return render_chunk(v);
    }
    if !r.decoding() {
        // A byte-mode side holds bytes: a string that crossed from an
        // object-mode side is its UTF-8 bytes (Node's Buffer.from).
        return render_for(v, false);
    }
    let text = match v {
        Val::Bytes(b) => std::str::from_utf8(b).ok(),
        Val::Json(Value::String(s)) => Some(s.as_str()),
        Val::Json(_) => None,
    };
    match text {
        Some(t) if t.len() <= 32 => json!(t),
        Some(t) => json!({ "bytes": t.len() }),
        // Not text (cannot happen on a decoding side): the usual rule.
        None => render_chunk(v),
    }
}

/// The options of a v1.3 `"lines"` transform: Node's
/// `{ readableObjectMode: true, writableHighWaterMark, readableHighWaterMark? }`
/// (a byte-mode writable side, an object-mode readable side);
/// `highWaterMark`, when given, sets both sides; `signal` as on any stream.
pub(super) fn lines_options(ctx: &Ctx, spec: &StreamSpec) -> TransformOptions<Val, Val> {
    let mut w = WritableOptions::default();
    if let Some(h) = spec.writable_hwm {
        w = w.high_water_mark(h);
    }
    let mut r = ReadableOptions::objects();
    if let Some(h) = spec.readable_hwm {
        r = r.high_water_mark(h);
    }
    let mut o = TransformOptions::new(w, r)
        .auto_destroy(spec.auto_destroy)
        .emit_close(spec.emit_close);
    if let Some(h) = spec.hwm {
        o = o.high_water_mark(h);
    }
    if let Some(sig) = spec.signal {
        o = o.signal(ctx.signals[sig].signal());
    }
    o
}

/// The `_transform` of a v1.3 `"twice"` or `"lines"` transform: the hook
/// line and its listeners, then its pushes (while its callback is still
/// pending), then `cb()`. `"twice"` pushes the chunk twice; `"lines"` pushes
/// each complete line of the kept text. A chunk reaching `"lines"` that is
/// not whole UTF-8 characters is malformed (the run stops before the hook
/// line, as in the Node runner).
pub(super) fn transform_pushing(
    ctx: &Rc<Ctx>,
    t: &TransformHook,
    chunk: Val,
    done: TransformDone<Val>,
) {
    let st = &ctx.streams[t.s];
    // A byte-mode side holds bytes (Node's decodeStrings).
    let chunk = if t.object_mode {
        chunk
    } else {
        Val::Bytes(chunk.into_bytes())
    };
    let text = if t.mode == "lines" {
        match std::str::from_utf8(TextChunk::as_bytes(&chunk)) {
            Ok(s) => Some(s.to_string()),
            Err(_) => {
                ctx.stop(format!(
                    "streams.{}: a chunk reached the \"lines\" _transform that is not whole UTF-8 characters",
                    st.name
                ));
                return;
            }
        }
    } else {
        None
    };
    ctx.trace(
        json!({"t": "hook", "s": st.name, "name": "_transform", "chunk": render_for(&chunk, t.object_mode)}),
    );
    let id = ctx.id();
    st.pending
        .borrow_mut()
        .push_back((id, Pending::T(done.clone())));
    run_hook_listeners(ctx, t.s, "_transform");
    if ctx.stopped() {
        return;
    }
    match text {
        None => {
            done.push(chunk.clone());
            done.push(chunk);
        }
        Some(text) => {
            let mut rest = t.remainder.borrow_mut();
            rest.push_str(&text);
            let mut lines: Vec<String> = rest.split('\n').map(String::from).collect();
            *rest = lines.pop().unwrap_or_default();
            drop(rest);
            for line in lines {
                done.push(Val::Json(Value::String(line)));
            }
        }
    }
    self_complete(st, id, &done);
    done.call(Ok(None));
}

/// The `_flush` of a `"lines"` transform (its hook line already traced):
/// pushes the remainder if it is not empty, then `cb()`.
pub(super) fn flush_lines(t: &TransformHook, done: TransformDone<Val>) {
    let rest = std::mem::take(&mut *t.remainder.borrow_mut());
    if !rest.is_empty() {
        done.push(Val::Json(Value::String(rest)));
    }
    done.call(Ok(None));
}

/// The first v1.3 part of the scenario that the runner does not drive yet,
/// or `None`: every part of v1.3 is driven now, so this is `None`. A part
/// added to the format before the library has its API is refused here
/// (a stream option or a step, at any depth of `then`).
pub(super) fn unsupported(_sc: &Scenario) -> Option<String> {
    None
}

/// `setEncoding`: Node's `readable.setEncoding('utf8')`.
pub(super) fn step_set_encoding(ctx: &Rc<Ctx>, s: usize) {
    ctx.h(s).r().set_encoding();
    call_line(ctx, s, "setEncoding", None);
}

/// `abort`: Node's `ac.abort()`; the call line names the signal.
pub(super) fn step_abort(ctx: &Rc<Ctx>, signal: usize) {
    ctx.signals[signal].abort();
    let name = ctx_signal_name(ctx, signal);
    ctx.trace(json!({"t": "call", "s": name, "m": "abort"}));
}

/// The scenario's name of signal `i`.
fn ctx_signal_name(ctx: &Ctx, i: usize) -> String {
    ctx.signal_names.get(i).cloned().unwrap_or_default()
}

/// `addAbortSignal`: Node's `stream.addAbortSignal(ac.signal, s)`.
pub(super) fn step_add_abort_signal(ctx: &Rc<Ctx>, signal: usize, s: usize) {
    ctx.h(s)
        .any()
        .add_abort_signal(&ctx.signals[signal].signal());
    call_line(ctx, s, "addAbortSignal", None);
}

/// `pipelineAsync`: Node's `stream/promises` `pipeline(...streams, opts)`,
/// a `cb` line (`m: "pipelineAsync"`) when it settles. Driven as the
/// callback form with the same options (highwater's builder takes them in
/// both forms); the line is traced from the callback.
pub(super) fn step_pipeline_async(
    ctx: &Rc<Ctx>,
    streams: &[usize],
    end: Option<bool>,
    signal: Option<usize>,
    top: usize,
) {
    let first = streams[0];
    let c = Rc::downgrade(ctx);
    let name = ctx.streams[first].name.clone();
    let cb = move |r: Result<(), highwater::Error>| {
        if let Some(c) = c.upgrade() {
            c.trace(json!({"t": "cb", "s": name, "m": "pipelineAsync", "step": top, "err": render_err(&r)}));
        }
    };
    let mut p = ctx.h(first).r().pipeline();
    if let Some(e) = end {
        p = p.end(e);
    }
    if let Some(sig) = signal {
        p = p.signal(ctx.signals[sig].signal());
    }
    for &mid in &streams[1..streams.len() - 1] {
        p = ctx.h(mid).through(p);
    }
    ctx.h(streams[streams.len() - 1])
        .w()
        .pipeline_to(p, Box::new(cb));
    call_line(ctx, first, "pipelineAsync", None);
}

/// `finished` with v1.3 options: Node's `stream.finished(s, opts, cb)`,
/// keeping the cleanup function when `cleanup` is true.
pub(super) fn step_finished_with(ctx: &Rc<Ctx>, s: usize, opts: &FinishedOpts, top: usize) {
    let mut o = highwater::FinishedOptions::default();
    if let Some(r) = opts.readable {
        o = o.readable(r);
    }
    if let Some(w) = opts.writable {
        o = o.writable(w);
    }
    if let Some(e) = opts.error {
        o = o.error(e);
    }
    if let Some(sig) = opts.signal {
        o = o.signal(ctx.signals[sig].signal());
    }
    let c = Rc::downgrade(ctx);
    let name = ctx.streams[s].name.clone();
    let cb = move |r: Result<(), highwater::Error>| {
        if let Some(c) = c.upgrade() {
            c.trace(
                json!({"t": "cb", "s": name, "m": "finished", "step": top, "err": render_err(&r)}),
            );
        }
    };
    let cleanup = ctx.h(s).any().finished_with(o, Box::new(cb));
    if opts.cleanup {
        ctx.cleanups.borrow_mut().insert(s, cleanup);
    }
    call_line(ctx, s, "finished", None);
}

/// `finishedCleanup`: calls the cleanup function kept by the latest
/// `finished` with `cleanup: true` on the stream (none kept is malformed).
pub(super) fn step_finished_cleanup(ctx: &Rc<Ctx>, s: usize) {
    let kept = ctx.cleanups.borrow().get(&s).cloned();
    match kept {
        Some(c) => {
            c.run();
            call_line(ctx, s, "finishedCleanup", None);
        }
        None => ctx.stop(format!(
            "finishedCleanup: no cleanup kept for stream {}",
            ctx.streams[s].name
        )),
    }
}
