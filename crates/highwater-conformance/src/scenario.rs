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
    /// v1.3: the readable side is in object mode (`objectMode`, or a
    /// `"lines"` transform, whose writable side is byte mode).
    pub readable_object_mode: bool,
    /// v1.3: `signal`, an index into [`Scenario::signals`].
    pub signal: Option<usize>,
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
    /// Whether the side a chunk goes to is in object mode: `readable` for a
    /// pushed chunk (`push`, `unshift`, `source`, `flush`, a `complete`
    /// value), else the writable side.
    pub fn side_object_mode(&self, readable: bool) -> bool {
        if readable {
            self.readable_object_mode
        } else {
            self.object_mode
        }
    }
}

/// A chunk as the scenario gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkSpec {
    /// `null`.
    Null,
    /// A byte-mode string, `{"size": N}` or (v1.3) `{"hex": "..."}`, as bytes.
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
        opts: FinishedOpts,
    },
    On {
        s: usize,
        event: String,
        once: bool,
        then: Rc<Vec<Located>>,
    },
    Tick,
    // v1.3 steps (signals are indices into `Scenario::signals`).
    SetEncoding {
        s: usize,
    },
    Abort {
        signal: usize,
    },
    AddAbortSignal {
        signal: usize,
        s: usize,
    },
    PipelineAsync {
        streams: Vec<usize>,
        end: Option<bool>,
        signal: Option<usize>,
    },
    FinishedCleanup {
        s: usize,
    },
}

/// v1.3: the options of a `finished` step. With none of `readable`,
/// `writable`, `error`, `signal` given, Node's `finished` gets no options
/// object (as in v1.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FinishedOpts {
    /// `readable`, when given.
    pub readable: Option<bool>,
    /// `writable`, when given.
    pub writable: Option<bool>,
    /// `error`, when given.
    pub error: Option<bool>,
    /// `signal`, when given.
    pub signal: Option<usize>,
    /// `cleanup: true`: keep the cleanup function for `finishedCleanup`.
    pub cleanup: bool,
}

impl FinishedOpts {
    /// Whether Node's `finished` gets an options object.
    pub fn has_options(&self) -> bool {
        self.readable.is_some()
            || self.writable.is_some()
            || self.error.is_some()
            || self.signal.is_some()
    }
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
    /// v1.3: the names of the AbortControllers, in creation order.
    pub signals: Vec<String>,
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
    "signal",
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
/// The `transform` values: v1.2's and v1.3's `"twice"` and `"lines"`.
const TRANSFORMS: &[&str] = &["identity", "upper", "manual", "twice", "lines"];

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

/// A chunk for a side in object mode (`object_mode`) or byte mode.
fn check_chunk(object_mode: bool, v: &Value, at: &str, null_ok: bool) -> R<ChunkSpec> {
    if v.is_null() {
        return if null_ok {
            Ok(ChunkSpec::Null)
        } else {
            bad(at, "null is not a chunk here")
        };
    }
    if object_mode {
        return Ok(ChunkSpec::Json(v.clone()));
    }
    match v {
        Value::String(s) if s.is_ascii() => Ok(ChunkSpec::Bytes(s.as_bytes().to_vec())),
        Value::String(s) => bad(at, format!("byte-mode chunk {s:?} is not ASCII")),
        Value::Object(o) if o.contains_key("hex") => {
            check_keys(o, &["hex"], at)?;
            match o.get("hex").and_then(Value::as_str).and_then(parse_hex) {
                Some(b) => Ok(ChunkSpec::Bytes(b)),
                None => bad(at, "{\"hex\": \"...\"} needs an even number of hex digits"),
            }
        }
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
            format!(
                "byte-mode chunk must be a string, {{\"size\": N}} or {{\"hex\": \"...\"}}, got {other}"
            ),
        ),
    }
}

/// v1.3 `{"hex": "..."}`: an even number of hex digits (either case, may be
/// empty) as bytes; `None` when it is not that.
fn parse_hex(h: &str) -> Option<Vec<u8>> {
    if h.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    h.as_bytes()
        .chunks(2)
        .map(|p| u8::try_from(digit(p[0])? * 16 + digit(p[1])?).ok())
        .collect()
}

