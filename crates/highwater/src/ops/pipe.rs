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

use crate::runtime::event_loop::next_tick;
use crate::runtime::ListenerId;
use crate::state::readable::AwaitDrain;
use crate::state::Error;
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
        let mut pipes = src.pipes.borrow_mut();
        let mut st = src.rs().borrow_mut();
        if pipes.len() == 1 && !st.multi_await_drain {
            st.multi_await_drain = true;
            st.await_drain = match std::mem::take(&mut st.await_drain) {
                AwaitDrain::One(id) => AwaitDrain::Set(vec![id]),
                _ => AwaitDrain::Set(Vec::new()),
            };
        }
        pipes.push(dest.clone());
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
        src.data_listener_added();
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
        src.resume();
    }
    // The listeners hold the link (and through it both streams) until
    // `cleanup()` removes them, as Node's closures do.
}

/// Node's local `pause()` of `pipe`.
fn pause<R: 'static, W: 'static>(l: &Rc<Link<R, W>>) {
    if !l.cleaned_up.get() {
        let did = l.dest.id();
        {
            let pipes = l.src.pipes.borrow();
            let mut st = l.src.rs().borrow_mut();
            let only = pipes.len() == 1 && pipes[0].id() == did;
            if only {
                st.await_drain = AwaitDrain::One(did);
                st.multi_await_drain = false;
            } else if pipes.len() > 1 && pipes.iter().any(|p| p.id() == did) {
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
        l.src.resume();
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
        l.src.data_listener_removed();
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
        let mut pipes = src.pipes.borrow_mut();
        if pipes.is_empty() {
            return;
        }
        let Some(i) = pipes.iter().position(|p| p.id() == did) else {
            return;
        };
        pipes.remove(i);
        pipes.is_empty()
    };
    if now_empty {
        src.pause();
    }
    dest.unpipe().emit(&UnpipeInfo {
        src: src.id,
        has_unpiped: Cell::new(false),
    });
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
    for d in dests {
        d.unpipe().emit(&UnpipeInfo {
            src: src.id,
            has_unpiped: Cell::new(false),
        });
    }
}
