//! The stream object shared by every kind: one or two sides, one set of
//! listeners, and the destroy logic of Node's `destroy.js`.
//!
//! Node builds a Duplex as one object holding a `_readableState` and a
//! `_writableState`; a Readable has only the first, a Writable only the
//! second, and `destroy.js` works on whichever exist. [`Core`] is that object:
//! `Core<R, W>` with an optional readable side of chunks `R` and an optional
//! writable side of chunks `W` (the absent side's type is `Infallible`). The
//! state machines (`writable/machine.rs`, `readable/machine.rs`) are written
//! against `Core`, so a Duplex gets both without a line of glue.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::runtime::event_loop::{next_tick, next_tick_target, TickTarget};
use crate::runtime::events::Listeners;
use crate::state::callback::Cb;
use crate::state::op::StreamOp;
use crate::state::readable::RState;
use crate::state::writable::WState;
use crate::state::{Error, StreamId};

use super::done::Done;
use super::hooks::ReadableImpl;
use super::hooks::WritableImpl;
use super::readable::machine as rm;
use super::target::{PipeRef, UnpipeInfo};
use super::writable::machine as wm;
use super::Hooks;

/// The writable side: Node's `_writableState` and the sink's hooks.
pub(crate) struct WSide<W> {
    pub(crate) state: RefCell<WState<W>>,
    pub(crate) imp: Box<dyn WritableImpl<W>>,
    /// The optional hooks the sink has, read once at creation.
    pub(crate) hooks: Hooks,
}

/// The readable side: Node's `_readableState` and the source's hooks.
pub(crate) struct RSide<R> {
    pub(crate) state: RefCell<RState<R>>,
    pub(crate) imp: Box<dyn ReadableImpl<R>>,
    /// The optional hooks the source has, read once at creation.
    pub(crate) hooks: Hooks,
}

/// Every event of both sides. `'close'` and `'error'` are shared.
pub(crate) struct Events<R> {
    pub(crate) drain: Listeners<()>,
    pub(crate) prefinish: Listeners<()>,
    pub(crate) finish: Listeners<()>,
    pub(crate) pipe: Listeners<StreamId>,
    pub(crate) unpipe: Listeners<UnpipeInfo>,
    pub(crate) close: Listeners<()>,
    pub(crate) error: Listeners<Error>,
    pub(crate) data: Listeners<R>,
    pub(crate) end: Listeners<()>,
    pub(crate) pause: Listeners<()>,
    pub(crate) resume: Listeners<()>,
    pub(crate) readable: Listeners<()>,
}

impl<R> Events<R> {
    /// [`Listeners::release`] for every event the stream can no longer
    /// emit once it has closed. `'pause'`, `'resume'`, `'pipe'` and
    /// `'unpipe'` are kept: they follow the user's calls (`pause()` on a
    /// closed stream still emits `'pause'` in Node, and a pipe's cleanup
    /// unpipes a closed source).
    pub(crate) fn release(&self) {
        self.drain.release();
        self.prefinish.release();
        self.finish.release();
        self.close.release();
        self.error.release();
        self.data.release();
        self.end.release();
        self.readable.release();
    }
}

impl<R> Default for Events<R> {
    fn default() -> Self {
        Events {
            drain: Listeners::default(),
            prefinish: Listeners::default(),
            finish: Listeners::default(),
            pipe: Listeners::default(),
            unpipe: Listeners::default(),
            close: Listeners::default(),
            error: Listeners::default(),
            data: Listeners::default(),
            end: Listeners::default(),
            pause: Listeners::default(),
            resume: Listeners::default(),
            readable: Listeners::default(),
        }
    }
}

