//! `highwater copy SRC DST` (and `pipe`): a file, or standard input, copied
//! through highwater's file streams into a file or standard output.

use highwater::Error;

use crate::dest::plan_dest;
use crate::endpoint::{open_source, Endpoint};
use crate::engine::{describe, input_stream, transfer, CopyConfig, Input, Output, Report, Signals};
use crate::error::CliError;

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
    // Catch Ctrl-C and SIGTERM before anything is created, so that an
    // interrupted copy always gets to clean up.
    let mut signals = Signals::new()?;
    let mut dest = plan.open(&dst, &cfg)?;
    let result = async {
        let reader = input_stream(src_file, &cfg)?;
        let writer = dest.stream(&cfg)?;
        let describe = |e: &Error| describe(e, &src, &dst);
        let report = transfer(
            Input::File(reader),
            Output::File(writer),
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
