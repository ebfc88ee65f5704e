//! Fuzz target `scenario_steps`: random but valid scenarios (see `src/lib.rs`)
//! run through the conformance runner's library API. Fails on a panic
//! anywhere in highwater or the runner, on a hang (libFuzzer's `-timeout`),
//! and when the trace is not what a run must produce (see `check_outcome`).
//!
//! `HW_FUZZ_PRINT=1` prints each input's scenario JSON on stderr before it
//! runs: run the target on one artifact to get the scenario of a crash.
#![no_main]

use highwater_fuzz::{check_outcome, run_on_thread, scenario, Input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: Input| {
    let Some(sc) = scenario(&input) else {
        return;
    };
    let text = serde_json::to_string_pretty(&sc).expect("JSON");
    if std::env::var_os("HW_FUZZ_PRINT").is_some() {
        eprintln!("{text}");
    }
    // The generator must make scenarios the parser accepts.
    if let Err(e) = highwater_conformance::scenario::parse(&text) {
        panic!("generated scenario rejected: {}\n{text}", e.0);
    }
    let top_steps = sc["steps"].as_array().map_or(0, Vec::len);
    let outcome = run_on_thread(text);
    check_outcome(&outcome, top_steps);
});
