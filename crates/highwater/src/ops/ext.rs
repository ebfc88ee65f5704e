//! [`ReadableExt`]: the operations every readable side gets, as futures'
//! `StreamExt` adds combinators to every `Stream`: `pipe` into a writable
//! side, `unpipe`, and the async iterator (`stream()`).

use std::rc::Rc;

use crate::stream::target::PipeTarget;
use crate::stream::{ReadableSide, WritableSide};

use super::iter::{IterOptions, ReadableStream};
use super::pipe::{pipe, unpipe_all, unpipe_one, PipeOptions};

/// Operations on any readable side: Node's `pipe`/`unpipe` and the async
/// iterator. Implemented for every type that implements
/// [`ReadableSide`](crate::ReadableSide); bring it into scope with
/// `use highwater::prelude::*`.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{PassThrough, Readable, ReadableOptions, TransformOptions, Writable, WritableOptions};
///
/// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
/// let mid = PassThrough::<Bytes>::new(TransformOptions::default());
/// let out = Rc::new(RefCell::new(Vec::new()));
/// let o = out.clone();
/// let dst = Writable::from_fn(WritableOptions::default(), move |c: Bytes| {
///     o.borrow_mut().extend_from_slice(&c);
///     Ok(())
/// });
/// src.pipe(&mid).pipe(&dst);
/// src.push(Bytes::from_static(b"through"));
/// src.push_eof();
/// highwater::run_until_idle();
/// assert_eq!(&*out.borrow(), b"through");
/// assert!(dst.writable_finished());
/// ```
pub trait ReadableExt<T: 'static>: ReadableSide<T> {
    /// Pipes this stream into `dest` (Node's `pipe(dest)`): flows into
    /// it, pausing whenever `dest.write()` returns `false` and resuming
    /// on its `'drain'`, and ends it when this stream ends. Returns `dest`
    /// (a clone of the handle), so that pipes can be chained.
    ///
    /// Only the end is forwarded: an error of either stream does not
    /// destroy the other (use [`Pipeline`](crate::Pipeline) for that).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
    ///
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let dst = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let same = src.pipe(&dst);
    /// assert!(same.ptr_eq(&dst));
    /// ```
    fn pipe<D: WritableSide<T> + Clone>(&self, dest: &D) -> D
    where
        T: Clone,
    {
        self.pipe_with(dest, PipeOptions::default())
    }

    /// [`pipe`](Self::pipe) with options (`end: false` leaves `dest` open).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{PipeOptions, Readable, ReadableOptions, Writable, WritableOptions};
    ///
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let dst = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// src.pipe_with(&dst, PipeOptions::default().end(false));
    /// src.push_eof();
    /// highwater::run_until_idle();
    /// assert!(!dst.writable_ended()); // still open for another source
    /// ```
    fn pipe_with<D: WritableSide<T> + Clone>(&self, dest: &D, opts: PipeOptions) -> D
    where
        T: Clone,
    {
        let target: Rc<dyn PipeTarget<T>> = dest.core().clone();
        pipe(self.core(), target, opts.end);
        dest.clone()
    }

    /// Stops piping into `dest` (Node's `unpipe(dest)`).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
    ///
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let dst = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// src.pipe(&dst);
    /// src.unpipe(&dst);
    /// assert!(src.is_paused() || src.readable_flowing() == Some(false));
    /// ```
    fn unpipe<D: WritableSide<T>>(&self, dest: &D) {
        unpipe_one(self.core(), dest.id());
    }

    /// Stops piping into every destination (Node's `unpipe()`).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
    ///
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let a = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let b = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// src.pipe(&a);
    /// src.pipe(&b);
    /// src.unpipe_all();
    /// assert_eq!(src.readable_flowing(), Some(false));
    /// ```
    fn unpipe_all(&self) {
        unpipe_all(self.core());
    }

    /// The stream as a `futures::Stream` of chunks (Node's async iterator):
    /// paused mode, one item per `read()`; dropping it before the end
    /// destroys the stream.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use futures::StreamExt;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     for n in 1..=3u32 {
    ///         r.push(n);
    ///     }
    ///     r.push_eof();
    ///     let items: Vec<u32> = r.stream().map(|i| i.unwrap()).collect().await;
    ///     assert_eq!(items, [1, 2, 3]);
    /// });
    /// ```
    fn stream(&self) -> ReadableStream<T> {
        ReadableStream::new(self.core().clone(), IterOptions::default())
    }

    /// [`stream`](Self::stream) with options: Node's
    /// `readable.iterator(options)`. With
    /// [`destroy_on_return(false)`](IterOptions::destroy_on_return), dropping
    /// the iterator before the end leaves the stream open and readable.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use futures::StreamExt;
    /// use highwater::prelude::*;
    /// use highwater::{IterOptions, Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     r.push(1u32);
    ///     r.push(2);
    ///     {
    ///         let mut it = r.stream_with(IterOptions::default().destroy_on_return(false));
    ///         assert_eq!(it.next().await.unwrap().unwrap(), 1);
    ///     } // left early: the stream stays usable
    ///     assert!(!r.destroyed());
    ///     assert_eq!(r.read(None), Some(2));
    /// });
    /// ```
    fn stream_with(&self, opts: IterOptions) -> ReadableStream<T> {
        ReadableStream::new(self.core().clone(), opts)
    }

    /// The stream as a `futures::Stream` of `String`s: sets the UTF-8
    /// encoding if none is set ([`set_encoding`](crate::ReadableSide::set_encoding)),
    /// then iterates as [`stream`](Self::stream) does (in byte mode each item
    /// is everything buffered, joined), each item whole characters.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use futures::StreamExt;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    ///     r.push(Bytes::from("héllo".as_bytes()[..2].to_vec())); // 'h' and half of 'é'
    ///     r.push(Bytes::from("héllo".as_bytes()[2..].to_vec()));
    ///     r.push_eof();
    ///     let s: Vec<String> = r.text().map(|s| s.unwrap()).collect().await;
    ///     assert_eq!(s.concat(), "héllo");
    /// });
    /// ```
    fn text(&self) -> crate::ops::text::TextStream<T>
    where
        T: crate::state::TextChunk,
    {
        if self.readable_encoding().is_none() {
            self.set_encoding(crate::state::Encoding::Utf8);
        }
        crate::ops::text::TextStream::new(self.stream())
    }
}

impl<T: 'static, S: ReadableSide<T>> ReadableExt<T> for S {}