/// The largest `{"size": N}` chunk (16 MiB): scenarios test behaviour, not
/// volume, and an unbounded N would let a scenario exhaust memory.
const MAX_SIZE: usize = 16 * 1024 * 1024;

/// Parses one declared stream (`streams.NAME`): its kind, its options, and
/// the format's checks on them. The checks run in a fixed order: the first
/// that fails gives the message.
fn parse_stream(name: &str, v: &Value, signals: &[String]) -> R<StreamSpec> {
    let at = format!("streams.{name}");
    if name == "t" {
        return bad(&at, "a stream may not be named \"t\"");
    }
    let Some(o) = v.as_object() else {
        return bad(&at, "a stream must be an object");
    };
    let kind = parse_kind(o, &at)?;
    check_stream_keys(o, kind, &at)?;
    check_marks(o, &at)?;
    check_booleans(o, &at)?;
    let mut spec = base_spec(name, kind, o, &at)?;
    spec.signal = parse_signal(o, signals, &at)?;
    check_lines(&spec, o, &at)?;
    check_default_marks(&spec, o, &at)?;
    spec.source = parse_source(&spec, o, &at)?;
    if spec.transform == "upper" && spec.object_mode {
        return bad(&format!("{at}.transform"), "\"upper\" needs byte mode");
    }
    if let Some(f) = o.get("flush") {
        spec.flush = Some(check_chunk(
            spec.readable_object_mode,
            f,
            &format!("{at}.flush"),
            false,
        )?);
    }
    spec.hooks = hooks_of(&spec);
    // Kept for the checks of `complete`: a transform's own mode.
    if kind == Kind::Transform && spec.transform == "manual" {
        spec.write = Mode::Manual;
    } else if kind == Kind::Transform {
        spec.write = Mode::Sync;
    }
    Ok(spec)
}

/// `kind`: one of the four stream kinds.
fn parse_kind(o: &Map<String, Value>, at: &str) -> R<Kind> {
    match o.get("kind").and_then(Value::as_str) {
        Some("writable") => Ok(Kind::Writable),
        Some("readable") => Ok(Kind::Readable),
        Some("transform") => Ok(Kind::Transform),
        Some("passthrough") => Ok(Kind::PassThrough),
        other => bad(at, format!("unknown kind {other:?}")),
    }
}

/// The keys a stream of this kind may have: the common ones and its own.
fn check_stream_keys(o: &Map<String, Value>, kind: Kind, at: &str) -> R<()> {
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
    check_keys(o, &allowed, at)
}

/// `highWaterMark`, `readableHighWaterMark`, `writableHighWaterMark`:
/// integers >= 0 when given.
fn check_marks(o: &Map<String, Value>, at: &str) -> R<()> {
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
    Ok(())
}

/// `objectMode`, `autoDestroy`, `emitClose`, `writev`: booleans when given.
fn check_booleans(o: &Map<String, Value>, at: &str) -> R<()> {
    for k in ["objectMode", "autoDestroy", "emitClose", "writev"] {
        if let Some(v) = o.get(k) {
            if !v.is_boolean() {
                return bad(&format!("{at}.{k}"), "must be a boolean");
            }
        }
    }
    Ok(())
}

/// A string option that takes one of `values`, `default` when absent.
fn one_of(
    o: &Map<String, Value>,
    at: &str,
    k: &str,
    values: &[&str],
    default: &'static str,
) -> R<String> {
    match o.get(k) {
        None => Ok(default.to_string()),
        Some(Value::String(s)) if values.contains(&s.as_str()) => Ok(s.clone()),
        Some(_) => bad(&format!("{at}.{k}"), format!("must be one of {values:?}")),
    }
}

/// The stream's options with their defaults (`write`, `final`, `read` and
/// `transform` checked here); `source`, `flush` and `hooks` are left empty.
fn base_spec(name: &str, kind: Kind, o: &Map<String, Value>, at: &str) -> R<StreamSpec> {
    let write = one_of(o, at, "write", &["sync", "manual"], "manual")?;
    let final_ = one_of(o, at, "final", &["none", "sync", "manual"], "none")?;
    let read = one_of(o, at, "read", &["manual", "sync"], "manual")?;
    let transform = one_of(o, at, "transform", TRANSFORMS, "identity")?;
    let flag = |k: &str, d: bool| o.get(k).and_then(Value::as_bool).unwrap_or(d);
    Ok(StreamSpec {
        readable_object_mode: flag("objectMode", false) || transform == "lines",
        signal: None,
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
        transform,
        flush: None,
        readable_hwm: o.get("readableHighWaterMark").and_then(natural),
        writable_hwm: o.get("writableHighWaterMark").and_then(natural),
    })
}

