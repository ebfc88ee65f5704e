//! `Duplex.from({ readable, writable })`: Node's
//! `lib/internal/streams/duplexify.js` (its `_duplexify`).
//!
//! A new Duplex whose writes go to one stream and whose reads come from
//! another. The new stream has its own buffers (Node's "double buffering"):
//! its `_write` writes into the writable and holds the callback until
//! `'drain'` when `write()` returned `false`; its `_final` ends the writable
//! and calls back at its `'finish'`; its `_read` reads the readable until
//! `read()` returns nothing and waits for `'readable'`; the readable's
//! `'end'` ends it. Each inner stream is watched with
//! [`finished`](fn@crate::finished): an error there destroys the whole, and
//! destroying the whole destroys both (with `ABORT_ERR` when no error was
//! given and neither had finished), its `'close'` waiting for the first of
//! them to settle.
//!
//! The same machinery, with the differences Node's `compose.js` has, backs
//! [`Compose`](crate::Compose).

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use crate::state::{DuplexOptions, Error, ErrorKind};
use crate::stream::core::{self as core_, Core};
use crate::stream::{
    Done, Duplex, Hooks, ReadableImpl, ReadableSide, Source, WritableEvent, WritableImpl,
    WritableSide,
};

use super::finished::eos;
use super::pipeline::Stage;

/// Node's `onclose`: `undefined` at first, `null` once an inner stream
/// settled, or the destroy callback waiting for one to settle.
#[derive(Default)]
pub(crate) enum OnClose {
    #[default]
    Unset,
    Null,
    Waiting(Done),
}

/// The callbacks the outer stream's hooks leave for the inner streams'
/// events (Node's `ondrain`, `onfinish`, `onreadable`, `onclose`).
#[derive(Default)]
pub(crate) struct Waiters {
    pub(crate) ondrain: RefCell<Option<Done>>,
    pub(crate) onfinish: RefCell<Option<Done>>,
    pub(crate) onreadable: Cell<bool>,
    pub(crate) onclose: RefCell<OnClose>,
}

impl Waiters {
    /// `ondrain`: the held write callback, called once.
    pub(crate) fn drain(&self) {
        let cb = self.ondrain.borrow_mut().take();
        if let Some(cb) = cb {
            cb.ok();
        }
    }

    /// `onfinish`: the held final callback, called once.
    pub(crate) fn finish(&self) {
        let cb = self.onfinish.borrow_mut().take();
        if let Some(cb) = cb {
            cb.ok();
        }
    }

    /// Takes `onclose`, leaving `null`.
    pub(crate) fn take_onclose(&self) -> OnClose {
        std::mem::replace(&mut *self.onclose.borrow_mut(), OnClose::Null)
    }

    /// The first lines of `_destroy`: `AbortError` when destroyed without an
    /// error before any inner stream settled; the held callbacks dropped.
    pub(crate) fn destroy_error(&self, err: Option<Error>) -> Option<Error> {
        let unset_or_waiting = !matches!(*self.onclose.borrow(), OnClose::Null);
        self.onreadable.set(false);
        self.ondrain.borrow_mut().take();
        self.onfinish.borrow_mut().take();
        match err {
            None if unset_or_waiting => Some(Error::new(ErrorKind::Aborted)),
            e => e,
        }
    }
}

type ReadFn<R> = Rc<dyn Fn() -> Option<R>>;
type WriteFns<W> = (Box<dyn Fn(W) -> bool>, Box<dyn Fn()>);

/// `d._read`: read the inner readable until it has nothing, then wait for
/// its `'readable'`; stop when the outer buffer is full.
pub(crate) fn read_loop<R: 'static>(waiters: &Waiters, read: &ReadFn<R>, src: &Source<R>) {
    loop {
        match read() {
            None => {
                waiters.onreadable.set(true);
                return;
            }
            Some(chunk) => {
                if !src.push(chunk) {
                    return;
                }
            }
        }
    }
}

/// The outer stream's sink: writes into the inner writable.
pub(crate) struct BridgeSink<W> {
    pub(crate) waiters: Rc<Waiters>,
    pub(crate) write: Box<dyn Fn(W) -> bool>,
    pub(crate) end: Box<dyn Fn()>,
    pub(crate) destroy: Box<dyn Fn(Option<Error>, Done)>,
}

impl<W: 'static> WritableImpl<W> for BridgeSink<W> {
    fn write(&self, chunk: W, done: Done) {
        if (self.write)(chunk) {
            done.ok();
        } else {
            *self.waiters.ondrain.borrow_mut() = Some(done);
        }
    }

    fn hooks(&self) -> Hooks {
        Hooks::FINAL
    }

    fn finish(&self, done: Done) {
        (self.end)();
        *self.waiters.onfinish.borrow_mut() = Some(done);
    }

    fn destroy(&self, err: Option<Error>, done: Done) {
        (self.destroy)(err, done);
    }
}

/// The outer stream's source: reads from the inner readable.
pub(crate) struct BridgeSource<R> {
    pub(crate) waiters: Rc<Waiters>,
    pub(crate) read: Option<ReadFn<R>>,
}

