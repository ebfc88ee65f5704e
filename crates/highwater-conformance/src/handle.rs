//! A scenario's stream, whatever its kind, and what the steps do with it.
//!
//! The library's stream traits (`StreamBase`, `WritableSide<T>`,
//! `ReadableSide<T>`) are generic, so they cannot be trait objects; a
//! scenario only learns at run time which kind each stream is. The steps
//! therefore go through three small object-safe views ([`Base`], [`WSide`],
//! [`RSide`]), each implemented once, for every stream type, by a blanket
//! impl over the library's trait: what a step does is written once, against
//! the library's public traits, and [`H`] only says which view a stream has.

use highwater::prelude::*;
use highwater::{
    Callback, Encoding, Error, PassThrough, PipeOptions, Pipeline, Readable, ReadableEvent,
    StreamId, Transform, Writable, WritableEvent,
};
use serde_json::{json, Map, Value};

use crate::run::Val;

/// A scenario stream, whatever its kind.
#[derive(Clone)]
pub(crate) enum H {
    W(Writable<Val>),
    R(Readable<Val>),
    T(Transform<Val, Val>),
    P(PassThrough<Val>),
}

impl H {
    /// The stream as a stream (every kind is one).
    pub(crate) fn any(&self) -> &dyn Base {
        match self {
            H::W(s) => s,
            H::R(s) => s,
            H::T(s) => s,
            H::P(s) => s,
        }
    }

    /// The writable side, if the stream has one.
    pub(crate) fn writable(&self) -> Option<&dyn WSide> {
        match self {
            H::W(s) => Some(s),
            H::R(_) => None,
            H::T(s) => Some(s),
            H::P(s) => Some(s),
        }
    }

    /// The readable side, if the stream has one.
    pub(crate) fn readable(&self) -> Option<&dyn RSide> {
        match self {
            H::W(_) => None,
            H::R(s) => Some(s),
            H::T(s) => Some(s),
            H::P(s) => Some(s),
        }
    }

    /// The writable side of a stream the parser checked has one.
    pub(crate) fn w(&self) -> &dyn WSide {
        match self.writable() {
            Some(w) => w,
            None => unreachable!("the parser checks that the stream has a writable side"),
        }
    }

    /// The readable side of a stream the parser checked has one.
    pub(crate) fn r(&self) -> &dyn RSide {
        match self.readable() {
            Some(r) => r,
            None => unreachable!("the parser checks that the stream has a readable side"),
        }
    }

    /// `pipeline`'s middle stage: a stream with both sides.
    pub(crate) fn through(&self, p: Pipeline<Val>) -> Pipeline<Val> {
        match self {
            H::T(t) => p.through(t),
            H::P(t) => p.through(t),
            H::W(_) | H::R(_) => unreachable!("the parser checks middle streams are duplex"),
        }
    }
}

/// What every stream does for the steps: identity, destroy, `'error'`,
/// `'close'`, `finished`.
pub(crate) trait Base {
    fn id(&self) -> StreamId;
    fn destroy(&self, err: Option<Error>);
    fn destroyed(&self) -> bool;
    fn on_error(&self, once: bool, f: Box<dyn Fn(&Error)>);
    fn on_close(&self, once: bool, f: Box<dyn Fn()>);
    /// Node's `stream.finished(stream, cb)`.
    fn finished(&self, cb: Box<dyn FnOnce(Result<(), Error>)>);
    /// Node's `stream.finished(stream, options, cb)`, its cleanup function.
    fn finished_with(
        &self,
        opts: highwater::FinishedOptions,
        cb: Box<dyn FnOnce(Result<(), Error>)>,
    ) -> highwater::Cleanup;
    /// Node's `stream.addAbortSignal(signal, stream)`.
    fn add_abort_signal(&self, signal: &highwater::AbortSignal);
}