/// One stream: its sides, its listeners, its destroy state. Declared `pub`
/// only so that the sealed handle trait can name it; it is not reachable
/// from outside the crate.
pub struct Core<R: 'static, W: 'static> {
    pub(crate) id: StreamId,
    /// Node's `state.pipes`: the destinations this stream pipes into, in
    /// order (readable side only). Held weakly: what keeps a destination
    /// alive is the pipe's own `'data'`/`'end'` listeners on this stream, as
    /// long as this stream can still emit (see `ops/pipe.rs`).
    pub(crate) pipes: RefCell<Vec<PipeRef<R>>>,
    pub(crate) w: Option<WSide<W>>,
    pub(crate) r: Option<RSide<R>>,
    pub(crate) events: Events<R>,
    /// The error `'close'` is preceded by, between `_destroy`'s callback and
    /// the close tick.
    pub(crate) close_error: RefCell<Option<Error>>,
    /// Duplex only: end the writable side after `'end'` when false.
    pub(crate) allow_half_open: bool,
    /// The construct hook's callback ran (a second call is an error).
    construct_called: Cell<bool>,
    /// A `destroy(err)` that came before construction finished: `_destroy`
    /// runs once the construct hook calls back (Node's `kDestroy`).
    pending_destroy: RefCell<Option<Option<Error>>>,
    /// The callback of the `destroy(err, cb)` that destroyed the stream:
    /// called when the destroy hook calls back (Node's `onDestroy`).
    destroy_cb: RefCell<Cb>,
    /// The destroy hook's callback ran: a second call is ignored (the hook
    /// runs once per stream, so one flag serves every copy of its `Done`).
    pub(crate) destroy_called: Cell<bool>,
}

impl<R: 'static, W: 'static> std::fmt::Debug for Core<R, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("id", &self.id)
            .field("readable", &self.r.is_some())
            .field("writable", &self.w.is_some())
            .finish()
    }
}

impl<R: 'static, W: 'static> Core<R, W> {
    pub(crate) fn new(w: Option<WSide<W>>, r: Option<RSide<R>>, allow_half_open: bool) -> Rc<Self> {
        let c = Rc::new(Core {
            id: StreamId::next(),
            pipes: RefCell::new(Vec::new()),
            w,
            r,
            events: Events::default(),
            close_error: RefCell::new(None),
            allow_half_open,
            construct_called: Cell::new(false),
            pending_destroy: RefCell::new(None),
            destroy_cb: RefCell::new(Cb::Nop),
            destroy_called: Cell::new(false),
        });
        construct(&c);
        c
    }

    /// The writable side's state. Only called on streams that have one.
    #[inline]
    pub(crate) fn ws(&self) -> &RefCell<WState<W>> {
        match &self.w {
            Some(w) => &w.state,
            None => unreachable!("writable-side operation on a stream without one"),
        }
    }

    /// The readable side's state. Only called on streams that have one.
    #[inline]
    pub(crate) fn rs(&self) -> &RefCell<RState<R>> {
        match &self.r {
            Some(r) => &r.state,
            None => unreachable!("readable-side operation on a stream without one"),
        }
    }

    #[inline]
    pub(crate) fn wimp(&self) -> &dyn WritableImpl<W> {
        match &self.w {
            Some(w) => &*w.imp,
            None => unreachable!("writable-side operation on a stream without one"),
        }
    }

    pub(crate) fn rimp(&self) -> &dyn ReadableImpl<R> {
        match &self.r {
            Some(r) => &*r.imp,
            None => unreachable!("readable-side operation on a stream without one"),
        }
    }

    /// `destroyed` of either side (Node checks both in `destroy.js`).
    pub(crate) fn is_destroyed(&self) -> bool {
        self.w
            .as_ref()
            .is_some_and(|w| w.state.borrow().destroyed())
            || self
                .r
                .as_ref()
                .is_some_and(|r| r.state.borrow().destroyed())
    }

    /// `checkError`: record `err` as the error of both sides, if they have none.
    pub(crate) fn set_errored(&self, err: &Error) {
        if let Some(w) = &self.w {
            w.state.borrow_mut().set_errored_once(err);
        }
        if let Some(r) = &self.r {
            r.state.borrow_mut().set_errored_once(err);
        }
    }

