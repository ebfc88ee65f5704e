//! `readable.pipe(writable)`: Node's `Readable.prototype.pipe` and `unpipe`.
//!
//! A pipe is a set of listeners, exactly as in Node: `'data'` on the source
//! writes to the destination and pauses the source when `write()` returns
//! `false`; `'drain'` on the destination resumes it once every destination
//! that asked for a pause has drained; the source's `'end'` ends the
//! destination (unless `end: false`); the destination's `'finish'`, `'close'`
//! and `'error'` unpipe. Only `end` is forwarded: errors and destroys are not
//! (that is [`Pipeline`](crate::Pipeline)'s job).

use std::cell::Cell;
use std::rc::Rc;

use crate::core::{Core, StreamId};
use crate::events::{ListenerId, Listeners};
use crate::readable::machine::{self as rm, AwaitDrain};
use crate::Error;

/// The argument of an internal `'unpipe'` emit: the source, and Node's
/// `unpipeInfo.hasUnpiped`, shared by the listeners of that one emit.
pub(crate) struct UnpipeInfo {
    pub(crate) src: StreamId,
    pub(crate) has_unpiped: Cell<bool>,
}

/// What a pipe needs of its destination, whatever its readable side.
pub(crate) trait PipeTarget<T>: 'static {
    fn id(&self) -> StreamId;
    fn write(self: Rc<Self>, chunk: T) -> bool;
    fn end(self: Rc<Self>);
    /// `writableNeedDrain`.
    fn need_drain_getter(&self) -> bool;
    /// `_writableState.needDrain`.
    fn need_drain_raw(&self) -> bool;
    fn error_emitted(&self) -> bool;
    fn error_or_destroy(self: Rc<Self>, err: Error);
    /// `writableLength`.
    fn length(&self) -> usize;
    /// Destroyed or errored: takes no more writes.
    fn dead(&self) -> bool;
    fn drain(&self) -> &Listeners<()>;
    fn close(&self) -> &Listeners<()>;
    fn finish(&self) -> &Listeners<()>;
    fn error(&self) -> &Listeners<Error>;
    fn pipe(&self) -> &Listeners<StreamId>;
    fn unpipe(&self) -> &Listeners<UnpipeInfo>;
}

impl<R: 'static, W: 'static> PipeTarget<W> for Core<R, W> {
    fn id(&self) -> StreamId {
        self.id
    }
    fn write(self: Rc<Self>, chunk: W) -> bool {
        matches!(
            crate::writable::machine::write_(&self, chunk, crate::callback::Cb::Nop),
            Ok(true)
        )
    }
    fn end(self: Rc<Self>) {
        crate::writable::machine::end(&self, None, crate::callback::Cb::Nop);
    }
    fn need_drain_getter(&self) -> bool {
        let st = self.ws().borrow();
        st.need_drain && !st.destroyed && !st.ending
    }
    fn need_drain_raw(&self) -> bool {
        self.ws().borrow().need_drain
    }
    fn error_emitted(&self) -> bool {
        self.ws().borrow().error_emitted
    }
    fn error_or_destroy(self: Rc<Self>, err: Error) {
        crate::core::error_or_destroy(&self, err, false);
    }
    fn length(&self) -> usize {
        self.ws().borrow().length
    }
    fn dead(&self) -> bool {
        let st = self.ws().borrow();
        st.destroyed || st.errored.is_some()
    }
    fn drain(&self) -> &Listeners<()> {
        &self.events.drain
    }
    fn close(&self) -> &Listeners<()> {
        &self.events.close
    }
    fn finish(&self) -> &Listeners<()> {
        &self.events.finish
    }
    fn error(&self) -> &Listeners<Error> {
        &self.events.error
    }
    fn pipe(&self) -> &Listeners<StreamId> {
        &self.events.pipe
    }
    fn unpipe(&self) -> &Listeners<UnpipeInfo> {
        &self.events.unpipe
    }
}

/// A stream a Readable can pipe into: a [`Writable`](crate::Writable) or the
/// writable side of a [`Duplex`](crate::Duplex) (a Transform, a PassThrough).
pub trait PipeDestination<T>: sealed::Sealed {
    #[doc(hidden)]
    fn pipe_target(&self) -> PipeTargetRef<T>;
}

/// An opaque handle to a pipe destination (see [`PipeDestination`]).
pub struct PipeTargetRef<T>(pub(crate) Rc<dyn PipeTarget<T>>);

impl<T: 'static> std::fmt::Debug for PipeTargetRef<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PipeTargetRef({:?})", self.0.id())
    }
}

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// Options of [`pipe_with`](crate::Readable::pipe_with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipeOptions {
    /// End the destination when the source ends (default true).
    pub end: bool,
}

