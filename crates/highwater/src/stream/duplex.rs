//! Duplex streams: a readable side and a writable side in one stream.
//!
//! Node's `Duplex` is one object holding both states; so is highwater's: a
//! [`Duplex<R, W>`] has every method of both sides
//! ([`ReadableSide<R>`](crate::ReadableSide) and
//! [`WritableSide<W>`](crate::WritableSide)), one set of `'close'`/`'error'`
//! listeners, and one `destroy` that ends both sides. With `allow_half_open`
//! off, the writable side is ended when the readable side ends; the stream is
//! auto-destroyed only once both sides are done.
//!
//! [`Transform`](crate::Transform) and [`PassThrough`](crate::PassThrough)
//! are Duplex streams whose sides are connected by a transform function (see
//! [`transform`](crate::transform)).

use std::fmt;
use std::rc::Rc;

use bytes::Bytes;

use crate::state::readable::F as RF;
use crate::state::writable::F;
use crate::state::DuplexOptions;

use super::core::Core;
use super::readable::readable_side;
use super::side::sealed::{Handle, HasReadable, HasWritable};
use super::writable::writable_side;
use super::{ReadableImpl, WritableImpl};

/// A Duplex stream: reads chunks `R`, takes writes of chunks `W` (Node's
/// `Duplex`). Its methods are those of [`StreamBase`](crate::StreamBase),
/// [`ReadableSide`](crate::ReadableSide), [`WritableSide`](crate::WritableSide)
/// and [`ReadableExt`](crate::ReadableExt).
///
/// # Examples
///
/// An echo: what is written comes back out of the readable side.
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Done, Duplex, DuplexOptions, ReadableImpl, Source, WritableImpl};
///
/// #[derive(Clone, Default)]
/// struct Echo(Rc<RefCell<Option<Source<Bytes>>>>);
/// impl ReadableImpl<Bytes> for Echo {
///     fn read(&self, _size: usize, src: &Source<Bytes>) {
///         *self.0.borrow_mut() = Some(src.clone());
///     }
/// }
/// impl WritableImpl<Bytes> for Echo {
///     fn write(&self, chunk: Bytes, done: Done) {
///         if let Some(src) = &*self.0.borrow() {
///             src.push(chunk);
///         }
///         done.ok();
///     }
/// }
///
/// let echo = Echo::default();
/// let d = Duplex::new(DuplexOptions::default().high_water_mark(64), echo.clone(), echo);
/// let _ = d.read(Some(0)); // asks the readable side for data: the echo learns where to push
/// assert!(d.write(Bytes::from_static(b"ping")));
/// assert_eq!(d.read(None), Some(Bytes::from_static(b"ping")));
/// ```
pub struct Duplex<R: 'static = Bytes, W: 'static = Bytes> {
    pub(crate) core: Rc<Core<R, W>>,
}

impl<R: 'static, W: 'static> Clone for Duplex<R, W> {
    fn clone(&self) -> Self {
        Duplex {
            core: self.core.clone(),
        }
    }
}

impl<R: 'static, W: 'static> fmt::Debug for Duplex<R, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Duplex")
            .field("id", &self.core.id)
            .field("readable_length", &self.core.rs().borrow().length)
            .field("writable_length", &self.core.ws().borrow().length)
            .field("destroyed", &self.core.is_destroyed())
            .finish()
    }
}

impl<R: 'static, W: 'static> Handle for Duplex<R, W> {
    type R = R;
    type W = W;
    fn core(&self) -> &Rc<Core<R, W>> {
        &self.core
    }
}

impl<R: 'static, W: 'static> HasReadable for Duplex<R, W> {}
impl<R: 'static, W: 'static> HasWritable for Duplex<R, W> {}

impl<R: 'static, W: 'static> Duplex<R, W> {
    /// A Duplex over a source and a sink, each side counting its chunks as
    /// its options say (see [`DuplexOptions`]).
    ///
    /// A stream has one destroy hook (Node's single `_destroy`): the sink's
    /// [`WritableImpl::destroy`] is called, the source's
    /// [`ReadableImpl::destroy`] is not. Release the resources of both there.
    /// Likewise the sink's construct hook is used if it has one, else the
    /// source's.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Done, Duplex, DuplexOptions, ReadableImpl, Source, WritableImpl};
    ///
    /// struct Silent;
    /// impl ReadableImpl<u32> for Silent {
    ///     fn read(&self, _size: usize, _src: &Source<u32>) {}
    /// }
    /// struct Discard;
    /// impl WritableImpl<Bytes> for Discard {
    ///     fn write(&self, _chunk: Bytes, done: Done) { done.ok() }
    /// }
    ///
    /// // Objects out, bytes in.
    /// let opts = DuplexOptions::new(highwater::ReadableOptions::objects(), highwater::WritableOptions::default());
    /// let d: Duplex<u32, Bytes> = Duplex::new(opts, Silent, Discard);
    /// assert!(d.push(7));
    /// assert!(d.write(Bytes::from_static(b"x")));
    /// ```
    pub fn new(
        opts: DuplexOptions<R, W>,
        source: impl ReadableImpl<R>,
        sink: impl WritableImpl<W>,
    ) -> Self {
        Self::build(&opts, Box::new(source), Box::new(sink))
    }