    pub(crate) fn wake_all(&self) {
        if let Some(w) = &self.w {
            w.state.borrow_mut().wake_all();
        }
        if let Some(r) = &self.r {
            r.state.borrow_mut().wake_all();
        }
    }
}

impl<R: 'static, W: 'static> TickTarget for Core<R, W> {
    fn run_tick(self: Rc<Self>, op: StreamOp) {
        match op {
            StreamOp::Writable(op) => wm::run_tick(&self, op),
            StreamOp::Readable(op) => rm::run_tick(&self, op),
            StreamOp::EmitClose => {
                let err = self.close_error.borrow_mut().take();
                if let Some(err) = err {
                    emit_error_nt(&self, err);
                }
                emit_close_nt(&self);
            }
            StreamOp::Construct => {
                let done = Done::construct(&self);
                match (&self.w, &self.r) {
                    (Some(w), _) if w.hooks.contains(Hooks::CONSTRUCT) => w.imp.construct(done),
                    (_, Some(r)) => r.imp.construct(done),
                    _ => done.ok(),
                }
            }
        }
    }
}

pub(crate) fn tick<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, op: impl Into<StreamOp>) {
    next_tick_target(c.clone(), op.into());
}

/// `destroy(err)`: Writable's (fails the buffer on the next tick) when there
/// is a writable side, then `destroyImpl.destroy`.
pub(crate) fn destroy<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, err: Option<Error>) {
    destroy_cb(c, err, Cb::Nop);
}

/// `destroy(err, cb)`: as [`destroy`]; `cb` is called right away when the
/// stream was already destroyed, else with the destroy hook's outcome when
/// it calls back, before `'error'`/`'close'` (Node's `onDestroy`).
pub(crate) fn destroy_cb<R: 'static, W: 'static>(
    c: &Rc<Core<R, W>>,
    err: Option<Error>,
    mut cb: Cb,
) {
    if c.w.is_some() {
        wm::schedule_error_buffer_on_destroy(c);
    }
    if c.is_destroyed() {
        cb.call(Ok(()));
        return;
    }
    if !cb.is_nop() {
        *c.destroy_cb.borrow_mut() = cb;
    }
    if let Some(e) = &err {
        c.set_errored(e);
    }
    if let Some(w) = &c.w {
        w.state.borrow_mut().set_destroyed(true);
    }
    if let Some(r) = &c.r {
        r.state.borrow_mut().set_destroyed(true);
    }
    c.wake_all();
    let constructed = c.w.as_ref().is_none_or(|w| w.state.borrow().constructed())
        && c.r.as_ref().is_none_or(|r| r.state.borrow().constructed());
    if !constructed {
        // Node waits for the construct hook (`once(kDestroy, …)`).
        *c.pending_destroy.borrow_mut() = Some(err);
        return;
    }
    call_destroy_hook(c, err);
}

/// `_destroy(self, err, cb)`: the sink's destroy hook, else the source's.
fn call_destroy_hook<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, err: Option<Error>) {
    let done = Done::destroy(c);
    // `_destroy`: the writable sink's hook, else the readable source's.
    match (&c.w, &c.r) {
        (Some(w), _) => w.imp.destroy(err, done),
        (None, Some(r)) => r.imp.destroy(err, done),
        (None, None) => done.call(err.map_or(Ok(()), Err)),
    }
}

/// Node's `construct(stream, cb)`: if the stream has a construct hook, both
/// sides wait for it (writes buffer, no `_read`) and it runs on the next tick.
fn construct<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let has =
        c.w.as_ref()
            .is_some_and(|w| w.hooks.contains(Hooks::CONSTRUCT))
            || c.r
                .as_ref()
                .is_some_and(|r| r.hooks.contains(Hooks::CONSTRUCT));
    if !has {
        return;
    }
    if let Some(w) = &c.w {
        w.state.borrow_mut().set_constructed(false);
    }
    if let Some(r) = &c.r {
        r.state.borrow_mut().set_constructed(false);
    }
    tick(c, StreamOp::Construct);
}

