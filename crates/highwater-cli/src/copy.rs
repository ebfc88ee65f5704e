//! `highwater copy SRC DST` (and `pipe`): a file, or standard input, copied
//! through highwater's file streams into a file or standard output.

use highwater::Error;

use crate::dest::{plan_dest, DestPlan};
use crate::endpoint::{open_source, Endpoint};
use crate::engine::{describe, input_stream, transfer, CopyConfig, Signals};
use crate::error::CliError;
use crate::report::Report;

/// Copies `src` to `dst` with bounded buffers and reports what backpressure did.
///
/// # Errors
///
/// A one-line description of what failed; with `atomic`, the destination is
/// then untouched (and one that is not a regular file is refused before
/// anything is created, see [`crate::dest`]).
pub async fn copy(src: Endpoint, dst: Endpoint, cfg: CopyConfig) -> Result<Report, CliError> {
    let (src_file, size) = open_source(&src, &dst)?;
    let plan = plan_dest(&dst, cfg.atomic)?;
    // With --atomic, catch Ctrl-C and SIGTERM before the temporary file is
    // created, so that an interrupted copy always removes it. Otherwise
    // there is nothing to clean up before the copy starts, and the default
    // action must stay in force while the destination opens: opening a FIFO
    // that no reader has opened blocks, and a caught signal would wait.
    let (mut signals, mut dest) = if matches!(plan, DestPlan::Replace { .. }) {
        let signals = Signals::new()?;
        (signals, plan.open(&dst, &cfg)?)
    } else {
        let dest = plan.open(&dst, &cfg)?;
        (Signals::new()?, dest)
    };
    let result = async {
        let reader = input_stream(src_file, &cfg)?;
        let writer = dest.stream(&cfg)?;
        let describe = |e: &Error| describe(e, &src, &dst);
        let report = transfer(
            reader,
            writer,
            size,
            &cfg,
            format!(
                "{} to {}",
                src.show("standard input"),
                dst.show("standard output")
            ),
            &mut signals,
            &describe,
        )
        .await?;
        dest.commit(&dst)?;
        Ok(report)
    }
    .await;
    if result.is_err() {
        dest.discard();
    }
    result
}
