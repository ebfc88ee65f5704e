//! Parsing and static validation of a scenario file (conformance/SCENARIO-FORMAT.md).
//!
//! Mirrors the checks of the Node runner (`conformance/node/runner.mjs`), so
//! both runners reject the same files with exit 2. Everything here runs
//! before any stream is created.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use serde_json::{Map, Value};

/// A malformed scenario: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

type R<T> = Result<T, Malformed>;

fn bad<T>(where_: &str, why: impl std::fmt::Display) -> R<T> {
    if where_.is_empty() {
        Err(Malformed(why.to_string()))
    } else {
        Err(Malformed(format!("{where_}: {why}")))
    }
}

/// The kinds of stream a scenario can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `writable`
    Writable,
    /// `readable`
    Readable,
    /// `transform`
    Transform,
    /// `passthrough`
    PassThrough,
}

/// Whether a hook calls back by itself or waits for a `complete` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The callback is called before the hook returns.
    Sync,
    /// The callback waits for `complete` / `completeFinal`.
    Manual,
}

/// One declared stream.
#[derive(Debug, Clone)]
pub struct StreamSpec {
    /// Its name in the scenario.
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// `highWaterMark`, if given.
    pub hwm: Option<usize>,
    /// `objectMode`.
    pub object_mode: bool,
    /// `autoDestroy` (default true).
    pub auto_destroy: bool,
    /// `emitClose` (default true).
    pub emit_close: bool,
    /// `write` of a writable.
    pub write: Mode,
    /// `writev` of a writable.
    pub writev: bool,
    /// `final` of a writable: `None` for "none".
    pub final_: Option<Mode>,
    /// The hooks this stream traces (`_write`, `_writev`, `_final`, …).
    pub hooks: HashSet<&'static str>,
    /// `read` of a readable.
    pub read: Mode,
    /// `source` of a readable with `read: "sync"`.
    pub source: Vec<ChunkSpec>,
    /// `transform` of a transform: "identity", "upper" or "manual".
    pub transform: String,
    /// `flush` of a transform, if given.
    pub flush: Option<ChunkSpec>,
    /// `readableHighWaterMark` of a transform.
    pub readable_hwm: Option<usize>,
    /// `writableHighWaterMark` of a transform.
    pub writable_hwm: Option<usize>,
}

impl StreamSpec {
    /// Has a writable side.
    pub fn has_w(&self) -> bool {
        self.kind != Kind::Readable
    }
    /// Has a readable side.
    pub fn has_r(&self) -> bool {
        self.kind != Kind::Writable
    }
    fn duplex(&self) -> bool {
        matches!(self.kind, Kind::Transform | Kind::PassThrough)
    }
}

/// A chunk as the scenario gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkSpec {
    /// `null`.
    Null,
    /// A byte-mode string, as bytes.
    Bytes(Vec<u8>),
    /// An object-mode JSON value.
    Json(Value),
}

/// `cb: true` or `cb: "label"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CbSpec {
    /// A new callback for this step.
    Fresh,
    /// The labelled shared callback.
    Label(String),
}

/// One step, resolved: stream names are indices into [`Scenario::streams`].
/// Variants and fields are the format's step table (`s` is `stream`).
#[allow(missing_docs)]
#[derive(Debug, Clone)]
pub enum Step {
    Write {
        s: usize,
        chunk: ChunkSpec,
        cb: Option<CbSpec>,
    },
    End {
        s: usize,
        chunk: Option<ChunkSpec>,
        cb: Option<CbSpec>,
    },
    Cork {
        s: usize,
    },
    Uncork {
        s: usize,
    },
    Destroy {
        s: usize,
        error: Option<String>,
    },
    Complete {
        s: usize,
        error: Option<String>,
        value: Option<ChunkSpec>,
        again: bool,
    },
    CompleteFinal {
        s: usize,
        error: Option<String>,
    },
    Push {
        s: usize,
        chunk: ChunkSpec,
    },
    Unshift {
        s: usize,
        chunk: ChunkSpec,
    },
    Read {
        s: usize,
        n: Option<usize>,
    },
    ReadAll {
        s: usize,
    },
    Pause {
        s: usize,
    },
    Resume {
        s: usize,
    },
    Pipe {
        from: usize,
        to: usize,
        end: Option<bool>,
    },
    Unpipe {
        from: usize,
        to: Option<usize>,
    },
    Pipeline {
        streams: Vec<usize>,
    },
    Finished {
        s: usize,
    },
    On {
        s: usize,
        event: String,
        once: bool,
        then: Rc<Vec<Located>>,
    },
    Tick,
}