/// Node's `onConstruct`, on the tick after the construct hook called back.
pub(crate) fn on_construct<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, err: Option<Error>) {
    if c.construct_called.replace(true) {
        error_or_destroy(c, err.unwrap_or_else(Error::multiple_callback), false);
        return;
    }
    if let Some(w) = &c.w {
        w.state.borrow_mut().set_constructed(true);
    }
    if let Some(r) = &c.r {
        r.state.borrow_mut().set_constructed(true);
    }
    if c.is_destroyed() {
        // The destroy that waited: its own error wins over the construct's
        // (Node's `aggregateTwoErrors` keeps the outer error's code).
        let destroy_err = c.pending_destroy.borrow_mut().take().flatten();
        call_destroy_hook(c, destroy_err.or(err));
    } else if let Some(e) = err {
        error_or_destroy(c, e, true);
    } else {
        if c.w.is_some() {
            wm::on_constructed(c);
        }
        if c.r.is_some() {
            rm::on_constructed(c);
        }
    }
}

/// `onDestroy` in `destroy.js`: the destroy hook called back.
pub(crate) fn on_destroy<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, err: Option<Error>) {
    if let Some(e) = &err {
        c.set_errored(e);
    }
    if let Some(w) = &c.w {
        w.state.borrow_mut().closed = true;
    }
    if let Some(r) = &c.r {
        r.state.borrow_mut().closed = true;
    }
    let mut cb = std::mem::replace(&mut *c.destroy_cb.borrow_mut(), Cb::Nop);
    cb.call(err.clone().map_or(Ok(()), Err));
    *c.close_error.borrow_mut() = err;
    tick(c, StreamOp::EmitClose);
}

pub(crate) fn emit_error_nt<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, err: Error) {
    let emitted =
        c.w.as_ref()
            .is_some_and(|w| w.state.borrow().error_emitted())
            || c.r
                .as_ref()
                .is_some_and(|r| r.state.borrow().error_emitted());
    if emitted {
        return;
    }
    if let Some(w) = &c.w {
        w.state.borrow_mut().set_error_emitted(true);
    }
    if let Some(r) = &c.r {
        r.state.borrow_mut().set_error_emitted(true);
    }
    c.wake_all();
    c.events.error.emit(&err);
}

pub(crate) fn emit_close_nt<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut emit = false;
    if let Some(w) = &c.w {
        let mut st = w.state.borrow_mut();
        st.set_close_emitted(true);
        emit |= st.emit_close;
    }
    if let Some(r) = &c.r {
        let mut st = r.state.borrow_mut();
        st.set_close_emitted(true);
        emit |= st.emit_close;
    }
    c.wake_all();
    if emit {
        c.events.close.emit(&());
    }
    // None of the stream's own events comes after 'close' (every such emit
    // checks `destroyed` or `closeEmitted`): their listeners' closures can
    // go, and with them every `Rc` cycle through a listener that captured
    // this stream.
    c.events.release();
}

/// Node's `errorOrDestroy`: destroy with the error, or (autoDestroy off on
/// both sides) just record and emit it.
pub(crate) fn error_or_destroy<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, err: Error, sync: bool) {
    if c.is_destroyed() {
        return;
    }
    let auto = c.w.as_ref().is_some_and(|w| w.state.borrow().auto_destroy)
        || c.r.as_ref().is_some_and(|r| r.state.borrow().auto_destroy);
    if auto {
        destroy(c, Some(err));
    } else {
        c.set_errored(&err);
        if sync {
            let c = c.clone();
            next_tick(move || emit_error_nt(&c, err));
        } else {
            emit_error_nt(c, err);
        }
    }
}

