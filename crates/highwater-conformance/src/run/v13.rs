//! The v1.3 parts of a run (conformance/SCENARIO-FORMAT.md, "v1.3
//! additions") whose highwater API the runner does not drive yet.
//!
//! The parser accepts and checks all of v1.3; a scenario that needs one of
//! the parts below is refused before it runs with
//! [`Outcome::Unsupported`](super::Outcome::Unsupported) ("not supported
//! yet: ...", exit 2), and `conformance/scenarios/pending-v13.txt` lists
//! those scenarios. Hex chunks and the v1.3 rendering need no new API and
//! are done in `run.rs`; `setEncoding` (with the rendering of decoded
//! strings) and the `"twice"` and `"lines"` transforms are driven here.
//!
//! Wiring a part (once the library has it) means: drop its case from
//! [`unsupported`], fill in its `step_*` function here (each is already
//! called from `run_step`), and remove the scenarios that now pass from the
//! pending list (the conformance test fails while a listed one passes).

use std::rc::Rc;

use highwater::{ReadableOptions, TextChunk, TransformDone, TransformOptions, WritableOptions};
use serde_json::{json, Value};

use super::{call_line, render_chunk, render_for, run_hook_listeners, self_complete};
use super::{Ctx, Pending, TransformHook, Val};
use crate::handle::H;
use crate::scenario::{FinishedOpts, Located, Scenario, Step, StreamSpec};

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
/// `highWaterMark`, when given, sets both sides.
pub(super) fn lines_options(spec: &StreamSpec) -> TransformOptions<Val, Val> {
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

/// The first v1.3 part of the scenario that the runner does not drive yet
/// (a stream option or a step, at any depth of `then`), or `None`.
pub(super) fn unsupported(sc: &Scenario) -> Option<String> {
    for st in &sc.streams {
        if st.signal.is_some() {
            return Some(format!("streams.{}: \"signal\"", st.name));
        }
    }
    unsupported_step(&sc.steps)
}

fn unsupported_step(steps: &[Located]) -> Option<String> {
    for l in steps {
        let what = match &l.step {
            Step::Abort { .. } => "abort",
            Step::AddAbortSignal { .. } => "addAbortSignal",
            Step::PipelineAsync { .. } => "pipelineAsync",
            Step::FinishedCleanup { .. } => "finishedCleanup",
            Step::Finished { opts, .. } if *opts != FinishedOpts::default() => {
                "finished with options (readable, writable, error, signal, cleanup)"
            }
            Step::On { then, .. } => match unsupported_step(then) {
                Some(why) => return Some(why),
                None => continue,
            },
            _ => continue,
        };
        return Some(format!("{}: {what}", l.at));
    }
    None
}

/// Stops the run: this part is not driven yet.
fn not_yet(ctx: &Ctx, what: &str) {
    ctx.stop_unsupported(format!("not supported yet: {what}"));
}

/// `setEncoding`: Node's `readable.setEncoding('utf8')`.
pub(super) fn step_set_encoding(ctx: &Rc<Ctx>, s: usize) {
    ctx.h(s).r().set_encoding();
    call_line(ctx, s, "setEncoding", None);
}

/// `abort`: Node's `ac.abort()`; the call line names the signal.
pub(super) fn step_abort(ctx: &Rc<Ctx>, _signal: usize) {
    not_yet(ctx, "abort");
}

/// `addAbortSignal`: Node's `stream.addAbortSignal(ac.signal, s)`.
pub(super) fn step_add_abort_signal(ctx: &Rc<Ctx>, _signal: usize, _s: usize) {
    not_yet(ctx, "addAbortSignal");
}

/// `pipelineAsync`: Node's `stream/promises` `pipeline(...streams, opts)`,
/// a `cb` line (`m: "pipelineAsync"`) when it settles.
pub(super) fn step_pipeline_async(
    ctx: &Rc<Ctx>,
    _streams: &[usize],
    _end: Option<bool>,
    _signal: Option<usize>,
    _top: usize,
) {
    not_yet(ctx, "pipelineAsync");
}

/// `finished` with v1.3 options: Node's `stream.finished(s, opts, cb)`,
/// keeping the cleanup function when `cleanup` is true.
pub(super) fn step_finished_with(ctx: &Rc<Ctx>, _s: usize, _opts: &FinishedOpts, _top: usize) {
    not_yet(ctx, "finished with options");
}

/// `finishedCleanup`: calls the cleanup function kept by the latest
/// `finished` with `cleanup: true` on the stream (none kept is malformed).
pub(super) fn step_finished_cleanup(ctx: &Rc<Ctx>, _s: usize) {
    not_yet(ctx, "finishedCleanup");
}