/// A step with its place: the top-level index it belongs to and its path.
#[derive(Debug, Clone)]
pub struct Located {
    /// The step.
    pub step: Step,
    /// Index of the top-level step (itself, or the one whose `then` holds it).
    pub top: usize,
    /// Its path in the file, for messages (`steps[3].then[0]`).
    pub at: String,
}

/// The first use of a callback label.
#[derive(Debug, Clone)]
pub struct Label {
    /// Stream index.
    pub s: usize,
    /// The `do` of its steps.
    pub m: &'static str,
    /// The top-level step of its first use in file order.
    pub step: usize,
}

/// A parsed, checked scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Streams in creation order.
    pub streams: Vec<StreamSpec>,
    /// The top-level steps.
    pub steps: Vec<Located>,
    /// Callback labels.
    pub labels: HashMap<String, Label>,
}

const COMMON: &[&str] = &[
    "kind",
    "highWaterMark",
    "objectMode",
    "autoDestroy",
    "emitClose",
];
const WRITABLE_EVENTS: &[&str] = &[
    "drain",
    "prefinish",
    "finish",
    "close",
    "error",
    "pipe",
    "unpipe",
];
const READABLE_EVENTS: &[&str] = &[
    "end", "close", "error", "pause", "resume", "data", "readable",
];
const HOOKS: &[&str] = &["_write", "_writev", "_final", "_read", "_transform"];

fn check_keys(o: &Map<String, Value>, allowed: &[&str], at: &str) -> R<()> {
    for k in o.keys() {
        if !allowed.contains(&k.as_str()) {
            return bad(at, format!("unknown key {k:?}"));
        }
    }
    Ok(())
}

fn natural(v: &Value) -> Option<usize> {
    v.as_u64().and_then(|n| usize::try_from(n).ok())
}

fn check_chunk(spec: &StreamSpec, v: &Value, at: &str, null_ok: bool) -> R<ChunkSpec> {
    if v.is_null() {
        return if null_ok {
            Ok(ChunkSpec::Null)
        } else {
            bad(at, "null is not a chunk here")
        };
    }
    if spec.object_mode {
        return Ok(ChunkSpec::Json(v.clone()));
    }
    match v {
        Value::String(s) if s.is_ascii() => Ok(ChunkSpec::Bytes(s.as_bytes().to_vec())),
        Value::String(s) => bad(at, format!("byte-mode chunk {s:?} is not ASCII")),
        Value::Object(o) => {
            check_keys(o, &["size"], at)?;
            match o.get("size").and_then(natural) {
                Some(n) if n <= MAX_SIZE => Ok(ChunkSpec::Bytes(vec![b'x'; n])),
                Some(_) => bad(at, format!("{{\"size\": N}} needs N <= {MAX_SIZE}")),
                None => bad(at, "{\"size\": N} needs an integer N >= 0"),
            }
        }
        other => bad(
            at,
            format!("byte-mode chunk must be a string or {{\"size\": N}}, got {other}"),
        ),
    }
}

/// The largest `{"size": N}` chunk (16 MiB): scenarios test behaviour, not
/// volume, and an unbounded N would let a scenario exhaust memory.
const MAX_SIZE: usize = 16 * 1024 * 1024;

