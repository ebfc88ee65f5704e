//! The v1.3 parts of a run (conformance/SCENARIO-FORMAT.md, "v1.3
//! additions"): the signal and `finished` parts (driven), and those whose
//! highwater API the runner does not drive yet.
//!
//! The parser accepts and checks all of v1.3; a scenario that needs one of
//! the parts below is refused before it runs with
//! [`Outcome::Unsupported`](super::Outcome::Unsupported) ("not supported
//! yet: ...", exit 2), and `conformance/scenarios/pending-v13.txt` lists
//! those scenarios. Hex chunks and the v1.3 rendering need no new API and
//! are done in `run.rs`.
//!
//! Wiring a part (once the library has it) means: drop its case from
//! [`unsupported`], fill in its `step_*` function here (each is already
//! called from `run_step`), and remove the scenarios that now pass from the
//! pending list (the conformance test fails while a listed one passes).

use std::rc::Rc;

use serde_json::json;

use super::{call_line, render_err, Ctx};
use crate::scenario::{FinishedOpts, Located, Scenario, Step};

/// The first v1.3 part of the scenario that the runner does not drive yet
/// (a stream option or a step, at any depth of `then`), or `None`.
pub(super) fn unsupported(sc: &Scenario) -> Option<String> {
    for st in &sc.streams {
        if matches!(st.transform.as_str(), "twice" | "lines") {
            return Some(format!(
                "streams.{}: \"transform\": {:?}",
                st.name, st.transform
            ));
        }
    }
    unsupported_step(&sc.steps)
}

fn unsupported_step(steps: &[Located]) -> Option<String> {
    for l in steps {
        let what = match &l.step {
            Step::SetEncoding { .. } => "setEncoding",
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
pub(super) fn step_set_encoding(ctx: &Rc<Ctx>, _s: usize) {
    not_yet(ctx, "setEncoding");
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