    pub(crate) fn build(
        opts: &DuplexOptions<R, W>,
        source: Box<dyn ReadableImpl<R>>,
        sink: Box<dyn WritableImpl<W>>,
    ) -> Self {
        let r = readable_side(&opts.readable_side(), source);
        let w = writable_side(&opts.writable_side(), sink);
        if !opts.readable_enabled {
            let mut st = r.state.borrow_mut();
            st.readable_side = false;
            st.set(RF::ENDED | RF::END_EMITTED);
        }
        if !opts.writable_enabled {
            let mut st = w.state.borrow_mut();
            st.writable_side = false;
            st.set(F::ENDING | F::ENDED | F::FINISHED);
        }
        let core = Core::new(Some(w), Some(r), opts.allow_half_open);
        if let Some(signal) = opts.abort_signal() {
            crate::stream::abort::apply(&core, &signal);
        }
        Duplex { core }
    }

    /// Node's `allowHalfOpen`.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Done, Duplex, DuplexOptions, ReadableImpl, Source, WritableImpl};
    ///
    /// # struct Q;
    /// # impl ReadableImpl<Bytes> for Q { fn read(&self, _: usize, _: &Source<Bytes>) {} }
    /// # impl WritableImpl<Bytes> for Q { fn write(&self, _: Bytes, d: Done) { d.ok() } }
    /// let d = Duplex::new(DuplexOptions::default().allow_half_open(false), Q, Q);
    /// assert!(!d.allow_half_open());
    /// ```
    pub fn allow_half_open(&self) -> bool {
        self.core.allow_half_open
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use bytes::Bytes;

    use super::*;
    use crate::prelude::*;
    use crate::{run_until_idle, Done, Source, WritableEvent};

    struct Quiet;
    impl ReadableImpl<Bytes> for Quiet {
        fn read(&self, _size: usize, _src: &Source<Bytes>) {}
    }
    impl WritableImpl<Bytes> for Quiet {
        fn write(&self, _chunk: Bytes, done: Done) {
            done.ok();
        }
    }

    fn log_events(d: &Duplex) -> Rc<RefCell<Vec<&'static str>>> {
        let log = Rc::new(RefCell::new(Vec::new()));
        for (ev, name) in [
            (WritableEvent::Finish, "finish"),
            (WritableEvent::Prefinish, "prefinish"),
        ] {
            let l = log.clone();
            d.on(ev, move || l.borrow_mut().push(name));
        }
        let l = log.clone();
        d.on_end(move || l.borrow_mut().push("end"));
        let l = log.clone();
        d.on_close(move || l.borrow_mut().push("close"));
        log
    }

    #[test]
    fn allow_half_open_false_ends_the_writable_side_after_end() {
        // Node: end,prefinish,finish,close; writableEnded and destroyed after.
        let d = Duplex::new(
            DuplexOptions::default()
                .high_water_mark(16)
                .allow_half_open(false),
            Quiet,
            Quiet,
        );
        let log = log_events(&d);
        d.resume();
        d.push_eof();
        run_until_idle();
        assert_eq!(*log.borrow(), ["end", "prefinish", "finish", "close"]);
        assert!(d.writable_ended());
        assert!(d.destroyed());
    }

    #[test]
    fn half_open_by_default_waits_for_both_sides_before_closing() {
        // Node: end, (later end()) finish, close.
        let d = Duplex::new(DuplexOptions::default().high_water_mark(16), Quiet, Quiet);
        let log = log_events(&d);
        d.resume();
        d.push_eof();
        run_until_idle();
        assert_eq!(*log.borrow(), ["end"]);
        assert!(!d.destroyed(), "the writable side is still open");
        d.end();
        run_until_idle();
        assert_eq!(*log.borrow(), ["end", "prefinish", "finish", "close"]);
        assert!(d.destroyed());
    }

    #[test]
    fn disabled_sides_start_done() {
        let opts = DuplexOptions::default().high_water_mark(16).readable(false);
        let d = Duplex::new(opts, Quiet, Quiet);
        assert!(!d.readable());
        assert!(d.writable());
        let opts = DuplexOptions::default().high_water_mark(16).writable(false);
        let d = Duplex::new(opts, Quiet, Quiet);
        assert!(!d.writable());
        assert!(d.writable_finished());
        assert!(d.readable());
    }

    #[test]
    fn the_writable_low_water_mark_reaches_the_writable_side_only() {
        let opts = DuplexOptions::new(
            crate::ReadableOptions::default(),
            crate::WritableOptions::default()
                .high_water_mark(64)
                .low_water_mark(16),
        );
        let d = Duplex::new(opts, Quiet, Quiet);
        assert_eq!(d.writable_stats().low_water_mark, 16);
        let d = Duplex::new(DuplexOptions::default(), Quiet, Quiet);
        assert_eq!(d.writable_stats().low_water_mark, 0, "Node's 'drain' at 0");
    }

    #[test]
    fn per_side_marks_and_high_water_mark_overriding_both() {
        let opts = DuplexOptions::default()
            .readable_high_water_mark(3)
            .writable_high_water_mark(7);
        let d = Duplex::new(opts.clone(), Quiet, Quiet);
        assert_eq!(
            (d.readable_high_water_mark(), d.writable_high_water_mark()),
            (3, 7)
        );
        let d = Duplex::new(opts.high_water_mark(5), Quiet, Quiet);
        assert_eq!(
            (d.readable_high_water_mark(), d.writable_high_water_mark()),
            (5, 5)
        );
    }
}
