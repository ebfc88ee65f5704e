//! `highwater-conformance FILE.json`: runs one conformance scenario against
//! highwater and prints its trace on stdout.
//!
//! Exit 0 when the scenario ran (whatever the trace says), 2 when the file is
//! malformed (message on stderr, the trace so far on stdout), and 2 as well
//! when it needs a part of the format (v1.3) that this runner does not drive
//! yet ("not supported yet: ..." on stderr, no trace).

use std::io::Write;
use std::process::ExitCode;

use highwater_conformance::{run_text, Outcome};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file] = args.as_slice() else {
        eprintln!("usage: highwater-conformance FILE.json");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("highwater-conformance: {file}: malformed: cannot read the file: {e}");
            return ExitCode::from(2);
        }
    };
    let (trace, code) = match run_text(&text) {
        Outcome::Ran(t) => (t, 0),
        Outcome::Malformed(t, why) => {
            eprintln!("highwater-conformance: {file}: malformed: {why}");
            (t, 2)
        }
        Outcome::Unsupported(why) => {
            eprintln!("highwater-conformance: {file}: {why}");
            (Vec::new(), 2)
        }
    };
    let mut out = std::io::stdout().lock();
    for line in trace {
        if writeln!(out, "{line}").is_err() {
            return ExitCode::from(1);
        }
    }
    ExitCode::from(code)
}
