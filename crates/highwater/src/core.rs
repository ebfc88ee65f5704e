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

use crate::event_loop::{next_tick, next_tick_target, TickTarget};
use crate::events::Listeners;
use crate::readable::machine as rm;
use crate::readable::{RState, ReadableImpl};
use crate::writable::machine as wm;
use crate::writable::{WState, WritableImpl};
use crate::Error;

/// Identifies a stream (for `'pipe'`/`'unpipe'` listeners and pipe
/// bookkeeping): unique per thread for the life of the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub(crate) u64);

thread_local! {
    static NEXT_STREAM: Cell<u64> = const { Cell::new(1) };
}

fn next_stream_id() -> StreamId {
    NEXT_STREAM.with(|n| {
        let id = n.get();
        n.set(id + 1);
        StreamId(id)
    })
}

pub(crate) struct WSide<W> {
    pub(crate) state: RefCell<WState<W>>,
    pub(crate) imp: Box<dyn WritableImpl<W>>,
}

pub(crate) struct RSide<R> {
    pub(crate) state: RefCell<RState<R>>,
    pub(crate) imp: Box<dyn ReadableImpl<R>>,
}

/// Every event of both sides. `'close'` and `'error'` are shared.
pub(crate) struct Events<R> {
    pub(crate) drain: Listeners<()>,
    pub(crate) prefinish: Listeners<()>,
    pub(crate) finish: Listeners<()>,
    pub(crate) pipe: Listeners<StreamId>,
    pub(crate) unpipe: Listeners<crate::pipe::UnpipeInfo>,
    pub(crate) close: Listeners<()>,
    pub(crate) error: Listeners<Error>,
    pub(crate) data: Listeners<R>,
    pub(crate) end: Listeners<()>,
    pub(crate) pause: Listeners<()>,
    pub(crate) resume: Listeners<()>,
    pub(crate) readable: Listeners<()>,
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

pub(crate) struct Core<R: 'static, W: 'static> {
    pub(crate) id: StreamId,
    pub(crate) w: Option<WSide<W>>,
    pub(crate) r: Option<RSide<R>>,
    pub(crate) events: Events<R>,
    /// The error `'close'` is preceded by, between `_destroy`'s callback and
    /// the close tick.
    pub(crate) close_error: RefCell<Option<Error>>,
    /// Duplex only: end the writable side after `'end'` when false.
    pub(crate) allow_half_open: bool,
}

impl<R: 'static, W: 'static> Core<R, W> {
    pub(crate) fn new(w: Option<WSide<W>>, r: Option<RSide<R>>, allow_half_open: bool) -> Rc<Self> {
        Rc::new(Core {
            id: next_stream_id(),
            w,
            r,
            events: Events::default(),
            close_error: RefCell::new(None),
            allow_half_open,
        })
    }

    /// The writable side's state. Only called on streams that have one.
    pub(crate) fn ws(&self) -> &RefCell<WState<W>> {
        match &self.w {
            Some(w) => &w.state,
            None => unreachable!("writable-side operation on a stream without one"),
        }
    }

    /// The readable side's state. Only called on streams that have one.
    pub(crate) fn rs(&self) -> &RefCell<RState<R>> {
        match &self.r {
            Some(r) => &r.state,
            None => unreachable!("readable-side operation on a stream without one"),
        }
    }

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
        self.w.as_ref().is_some_and(|w| w.state.borrow().destroyed)
            || self.r.as_ref().is_some_and(|r| r.state.borrow().destroyed)
    }

    /// `checkError`: record `err` as the error of both sides, if they have none.
    pub(crate) fn set_errored(&self, err: &Error) {
        if let Some(w) = &self.w {
            let mut st = w.state.borrow_mut();
            if st.errored.is_none() {
                st.errored = Some(err.clone());
            }
        }
        if let Some(r) = &self.r {
            let mut st = r.state.borrow_mut();
            if st.errored.is_none() {
                st.errored = Some(err.clone());
            }
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

/// Next-tick operations of a stream: writable ones below 100, readable ones
/// from 100, shared ones from 200.
pub(crate) mod op {
    /// `emitCloseNT` / `emitErrorCloseNT` after `_destroy` called back.
    pub const EMIT_CLOSE: u32 = 200;
}

impl<R: 'static, W: 'static> TickTarget for Core<R, W> {
    fn run_tick(self: Rc<Self>, code: u32) {
        match code {
            0..=99 => wm::run_tick(&self, code),
            100..=199 => rm::run_tick(&self, code),
            op::EMIT_CLOSE => {
                let err = self.close_error.borrow_mut().take();
                if let Some(err) = err {
                    emit_error_nt(&self, err);
                }
                emit_close_nt(&self);
            }
            _ => unreachable!("unknown tick op {code}"),
        }
    }
}

pub(crate) fn tick<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, code: u32) {
    next_tick_target(c.clone(), code);
}

/// `destroy(err)`: Writable's (fails the buffer on the next tick) when there
/// is a writable side, then `destroyImpl.destroy`.
pub(crate) fn destroy<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, err: Option<Error>) {
    if c.w.is_some() {
        wm::schedule_error_buffer_on_destroy(c);
    }
    if c.is_destroyed() {
        return;
    }
    if let Some(e) = &err {
        c.set_errored(e);
    }
    if let Some(w) = &c.w {
        w.state.borrow_mut().destroyed = true;
    }
    if let Some(r) = &c.r {
        r.state.borrow_mut().destroyed = true;
    }
    c.wake_all();
    let done = crate::writable::Done::destroy(c);
    // `_destroy`: the writable sink's hook, else the readable source's.
    match (&c.w, &c.r) {
        (Some(w), _) => w.imp.destroy(err, done),
        (None, Some(r)) => r.imp.destroy(err, done),
        (None, None) => done.call(err.map_or(Ok(()), Err)),
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
    *c.close_error.borrow_mut() = err;
    tick(c, op::EMIT_CLOSE);
}

pub(crate) fn emit_error_nt<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, err: Error) {
    let emitted = c.w.as_ref().is_some_and(|w| w.state.borrow().error_emitted)
        || c.r.as_ref().is_some_and(|r| r.state.borrow().error_emitted);
    if emitted {
        return;
    }
    if let Some(w) = &c.w {
        w.state.borrow_mut().error_emitted = true;
    }
    if let Some(r) = &c.r {
        r.state.borrow_mut().error_emitted = true;
    }
    c.wake_all();
    c.events.error.emit(&err);
}

pub(crate) fn emit_close_nt<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut emit = false;
    if let Some(w) = &c.w {
        let mut st = w.state.borrow_mut();
        st.close_emitted = true;
        emit |= st.emit_close;
    }
    if let Some(r) = &c.r {
        let mut st = r.state.borrow_mut();
        st.close_emitted = true;
        emit |= st.emit_close;
    }
    c.wake_all();
    if emit {
        c.events.close.emit(&());
    }
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
    pub(crate) fn remove_listener(self: &Rc<Self>, id: crate::ListenerId) -> bool {
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
            if let Some(e) = &w.state.borrow().errored {
                return Some(e.clone());
            }
        }
        self.r
            .as_ref()
            .and_then(|r| r.state.borrow().errored.clone())
    }
}