impl Default for PipeOptions {
    fn default() -> Self {
        PipeOptions { end: true }
    }
}

/// The closure state of one `pipe()` call (Node's local variables).
struct Link<R: 'static, W: 'static> {
    src: Rc<Core<R, W>>,
    dest: Rc<dyn PipeTarget<R>>,
    cleaned_up: Cell<bool>,
    ondrain: Cell<Option<ListenerId>>,
    /// Listener ids to remove in `cleanup()`.
    on_end: Cell<Option<ListenerId>>,
    on_data: Cell<Option<ListenerId>>,
    on_unpipe: Cell<Option<ListenerId>>,
    on_error: Cell<Option<ListenerId>>,
    on_close: Cell<Option<ListenerId>>,
    on_finish: Cell<Option<ListenerId>>,
}

/// `src.pipe(dest, {end})`.
pub(crate) fn pipe<R: Clone + 'static, W: 'static>(
    src: &Rc<Core<R, W>>,
    dest: Rc<dyn PipeTarget<R>>,
    end: bool,
) {
    {
        let mut st = src.rs().borrow_mut();
        if st.pipes.len() == 1 && !st.multi_await_drain {
            st.multi_await_drain = true;
            st.await_drain = match std::mem::take(&mut st.await_drain) {
                AwaitDrain::One(id) => AwaitDrain::Set(vec![id]),
                _ => AwaitDrain::Set(Vec::new()),
            };
        }
        st.pipes.push(dest.clone());
    }
    let link = Rc::new(Link {
        src: src.clone(),
        dest: dest.clone(),
        cleaned_up: Cell::new(false),
        ondrain: Cell::new(None),
        on_end: Cell::new(None),
        on_data: Cell::new(None),
        on_unpipe: Cell::new(None),
        on_error: Cell::new(None),
        on_close: Cell::new(None),
        on_finish: Cell::new(None),
    });

    // The source's 'end' ends the destination (or just unpipes, end: false).
    let end_fn: Rc<dyn Fn()> = {
        let l = link.clone();
        Rc::new(move || {
            if end {
                l.dest.clone().end();
            } else {
                unpipe_one(&l.src, &l.dest);
            }
        })
    };
    if src.rs().borrow().end_emitted {
        let f = end_fn.clone();
        crate::next_tick(move || f());
    } else {
        let f = end_fn.clone();
        link.on_end
            .set(Some(src.events.end.add(Rc::new(move |_| f()), true, false)));
    }

    // dest.on('unpipe', onunpipe)
    {
        let l = link.clone();
        let src_id = src.id;
        link.on_unpipe.set(Some(dest.unpipe().add(
            Rc::new(move |info: &UnpipeInfo| {
                if info.src == src_id && !info.has_unpiped.get() {
                    info.has_unpiped.set(true);
                    cleanup(&l);
                }
            }),
            false,
            false,
        )));
    }

    // src.on('data', ondata)
    {
        let l = link.clone();
        let id = src.events.data.add(
            Rc::new(move |chunk: &R| {
                // The chunk is shared, not copied (a `Bytes` clone is a
                // reference count), as Node hands the same Buffer on.
                let ret = l.dest.clone().write(chunk.clone());
                if !ret {
                    pause(&l);
                }
            }),
            false,
            false,
        );
        link.on_data.set(Some(id));
        rm::on_data_listener_added(src);
    }

    // prependListener(dest, 'error', onerror)
    {
        let l = link.clone();
        link.on_error.set(Some(dest.error().add(
            Rc::new(move |er: &Error| {
                unpipe_one(&l.src, &l.dest);
                if let Some(id) = l.on_error.take() {
                    l.dest.error().remove(id);
                }
                if l.dest.error().count() == 0 {
                    if !l.dest.error_emitted() {
                        l.dest.clone().error_or_destroy(er.clone());
                    } else {
                        // Node re-emits, throwing when nobody listens; the
                        // error stays on the stream instead (see the docs).
                        l.dest.error().emit(er);
                    }
                }
            }),
            false,
            true,
        )));
    }

    // dest.once('close', onclose); dest.once('finish', onfinish)
    {
        let l = link.clone();
        link.on_close.set(Some(dest.close().add(
            Rc::new(move |_| {
                if let Some(id) = l.on_finish.take() {
                    l.dest.finish().remove(id);
                }
                unpipe_one(&l.src, &l.dest);
            }),
            true,
            false,
        )));
        let l = link.clone();
        link.on_finish.set(Some(dest.finish().add(
            Rc::new(move |_| {
                if let Some(id) = l.on_close.take() {
                    l.dest.close().remove(id);
                }
                unpipe_one(&l.src, &l.dest);
            }),
            true,
            false,
        )));
    }

    dest.pipe().emit(&src.id);

    if dest.need_drain_getter() {
        pause(&link);
    } else if src.rs().borrow().flowing != Some(true) {
        rm::resume(src);
    }
    // The listeners hold the link (and through it both streams) until
    // `cleanup()` removes them, as Node's closures do.
}

