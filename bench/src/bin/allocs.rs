//! Allocations per operation in steady state for every highwater case of
//! `bench/src/cases.rs`, counted by dhat's global allocator: each case runs
//! once to warm up, then with `n` and with `2n` operations, and the line
//! `allocs_per_op_CASE X 0 0` gives X = (blocks(2n) - blocks(n)) / n, so
//! the setup of the streams (and of a runtime) cancels out and what stays
//! is the cost of one more operation on a warmed-up stream. The `0 0`
//! columns keep the `CASE RATE MIN MAX` shape of `mem`'s lines.
//!
//! ```sh
//! cargo run --release -p highwater-bench --bin allocs
//! ```

use highwater_bench::cases::CASES;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn blocks(run: fn(u64), n: u64) -> u64 {
    let before = dhat::HeapStats::get().total_blocks;
    run(n);
    dhat::HeapStats::get().total_blocks - before
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    for case in CASES.iter().filter(|c| c.highwater) {
        let n = (case.ops / 50).max(1000);
        blocks(case.run, n / 10);
        let one = blocks(case.run, n);
        let two = blocks(case.run, 2 * n);
        let per = (two as f64 - one as f64) / n as f64;
        println!("allocs_per_op_{} {per:.3} 0 0", case.name);
    }
}
