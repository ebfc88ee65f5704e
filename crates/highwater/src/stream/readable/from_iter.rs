//! `Readable.from(iterable)` for a synchronous iterator: Node's
//! `lib/internal/streams/from.js`, whose `_read` pulls from the iterator and
//! pushes until `push()` returns `false` (all synchronously, for an iterator
//! of plain values), then `push(null)` when it is done.

use std::cell::RefCell;

use crate::state::ReadableOptions;

use super::{Readable, Source};
use crate::stream::ReadableImpl;

struct FromIter<I>(RefCell<Option<I>>);

impl<T: 'static, I: Iterator<Item = T> + 'static> ReadableImpl<T> for FromIter<I> {
    fn read(&self, _size: usize, src: &Source<T>) {
        loop {
            // Take the next item without holding the borrow across the push:
            // a push may run listeners that read again.
            let next = match self.0.try_borrow_mut() {
                Ok(mut it) => it.as_mut().map(Iterator::next),
                Err(_) => return,
            };
            match next {
                Some(Some(v)) => {
                    if !src.push(v) {
                        return;
                    }
                }
                Some(None) => {
                    *self.0.borrow_mut() = None;
                    src.push_eof();
                    return;
                }
                None => return,
            }
        }
    }
}

impl<T: 'static> Readable<T> {
    /// A Readable of the items of `iter` (Node's `Readable.from(iterable)`),
    /// pulled only as the consumer reads: the iterator is advanced while the
    /// buffer is below its mark, so an endless iterator is fine. Node's
    /// `Readable.from` is object mode unless told otherwise; here `opts`
    /// says (use [`ReadableOptions::objects`] for Node's default).
    /// Async sources: [`Readable::from_stream`](crate::Readable::from_stream)
    /// (feature `compat`).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::from_iter(ReadableOptions::objects().high_water_mark(2), 1..);
    /// assert_eq!(r.read(None), Some(1)); // pulled 1 and 2: up to the mark
    /// assert_eq!(r.readable_length(), 1);
    /// highwater::run_until_idle(); // Node's maybeReadMore pulls 3, no further
    /// assert_eq!(r.readable_length(), 2);
    /// ```
    pub fn from_iter<I>(opts: ReadableOptions<T>, iter: I) -> Self
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: 'static,
    {
        Readable::new(opts, FromIter(RefCell::new(Some(iter.into_iter()))))
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::{run_until_idle, Readable, ReadableOptions};
    use std::{cell::RefCell, rc::Rc};

    #[test]
    fn flows_every_item_then_ends() {
        let r = Readable::from_iter(ReadableOptions::objects(), vec!["a", "b", "c"]);
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        r.on_data(move |c| s.borrow_mut().push(*c));
        let s = seen.clone();
        r.on_end(move || s.borrow_mut().push("end"));
        run_until_idle();
        assert_eq!(*seen.borrow(), ["a", "b", "c", "end"]);
    }

    #[test]
    fn pulls_no_further_than_the_mark() {
        let pulled = Rc::new(RefCell::new(0));
        let p = pulled.clone();
        let it = (0..1000).inspect(move |_| *p.borrow_mut() += 1);
        let r = Readable::from_iter(ReadableOptions::objects().high_water_mark(4), it);
        let _ = r.read(Some(0));
        run_until_idle();
        assert_eq!(*pulled.borrow(), 4);
        assert_eq!(r.read(None), Some(0));
        run_until_idle();
        assert_eq!(*pulled.borrow(), 5);
    }
}
