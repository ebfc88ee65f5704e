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
use std::rc::{Rc, Weak};

use crate::runtime::event_loop::next_tick;
use crate::runtime::ListenerId;
use crate::state::readable::AwaitDrain;
use crate::state::{Error, StreamId};
use crate::stream::core::Core;
use crate::stream::target::{PipeTarget, UnpipeInfo};

/// Options of [`pipe_with`](crate::ReadableExt::pipe_with) (Node's
/// `pipe(dest, { end })`).
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::PipeOptions;
///
/// let keep_open = PipeOptions::default().end(false);
/// assert_ne!(keep_open, PipeOptions::default());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipeOptions {
    pub(crate) end: bool,
}

impl Default for PipeOptions {
    fn default() -> Self {
        PipeOptions { end: true }
    }
}

impl PipeOptions {
    /// End the destination when the source ends (default true, as Node).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::PipeOptions;
    /// let _ = PipeOptions::default().end(false);
    /// ```
    #[must_use]
    pub fn end(mut self, on: bool) -> Self {
        self.end = on;
        self
    }
}

/// The closure state of one `pipe()` call (Node's local variables).
///
/// What keeps what alive, so that nothing outlives its use and no cycle
/// survives a close: the source's `'data'` and `'end'` listeners hold the
/// link and the destination strongly (the source writes to it: a
/// destination nobody else holds lives as long as the pipe can write); the
/// destination's listeners hold the link, which holds the source strongly
/// (a destination's `'drain'`/`'close'` still reach the source, as Node's
/// closures do) but the destination only weakly. Once the source has closed
/// its listeners are let go (`Listeners::release`), and the destination is
/// then held only by whoever else holds it.
struct Link<R: 'static, W: 'static> {
    src: Rc<Core<R, W>>,
    dest: Weak<dyn PipeTarget<R>>,
    dest_id: StreamId,
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
        let mut pipes = src.pipes.borrow_mut();
        let mut st = src.rs().borrow_mut();
        if pipes.len() == 1 && !st.multi_await_drain() {
            st.set_multi_await_drain(true);
            st.await_drain = match std::mem::take(&mut st.await_drain) {
                AwaitDrain::One(id) => AwaitDrain::Set(vec![id]),
                _ => AwaitDrain::Set(Vec::new()),
            };
        }
        pipes.push((dest.id(), Rc::downgrade(&dest)));
    }
    let link = Rc::new(Link {
        src: src.clone(),
        dest: Rc::downgrade(&dest),
        dest_id: dest.id(),
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
        let (l, d) = (link.clone(), dest.clone());
        Rc::new(move || {
            if end {
                d.clone().end();
            } else {
                unpipe_one(&l.src, d.id());
            }
        })
    };
    if src.rs().borrow().end_emitted() {
        let f = end_fn.clone();
        next_tick(move || f());
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
        let (l, d) = (link.clone(), dest.clone());
        let (l2, d2) = (link.clone(), dest.clone());
        let id = src.events.data.add_owned(
            Rc::new(move |chunk: &R| {
                // The chunk is shared, not copied (a `Bytes` clone is a
                // reference count), as Node hands the same Buffer on.
                let ret = d.clone().write(chunk.clone());
                if !ret {
                    pause(&l);
                }
            }),
            // The only `'data'` listener: the chunk itself is handed on.
            Rc::new(move |chunk: R| {
                let ret = d2.clone().write(chunk);
                if !ret {
                    pause(&l2);
                }
            }),
        );
        link.on_data.set(Some(id));
        src.data_listener_added();
    }

    // prependListener(dest, 'error', onerror)
    {
        let l = link.clone();
        link.on_error.set(Some(dest.error().add(
            Rc::new(move |er: &Error| {
                unpipe_one(&l.src, l.dest_id);
                // The destination is emitting: it is alive.
                let Some(dest) = l.dest.upgrade() else { return };
                if let Some(id) = l.on_error.take() {
                    dest.error().remove(id);
                }
                if dest.error().count() == 0 {
                    if !dest.error_emitted() {
                        dest.clone().error_or_destroy(er.clone());
                    } else {
                        // Node re-emits, throwing when nobody listens; the
                        // error stays on the stream instead (see the docs).
                        dest.error().emit(er);
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
                if let (Some(id), Some(dest)) = (l.on_finish.take(), l.dest.upgrade()) {
                    dest.finish().remove(id);
                }
                unpipe_one(&l.src, l.dest_id);
            }),
            true,
            false,
        )));
        let l = link.clone();
        link.on_finish.set(Some(dest.finish().add(
            Rc::new(move |_| {
                if let (Some(id), Some(dest)) = (l.on_close.take(), l.dest.upgrade()) {
                    dest.close().remove(id);
                }
                unpipe_one(&l.src, l.dest_id);
            }),
            true,
            false,
        )));
    }

    dest.pipe().emit(&src.id);

    if dest.need_drain_getter() {
        pause(&link);
    } else if !src.rs().borrow().is_flowing() {
        src.resume();
    }
    // The listeners hold the link (and through it both streams) until
    // `cleanup()` removes them, as Node's closures do.
}

/// Node's local `pause()` of `pipe`.
fn pause<R: 'static, W: 'static>(l: &Rc<Link<R, W>>) {
    if !l.cleaned_up.get() {
        let did = l.dest_id;
        {
            let pipes = l.src.pipes.borrow();
            let mut st = l.src.rs().borrow_mut();
            let only = pipes.len() == 1 && pipes[0].0 == did;
            if only {
                st.await_drain = AwaitDrain::One(did);
                st.set_multi_await_drain(false);
            } else if pipes.len() > 1 && pipes.iter().any(|p| p.0 == did) {
                if let AwaitDrain::Set(set) = &mut st.await_drain {
                    if !set.contains(&did) {
                        set.push(did);
                    }
                }
            }
        }
        l.src.pause();
    }
    if l.ondrain.get().is_none() {
        // Called from the source's 'data' listener (which holds the
        // destination) or from `pipe()` itself: the destination is alive.
        let Some(dest) = l.dest.upgrade() else { return };
        let w = l.clone();
        let id = dest
            .drain()
            .add(Rc::new(move |_| pipe_on_drain(&w)), false, false);
        l.ondrain.set(Some(id));
    }
}

/// Node's `pipeOnDrain`: resume once no destination is waited on.
fn pipe_on_drain<R: 'static, W: 'static>(l: &Rc<Link<R, W>>) {
    let did = l.dest_id;
    let resume = {
        let mut st = l.src.rs().borrow_mut();
        let multi = st.multi_await_drain();
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
        none && st.data_listening()
    };
    if resume {
        l.src.resume();
    }
}

/// Node's `cleanup()`: removes every listener of this pipe.
fn cleanup<R: 'static, W: 'static>(l: &Rc<Link<R, W>>) {
    // A destination already gone has no listeners left to remove.
    let dest = l.dest.upgrade();
    let ondrain = l.ondrain.get();
    if let Some(d) = &dest {
        if let Some(id) = l.on_close.take() {
            d.close().remove(id);
        }
        if let Some(id) = l.on_finish.take() {
            d.finish().remove(id);
        }
        if let Some(id) = ondrain {
            d.drain().remove(id);
        }
        if let Some(id) = l.on_error.take() {
            d.error().remove(id);
        }
        if let Some(id) = l.on_unpipe.take() {
            d.unpipe().remove(id);
        }
    }
    if let Some(id) = l.on_end.take() {
        l.src.events.end.remove(id);
    }
    if let Some(id) = l.on_data.take() {
        l.src.events.data.remove(id);
        l.src.data_listener_removed();
    }
    l.cleaned_up.set(true);
    let waiting = !matches!(l.src.rs().borrow().await_drain, AwaitDrain::Nobody);
    if ondrain.is_some() && waiting && dest.is_some_and(|d| d.need_drain_raw()) {
        pipe_on_drain(l);
    }
}

/// `src.unpipe(dest)`, the destination named by its id.
pub(crate) fn unpipe_one<R: 'static, W: 'static>(src: &Rc<Core<R, W>>, did: StreamId) {
    let (now_empty, dest) = {
        let mut pipes = src.pipes.borrow_mut();
        if pipes.is_empty() {
            return;
        }
        let Some(i) = pipes.iter().position(|p| p.0 == did) else {
            return;
        };
        let (_, dest) = pipes.remove(i);
        (pipes.is_empty(), dest)
    };
    if now_empty {
        src.pause();
    }
    // A destination that no longer exists has nobody to tell.
    if let Some(dest) = dest.upgrade() {
        dest.unpipe().emit(&UnpipeInfo {
            src: src.id,
            has_unpiped: Cell::new(false),
        });
    }
}

/// `src.unpipe()`: every destination.
pub(crate) fn unpipe_all<R: 'static, W: 'static>(src: &Rc<Core<R, W>>) {
    let dests = {
        let mut pipes = src.pipes.borrow_mut();
        if pipes.is_empty() {
            return;
        }
        std::mem::take(&mut *pipes)
    };
    src.pause();
    for d in dests.into_iter().filter_map(|(_, d)| d.upgrade()) {
        d.unpipe().emit(&UnpipeInfo {
            src: src.id,
            has_unpiped: Cell::new(false),
        });
    }
}
