//! Shared helpers of highwater's benchmark programs (see `bench/run.sh`).

use std::time::Instant;

pub mod cases;

/// Runs `f` `runs` times and returns the median of its rates (per second)
/// for `ops` operations each, and the spread (min, max).
pub fn median_rate(runs: usize, ops: u64, mut f: impl FnMut()) -> (f64, f64, f64) {
    let mut rates: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            ops as f64 / t.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    (rates[rates.len() / 2], rates[0], rates[rates.len() - 1])
}
