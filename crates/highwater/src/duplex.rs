//! Duplex streams: a readable side and a writable side in one stream.
//!
//! Node's `Duplex` is one object holding both states; so is highwater's: a
//! [`Duplex<R, W>`] has every method of a [`Readable<R>`](crate::Readable)
//! and of a [`Writable<W>`](crate::Writable), one set of `'close'`/`'error'`
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

use crate::core::Core;
use crate::readable::{byte_ops, object_ops, readable_side, ByteChunk, ReadableImpl};
use crate::writable::{writable_side, ByteLen, WritableImpl};
use crate::{ReadableOptions, WritableOptions};

/// Options of a [`Duplex`], as Node's `new Duplex(options)`.
///
/// `high_water_mark`, when set, overrides both per-side marks (Node's rule);
/// `object_mode` sets both sides, the per-side flags one each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplexOptions {
    /// The mark of both sides; overrides the per-side marks when set.
    pub high_water_mark: Option<usize>,
    /// The readable side's mark.
    pub readable_high_water_mark: Option<usize>,
    /// The writable side's mark.
    pub writable_high_water_mark: Option<usize>,
    /// *Beyond Node.* The writable side's low-water mark: `'drain'` once its
    /// buffer has fallen to this level (see
    /// [`StreamOptions::low_water_mark`](crate::StreamOptions::low_water_mark)).
    pub writable_low_water_mark: Option<usize>,
    /// Both sides in object mode.
    pub object_mode: bool,
    /// The readable side in object mode.
    pub readable_object_mode: bool,
    /// The writable side in object mode.
    pub writable_object_mode: bool,
    /// Keep the writable side open after the readable side ends (default true).
    pub allow_half_open: bool,
    /// Destroy after both sides are done (and after an error). Default true.
    pub auto_destroy: bool,
    /// Emit `'close'` once destroyed. Default true.
    pub emit_close: bool,
    /// `false` disables the readable side: it starts ended.
    pub readable: bool,
    /// `false` disables the writable side: it starts ended and finished.
    pub writable: bool,
}

impl Default for DuplexOptions {
    fn default() -> Self {
        DuplexOptions {
            high_water_mark: None,
            readable_high_water_mark: None,
            writable_high_water_mark: None,
            writable_low_water_mark: None,
            object_mode: false,
            readable_object_mode: false,
            writable_object_mode: false,
            allow_half_open: true,
            auto_destroy: true,
            emit_close: true,
            readable: true,
            writable: true,
        }
    }
}

impl DuplexOptions {
    /// Sets the mark of both sides.
    pub fn high_water_mark(mut self, hwm: usize) -> Self {
        self.high_water_mark = Some(hwm);
        self
    }
    /// Sets the readable side's mark.
    pub fn readable_high_water_mark(mut self, hwm: usize) -> Self {
        self.readable_high_water_mark = Some(hwm);
        self
    }
    /// Sets the writable side's mark.
    pub fn writable_high_water_mark(mut self, hwm: usize) -> Self {
        self.writable_high_water_mark = Some(hwm);
        self
    }
    /// Sets the writable side's low-water mark (*beyond Node*).
    ///
    /// # Examples
    ///
    /// ```
    /// use highwater::DuplexOptions;
    ///
    /// let o = DuplexOptions::default().writable_high_water_mark(64).writable_low_water_mark(16);
    /// assert_eq!(o.writable_low_water_mark, Some(16));
    /// ```
    pub fn writable_low_water_mark(mut self, lwm: usize) -> Self {
        self.writable_low_water_mark = Some(lwm);
        self
    }
    /// Puts both sides in object mode.
    pub fn object_mode(mut self, on: bool) -> Self {
        self.object_mode = on;
        self
    }
    /// Sets `allow_half_open`.
    pub fn allow_half_open(mut self, on: bool) -> Self {
        self.allow_half_open = on;
        self
    }
    /// Sets `auto_destroy`.
    pub fn auto_destroy(mut self, on: bool) -> Self {
        self.auto_destroy = on;
        self
    }
    /// Sets `emit_close`.
    pub fn emit_close(mut self, on: bool) -> Self {
        self.emit_close = on;
        self
    }

    pub(crate) fn readable_options(&self) -> ReadableOptions {
        ReadableOptions {
            high_water_mark: self.high_water_mark.or(self.readable_high_water_mark),
            object_mode: self.object_mode || self.readable_object_mode,
            auto_destroy: self.auto_destroy,
            emit_close: self.emit_close,
            ..Default::default()
        }
    }