/// v1.3: `signal` (of a stream or a step), one of the scenario's signals.
fn parse_signal(o: &Map<String, Value>, signals: &[String], at: &str) -> R<Option<usize>> {
    let Some(v) = o.get("signal") else {
        return Ok(None);
    };
    match v.as_str().and_then(|n| signals.iter().position(|s| s == n)) {
        Some(i) => Ok(Some(i)),
        None => bad(&format!("{at}.signal"), format!("unknown signal {v}")),
    }
}

/// v1.3 `"lines"`: no `objectMode`, no `flush`, a `writableHighWaterMark`.
fn check_lines(spec: &StreamSpec, o: &Map<String, Value>, at: &str) -> R<()> {
    if spec.kind != Kind::Transform || spec.transform != "lines" {
        return Ok(());
    }
    if o.contains_key("objectMode") {
        return bad(
            &format!("{at}.objectMode"),
            "\"lines\" may not be given objectMode",
        );
    }
    if o.contains_key("flush") {
        return bad(&format!("{at}.flush"), "\"lines\" may not be given flush");
    }
    if !o.contains_key("writableHighWaterMark") {
        return bad(at, "\"lines\" needs writableHighWaterMark");
    }
    Ok(())
}

/// Format (File): no byte-mode side may use Node's default mark.
fn check_default_marks(spec: &StreamSpec, o: &Map<String, Value>, at: &str) -> R<()> {
    let hwm = o.contains_key("highWaterMark");
    let r_marked = hwm || o.contains_key("readableHighWaterMark");
    let w_marked = hwm
        || o.contains_key("writableHighWaterMark")
        || o.get("readableHighWaterMark").and_then(Value::as_u64) == Some(0);
    if (spec.has_r() && !spec.readable_object_mode && !r_marked)
        || (spec.has_w() && !spec.object_mode && !w_marked)
    {
        return bad(
            at,
            "byte-mode side without a highWaterMark (Node's default differs between versions)",
        );
    }
    Ok(())
}

/// `source` of a readable with `read: "sync"`: chunks and `null`.
fn parse_source(spec: &StreamSpec, o: &Map<String, Value>, at: &str) -> R<Vec<ChunkSpec>> {
    let mut source = Vec::new();
    if let Some(src) = o.get("source") {
        if spec.read != Mode::Sync {
            return bad(&format!("{at}.source"), "source needs read: \"sync\"");
        }
        let Some(items) = src.as_array() else {
            return bad(
                &format!("{at}.source"),
                "must be an array of chunks and null",
            );
        };
        for (i, c) in items.iter().enumerate() {
            source.push(check_chunk(
                spec.readable_object_mode,
                c,
                &format!("{at}.source[{i}]"),
                true,
            )?);
        }
    }
    Ok(source)
}

/// The hooks a stream traces, which `on`/`once` steps may listen to.
fn hooks_of(spec: &StreamSpec) -> HashSet<&'static str> {
    let mut hooks = HashSet::new();
    match spec.kind {
        Kind::Writable => {
            hooks.insert("_write");
            if spec.writev {
                hooks.insert("_writev");
            }
            if spec.final_.is_some() {
                hooks.insert("_final");
            }
        }
        Kind::Readable => {
            hooks.insert("_read");
        }
        Kind::Transform => {
            hooks.insert("_transform");
            if spec.flush.is_some() || spec.transform == "lines" {
                hooks.insert("_flush");
            }
        }
        Kind::PassThrough => {}
    }
    hooks
}

/// What a step kind takes: the format's step table.
struct Shape {
    /// Required keys (besides `do`).
    req: &'static [&'static str],
    /// Optional keys.
    opt: &'static [&'static str],
    /// The side needed on `stream`: `'w'` or `'r'`.
    side: Option<char>,
}

