//! The conformance suite: every scenario of `conformance/scenarios/` run
//! through highwater must print the trace committed beside it, and (where
//! `node` is installed) the Node runner must still print that same trace.
//!
//! Set `HIGHWATER_REQUIRE_NODE=1` to make a missing `node` an error instead
//! of a skipped check (CI does).
//!
//! `conformance/scenarios/pending-v13.txt` lists the v1.3 scenarios the Rust
//! runner refuses as "not supported yet" (their highwater API is not wired
//! in yet): they are reported and skipped, and a listed one that passes is
//! a failure (so the list shrinks as the wiring lands).
//! `conformance/malformed/pending-v13.txt` does the same for malformed
//! cases only found while running such a part.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use highwater_conformance::{run_text, Outcome};
use serde_json::Value;

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance")
}

fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(conformance_dir().join(dir))
        .unwrap_or_else(|e| panic!("cannot read conformance/{dir}: {e}"))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.to_string_lossy().ends_with(ext))
        .collect();
    v.sort();
    v
}

/// The names listed in `conformance/DIR/pending-v13.txt` (one a line, `#`
/// comments), each checked to name a file of that folder.
fn pending(dir: &str) -> Vec<String> {
    let path = conformance_dir().join(dir).join("pending-v13.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read conformance/{dir}/pending-v13.txt: {e}"));
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    for n in &names {
        assert!(
            conformance_dir()
                .join(dir)
                .join(format!("{n}.json"))
                .exists(),
            "conformance/{dir}/pending-v13.txt lists {n}, which has no {n}.json"
        );
    }
    names
}

fn stem(p: &Path) -> String {
    name(p).trim_end_matches(".json").to_string()
}

fn trace_path(scenario: &Path) -> PathBuf {
    let s = scenario.to_string_lossy();
    PathBuf::from(format!("{}.trace.jsonl", s.trim_end_matches(".json")))
}

fn parse_lines(text: &str, what: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{what}: bad JSON line {l:?}: {e}"))
        })
        .collect()
}

/// `None` when equal; else both traces from the first differing line.
fn diff(expected: &[Value], actual: &[Value]) -> Option<String> {
    let first =
        (0..expected.len().max(actual.len())).find(|&i| expected.get(i) != actual.get(i))?;
    let show = |t: &[Value]| {
        t.iter()
            .skip(first)
            .take(12)
            .map(|v| format!("    {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    Some(format!(
        "traces differ at line {} (of {} expected, {} actual)\n  expected (Node):\n{}\n  actual:\n{}",
        first + 1,
        expected.len(),
        actual.len(),
        show(expected),
        show(actual)
    ))
}

fn name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Runs a scenario on a fresh thread (the event loop is per thread).
fn run_isolated(text: String) -> Outcome {
    std::thread::spawn(move || run_text(&text))
        .join()
        .unwrap_or_else(|_| Outcome::Malformed(Vec::new(), "the runner panicked".into()))
}

#[test]
fn every_scenario_matches_its_node_trace() {
    let scenarios = files("scenarios", ".json");
    assert!(
        scenarios.len() >= 50,
        "expected the scenario suite, found {}",
        scenarios.len()
    );
    let pending = pending("scenarios");
    let mut failures = Vec::new();
    let mut passed = 0;
    let mut skipped = Vec::new();
    for sc in &scenarios {
        let text = std::fs::read_to_string(sc).expect("scenario readable");
        let expected_text = std::fs::read_to_string(trace_path(sc))
            .unwrap_or_else(|_| panic!("{}: no committed trace beside it", name(sc)));
        let expected = parse_lines(&expected_text, &name(sc));
        let outcome = run_isolated(text.clone());
        if pending.contains(&stem(sc)) {
            match outcome {
                Outcome::Ran(actual) if diff(&expected, &actual).is_none() => failures.push(format!(
                    "{}: listed in pending-v13.txt but now equal to Node's trace: remove it from the list",
                    name(sc)
                )),
                Outcome::Malformed(_, why) => {
                    failures.push(format!("{}: refused as malformed: {why}", name(sc)))
                }
                Outcome::Ran(_) => skipped.push(format!("{} (runs, differs)", stem(sc))),
                Outcome::Unsupported(why) => skipped.push(format!("{} ({why})", stem(sc))),
            }
            continue;
        }
        match outcome {
            Outcome::Ran(actual) => match diff(&expected, &actual) {
                None => passed += 1,
                Some(d) => failures.push(format!("{}: {d}", name(sc))),
            },
            Outcome::Malformed(_, why) => {
                failures.push(format!("{}: refused as malformed: {why}", name(sc)))
            }
            Outcome::Unsupported(why) => {
                failures.push(format!("{}: refused as unsupported: {why}", name(sc)));
            }
        }
    }
    eprintln!("conformance: {passed} scenarios equal to Node's traces");
    eprintln!(
        "conformance: {} pending v1.3 scenarios skipped (conformance/scenarios/pending-v13.txt):\n  {}",
        skipped.len(),
        skipped.join("\n  ")
    );
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n\n{}",
        failures.len(),
        scenarios.len(),
        failures.join("\n\n")
    );
    assert_eq!(
        passed + skipped.len(),
        scenarios.len(),
        "every scenario must run or be pending"
    );
}

#[test]
fn every_trace_has_its_scenario() {
    for t in files("scenarios", ".trace.jsonl") {
        let s = t.to_string_lossy().replace(".trace.jsonl", ".json");
        assert!(
            Path::new(&s).exists(),
            "{}: a trace without a scenario",
            name(&t)
        );
    }
}