impl<R: 'static, W: 'static> Core<R, W> {
    /// Removes listener `id` from whichever event holds it.
    pub(crate) fn remove_listener(self: &Rc<Self>, id: crate::runtime::ListenerId) -> bool {
        let e = &self.events;
        let removed = e.drain.remove(id)
            || e.prefinish.remove(id)
            || e.finish.remove(id)
            || e.pipe.remove(id)
            || e.unpipe.remove(id)
            || e.close.remove(id)
            || e.error.remove(id)
            || e.end.remove(id)
            || e.pause.remove(id)
            || e.resume.remove(id);
        if removed {
            return true;
        }
        if e.data.remove(id) {
            rm::on_data_listener_removed(self);
            return true;
        }
        if e.readable.remove(id) {
            rm::on_readable_listener_removed(self);
            return true;
        }
        false
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.w.as_ref().is_some_and(|w| w.state.borrow().closed)
            || self.r.as_ref().is_some_and(|r| r.state.borrow().closed)
    }

    pub(crate) fn errored(&self) -> Option<Error> {
        if let Some(w) = &self.w {
            if let Some(e) = w.state.borrow().errored() {
                return Some(e.clone());
            }
        }
        self.r
            .as_ref()
            .and_then(|r| r.state.borrow().errored().cloned())
    }
}

/// The stream layer's interface for the operations and adapters above it
/// (pipe, pipeline, fan-out, fs, net, compat): the transitions they start,
/// without reaching into either machine.
impl<R: 'static, W: 'static> Core<R, W> {
    /// `end([chunk][, cb])` of the writable side.
    pub(crate) fn end_writable(self: &Rc<Self>, chunk: Option<W>, cb: crate::state::callback::Cb) {
        wm::end(self, chunk, cb);
    }

    /// `readable.pause()`.
    pub(crate) fn pause(self: &Rc<Self>) {
        rm::pause(self);
    }

    /// `readable.resume()`.
    pub(crate) fn resume(self: &Rc<Self>) {
        rm::resume(self);
    }

    /// What adding a `'data'` listener does (Node's `Readable.prototype.on`).
    pub(crate) fn data_listener_added(self: &Rc<Self>) {
        rm::on_data_listener_added(self);
    }

    /// What adding a `'readable'` listener does.
    pub(crate) fn readable_listener_added(self: &Rc<Self>) {
        rm::on_readable_listener_added(self);
    }

    /// `readable.read([n])`.
    pub(crate) fn read_chunk(self: &Rc<Self>, n: Option<usize>) -> Option<R> {
        rm::read(self, n)
    }

    /// What removing a `'data'` listener does.
    pub(crate) fn data_listener_removed(&self) {
        rm::on_data_listener_removed(self);
    }
}

#[cfg(test)]
mod tests {
    //! The construct hook (Node's `_construct`), checked against Node's
    //! event order (the Node script is in the comments of each test).

    use std::cell::RefCell;
    use std::rc::Rc;

    use bytes::Bytes;

    use crate::prelude::*;
    use crate::{
        next_tick, run_until_idle, Done, Error, Hooks, Readable, ReadableImpl, ReadableOptions,
        Source, Writable, WritableEvent, WritableImpl, WritableOptions,
    };

    type Log = Rc<RefCell<Vec<String>>>;

    struct LateOpen {
        log: Log,
        open: Rc<RefCell<Option<Done>>>,
    }

    impl WritableImpl<Bytes> for LateOpen {
        fn write(&self, c: Bytes, done: Done) {
            self.log
                .borrow_mut()
                .push(format!("_write {}", String::from_utf8_lossy(&c)));
            done.ok();
        }
        fn writev(&self, chunks: Vec<Bytes>, done: Done) {
            let s: Vec<_> = chunks
                .iter()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            self.log
                .borrow_mut()
                .push(format!("_writev {}", s.join("+")));
            done.ok();
        }
        fn hooks(&self) -> Hooks {
            Hooks::WRITEV | Hooks::CONSTRUCT
        }
        fn construct(&self, done: Done) {
            self.log.borrow_mut().push("construct".into());
            *self.open.borrow_mut() = Some(done);
        }
    }