/// The shape of a step kind (its `do`); an unknown `do` is malformed.
fn step_shape(kind: &str, at: &str) -> R<Shape> {
    type Keys = &'static [&'static str];
    let (req, opt, side): (Keys, Keys, Option<char>) = match kind {
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
        "finished" => (
            &["stream"],
            &["readable", "writable", "error", "signal", "cleanup"],
            None,
        ),
        // v1.3 steps.
        "setEncoding" => (&["stream"], &[], Some('r')),
        "abort" => (&["signal"], &[], None),
        "addAbortSignal" => (&["signal", "stream"], &[], None),
        "pipelineAsync" => (&["streams"], &["end", "signal"], None),
        "finishedCleanup" => (&["stream"], &[], None),
        "on" | "once" => (&["stream", "event"], &["then"], None),
        "tick" => (&[], &[], None),
        other => return bad(at, format!("unknown step {other:?}")),
    };
    Ok(Shape { req, opt, side })
}

/// A step has only the keys of its shape, and all the required ones.
fn check_step_keys(o: &Map<String, Value>, kind: &str, shape: &Shape, at: &str) -> R<()> {
    let allowed: Vec<&str> = std::iter::once("do")
        .chain(shape.req.iter().copied())
        .chain(shape.opt.iter().copied())
        .collect();
    check_keys(o, &allowed, at)?;
    for k in shape.req {
        if !o.contains_key(*k) {
            return bad(at, format!("\"{kind}\" needs \"{k}\""));
        }
    }
    Ok(())
}

/// `error`: a non-empty code string when given.
fn parse_error(o: &Map<String, Value>, at: &str) -> R<Option<String>> {
    match o.get("error") {
        None => Ok(None),
        Some(Value::String(e)) if !e.is_empty() => Ok(Some(e.clone())),
        Some(_) => bad(&format!("{at}.error"), "error must be a code string"),
    }
}

/// `n` of `read`: an integer >= 0 when given.
fn parse_n(o: &Map<String, Value>, at: &str) -> R<Option<usize>> {
    match o.get("n") {
        None => Ok(None),
        Some(v) => match natural(v) {
            Some(n) => Ok(Some(n)),
            None => bad(&format!("{at}.n"), "must be an integer >= 0"),
        },
    }
}

/// An optional boolean field (`again`, `end`).
fn opt_bool(o: &Map<String, Value>, k: &str, at: &str) -> R<Option<bool>> {
    match o.get(k) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => bad(&format!("{at}.{k}"), "must be a boolean"),
    }
}

/// A step's common fields, parsed and checked: what the builders of the
/// step kinds start from.
struct Fields<'a> {
    o: &'a Map<String, Value>,
    at: &'a str,
    kind: &'a str,
    top: usize,
    /// `stream`, or 0 for a step without one.
    stream: usize,
    /// v1.3 `signal`, when the step has one.
    signal: Option<usize>,
    chunk: Option<ChunkSpec>,
    cb: Option<CbSpec>,
    error: Option<String>,
}

struct Parser {
    signals: Vec<String>,
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

    /// Parses one step (at `at`, under top-level step `top`; `nested` inside
    /// a `then`): the common fields first, then those of its kind.
    fn step(&mut self, v: &Value, at: &str, top: usize, nested: bool) -> R<Located> {
        let Some(o) = v.as_object() else {
            return bad(at, "a step must be an object");
        };
        let kind = o.get("do").and_then(Value::as_str).unwrap_or("");
        let shape = step_shape(kind, at)?;
        check_step_keys(o, kind, &shape, at)?;
        if kind == "tick" && nested {
            return bad(at, "\"tick\" is not allowed inside \"then\"");
        }
        let s = self.step_stream(o, kind, shape.side, at)?;
        let cb = self.parse_cb(o, kind, s, top, at)?;
        let chunk = self.parse_chunk(o, kind, s, at)?;
        // v1.3: `error` of `finished` is a boolean option, checked there.
        let error = if kind == "finished" {
            None
        } else {
            parse_error(o, at)?
        };
        let signal = parse_signal(o, &self.signals, at)?;
        let fields = Fields {
            signal,
            o,
            at,
            kind,
            top,
            stream: s.unwrap_or(0),
            chunk,
            cb,
            error,
        };
        Ok(Located {
            step: self.build_step(fields)?,
            top,
            at: at.to_string(),
        })
    }