#[test]
fn malformed_scenarios_are_refused() {
    let bad = files("malformed", ".json");
    assert!(
        bad.len() >= 10,
        "expected malformed examples, found {}",
        bad.len()
    );
    let pending = pending("malformed");
    for f in bad {
        let text = std::fs::read_to_string(&f).expect("readable");
        let listed = pending.contains(&stem(&f));
        match run_isolated(text) {
            Outcome::Malformed(..) if listed => panic!(
                "{}: listed in malformed/pending-v13.txt but now refused as malformed: remove it from the list",
                name(&f)
            ),
            Outcome::Malformed(..) => {}
            Outcome::Unsupported(why) if listed => {
                eprintln!("pending: {} ({why})", name(&f));
            }
            other => panic!("{}: expected malformed, got {other:?}", name(&f)),
        }
    }
}

fn node_available() -> bool {
    let ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && std::env::var_os("HIGHWATER_REQUIRE_NODE").is_some() {
        panic!("HIGHWATER_REQUIRE_NODE is set but `node` cannot be run");
    }
    ok
}

/// Runs `f` over `items` on a few threads (each Node run is its own process).
fn parallel<T: Sync>(items: &[T], f: impl Fn(&T) -> Option<String> + Sync) -> Vec<String> {
    let next = AtomicUsize::new(0);
    let out = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                if let Some(msg) = f(item) {
                    out.lock().unwrap_or_else(|e| e.into_inner()).push(msg);
                }
            });
        }
    });
    out.into_inner().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn committed_traces_are_still_what_node_prints() {
    if !node_available() {
        eprintln!("SKIPPED: `node` is not installed; the committed traces were not re-checked against Node");
        return;
    }
    let runner = conformance_dir().join("node/runner.mjs");
    let scenarios = files("scenarios", ".json");
    let failures = parallel(&scenarios, |sc| {
        let out = Command::new("node")
            .arg(&runner)
            .arg(sc)
            .output()
            .expect("node runs");
        if !out.status.success() {
            return Some(format!(
                "{}: node runner exited {}: {}",
                name(sc),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let expected = parse_lines(
            &std::fs::read_to_string(trace_path(sc)).expect("trace"),
            &name(sc),
        );
        let actual = parse_lines(&String::from_utf8_lossy(&out.stdout), "node");
        diff(&expected, &actual).map(|d| format!("{} (committed vs Node now): {d}", name(sc)))
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn node_runner_refuses_malformed_scenarios() {
    if !node_available() {
        eprintln!("SKIPPED: `node` is not installed");
        return;
    }
    let runner = conformance_dir().join("node/runner.mjs");
    let bad = files("malformed", ".json");
    let failures = parallel(&bad, |f| {
        let out = Command::new("node")
            .arg(&runner)
            .arg(f)
            .output()
            .expect("node runs");
        (out.status.code() != Some(2)).then(|| {
            format!(
                "{}: node runner exited {:?}, expected 2",
                name(f),
                out.status.code()
            )
        })
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_binary_prints_the_trace_and_exit_codes() {
    let bin = env!("CARGO_BIN_EXE_highwater-conformance");
    let sc = conformance_dir().join("scenarios/writable-drain-cycle.json");
    let out = Command::new(bin).arg(&sc).output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let expected = std::fs::read_to_string(trace_path(&sc)).expect("trace");
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);

    let bad = conformance_dir().join("malformed/unknown-step.json");
    let out = Command::new(bin).arg(&bad).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed"));

    let out = Command::new(bin)
        .arg("no-such-file.json")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));

    // A v1.3 part not driven yet: exit 2, "not supported yet", no trace.
    // (The pending list may also hold scenarios that run and differ; when
    // every part is driven there is none to check.)
    let refused = pending("scenarios").into_iter().find(|n| {
        let path = conformance_dir().join(format!("scenarios/{n}.json"));
        let text = std::fs::read_to_string(path).expect("scenario readable");
        matches!(run_isolated(text), Outcome::Unsupported(_))
    });
    if let Some(first) = refused {
        let sc = conformance_dir().join(format!("scenarios/{first}.json"));
        let out = Command::new(bin).arg(&sc).output().expect("runs");
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("not supported yet: "));
        assert!(out.stdout.is_empty());
    }
}

/// `conformance/divergences/`: where highwater differs from Node on purpose.
#[test]
fn deliberate_divergences_hold_both_ways() {
    let scenarios = files("divergences", ".json");
    assert!(
        !scenarios.is_empty(),
        "the divergences folder lists at least one scenario"
    );
    let node = node_available();
    let runner = conformance_dir().join("node/runner.mjs");
    for sc in scenarios {
        let ours_path = PathBuf::from(sc.to_string_lossy().replace(".json", ".highwater.jsonl"));
        let ours = parse_lines(
            &std::fs::read_to_string(&ours_path).expect("highwater trace"),
            &name(&sc),
        );
        let nodes = parse_lines(
            &std::fs::read_to_string(trace_path(&sc)).expect("Node trace"),
            &name(&sc),
        );
        assert!(
            diff(&nodes, &ours).is_some(),
            "{}: the traces are equal: not a divergence any more",
            name(&sc)
        );
        match run_isolated(std::fs::read_to_string(&sc).expect("scenario")) {
            Outcome::Ran(actual) => {
                if let Some(d) = diff(&ours, &actual) {
                    panic!(
                        "{}: highwater no longer prints its committed trace: {d}",
                        name(&sc)
                    );
                }
            }
            other => panic!("{}: {other:?}", name(&sc)),
        }
        if node {
            let out = Command::new("node")
                .arg(&runner)
                .arg(&sc)
                .output()
                .expect("node runs");
            let actual = parse_lines(&String::from_utf8_lossy(&out.stdout), "node");
            if let Some(d) = diff(&nodes, &actual) {
                panic!("{}: Node changed; review the divergence: {d}", name(&sc));
            }
        }
    }
}