    pub(crate) fn writable_options(&self) -> WritableOptions {
        WritableOptions {
            high_water_mark: self.high_water_mark.or(self.writable_high_water_mark),
            object_mode: self.object_mode || self.writable_object_mode,
            auto_destroy: self.auto_destroy,
            emit_close: self.emit_close,
            low_water_mark: self.writable_low_water_mark,
            ..Default::default()
        }
    }
}

/// A Duplex stream: reads chunks `R`, takes writes of chunks `W`.
///
/// # Examples
///
/// An echo: what is written comes back out of the readable side.
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use bytes::Bytes;
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

impl<R: ByteChunk, W: ByteLen + 'static> Duplex<R, W> {
    /// A Duplex over a source and a sink (byte mode on each side unless the
    /// options put it in object mode).
    ///
    /// A stream has one destroy hook (Node's single `_destroy`): the sink's
    /// [`WritableImpl::destroy`] is called, the source's
    /// [`ReadableImpl::destroy`] is not. Release the resources of both there.
    /// Likewise the sink's construct hook is used if it has one, else the
    /// source's.
    pub fn new(
        opts: DuplexOptions,
        source: impl ReadableImpl<R>,
        sink: impl WritableImpl<W>,
    ) -> Self {
        let ro = opts.readable_options();
        let wo = opts.writable_options();
        let rops = if ro.object_mode {
            object_ops()
        } else {
            byte_ops()
        };
        let wlen: fn(&W) -> usize = if wo.object_mode { |_| 1 } else { W::byte_len };
        Self::build(&opts, rops, wlen, Box::new(source), Box::new(sink))
    }
}

impl<R: 'static, W: 'static> Duplex<R, W> {
    /// A Duplex with both sides in object mode (chunks of any types).
    pub fn new_object(
        opts: DuplexOptions,
        source: impl ReadableImpl<R>,
        sink: impl WritableImpl<W>,
    ) -> Self {
        let opts = opts.object_mode(true);
        Self::build(&opts, object_ops(), |_| 1, Box::new(source), Box::new(sink))
    }

    pub(crate) fn build(
        opts: &DuplexOptions,
        rops: crate::readable::machine::ChunkOps<R>,
        wlen: fn(&W) -> usize,
        source: Box<dyn ReadableImpl<R>>,
        sink: Box<dyn WritableImpl<W>>,
    ) -> Self {
        let r = readable_side(&opts.readable_options(), rops, source);
        let w = writable_side(&opts.writable_options(), wlen, sink);
        if !opts.readable {
            let mut st = r.state.borrow_mut();
            st.readable_side = false;
            st.ended = true;
            st.end_emitted = true;
        }
        if !opts.writable {
            let mut st = w.state.borrow_mut();
            st.writable_side = false;
            st.ending = true;
            st.ended = true;
            st.finished = true;
        }
        Duplex {
            core: Core::new(Some(w), Some(r), opts.allow_half_open),
        }
    }

    crate::readable::readable_methods!(R);
    crate::writable::writable_methods!(W);
    crate::writable::common_methods!();

    /// Whether both handles refer to the same stream.
    pub fn ptr_eq(&self, other: &Duplex<R, W>) -> bool {
        Rc::ptr_eq(&self.core, &other.core)
    }

    /// The readable side as a `futures::Stream` (see
    /// [`Readable::stream`](crate::Readable::stream)).
    pub fn stream(&self) -> crate::readable::ReadableStream<R, W> {
        crate::readable::ReadableStream::new(self.core.clone())
    }

    /// Node's `allowHalfOpen`.
    pub fn allow_half_open(&self) -> bool {
        self.core.allow_half_open
    }
}

impl<R: 'static, W: 'static> crate::pipe::sealed::Sealed for Duplex<R, W> {}

impl<R: 'static, W: 'static> crate::pipe::PipeDestination<W> for Duplex<R, W> {
    fn pipe_target(&self) -> crate::pipe::PipeTargetRef<W> {
        crate::pipe::PipeTargetRef(self.core.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use bytes::Bytes;

    use super::*;
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
        let mut opts = DuplexOptions::default().high_water_mark(16);
        opts.readable = false;
        let d = Duplex::new(opts, Quiet, Quiet);
        assert!(!d.readable());
        assert!(d.writable());
        let mut opts = DuplexOptions::default().high_water_mark(16);
        opts.writable = false;
        let d = Duplex::new(opts, Quiet, Quiet);
        assert!(!d.writable());
        assert!(d.writable_finished());
        assert!(d.readable());
    }

    #[test]
    fn the_writable_low_water_mark_reaches_the_writable_side_only() {
        let opts = DuplexOptions::default()
            .writable_high_water_mark(64)
            .writable_low_water_mark(16);
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