impl<S: StreamBase + Clone> Base for S {
    fn id(&self) -> StreamId {
        StreamBase::id(self)
    }
    fn destroy(&self, err: Option<Error>) {
        StreamBase::destroy(self, err);
    }
    fn destroyed(&self) -> bool {
        StreamBase::destroyed(self)
    }
    fn on_error(&self, once: bool, f: Box<dyn Fn(&Error)>) {
        if once {
            self.once_error(f);
        } else {
            StreamBase::on_error(self, f);
        }
    }
    fn on_close(&self, once: bool, f: Box<dyn Fn()>) {
        if once {
            self.once_close(f);
        } else {
            StreamBase::on_close(self, f);
        }
    }
    fn finished(&self, cb: Box<dyn FnOnce(Result<(), Error>)>) {
        highwater::finished(self, cb);
    }
    fn finished_with(
        &self,
        opts: highwater::FinishedOptions,
        cb: Box<dyn FnOnce(Result<(), Error>)>,
    ) -> highwater::Cleanup {
        highwater::finished_with(self, opts, cb)
    }
    fn add_abort_signal(&self, signal: &highwater::AbortSignal) {
        let _same = highwater::add_abort_signal(signal, self.clone());
    }
}

/// What the steps do with a writable side.
pub(crate) trait WSide {
    fn write(&self, v: Val, cb: Option<Callback>) -> bool;
    fn end_with(&self, chunk: Option<Val>, cb: Option<Callback>);
    fn cork(&self);
    fn uncork(&self);
    fn on(&self, ev: WritableEvent, once: bool, f: Box<dyn Fn()>);
    /// `'pipe'` (or with `unpipe`, `'unpipe'`) listeners.
    fn on_pipe(&self, unpipe: bool, once: bool, f: Box<dyn Fn(StreamId)>);
    /// The writable fields of a `state` line.
    fn state(&self, o: &mut Map<String, Value>);
    /// `pipeline`'s last stage.
    fn pipeline_to(&self, p: Pipeline<Val>, cb: Box<dyn FnOnce(Result<(), Error>)>);
}

impl<S: WritableSide<Val>> WSide for S {
    fn write(&self, v: Val, cb: Option<Callback>) -> bool {
        match cb {
            Some(cb) => self.write_cb(v, cb),
            None => WritableSide::write(self, v),
        }
    }
    fn end_with(&self, chunk: Option<Val>, cb: Option<Callback>) {
        WritableSide::end_with(self, chunk, cb);
    }
    fn cork(&self) {
        WritableSide::cork(self);
    }
    fn uncork(&self) {
        WritableSide::uncork(self);
    }
    fn on(&self, ev: WritableEvent, once: bool, f: Box<dyn Fn()>) {
        if once {
            self.once(ev, f);
        } else {
            WritableSide::on(self, ev, f);
        }
    }
    fn on_pipe(&self, unpipe: bool, once: bool, f: Box<dyn Fn(StreamId)>) {
        match (unpipe, once) {
            (false, false) => WritableSide::on_pipe(self, f),
            (false, true) => self.once_pipe(f),
            (true, false) => self.on_unpipe(f),
            (true, true) => self.once_unpipe(f),
        };
    }
    fn state(&self, o: &mut Map<String, Value>) {
        o.insert("len".into(), json!(self.writable_length()));
        o.insert("needDrain".into(), json!(self.writable_need_drain()));
        o.insert("corked".into(), json!(self.writable_corked()));
        o.insert("ended".into(), json!(self.writable_ended()));
        o.insert("finished".into(), json!(self.writable_finished()));
    }
    fn pipeline_to(&self, p: Pipeline<Val>, cb: Box<dyn FnOnce(Result<(), Error>)>) {
        p.to(self, cb);
    }
}

