//! The v1.3 parts of a run (conformance/SCENARIO-FORMAT.md, "v1.3
//! additions") whose highwater API the runner does not drive yet.
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

use super::Ctx;
use crate::scenario::{FinishedOpts, Located, Scenario, Step};

/// The first v1.3 part of the scenario that the runner does not drive yet
/// (a stream option or a step, at any depth of `then`), or `None`.
pub(super) fn unsupported(sc: &Scenario) -> Option<String> {
    for st in &sc.streams {
        if st.signal.is_some() {
            return Some(format!("streams.{}: \"signal\"", st.name));
        }
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
pub(super) fn step_set_encoding(ctx: &Rc<Ctx>, _s: usize) {
    not_yet(ctx, "setEncoding");
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