fn parse_stream(name: &str, v: &Value) -> R<StreamSpec> {
    let at = format!("streams.{name}");
    if name == "t" {
        return bad(&at, "a stream may not be named \"t\"");
    }
    let Some(o) = v.as_object() else {
        return bad(&at, "a stream must be an object");
    };
    let kind = match o.get("kind").and_then(Value::as_str) {
        Some("writable") => Kind::Writable,
        Some("readable") => Kind::Readable,
        Some("transform") => Kind::Transform,
        Some("passthrough") => Kind::PassThrough,
        other => return bad(&at, format!("unknown kind {other:?}")),
    };
    let extra: &[&str] = match kind {
        Kind::Writable => &["write", "writev", "final"],
        Kind::Readable => &["read", "source"],
        Kind::Transform => &[
            "transform",
            "flush",
            "readableHighWaterMark",
            "writableHighWaterMark",
        ],
        Kind::PassThrough => &[],
    };
    let allowed: Vec<&str> = COMMON.iter().chain(extra).copied().collect();
    check_keys(o, &allowed, &at)?;
    for k in [
        "highWaterMark",
        "readableHighWaterMark",
        "writableHighWaterMark",
    ] {
        if let Some(v) = o.get(k) {
            if natural(v).is_none() {
                return bad(&format!("{at}.{k}"), "must be an integer >= 0");
            }
        }
    }
    for k in ["objectMode", "autoDestroy", "emitClose", "writev"] {
        if let Some(v) = o.get(k) {
            if !v.is_boolean() {
                return bad(&format!("{at}.{k}"), "must be a boolean");
            }
        }
    }
    let one_of = |k: &str, values: &[&str], default: &'static str| -> R<String> {
        match o.get(k) {
            None => Ok(default.to_string()),
            Some(Value::String(s)) if values.contains(&s.as_str()) => Ok(s.clone()),
            Some(_) => bad(&format!("{at}.{k}"), format!("must be one of {values:?}")),
        }
    };
    let write = one_of("write", &["sync", "manual"], "manual")?;
    let final_ = one_of("final", &["none", "sync", "manual"], "none")?;
    let read = one_of("read", &["manual", "sync"], "manual")?;
    let transform = one_of("transform", &["identity", "upper", "manual"], "identity")?;
    let flag = |k: &str, d: bool| o.get(k).and_then(Value::as_bool).unwrap_or(d);

    let mut spec = StreamSpec {
        name: name.to_string(),
        kind,
        hwm: o.get("highWaterMark").and_then(natural),
        object_mode: flag("objectMode", false),
        auto_destroy: flag("autoDestroy", true),
        emit_close: flag("emitClose", true),
        write: if write == "sync" {
            Mode::Sync
        } else {
            Mode::Manual
        },
        writev: flag("writev", false),
        final_: match final_.as_str() {
            "sync" => Some(Mode::Sync),
            "manual" => Some(Mode::Manual),
            _ => None,
        },
        hooks: HashSet::new(),
        read: if read == "sync" {
            Mode::Sync
        } else {
            Mode::Manual
        },
        source: Vec::new(),
        transform: transform.clone(),
        flush: None,
        readable_hwm: o.get("readableHighWaterMark").and_then(natural),
        writable_hwm: o.get("writableHighWaterMark").and_then(natural),
    };

    // Format (File): no byte-mode side may use Node's default mark.
    if !spec.object_mode {
        let hwm = o.contains_key("highWaterMark");
        let r_marked = hwm || o.contains_key("readableHighWaterMark");
        let w_marked = hwm
            || o.contains_key("writableHighWaterMark")
            || o.get("readableHighWaterMark").and_then(Value::as_u64) == Some(0);
        if (spec.has_r() && !r_marked) || (spec.has_w() && !w_marked) {
            return bad(
                &at,
                "byte-mode side without a highWaterMark (Node's default differs between versions)",
            );
        }
    }
    if let Some(src) = o.get("source") {
        if read != "sync" {
            return bad(&format!("{at}.source"), "source needs read: \"sync\"");
        }
        let Some(items) = src.as_array() else {
            return bad(
                &format!("{at}.source"),
                "must be an array of chunks and null",
            );
        };
        for (i, c) in items.iter().enumerate() {
            let chunk = check_chunk(&spec, c, &format!("{at}.source[{i}]"), true)?;
            spec.source.push(chunk);
        }
    }
    if transform == "upper" && spec.object_mode {
        return bad(&format!("{at}.transform"), "\"upper\" needs byte mode");
    }
    if let Some(f) = o.get("flush") {
        spec.flush = Some(check_chunk(&spec, f, &format!("{at}.flush"), false)?);
    }
    match kind {
        Kind::Writable => {
            spec.hooks.insert("_write");
            if spec.writev {
                spec.hooks.insert("_writev");
            }
            if spec.final_.is_some() {
                spec.hooks.insert("_final");
            }
        }
        Kind::Readable => {
            spec.hooks.insert("_read");
        }
        Kind::Transform => {
            spec.hooks.insert("_transform");
        }
        Kind::PassThrough => {}
    }
    // Kept for the checks of `complete`: a transform's own mode.
    if kind == Kind::Transform && transform == "manual" {
        spec.write = Mode::Manual;
    } else if kind == Kind::Transform {
        spec.write = Mode::Sync;
    }
    Ok(spec)
}