/// What the steps do with a readable side.
pub(crate) trait RSide {
    /// `push(chunk)`, `None` being `push(null)`.
    fn push(&self, v: Option<Val>) -> bool;
    /// `unshift(chunk)`, `None` being `push(null)` (as the format says).
    fn unshift(&self, v: Option<Val>) -> bool;
    fn read(&self, n: Option<usize>) -> Option<Val>;
    fn pause(&self);
    fn resume(&self);
    fn on_data(&self, once: bool, f: Box<dyn Fn(&Val)>);
    fn on_readable(&self, once: bool, f: Box<dyn Fn()>);
    /// `'end'`, `'pause'`, `'resume'` listeners.
    fn on_event(&self, ev: ReadableEvent, once: bool, f: Box<dyn Fn()>);
    /// The readable fields of a `state` line.
    fn state(&self, o: &mut Map<String, Value>);
    /// `pipe(dest, opts)`; `dest` has a writable side (the parser checks).
    fn pipe_to(&self, dest: &H, opts: PipeOptions);
    /// `unpipe(dest)`.
    fn unpipe(&self, dest: &H);
    /// `unpipe()`.
    fn unpipe_all(&self);
    /// A pipeline from this stream.
    fn pipeline(&self) -> Pipeline<Val>;
    /// v1.3 `setEncoding`: Node's `setEncoding('utf8')`.
    fn set_encoding(&self);
    /// Whether `set_encoding` was called: the side gives decoded strings.
    fn decoding(&self) -> bool;
    /// Whether the side is in object mode.
    fn object_mode(&self) -> bool;
}

impl<S: ReadableSide<Val> + Clone> RSide for S {
    fn push(&self, v: Option<Val>) -> bool {
        match v {
            Some(v) => ReadableSide::push(self, v),
            None => self.push_eof(),
        }
    }
    fn unshift(&self, v: Option<Val>) -> bool {
        match v {
            Some(v) => ReadableSide::unshift(self, v),
            None => self.push_eof(),
        }
    }
    fn read(&self, n: Option<usize>) -> Option<Val> {
        ReadableSide::read(self, n)
    }
    fn pause(&self) {
        ReadableSide::pause(self);
    }
    fn resume(&self) {
        ReadableSide::resume(self);
    }
    fn on_data(&self, once: bool, f: Box<dyn Fn(&Val)>) {
        if once {
            self.once_data(f);
        } else {
            ReadableSide::on_data(self, f);
        }
    }
    fn on_readable(&self, once: bool, f: Box<dyn Fn()>) {
        if once {
            self.once_readable(f);
        } else {
            ReadableSide::on_readable(self, f);
        }
    }
    fn on_event(&self, ev: ReadableEvent, once: bool, f: Box<dyn Fn()>) {
        match (ev, once) {
            (ev, true) => self.once_event(ev, f),
            (ReadableEvent::End, false) => self.on_end(f),
            (ReadableEvent::Pause, false) => self.on_pause(f),
            (ReadableEvent::Resume, false) => self.on_resume(f),
            (ReadableEvent::Close, false) => StreamBase::on_close(self, f),
        };
    }
    fn state(&self, o: &mut Map<String, Value>) {
        o.insert("rlen".into(), json!(self.readable_length()));
        o.insert("flowing".into(), json!(self.readable_flowing()));
        o.insert("rended".into(), json!(self.readable_ended()));
    }
    fn pipe_to(&self, dest: &H, opts: PipeOptions) {
        match dest {
            H::W(d) => drop(self.pipe_with(d, opts)),
            H::T(d) => drop(self.pipe_with(d, opts)),
            H::P(d) => drop(self.pipe_with(d, opts)),
            H::R(_) => unreachable!("the parser checks that a pipe's destination is writable"),
        }
    }
    fn unpipe(&self, dest: &H) {
        match dest {
            H::W(d) => ReadableExt::unpipe(self, d),
            H::T(d) => ReadableExt::unpipe(self, d),
            H::P(d) => ReadableExt::unpipe(self, d),
            H::R(_) => unreachable!("the parser checks that a pipe's destination is writable"),
        }
    }
    fn unpipe_all(&self) {
        ReadableExt::unpipe_all(self);
    }
    fn pipeline(&self) -> Pipeline<Val> {
        Pipeline::new(self)
    }
    fn set_encoding(&self) {
        ReadableSide::set_encoding(self, Encoding::Utf8);
    }
    fn decoding(&self) -> bool {
        self.readable_encoding().is_some()
    }
    fn object_mode(&self) -> bool {
        self.readable_object_mode()
    }
}
