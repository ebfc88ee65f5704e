//! `--progress`: the live view of a transfer on stderr.

use crate::engine::{CopyConfig, Sample};
use crate::error::CliError;
use crate::size::human;

/// A progress display for one transfer.
#[derive(Clone)]
pub struct Progress {
    bar: indicatif::ProgressBar,
    mark: usize,
}

impl Progress {
    /// A display for a transfer of `total` bytes (if known) through a write
    /// buffer with this `mark`.
    pub fn new(total: Option<u64>, cfg: &CopyConfig) -> Progress {
        let mark = cfg.high_water_mark;
        let bar = match total {
            Some(n) => indicatif::ProgressBar::new(n),
            None => indicatif::ProgressBar::new_spinner(),
        };
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        let style = indicatif::ProgressStyle::with_template(
            "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}  {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        Progress { bar, mark }
    }

    /// Shows the state in `s`.
    pub fn update(&self, s: &Sample) {
        self.bar.set_position(s.bytes);
        self.bar.set_message(format!(
            "buffer {} / {}",
            human(s.buffered as u64),
            human(self.mark as u64)
        ));
    }

    /// The transfer is over: `outcome` says how; `bytes` were transferred
    /// in `seconds`.
    pub fn finish(&self, _outcome: &Result<(), CliError>, _bytes: u64, _seconds: f64) {
        self.bar.finish_and_clear();
    }
}
