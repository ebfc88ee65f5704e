//! The parsed form of format v1.3 (conformance/SCENARIO-FORMAT.md, "v1.3
//! additions"): what the runner will execute once the library APIs are
//! wired in. The scenario files only show that the parser accepts them; these
//! tests pin down what it makes of them.

use highwater_conformance::scenario::{parse, ChunkSpec, FinishedOpts, Step};
use highwater_conformance::{run_text, Outcome};
use serde_json::json;

fn step(text: &str, i: usize) -> Step {
    let sc = parse(text).unwrap_or_else(|e| panic!("valid scenario refused: {e:?}"));
    sc.steps[i].step.clone()
}

#[test]
fn hex_chunks_are_their_bytes_in_either_case() {
    let text = json!({
        "streams": { "w": { "kind": "writable", "highWaterMark": 4 } },
        "steps": [
            { "do": "write", "stream": "w", "chunk": { "hex": "e282AC" } },
            { "do": "write", "stream": "w", "chunk": { "hex": "" } }
        ]
    })
    .to_string();
    match step(&text, 0) {
        Step::Write { chunk, .. } => assert_eq!(chunk, ChunkSpec::Bytes(vec![0xe2, 0x82, 0xac])),
        other => panic!("{other:?}"),
    }
    match step(&text, 1) {
        Step::Write { chunk, .. } => assert_eq!(chunk, ChunkSpec::Bytes(Vec::new())),
        other => panic!("{other:?}"),
    }
}

#[test]
fn signals_are_indices_and_may_be_named_t() {
    let text = json!({
        "signals": ["t", "ac"],
        "streams": { "w": { "kind": "writable", "highWaterMark": 4, "signal": "ac" } },
        "steps": [
            { "do": "abort", "signal": "t" },
            { "do": "addAbortSignal", "signal": "ac", "stream": "w" }
        ]
    })
    .to_string();
    let sc = parse(&text).expect("valid");
    assert_eq!(sc.signals, vec!["t".to_string(), "ac".to_string()]);
    assert_eq!(sc.streams[0].signal, Some(1));
    assert!(matches!(sc.steps[0].step, Step::Abort { signal: 0 }));
    assert!(matches!(
        sc.steps[1].step,
        Step::AddAbortSignal { signal: 1, s: 0 }
    ));
}

#[test]
fn finished_options_and_cleanup() {
    let text = json!({
        "signals": ["ac"],
        "streams": { "w": { "kind": "writable", "highWaterMark": 4 } },
        "steps": [
            { "do": "finished", "stream": "w" },
            { "do": "finished", "stream": "w", "cleanup": true },
            { "do": "finished", "stream": "w", "error": false, "readable": true, "signal": "ac" },
            { "do": "finishedCleanup", "stream": "w" }
        ]
    })
    .to_string();
    let opts = |i| match step(&text, i) {
        Step::Finished { opts, .. } => opts,
        other => panic!("{other:?}"),
    };
    assert_eq!(opts(0), FinishedOpts::default());
    // cleanup alone: still finished(s, cb), without an options object.
    assert!(opts(1).cleanup && !opts(1).has_options());
    let o = opts(2);
    assert!(o.has_options() && !o.cleanup);
    assert_eq!(
        (o.readable, o.writable, o.error, o.signal),
        (Some(true), None, Some(false), Some(0))
    );
    assert!(matches!(step(&text, 3), Step::FinishedCleanup { s: 0 }));
}

#[test]
fn lines_is_bytes_in_objects_out() {
    let text = json!({
        "streams": { "x": { "kind": "transform", "transform": "lines", "writableHighWaterMark": 8 } },
        "steps": [
            { "do": "write", "stream": "x", "chunk": "a\n" },
            { "do": "push", "stream": "x", "chunk": { "k": 1 } }
        ]
    })
    .to_string();
    let sc = parse(&text).expect("valid");
    let x = &sc.streams[0];
    assert!(!x.object_mode && x.readable_object_mode);
    assert!(
        matches!(&sc.steps[0].step, Step::Write { chunk: ChunkSpec::Bytes(b), .. } if b == b"a\n")
    );
    assert!(
        matches!(&sc.steps[1].step, Step::Push { chunk: ChunkSpec::Json(v), .. } if *v == json!({ "k": 1 }))
    );
}

#[test]
fn pipeline_async_keeps_end_and_signal() {
    let text = json!({
        "signals": ["ac"],
        "streams": {
            "r": { "kind": "readable", "highWaterMark": 4 },
            "x": { "kind": "passthrough", "highWaterMark": 4 },
            "w": { "kind": "writable", "highWaterMark": 4 }
        },
        "steps": [ { "do": "pipelineAsync", "streams": ["r", "x", "w"], "end": false, "signal": "ac" } ]
    })
    .to_string();
    match step(&text, 0) {
        Step::PipelineAsync {
            streams,
            end,
            signal,
        } => assert_eq!(
            (streams, end, signal),
            (vec![0, 1, 2], Some(false), Some(0))
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_v13_step_in_a_then_runs() {
    // Every v1.3 part is driven: an `abort` inside a `data` listener runs
    // there, its call line naming the signal, and destroys the stream that
    // was given the signal.
    let text = json!({
        "signals": ["ac"],
        "streams": { "r": { "kind": "readable", "highWaterMark": 4, "signal": "ac" } },
        "steps": [
            { "do": "push", "stream": "r", "chunk": "a" },
            { "do": "on", "stream": "r", "event": "data", "then": [ { "do": "abort", "signal": "ac" } ] },
            { "do": "tick" }
        ]
    })
    .to_string();
    let Outcome::Ran(trace) = run_text(&text) else {
        panic!("ran")
    };
    assert!(trace.contains(&json!({"t": "call", "s": "ac", "m": "abort"})));
    assert!(trace.contains(&json!({"t": "event", "s": "r", "name": "error", "err": "ABORT_ERR"})));
}

#[test]
fn non_ascii_bytes_render_as_hex_and_ascii_as_text() {
    let text = json!({
        "streams": { "w": { "kind": "writable", "highWaterMark": 8, "write": "sync" } },
        "steps": [
            { "do": "write", "stream": "w", "chunk": { "hex": "41e282ac" } },
            { "do": "write", "stream": "w", "chunk": { "hex": "4142" } }
        ]
    })
    .to_string();
    let Outcome::Ran(trace) = run_text(&text) else {
        panic!("ran")
    };
    let hooks: Vec<_> = trace
        .iter()
        .filter(|l| l["t"] == "hook")
        .map(|l| l["chunk"].clone())
        .collect();
    assert_eq!(hooks, vec![json!({ "hex": "41e282ac" }), json!("AB")]);
}