/// Node's local `pause()` of `pipe`.
fn pause<R: 'static, W: 'static>(l: &Rc<Link<R, W>>) {
    if !l.cleaned_up.get() {
        let did = l.dest.id();
        {
            let mut st = l.src.rs().borrow_mut();
            let only = st.pipes.len() == 1 && st.pipes[0].id() == did;
            if only {
                st.await_drain = AwaitDrain::One(did);
                st.multi_await_drain = false;
            } else if st.pipes.len() > 1 && st.pipes.iter().any(|p| p.id() == did) {
                if let AwaitDrain::Set(set) = &mut st.await_drain {
                    if !set.contains(&did) {
                        set.push(did);
                    }
                }
            }
        }
        rm::pause(&l.src);
    }
    if l.ondrain.get().is_none() {
        let w = l.clone();
        let id = l
            .dest
            .drain()
            .add(Rc::new(move |_| pipe_on_drain(&w)), false, false);
        l.ondrain.set(Some(id));
    }
}

/// Node's `pipeOnDrain`: resume once no destination is waited on.
fn pipe_on_drain<R: 'static, W: 'static>(l: &Rc<Link<R, W>>) {
    let did = l.dest.id();
    let resume = {
        let mut st = l.src.rs().borrow_mut();
        let multi = st.multi_await_drain;
        match &mut st.await_drain {
            AwaitDrain::One(id) if *id == did => st.await_drain = AwaitDrain::Nobody,
            AwaitDrain::Set(set) if multi => set.retain(|x| *x != did),
            _ => {}
        }
        let none = match &st.await_drain {
            AwaitDrain::Nobody => true,
            AwaitDrain::Set(s) => s.is_empty(),
            AwaitDrain::One(_) => false,
        };
        none && st.data_listening
    };
    if resume {
        rm::resume(&l.src);
    }
}

/// Node's `cleanup()`: removes every listener of this pipe.
fn cleanup<R: 'static, W: 'static>(l: &Rc<Link<R, W>>) {
    if let Some(id) = l.on_close.take() {
        l.dest.close().remove(id);
    }
    if let Some(id) = l.on_finish.take() {
        l.dest.finish().remove(id);
    }
    let ondrain = l.ondrain.get();
    if let Some(id) = ondrain {
        l.dest.drain().remove(id);
    }
    if let Some(id) = l.on_error.take() {
        l.dest.error().remove(id);
    }
    if let Some(id) = l.on_unpipe.take() {
        l.dest.unpipe().remove(id);
    }
    if let Some(id) = l.on_end.take() {
        l.src.events.end.remove(id);
    }
    if let Some(id) = l.on_data.take() {
        l.src.events.data.remove(id);
        rm::on_data_listener_removed(&l.src);
    }
    l.cleaned_up.set(true);
    let waiting = !matches!(l.src.rs().borrow().await_drain, AwaitDrain::Nobody);
    if ondrain.is_some() && waiting && l.dest.need_drain_raw() {
        pipe_on_drain(l);
    }
}

/// `src.unpipe(dest)`.
pub(crate) fn unpipe_one<R: 'static, W: 'static>(
    src: &Rc<Core<R, W>>,
    dest: &Rc<dyn PipeTarget<R>>,
) {
    let did = dest.id();
    let now_empty = {
        let mut st = src.rs().borrow_mut();
        if st.pipes.is_empty() {
            return;
        }
        let Some(i) = st.pipes.iter().position(|p| p.id() == did) else {
            return;
        };
        st.pipes.remove(i);
        st.pipes.is_empty()
    };
    if now_empty {
        rm::pause(src);
    }
    dest.unpipe().emit(&UnpipeInfo {
        src: src.id,
        has_unpiped: Cell::new(false),
    });
}

/// `src.unpipe()`: every destination.
pub(crate) fn unpipe_all<R: 'static, W: 'static>(src: &Rc<Core<R, W>>) {
    let dests = {
        let mut st = src.rs().borrow_mut();
        if st.pipes.is_empty() {
            return;
        }
        std::mem::take(&mut st.pipes)
    };
    rm::pause(src);
    for d in dests {
        d.unpipe().emit(&UnpipeInfo {
            src: src.id,
            has_unpiped: Cell::new(false),
        });
    }
}