struct Parser {
    streams: Vec<StreamSpec>,
    index: HashMap<String, usize>,
    labels: HashMap<String, Label>,
}

impl Parser {
    fn stream(&self, o: &Map<String, Value>, k: &str, at: &str) -> R<usize> {
        match o
            .get(k)
            .and_then(Value::as_str)
            .and_then(|n| self.index.get(n))
        {
            Some(&i) => Ok(i),
            None => bad(
                &format!("{at}.{k}"),
                format!("unknown stream {}", o.get(k).unwrap_or(&Value::Null)),
            ),
        }
    }

    fn step(&mut self, v: &Value, at: &str, top: usize, nested: bool) -> R<Located> {
        let Some(o) = v.as_object() else {
            return bad(at, "a step must be an object");
        };
        let kind = o.get("do").and_then(Value::as_str).unwrap_or("");
        // (required keys, optional keys, side needed on `stream`)
        let (req, opt, side): (&[&str], &[&str], Option<char>) = match kind {
            "write" => (&["stream", "chunk"], &["cb"], Some('w')),
            "end" => (&["stream"], &["chunk", "cb"], Some('w')),
            "cork" | "uncork" => (&["stream"], &[], Some('w')),
            "destroy" => (&["stream"], &["error"], None),
            "complete" => (&["stream"], &["error", "value", "again"], Some('w')),
            "completeFinal" => (&["stream"], &["error"], Some('w')),
            "push" | "unshift" => (&["stream", "chunk"], &[], Some('r')),
            "read" => (&["stream"], &["n"], Some('r')),
            "readAll" | "pause" | "resume" => (&["stream"], &[], Some('r')),
            "pipe" => (&["from", "to"], &["end"], None),
            "unpipe" => (&["from"], &["to"], None),
            "pipeline" => (&["streams"], &[], None),
            "finished" => (&["stream"], &[], None),
            "on" | "once" => (&["stream", "event"], &["then"], None),
            "tick" => (&[], &[], None),
            other => return bad(at, format!("unknown step {other:?}")),
        };
        let allowed: Vec<&str> = std::iter::once("do")
            .chain(req.iter().copied())
            .chain(opt.iter().copied())
            .collect();
        check_keys(o, &allowed, at)?;
        for k in req {
            if !o.contains_key(*k) {
                return bad(at, format!("\"{kind}\" needs \"{k}\""));
            }
        }
        if kind == "tick" && nested {
            return bad(at, "\"tick\" is not allowed inside \"then\"");
        }
        let need_side = |p: &Parser, s: usize, side: char, k: &str| -> R<()> {
            let st = &p.streams[s];
            if side == 'w' && !st.has_w() {
                return bad(
                    &format!("{at}.{k}"),
                    format!("\"{kind}\" needs a writable side"),
                );
            }
            if side == 'r' && !st.has_r() {
                return bad(
                    &format!("{at}.{k}"),
                    format!("\"{kind}\" needs a readable side"),
                );
            }
            Ok(())
        };
        let s = if o.contains_key("stream") {
            let s = self.stream(o, "stream", at)?;
            if let Some(side) = side {
                need_side(self, s, side, "stream")?;
            }
            Some(s)
        } else {
            None
        };
        let cb = match o.get("cb") {
            None => None,
            Some(Value::Bool(true)) => Some(CbSpec::Fresh),
            Some(Value::String(l)) => {
                let s = s.unwrap_or(0);
                let m = step_name(kind);
                match self.labels.get(l) {
                    None => {
                        self.labels.insert(l.clone(), Label { s, m, step: top });
                    }
                    Some(first) if first.s != s || first.m != m => {
                        return bad(
                            &format!("{at}.cb"),
                            format!("label {l:?} is shared across streams or steps"),
                        );
                    }
                    Some(_) => {}
                }
                Some(CbSpec::Label(l.clone()))
            }
            Some(_) => return bad(&format!("{at}.cb"), "cb must be true or a label string"),
        };
        let chunk = match (o.get("chunk"), s) {
            (Some(c), Some(s)) => Some(check_chunk(
                &self.streams[s],
                c,
                &format!("{at}.chunk"),
                kind != "end",
            )?),
            _ => None,
        };
        let error = match o.get("error") {
            None => None,
            Some(Value::String(e)) if !e.is_empty() => Some(e.clone()),
            Some(_) => return bad(&format!("{at}.error"), "error must be a code string"),
        };
        let stream = s.unwrap_or(0);
        let step = match kind {
            "write" => Step::Write {
                s: stream,
                chunk: chunk.unwrap_or(ChunkSpec::Null),
                cb,
            },
            "end" => Step::End {
                s: stream,
                chunk,
                cb,
            },
            "cork" => Step::Cork { s: stream },
            "uncork" => Step::Uncork { s: stream },
            "destroy" => Step::Destroy { s: stream, error },
            "complete" => {
                let st = &self.streams[stream];
                let again = match o.get("again") {
                    None => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return bad(&format!("{at}.again"), "must be a boolean"),
                };
                let value = match o.get("value") {
                    None => None,
                    Some(v) => {
                        if !(st.kind == Kind::Transform && st.write == Mode::Manual) {
                            return bad(
                                &format!("{at}.value"),
                                "\"value\" only on a manual transform",
                            );
                        }
                        Some(check_chunk(st, v, &format!("{at}.value"), false)?)
                    }
                };
                if !matches!(st.kind, Kind::Writable | Kind::Transform) {
                    return bad(
                        &format!("{at}.stream"),
                        "\"complete\" needs a writable or transform",
                    );
                }
                if st.write == Mode::Sync && !again {
                    return bad(
                        at,
                        format!(
                            "\"complete\" without \"again\" on {}, whose hook completes by itself",
                            st.name
                        ),
                    );
                }
                Step::Complete {
                    s: stream,
                    error,
                    value,
                    again,
                }
            }
            "completeFinal" => {
                let st = &self.streams[stream];
                if st.kind != Kind::Writable || st.final_.is_none() {
                    return bad(
                        &format!("{at}.stream"),
                        format!(
                            "\"completeFinal\" needs a writable with \"final\", {} has none",
                            st.name
                        ),
                    );
                }
                Step::CompleteFinal { s: stream, error }
            }
            "push" => Step::Push {
                s: stream,
                chunk: chunk.unwrap_or(ChunkSpec::Null),
            },
            "unshift" => Step::Unshift {
                s: stream,
                chunk: chunk.unwrap_or(ChunkSpec::Null),
            },
            "read" => {
                let n = match o.get("n") {
                    None => None,
                    Some(v) => match natural(v) {
                        Some(n) => Some(n),
                        None => return bad(&format!("{at}.n"), "must be an integer >= 0"),
                    },
                };
                Step::Read { s: stream, n }
            }
            "readAll" => Step::ReadAll { s: stream },
            "pause" => Step::Pause { s: stream },
            "resume" => Step::Resume { s: stream },
            "pipe" | "unpipe" => {
                let from = self.stream(o, "from", at)?;
                need_side(self, from, 'r', "from")?;
                let to = if o.contains_key("to") {
                    let to = self.stream(o, "to", at)?;
                    need_side(self, to, 'w', "to")?;
                    Some(to)
                } else {
                    None
                };
                let end = match o.get("end") {
                    None => None,
                    Some(Value::Bool(b)) => Some(*b),
                    Some(_) => return bad(&format!("{at}.end"), "must be a boolean"),
                };
                match (kind, to) {
                    ("pipe", Some(to)) => Step::Pipe { from, to, end },
                    _ => Step::Unpipe { from, to },
                }
            }
            "pipeline" => {
                let Some(names) = o.get("streams").and_then(Value::as_array) else {
                    return bad(&format!("{at}.streams"), "must be an array of stream names");
                };
                if names.len() < 2 {
                    return bad(
                        &format!("{at}.streams"),
                        "pipeline needs at least 2 streams",
                    );
                }
                let mut idx = Vec::new();
                for (i, n) in names.iter().enumerate() {
                    let Some(&s) = n.as_str().and_then(|n| self.index.get(n)) else {
                        return bad(&format!("{at}.streams[{i}]"), format!("unknown stream {n}"));
                    };
                    let st = &self.streams[s];
                    if i == 0 && !st.has_r() {
                        return bad(
                            &format!("{at}.streams[0]"),
                            "first pipeline stream is not readable",
                        );
                    }
                    if i == names.len() - 1 && !st.has_w() {
                        return bad(
                            &format!("{at}.streams[{i}]"),
                            "last pipeline stream is not writable",
                        );
                    }
                    if i > 0 && i < names.len() - 1 && !st.duplex() {
                        return bad(
                            &format!("{at}.streams[{i}]"),
                            "middle pipeline stream is not a duplex",
                        );
                    }
                    idx.push(s);
                }
                Step::Pipeline { streams: idx }
            }
            "finished" => Step::Finished { s: stream },
            "on" | "once" => {
                let st = &self.streams[stream];
                let ev = o.get("event").and_then(Value::as_str).unwrap_or("");
                let valid = (st.has_w() && WRITABLE_EVENTS.contains(&ev))
                    || (st.has_r() && READABLE_EVENTS.contains(&ev))
                    || (HOOKS.contains(&ev) && st.hooks.contains(ev));
                if !valid {
                    return bad(
                        &format!("{at}.event"),
                        format!("unknown event {ev:?} for {}", st.name),
                    );
                }
                let mut then = Vec::new();
                if let Some(t) = o.get("then") {
                    let Some(list) = t.as_array() else {
                        return bad(&format!("{at}.then"), "must be an array of steps");
                    };
                    for (i, s) in list.iter().enumerate() {
                        then.push(self.step(s, &format!("{at}.then[{i}]"), top, true)?);
                    }
                }
                Step::On {
                    s: stream,
                    event: ev.to_string(),
                    once: kind == "once",
                    then: Rc::new(then),
                }
            }
            _ => Step::Tick,
        };
        Ok(Located {
            step,
            top,
            at: at.to_string(),
        })
    }
}