    /// Stream `s` (the step's key `k`) has the side the step needs.
    fn need_side(&self, s: usize, side: char, k: &str, kind: &str, at: &str) -> R<()> {
        let st = &self.streams[s];
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
    }

    /// `stream`, when the step has one: a declared stream with the side needed.
    fn step_stream(
        &self,
        o: &Map<String, Value>,
        kind: &str,
        side: Option<char>,
        at: &str,
    ) -> R<Option<usize>> {
        if !o.contains_key("stream") {
            return Ok(None);
        }
        let s = self.stream(o, "stream", at)?;
        if let Some(side) = side {
            self.need_side(s, side, "stream", kind, at)?;
        }
        Ok(Some(s))
    }

    /// `cb`: `true` or a label (see [`Parser::use_label`]).
    fn parse_cb(
        &mut self,
        o: &Map<String, Value>,
        kind: &str,
        s: Option<usize>,
        top: usize,
        at: &str,
    ) -> R<Option<CbSpec>> {
        match o.get("cb") {
            None => Ok(None),
            Some(Value::Bool(true)) => Ok(Some(CbSpec::Fresh)),
            Some(Value::String(l)) => self.use_label(l, kind, s.unwrap_or(0), top, at).map(Some),
            Some(_) => bad(&format!("{at}.cb"), "cb must be true or a label string"),
        }
    }

    /// A callback label: its first use records its stream and step; every
    /// other use must be on the same stream and the same `do`.
    fn use_label(&mut self, l: &str, kind: &str, s: usize, top: usize, at: &str) -> R<CbSpec> {
        let m = step_name(kind);
        match self.labels.get(l) {
            None => {
                self.labels.insert(l.to_string(), Label { s, m, step: top });
            }
            Some(first) if first.s != s || first.m != m => {
                return bad(
                    &format!("{at}.cb"),
                    format!("label {l:?} is shared across streams or steps"),
                );
            }
            Some(_) => {}
        }
        Ok(CbSpec::Label(l.to_string()))
    }

    /// `chunk`, checked against the stream's mode (`null` is allowed in
    /// every step but `end`).
    fn parse_chunk(
        &self,
        o: &Map<String, Value>,
        kind: &str,
        s: Option<usize>,
        at: &str,
    ) -> R<Option<ChunkSpec>> {
        match (o.get("chunk"), s) {
            (Some(c), Some(s)) => Ok(Some(check_chunk(
                self.streams[s].side_object_mode(matches!(kind, "push" | "unshift")),
                c,
                &format!("{at}.chunk"),
                kind != "end",
            )?)),
            _ => Ok(None),
        }
    }

    /// Builds the step of `f.kind` from the common fields, parsing and
    /// checking the fields of its own.
    fn build_step(&mut self, f: Fields) -> R<Step> {
        let (s, kind) = (f.stream, f.kind);
        Ok(match kind {
            "write" => Step::Write {
                s,
                chunk: f.chunk.unwrap_or(ChunkSpec::Null),
                cb: f.cb,
            },
            "end" => Step::End {
                s,
                chunk: f.chunk,
                cb: f.cb,
            },
            "cork" => Step::Cork { s },
            "uncork" => Step::Uncork { s },
            "destroy" => Step::Destroy { s, error: f.error },
            "complete" => self.complete_step(f)?,
            "completeFinal" => self.complete_final_step(f)?,
            "push" => Step::Push {
                s,
                chunk: f.chunk.unwrap_or(ChunkSpec::Null),
            },
            "unshift" => Step::Unshift {
                s,
                chunk: f.chunk.unwrap_or(ChunkSpec::Null),
            },
            "read" => Step::Read {
                s,
                n: parse_n(f.o, f.at)?,
            },
            "readAll" => Step::ReadAll { s },
            "pause" => Step::Pause { s },
            "resume" => Step::Resume { s },
            "pipe" | "unpipe" => self.pipe_step(&f)?,
            "pipeline" => self.pipeline_step(&f)?,
            "finished" => Step::Finished {
                s,
                opts: finished_opts(&f)?,
            },
            "on" | "once" => self.on_step(&f)?,
            "setEncoding" => self.set_encoding_step(&f)?,
            "abort" => Step::Abort {
                signal: f.signal.unwrap_or(0),
            },
            "addAbortSignal" => Step::AddAbortSignal {
                signal: f.signal.unwrap_or(0),
                s,
            },
            "pipelineAsync" => self.pipeline_async_step(&f)?,
            "finishedCleanup" => Step::FinishedCleanup { s },
            _ => Step::Tick,
        })
    }