impl<R: 'static> ReadableImpl<R> for BridgeSource<R> {
    fn read(&self, _size: usize, src: &Source<R>) {
        if let Some(read) = &self.read {
            read_loop(&self.waiters, read, src);
        }
    }
}

/// `destroyer(stream, err)` of `destroy.js`.
pub(crate) fn destroyer(stage: &Option<Rc<dyn Stage>>, err: Option<Error>) {
    if let Some(s) = stage {
        s.clone().destroyer(err);
    }
}

/// Registers the inner readable's `'readable'` and `'end'` listeners, which
/// hold the outer stream weakly.
pub(crate) fn attach_readable<R: 'static, W: 'static, S: ReadableSide<R>>(
    r: &S,
    d: &Duplex<R, W>,
    waiters: &Rc<Waiters>,
    read: ReadFn<R>,
) {
    let (wk, dw) = (Rc::downgrade(waiters), Rc::downgrade(&d.core));
    r.on_readable(move || {
        let (Some(waiters), Some(core)) = (wk.upgrade(), dw.upgrade()) else {
            return;
        };
        if waiters.onreadable.replace(false) {
            read_loop(&waiters, &read, &Source::new(&core));
        }
    });
    let dw = Rc::downgrade(&d.core);
    r.on_end(move || {
        if let Some(core) = dw.upgrade() {
            Duplex { core }.push_eof();
        }
    });
}

/// Registers the inner writable's `'drain'` listener.
pub(crate) fn attach_drain<W: 'static, S: WritableSide<W>>(w: &S, waiters: &Rc<Waiters>) {
    let wk = Rc::downgrade(waiters);
    w.on(WritableEvent::Drain, move || {
        if let Some(waiters) = wk.upgrade() {
            waiters.drain();
        }
    });
}

fn destroy_outer<R: 'static, W: 'static>(d: &Weak<Core<R, W>>, err: Option<Error>) {
    if let Some(core) = d.upgrade() {
        core_::destroy(&core, err);
    }
}

/// Node's `onfinished` in `_duplexify`.
fn on_finished<R: 'static, W: 'static>(
    waiters: &Waiters,
    d: &Weak<Core<R, W>>,
    err: Option<Error>,
) {
    match waiters.take_onclose() {
        OnClose::Waiting(cb) => cb.call(err.map_or(Ok(()), Err)),
        _ => {
            if err.is_some() {
                destroy_outer(d, err);
            }
        }
    }
}

impl<R: 'static, W: 'static> Duplex<R, W> {
    /// Node's `Duplex.from({ readable, writable })`: a Duplex whose writes go
    /// to `writable` and whose reads come from `readable`, each any stream
    /// with that side (a [`Readable`](crate::Readable), a
    /// [`Writable`](crate::Writable), a Transform, a file stream, a socket).
    ///
    /// The new stream has its own buffers, sized by `opts` (Node gives it
    /// the default marks and takes the object modes of the inner streams;
    /// here the options say both). An error of either inner stream destroys
    /// it with that error; destroying it destroys both inner streams (with
    /// `ABORT_ERR` if no error is given and neither had finished), and its
    /// `'close'` follows once the first of them has settled. `end()` ends
    /// `writable`, and `'finish'` follows its `'finish'`.
    ///
    /// A side whose inner stream is already done (not
    /// [`readable()`](ReadableSide::readable) /
    /// [`writable()`](WritableSide::writable)) starts disabled, as Node's
    /// `isReadable`/`isWritable` checks do.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Duplex, DuplexOptions, Readable, ReadableOptions, Writable, WritableOptions};
    /// use std::{cell::RefCell, rc::Rc};
    ///
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let got = Rc::new(RefCell::new(Vec::new()));
    /// let g = got.clone();
    /// let dst = Writable::from_fn(WritableOptions::default(), move |c: Bytes| {
    ///     g.borrow_mut().extend_from_slice(&c);
    ///     Ok(())
    /// });
    /// let d = Duplex::from_pair(&src, &dst, DuplexOptions::default());
    /// d.write(Bytes::from_static(b"to the writable"));
    /// src.push(Bytes::from_static(b"from the readable"));
    /// src.push_eof();
    /// highwater::run_until_idle();
    /// assert_eq!(&*got.borrow(), b"to the writable");
    /// assert_eq!(d.read(None), Some(Bytes::from_static(b"from the readable")));
    /// ```
    pub fn from_pair<RS, WS>(readable: &RS, writable: &WS, opts: DuplexOptions<R, W>) -> Self
    where
        RS: ReadableSide<R> + Clone + 'static,
        WS: WritableSide<W> + Clone + 'static,
    {
        duplexify(Some(readable), Some(writable), opts)
    }