/// The `do` of a step, as a static string (for trace lines).
pub fn step_name(kind: &str) -> &'static str {
    match kind {
        "write" => "write",
        "end" => "end",
        "cork" => "cork",
        "uncork" => "uncork",
        "destroy" => "destroy",
        "complete" => "complete",
        "completeFinal" => "completeFinal",
        "push" => "push",
        "unshift" => "unshift",
        "read" => "read",
        "readAll" => "readAll",
        "pause" => "pause",
        "resume" => "resume",
        "pipe" => "pipe",
        "unpipe" => "unpipe",
        "pipeline" => "pipeline",
        "finished" => "finished",
        "on" => "on",
        "once" => "once",
        _ => "tick",
    }
}

/// Parses and checks a scenario's text.
pub fn parse(text: &str) -> R<Scenario> {
    let v: Value = serde_json::from_str(text).map_err(|e| Malformed(format!("not JSON: {e}")))?;
    let Some(o) = v.as_object() else {
        return bad("", "a scenario must be a JSON object");
    };
    check_keys(o, &["name", "about", "streams", "steps"], "(top level)")?;
    for k in ["name", "about"] {
        if o.get(k).is_some_and(|v| !v.is_string()) {
            return bad(k, "must be a string");
        }
    }
    let Some(streams) = o.get("streams").and_then(Value::as_object) else {
        return bad("streams", "must be an object of streams");
    };
    let Some(steps) = o.get("steps").and_then(Value::as_array) else {
        return bad("steps", "must be an array of steps");
    };
    let mut p = Parser {
        streams: Vec::new(),
        index: HashMap::new(),
        labels: HashMap::new(),
    };
    for (name, spec) in streams {
        let s = parse_stream(name, spec)?;
        p.index.insert(name.clone(), p.streams.len());
        p.streams.push(s);
    }
    let mut located = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        located.push(p.step(s, &format!("steps[{i}]"), i, false)?);
    }
    Ok(Scenario {
        streams: p.streams,
        steps: located,
        labels: p.labels,
    })
}