    /// `complete`: `again`, `value` (a manual transform's output), on a
    /// writable or transform whose hook waits for it (or with `again`).
    fn complete_step(&self, f: Fields) -> R<Step> {
        let (at, st) = (f.at, &self.streams[f.stream]);
        let again = opt_bool(f.o, "again", at)?.unwrap_or(false);
        let value = match f.o.get("value") {
            None => None,
            Some(v) => {
                if !(st.kind == Kind::Transform && st.write == Mode::Manual) {
                    return bad(
                        &format!("{at}.value"),
                        "\"value\" only on a manual transform",
                    );
                }
                Some(check_chunk(
                    st.readable_object_mode,
                    v,
                    &format!("{at}.value"),
                    false,
                )?)
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
        Ok(Step::Complete {
            s: f.stream,
            error: f.error,
            value,
            again,
        })
    }

    /// `completeFinal`: on a writable with a `final` hook.
    fn complete_final_step(&self, f: Fields) -> R<Step> {
        let st = &self.streams[f.stream];
        if st.kind != Kind::Writable || st.final_.is_none() {
            return bad(
                &format!("{}.stream", f.at),
                format!(
                    "\"completeFinal\" needs a writable with \"final\", {} has none",
                    st.name
                ),
            );
        }
        Ok(Step::CompleteFinal {
            s: f.stream,
            error: f.error,
        })
    }

    /// `pipe` and `unpipe`: `from` readable, `to` writable, `end` a boolean
    /// (an `unpipe` without `to` unpipes every destination).
    fn pipe_step(&self, f: &Fields) -> R<Step> {
        let (o, at, kind) = (f.o, f.at, f.kind);
        let from = self.stream(o, "from", at)?;
        self.need_side(from, 'r', "from", kind, at)?;
        let to = if o.contains_key("to") {
            let to = self.stream(o, "to", at)?;
            self.need_side(to, 'w', "to", kind, at)?;
            Some(to)
        } else {
            None
        };
        let end = opt_bool(o, "end", at)?;
        Ok(match (kind, to) {
            ("pipe", Some(to)) => Step::Pipe { from, to, end },
            _ => Step::Unpipe { from, to },
        })
    }

    /// `pipeline`: at least 2 streams, the first readable, the last
    /// writable, the middle ones duplex.
    fn pipeline_step(&self, f: &Fields) -> R<Step> {
        let at = f.at;
        let Some(names) = f.o.get("streams").and_then(Value::as_array) else {
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
            idx.push(self.pipeline_member(n, i, names.len(), at)?);
        }
        Ok(Step::Pipeline { streams: idx })
    }

    /// v1.3 `setEncoding`: on a byte-mode readable side.
    fn set_encoding_step(&self, f: &Fields) -> R<Step> {
        let st = &self.streams[f.stream];
        if st.readable_object_mode {
            return bad(
                &format!("{}.stream", f.at),
                format!(
                    "\"setEncoding\" needs a byte-mode readable side, {} has none",
                    st.name
                ),
            );
        }
        Ok(Step::SetEncoding { s: f.stream })
    }

    /// v1.3 `pipelineAsync`: its streams validated as `pipeline`'s, `end` a
    /// boolean, `signal` one of the signals.
    fn pipeline_async_step(&self, f: &Fields) -> R<Step> {
        let end = opt_bool(f.o, "end", f.at)?;
        let Step::Pipeline { streams } = self.pipeline_step(f)? else {
            unreachable!("pipeline_step builds a pipeline")
        };
        Ok(Step::PipelineAsync {
            streams,
            end,
            signal: f.signal,
        })
    }

    /// Stream `i` of the `len` streams of a pipeline: declared, and of a
    /// kind that fits its place.
    fn pipeline_member(&self, n: &Value, i: usize, len: usize, at: &str) -> R<usize> {
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
        if i == len - 1 && !st.has_w() {
            return bad(
                &format!("{at}.streams[{i}]"),
                "last pipeline stream is not writable",
            );
        }
        if i > 0 && i < len - 1 && !st.duplex() {
            return bad(
                &format!("{at}.streams[{i}]"),
                "middle pipeline stream is not a duplex",
            );
        }
        Ok(s)
    }

    /// `on` and `once`: an event of the stream's sides or one of its traced
    /// hooks, and the steps of `then` (parsed as nested steps).
    fn on_step(&mut self, f: &Fields) -> R<Step> {
        let at = f.at;
        let st = &self.streams[f.stream];
        let ev = f.o.get("event").and_then(Value::as_str).unwrap_or("");
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
        if let Some(t) = f.o.get("then") {
            let Some(list) = t.as_array() else {
                return bad(&format!("{at}.then"), "must be an array of steps");
            };
            for (i, s) in list.iter().enumerate() {
                then.push(self.step(s, &format!("{at}.then[{i}]"), f.top, true)?);
            }
        }
        Ok(Step::On {
            s: f.stream,
            event: ev.to_string(),
            once: f.kind == "once",
            then: Rc::new(then),
        })
    }
}

/// v1.3: the options of `finished` (`readable`, `writable`, `error`,
/// `cleanup` booleans; `signal` already parsed).
fn finished_opts(f: &Fields) -> R<FinishedOpts> {
    Ok(FinishedOpts {
        readable: opt_bool(f.o, "readable", f.at)?,
        writable: opt_bool(f.o, "writable", f.at)?,
        error: opt_bool(f.o, "error", f.at)?,
        signal: f.signal,
        cleanup: opt_bool(f.o, "cleanup", f.at)?.unwrap_or(false),
    })
}

/// v1.3 `signals`: an array of non-empty, unique names that are not stream
/// names.
fn parse_signals(o: &Map<String, Value>, streams: &Map<String, Value>) -> R<Vec<String>> {
    let Some(v) = o.get("signals") else {
        return Ok(Vec::new());
    };
    let Some(list) = v.as_array() else {
        return bad("signals", "must be an array of names");
    };
    let mut names: Vec<String> = Vec::new();
    for (i, n) in list.iter().enumerate() {
        let at = format!("signals[{i}]");
        let name = match n.as_str() {
            Some(s) if !s.is_empty() => s,
            _ => return bad(&at, "a signal name is a non-empty string"),
        };
        if names.iter().any(|x| x == name) {
            return bad(&at, format!("signal {name:?} is given twice"));
        }
        if streams.contains_key(name) {
            return bad(&at, format!("signal {name:?} is also a stream name"));
        }
        names.push(name.to_string());
    }
    Ok(names)
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
        "setEncoding" => "setEncoding",
        "abort" => "abort",
        "addAbortSignal" => "addAbortSignal",
        "pipelineAsync" => "pipelineAsync",
        "finishedCleanup" => "finishedCleanup",
        _ => "tick",
    }
}

/// Parses and checks a scenario's text.
pub fn parse(text: &str) -> R<Scenario> {
    let v: Value = serde_json::from_str(text).map_err(|e| Malformed(format!("not JSON: {e}")))?;
    let Some(o) = v.as_object() else {
        return bad("", "a scenario must be a JSON object");
    };
    check_keys(
        o,
        &["name", "about", "signals", "streams", "steps"],
        "(top level)",
    )?;
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
    let signals = parse_signals(o, streams)?;
    let mut p = Parser {
        signals,
        streams: Vec::new(),
        index: HashMap::new(),
        labels: HashMap::new(),
    };
    for (name, spec) in streams {
        let s = parse_stream(name, spec, &p.signals)?;
        p.index.insert(name.clone(), p.streams.len());
        p.streams.push(s);
    }
    let mut located = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        located.push(p.step(s, &format!("steps[{i}]"), i, false)?);
    }
    Ok(Scenario {
        signals: p.signals,
        streams: p.streams,
        steps: located,
        labels: p.labels,
    })
}