    /// Node's `Duplex.from(readable)` (and `Duplex.from({ readable })`): a
    /// Duplex that reads from `readable` and whose writable side is disabled
    /// (Node's `writable: false`).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Duplex, DuplexOptions, Readable, ReadableOptions};
    ///
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let d: Duplex<Bytes, Bytes> = Duplex::from_readable(&src, DuplexOptions::default());
    /// assert!(d.readable() && !d.writable());
    /// src.push(Bytes::from_static(b"asd"));
    /// src.push_eof();
    /// highwater::run_until_idle();
    /// assert_eq!(d.read(None), Some(Bytes::from_static(b"asd")));
    /// ```
    pub fn from_readable<RS>(readable: &RS, opts: DuplexOptions<R, W>) -> Self
    where
        RS: ReadableSide<R> + Clone + 'static,
    {
        duplexify::<R, W, RS, Duplex<W, W>>(Some(readable), None, opts)
    }

    /// Node's `Duplex.from(writable)` (and `Duplex.from({ writable })`): a
    /// Duplex that writes into `writable` and whose readable side is
    /// disabled (Node's `readable: false`).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Duplex, DuplexOptions, Writable, WritableOptions};
    ///
    /// let dst = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let d: Duplex<Bytes, Bytes> = Duplex::from_writable(&dst, DuplexOptions::default());
    /// assert!(!d.readable() && d.writable());
    /// d.end_with_chunk(Bytes::from_static(b"asd"));
    /// highwater::run_until_idle();
    /// assert!(d.writable_finished() && dst.writable_finished());
    /// ```
    pub fn from_writable<WS>(writable: &WS, opts: DuplexOptions<R, W>) -> Self
    where
        WS: WritableSide<W> + Clone + 'static,
    {
        duplexify::<R, W, Duplex<R, R>, WS>(None, Some(writable), opts)
    }
}

/// Node's `_duplexify({ readable, writable })`.
fn duplexify<R, W, RS, WS>(
    r: Option<&RS>,
    w: Option<&WS>,
    opts: DuplexOptions<R, W>,
) -> Duplex<R, W>
where
    R: 'static,
    W: 'static,
    RS: ReadableSide<R> + Clone + 'static,
    WS: WritableSide<W> + Clone + 'static,
{
    let readable = r.is_some_and(|r| r.core().is_readable() == Some(true));
    let writable = w.is_some_and(|w| w.core().is_writable() == Some(true));
    let waiters = Rc::new(Waiters::default());
    let rstage: Option<Rc<dyn Stage>> = r.map(|r| r.core().clone() as Rc<dyn Stage>);
    let wstage: Option<Rc<dyn Stage>> = w.map(|w| w.core().clone() as Rc<dyn Stage>);
    let outer: Rc<RefCell<Weak<Core<R, W>>>> = Rc::new(RefCell::new(Weak::new()));

    let read: Option<ReadFn<R>> = match r {
        Some(r) if readable => {
            let r = r.clone();
            Some(Rc::new(move || r.read(None)))
        }
        _ => None,
    };
    let (write, end): WriteFns<W> = match w {
        Some(w) if writable => {
            let (w1, w2) = (w.clone(), w.clone());
            (Box::new(move |c| w1.write(c)), Box::new(move || w2.end()))
        }
        _ => (Box::new(|_| true), Box::new(|| {})),
    };
    let destroy = {
        let (waiters, rstage, wstage) = (waiters.clone(), rstage.clone(), wstage.clone());
        Box::new(move |err: Option<Error>, done: Done| {
            let err = waiters.destroy_error(err);
            if matches!(*waiters.onclose.borrow(), OnClose::Null) {
                done.call(err.map_or(Ok(()), Err));
            } else {
                *waiters.onclose.borrow_mut() = OnClose::Waiting(done);
                destroyer(&wstage, err.clone());
                destroyer(&rstage, err);
            }
        })
    };
    let sink = BridgeSink {
        waiters: waiters.clone(),
        write,
        end,
        destroy,
    };
    let source = BridgeSource {
        waiters: waiters.clone(),
        read: read.clone(),
    };
    let d = Duplex::new(opts.readable(readable).writable(writable), source, sink);
    *outer.borrow_mut() = Rc::downgrade(&d.core);

    if let (Some(w), true) = (w, writable) {
        let (wk, dw, rstage) = (
            Rc::downgrade(&waiters),
            outer.borrow().clone(),
            rstage.clone(),
        );
        let _ = eos(w.core(), None, None, move |err| {
            if err.is_some() {
                destroyer(&rstage, err.clone());
            }
            if let Some(waiters) = wk.upgrade() {
                on_finished(&waiters, &dw, err);
            }
        });
        attach_drain(w, &waiters);
        let wk = Rc::downgrade(&waiters);
        w.on(WritableEvent::Finish, move || {
            if let Some(waiters) = wk.upgrade() {
                waiters.finish();
            }
        });
    }
    if let (Some(r), Some(read)) = (r, read) {
        let (wk, dw, rstage) = (
            Rc::downgrade(&waiters),
            outer.borrow().clone(),
            rstage.clone(),
        );
        let _ = eos(r.core(), None, None, move |err| {
            if err.is_some() {
                // Node destroys the readable here (not the writable).
                destroyer(&rstage, err.clone());
            }
            if let Some(waiters) = wk.upgrade() {
                on_finished(&waiters, &dw, err);
            }
        });
        attach_readable(r, &d, &waiters, read);
    }
    d
}
