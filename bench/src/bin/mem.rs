//! In-memory throughput of highwater's streams against Node's
//! (`bench/node/mem.mjs`, the same case names) and Rust peers: one line per
//! case, `CASE RATE MIN MAX` (operations per second: the median, min and max
//! of 5 runs). The cases are described in `bench/src/cases.rs`.
//!
//! This binary uses the system allocator; allocations per operation are
//! counted by `bench/src/bin/allocs.rs` (dhat's allocator takes a global lock
//! on every allocation, which would slow the cases that allocate).
//!
//! ```sh
//! cargo run --release -p highwater-bench --bin mem            # every case
//! target/release/mem --median CASE...  # those cases' lines only
//! target/release/mem --list            # the case names
//! target/release/mem CASE [N]   # one run of CASE (N operations), for profilers
//! target/release/mem scale      # writes/s from 10^5 to 10^8 writes on one stream
//! ```

use bytes::Bytes;
use highwater::prelude::*;
use highwater::{Writable, WritableOptions};
use highwater_bench::cases::{find, Case, CASES};
use highwater_bench::median_rate;

/// Per-write cost as the number of writes grows: one stream, 10^5 to 10^8
/// writes, each line `writes rate`.
fn scale() {
    let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    let chunk = Bytes::from_static(&[b'x'; 64]);
    let mut done = 0u64;
    for n in [100_000u64, 1_000_000, 10_000_000, 100_000_000] {
        let t = std::time::Instant::now();
        for _ in done..n {
            let _ = w.write(chunk.clone());
        }
        highwater::run_until_idle();
        let rate = (n - done) as f64 / t.elapsed().as_secs_f64();
        println!("{n} {rate:.0}");
        done = n;
    }
}

fn report(case: &Case) {
    let (m, lo, hi) = median_rate(5, case.ops, || (case.run)(case.ops));
    println!("{} {m:.0} {lo:.0} {hi:.0}", case.name);
}

fn case_or_exit(name: &str) -> &'static Case {
    find(name).unwrap_or_else(|| {
        eprintln!("mem: unknown case {name}");
        std::process::exit(2);
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(first) = args.next() else {
        CASES.iter().for_each(report);
        return;
    };
    match first.as_str() {
        "scale" => scale(),
        "--list" => CASES.iter().for_each(|c| println!("{}", c.name)),
        "--median" => args.for_each(|name| report(case_or_exit(&name))),
        name => {
            let case = case_or_exit(name);
            let n = match args.next().map(|s| s.parse::<u64>()) {
                None => case.ops,
                Some(Ok(n)) => n,
                Some(Err(e)) => {
                    eprintln!("mem: bad count: {e}");
                    std::process::exit(2);
                }
            };
            (case.run)(n);
        }
    }
}