    #[test]
    fn writes_before_construct_are_buffered_and_flushed_as_one_writev() {
        // Node (hwm 4): write a true, write b false, construct, tick1,
        // -- complete construct, after cb, _writev aa+bbb, prefinish,
        // end cb, finish, close.
        let log: Log = Rc::default();
        let open = Rc::new(RefCell::new(None));
        let w = Writable::new(
            WritableOptions::default().high_water_mark(4),
            LateOpen {
                log: log.clone(),
                open: open.clone(),
            },
        );
        for (ev, name) in [
            (WritableEvent::Finish, "finish"),
            (WritableEvent::Close, "close"),
            (WritableEvent::Prefinish, "prefinish"),
            (WritableEvent::Drain, "drain"),
        ] {
            let l = log.clone();
            w.on(ev, move || l.borrow_mut().push(name.into()));
        }
        let r = w.write(Bytes::from_static(b"aa"));
        log.borrow_mut().push(format!("write a {r}"));
        let r = w.write(Bytes::from_static(b"bbb"));
        log.borrow_mut().push(format!("write b {r}"));
        let l = log.clone();
        w.end_with(
            None,
            Some((move |_r: Result<(), Error>| l.borrow_mut().push("end cb".into())).into()),
        );
        let l = log.clone();
        next_tick(move || l.borrow_mut().push("tick1".into()));
        run_until_idle();
        log.borrow_mut().push("-- complete construct".into());
        let done = open.borrow_mut().take().expect("construct called");
        done.ok();
        log.borrow_mut().push("after cb".into());
        run_until_idle();
        assert_eq!(
            *log.borrow(),
            [
                "write a true",
                "write b false",
                "construct",
                "tick1",
                "-- complete construct",
                "after cb",
                "_writev aa+bbb",
                "prefinish",
                "end cb",
                "finish",
                "close"
            ]
        );
    }

    struct LateSource {
        log: Log,
        open: Rc<RefCell<Option<Done>>>,
    }

    impl ReadableImpl<Bytes> for LateSource {
        fn read(&self, size: usize, src: &Source<Bytes>) {
            self.log.borrow_mut().push(format!("_read {size}"));
            src.push_eof();
        }
        fn construct(&self, done: Done) {
            self.log.borrow_mut().push("construct".into());
            *self.open.borrow_mut() = Some(done);
        }
        fn hooks(&self) -> Hooks {
            Hooks::CONSTRUCT
        }
    }

    #[test]
    fn destroy_before_construct_waits_and_keeps_the_destroy_error() {
        // Node: construct, -- complete (with EC), error EX, close; destroyed.
        let log: Log = Rc::default();
        let open = Rc::new(RefCell::new(None));
        let r = Readable::new(
            ReadableOptions::default().high_water_mark(4),
            LateSource {
                log: log.clone(),
                open: open.clone(),
            },
        );
        let l = log.clone();
        r.on_end(move || l.borrow_mut().push("end".into()));
        let l = log.clone();
        r.on_close(move || l.borrow_mut().push("close".into()));
        r.resume();
        r.destroy(Some(Error::custom("EX", "X")));
        let l = log.clone();
        r.on_error(move |e| l.borrow_mut().push(format!("error {}", e.code())));
        run_until_idle();
        log.borrow_mut().push("-- complete".into());
        let done = open.borrow_mut().take().expect("construct called");
        done.err(Error::custom("EC", "C"));
        run_until_idle();
        assert_eq!(
            *log.borrow(),
            ["construct", "-- complete", "error EX", "close"]
        );
        assert!(r.destroyed());
    }

    #[test]
    fn readable_waits_for_construct_before_reading() {
        let log: Log = Rc::default();
        let open = Rc::new(RefCell::new(None));
        let r = Readable::new(
            ReadableOptions::default().high_water_mark(4),
            LateSource {
                log: log.clone(),
                open: open.clone(),
            },
        );
        let l = log.clone();
        r.on_end(move || l.borrow_mut().push("end".into()));
        r.resume();
        run_until_idle();
        assert_eq!(
            *log.borrow(),
            ["construct"],
            "no _read before construct calls back"
        );
        open.borrow_mut().take().expect("construct called").ok();
        run_until_idle();
        assert_eq!(*log.borrow(), ["construct", "_read 4", "end"]);
    }
}
