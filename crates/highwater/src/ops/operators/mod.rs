//! Node's Readable operators (`lib/internal/streams/operators.js`):
//! [`OperatorsExt`] gives every readable side `map`, `filter`, `flat_map`,
//! `take`, `drop` (each returning a new object-mode [`Readable`]) and
//! `for_each`, `to_array`, `reduce`/`fold`, `some`, `every`, `find` (each
//! returning a future, where Node returns a promise).
//!
//! The functions are async closures: `|x| async move { Ok(..) }`. With
//! [`OperatorOptions::concurrency`] several calls run at once, and results
//! still come out in input order. Memory stays bounded: an operator takes
//! at most `concurrency + high_water_mark` values from its source ahead of
//! its consumer (plus the one in its result's buffer, whose high-water mark
//! is 1, as `Readable.from`'s), and the source's own buffer fills only to
//! its own mark. A function's error destroys the result (or fails the
//! future) once the values before it have been delivered, and destroys the
//! source; leaving early (`take`, `some`, `find`) destroys the source as
//! Node's async iterator does.
//!
//! # Differences from Node
//!
//! * `filter`'s (and `some`/`every`/`find`'s) predicate takes `&T` and
//!   returns a `'static` future: clone what it needs before `async move`.
//! * `flat_map`'s function returns a `futures::Stream` of results (a
//!   Readable's [`stream()`](crate::ReadableExt::stream), or
//!   `futures::stream::iter` over an iterator) where Node takes any iterable.
//! * `reduce` without an initial value is [`reduce`](OperatorsExt::reduce);
//!   with one it is [`fold`](OperatorsExt::fold).
//! * `concurrency(0)` is Node's `ERR_OUT_OF_RANGE`, reported as the
//!   returned stream's error (Node throws at the call).
//! * Destroying a result drops the calls in flight (Rust futures can be
//!   cancelled; Node's promises run on and are ignored).
//!
//! # Example
//!
//! A slow lookup per row, four at a time, in input order, stopping after
//! the first three matches:
//!
//! ```
//! use std::time::Duration;
//! use highwater::prelude::*;
//! use highwater::{OperatorOptions, Readable, ReadableOptions};
//!
//! highwater::block_on(async {
//!     let rows = Readable::pushed(ReadableOptions::objects());
//!     for id in 1..=10u32 {
//!         rows.push(id);
//!     }
//!     rows.push_eof();
//!
//!     let found = rows
//!         .map_with(
//!             |id| async move {
//!                 // later ids answer sooner: the order still holds
//!                 tokio::time::sleep(Duration::from_millis(u64::from(10 - id))).await;
//!                 Ok((id, id * id))
//!             },
//!             OperatorOptions::default().concurrency(4),
//!         )
//!         .filter(|(_, sq)| {
//!             let even = sq % 2 == 0;
//!             async move { Ok(even) }
//!         })
//!         .take(3)
//!         .to_array()
//!         .await?;
//!     assert_eq!(found, [(2, 4), (4, 16), (6, 36)]);
//!     assert!(rows.destroyed()); // take(3) stopped the source
//!     Ok::<_, highwater::Error>(())
//! })
//! .unwrap();
//! ```

mod consume;
mod generator;
mod map;
mod options;

use std::future::Future;

use futures::{Stream, StreamExt};

use crate::state::Error;
use crate::stream::{Readable, ReadableSide, StreamBase};

use super::ext::ReadableExt;
use generator::generate;
use map::{map_core, Pulled};
pub use options::OperatorOptions;

/// A Readable already destroyed with `err` (a validation error).
fn failed<U: 'static>(err: Error) -> Readable<U> {
    let r = generate(|_| async { Ok(()) });
    r.destroy(Some(err));
    r
}

/// Node's `reduce` with a signal already aborted: destroys the stream with
/// the `AbortError` and fails with it.
fn pre_aborted<T: 'static, S: ReadableSide<T> + ?Sized>(
    stream: &S,
    opts: &OperatorOptions,
) -> Option<Error> {
    let e = opts.abort()?.error()?;
    stream.destroy(Some(e.clone()));
    Some(e)
}

/// Node's Readable operators, for every readable side: see the [module
/// documentation](crate::operators). Bring it into scope with `use highwater::prelude::*`.
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::{Readable, ReadableOptions};
///
/// highwater::block_on(async {
///     let r = Readable::pushed(ReadableOptions::objects());
///     for n in 1..=5u32 {
///         r.push(n);
///     }
///     r.push_eof();
///     let sum = r.map(|n| async move { Ok(n * 10) }).fold(0, |a, n| async move { Ok(a + n) });
///     assert_eq!(sum.await.unwrap(), 150);
/// });
/// ```
pub trait OperatorsExt<T: 'static>: ReadableSide<T> + ReadableExt<T> {
    /// Node's `map(fn)`: a Readable of `f`'s results, one call at a time.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     r.push("a");
    ///     r.push("bc");
    ///     r.push_eof();
    ///     let lens = r.map(|s: &str| async move { Ok(s.len()) }).to_array().await;
    ///     assert_eq!(lens.unwrap(), [1, 2]);
    /// });
    /// ```
    fn map<U, F, Fut>(&self, f: F) -> Readable<U>
    where
        U: 'static,
        F: FnMut(T) -> Fut + 'static,
        Fut: Future<Output = Result<U, Error>> + 'static,
    {
        self.map_with(f, OperatorOptions::default())
    }

    /// Node's `map(fn, options)`: up to `concurrency` calls at once, results
    /// in input order.
    ///
    /// ```
    /// use std::time::Duration;
    /// use highwater::prelude::*;
    /// use highwater::{OperatorOptions, Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     for ms in [30u64, 20, 10] {
    ///         r.push(ms);
    ///     }
    ///     r.push_eof();
    ///     let opts = OperatorOptions::default().concurrency(3);
    ///     let out = r.map_with(|ms| async move {
    ///         tokio::time::sleep(Duration::from_millis(ms)).await;
    ///         Ok(ms)
    ///     }, opts);
    ///     assert_eq!(out.to_array().await.unwrap(), [30, 20, 10]);
    /// });
    /// ```
    fn map_with<U, F, Fut>(&self, mut f: F, opts: OperatorOptions) -> Readable<U>
    where
        U: 'static,
        F: FnMut(T) -> Fut + 'static,
        Fut: Future<Output = Result<U, Error>> + 'static,
    {
        let (c, limit) = match opts.validate() {
            Ok(v) => v,
            Err(e) => return failed(e),
        };
        map_core(self.stream(), c, limit, opts.abort(), move |v| {
            let fut = f(v);
            Pulled::Call(async move { fut.await.map(Some) })
        })
    }

    /// Node's `filter(fn)`: the values for which `f` answers `true`.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     for n in 1..=6u32 {
    ///         r.push(n);
    ///     }
    ///     r.push_eof();
    ///     let odd = r.filter(|n| {
    ///         let keep = n % 2 == 1;
    ///         async move { Ok(keep) }
    ///     });
    ///     assert_eq!(odd.to_array().await.unwrap(), [1, 3, 5]);
    /// });
    /// ```
    fn filter<F, Fut>(&self, f: F) -> Readable<T>
    where
        F: FnMut(&T) -> Fut + 'static,
        Fut: Future<Output = Result<bool, Error>> + 'static,
    {
        self.filter_with(f, OperatorOptions::default())
    }

    /// Node's `filter(fn, options)`.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{OperatorOptions, Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     for n in 1..=6u32 {
    ///         r.push(n);
    ///     }
    ///     r.push_eof();
    ///     let big = r.filter_with(|n| {
    ///         let keep = *n > 3;
    ///         async move { Ok(keep) }
    ///     }, OperatorOptions::default().concurrency(2));
    ///     assert_eq!(big.to_array().await.unwrap(), [4, 5, 6]);
    /// });
    /// ```
    fn filter_with<F, Fut>(&self, mut f: F, opts: OperatorOptions) -> Readable<T>
    where
        F: FnMut(&T) -> Fut + 'static,
        Fut: Future<Output = Result<bool, Error>> + 'static,
    {
        let (c, limit) = match opts.validate() {
            Ok(v) => v,
            Err(e) => return failed(e),
        };
        map_core(self.stream(), c, limit, opts.abort(), move |v| {
            let fut = f(&v);
            Pulled::Call(async move { Ok(if fut.await? { Some(v) } else { None }) })
        })
    }

    /// Node's `flatMap(fn)`: every item of every stream `f` returns, in
    /// order.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     r.push(2u32);
    ///     r.push(3);
    ///     r.push_eof();
    ///     let out = r.flat_map(|n| async move {
    ///         Ok(futures::stream::iter((0..n).map(Ok)))
    ///     });
    ///     assert_eq!(out.to_array().await.unwrap(), [0, 1, 0, 1, 2]);
    /// });
    /// ```
    fn flat_map<U, S, F, Fut>(&self, f: F) -> Readable<U>
    where
        U: 'static,
        S: Stream<Item = Result<U, Error>> + 'static,
        F: FnMut(T) -> Fut + 'static,
        Fut: Future<Output = Result<S, Error>> + 'static,
    {
        self.flat_map_with(f, OperatorOptions::default())
    }

    /// Node's `flatMap(fn, options)`: `f` runs with `concurrency`, the
    /// streams it returns are read one after the other.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{OperatorOptions, Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let words = Readable::pushed(ReadableOptions::objects());
    ///     words.push("ab");
    ///     words.push("c");
    ///     words.push_eof();
    ///     let chars = words.flat_map_with(|w: &str| async move {
    ///         // another Readable as the inner stream
    ///         let inner = Readable::pushed(ReadableOptions::objects());
    ///         for c in w.chars() {
    ///             inner.push(c);
    ///         }
    ///         inner.push_eof();
    ///         Ok(inner.stream())
    ///     }, OperatorOptions::default().concurrency(2));
    ///     assert_eq!(chars.to_array().await.unwrap(), ['a', 'b', 'c']);
    /// });
    /// ```
    fn flat_map_with<U, S, F, Fut>(&self, mut f: F, opts: OperatorOptions) -> Readable<U>
    where
        U: 'static,
        S: Stream<Item = Result<U, Error>> + 'static,
        F: FnMut(T) -> Fut + 'static,
        Fut: Future<Output = Result<S, Error>> + 'static,
    {
        let (c, limit) = match opts.validate() {
            Ok(v) => v,
            Err(e) => return failed(e),
        };
        let abort = opts.abort();
        let values = map_core(self.stream(), c, limit, opts.abort(), move |v| {
            let fut = f(v);
            Pulled::Call(async move { fut.await.map(Some) })
        });
        generate(move |em| async move {
            let mut outer = values.stream();
            while let Some(inner) = consume::next_or_abort(&mut outer, abort.as_ref()).await {
                let mut inner = std::pin::pin!(inner?);
                while let Some(v) = inner.next().await {
                    em.emit(v?).await?;
                }
            }
            Ok(())
        })
    }

    /// Node's `take(n)`: the first `n` values; the source is destroyed once
    /// the `n`th is taken.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     for n in 1..=5u32 {
    ///         r.push(n);
    ///     }
    ///     let first = r.take(2).to_array().await.unwrap();
    ///     assert_eq!(first, [1, 2]);
    ///     assert!(r.destroyed()); // no end needed: take stopped it
    /// });
    /// ```
    fn take(&self, n: usize) -> Readable<T> {
        self.take_with(n, OperatorOptions::default())
    }

    /// Node's `take(n, { signal })` (`concurrency` does not apply).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{OperatorOptions, Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     r.push('x');
    ///     r.push_eof();
    ///     let all = r.take_with(10, OperatorOptions::default()).to_array().await;
    ///     assert_eq!(all.unwrap(), ['x']);
    /// });
    /// ```
    fn take_with(&self, n: usize, opts: OperatorOptions) -> Readable<T> {
        let mut left = n;
        map_core(self.stream(), 1, 1, opts.abort(), move |v| {
            if left == 0 {
                return Pulled::End;
            }
            left -= 1;
            let fut = futures::future::ready(Ok(Some(v)));
            if left == 0 {
                Pulled::CallThenEnd(fut)
            } else {
                Pulled::Call(fut)
            }
        })
    }

    /// Node's `drop(n)`: all but the first `n` values.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     for n in 1..=4u32 {
    ///         r.push(n);
    ///     }
    ///     r.push_eof();
    ///     assert_eq!(r.drop(3).to_array().await.unwrap(), [4]);
    /// });
    /// ```
    fn drop(&self, n: usize) -> Readable<T> {
        self.drop_with(n, OperatorOptions::default())
    }

    /// Node's `drop(n, { signal })` (`concurrency` does not apply).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{OperatorOptions, Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     r.push(1u8);
    ///     r.push_eof();
    ///     let none = r.drop_with(5, OperatorOptions::default()).to_array().await;
    ///     assert!(none.unwrap().is_empty());
    /// });
    /// ```
    fn drop_with(&self, n: usize, opts: OperatorOptions) -> Readable<T> {
        let mut left = n;
        map_core(self.stream(), 1, 1, opts.abort(), move |v| {
            if left > 0 {
                left -= 1;
                Pulled::Call(futures::future::ready(Ok(None)))
            } else {
                Pulled::Call(futures::future::ready(Ok(Some(v))))
            }
        })
    }

    /// Node's `forEach(fn)`: calls `f` on every value; resolves at the end.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     r.push(1u32);
    ///     r.push(2);
    ///     r.push_eof();
    ///     let seen = Rc::new(RefCell::new(Vec::new()));
    ///     let s = seen.clone();
    ///     r.for_each(move |n| {
    ///         s.borrow_mut().push(n);
    ///         async { Ok(()) }
    ///     })
    ///     .await
    ///     .unwrap();
    ///     assert_eq!(*seen.borrow(), [1, 2]);
    /// });
    /// ```
    fn for_each<F, Fut>(&self, f: F) -> impl Future<Output = Result<(), Error>> + 'static
    where
        F: FnMut(T) -> Fut + 'static,
        Fut: Future<Output = Result<(), Error>> + 'static,
    {
        self.for_each_with(f, OperatorOptions::default())
    }

    /// Node's `forEach(fn, options)`: up to `concurrency` calls at once.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc, time::Duration};
    /// use highwater::prelude::*;
    /// use highwater::{OperatorOptions, Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     for _ in 0..4 {
    ///         r.push(());
    ///     }
    ///     r.push_eof();
    ///     let (now, max) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    ///     let (n, m) = (now.clone(), max.clone());
    ///     r.for_each_with(move |()| {
    ///         let (n, m) = (n.clone(), m.clone());
    ///         async move {
    ///             n.set(n.get() + 1);
    ///             m.set(m.get().max(n.get()));
    ///             tokio::time::sleep(Duration::from_millis(5)).await;
    ///             n.set(n.get() - 1);
    ///             Ok(())
    ///         }
    ///     }, OperatorOptions::default().concurrency(2))
    ///     .await
    ///     .unwrap();
    ///     assert_eq!(max.get(), 2);
    /// });
    /// ```
    fn for_each_with<F, Fut>(
        &self,
        mut f: F,
        opts: OperatorOptions,
    ) -> impl Future<Output = Result<(), Error>> + 'static
    where
        F: FnMut(T) -> Fut + 'static,
        Fut: Future<Output = Result<(), Error>> + 'static,
    {
        let mapped = opts.validate().map(|(c, limit)| {
            map_core(self.stream(), c, limit, opts.abort(), move |v| {
                let fut = f(v);
                Pulled::Call(async move { fut.await.map(|()| None::<()>) })
            })
        });
        async move { consume::drain(mapped?.stream()).await }
    }

    /// Node's `toArray()`: every value, once the stream ends.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     r.push("x");
    ///     r.push_eof();
    ///     assert_eq!(r.to_array().await.unwrap(), ["x"]);
    /// });
    /// ```
    fn to_array(&self) -> impl Future<Output = Result<Vec<T>, Error>> + 'static {
        self.to_array_with(OperatorOptions::default())
    }

    /// Node's `toArray({ signal })`.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{OperatorOptions, Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     // A byte stream: one item per read, as its async iterator yields.
    ///     let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    ///     r.push(Bytes::from_static(b"ab"));
    ///     r.push_eof();
    ///     let all = r.to_array_with(OperatorOptions::default()).await.unwrap();
    ///     assert_eq!(all, [Bytes::from_static(b"ab")]);
    /// });
    /// ```
    fn to_array_with(
        &self,
        opts: OperatorOptions,
    ) -> impl Future<Output = Result<Vec<T>, Error>> + 'static {
        consume::to_array(self.stream(), opts.abort())
    }

    /// Node's `reduce(fn)` without an initial value: the first value starts
    /// the accumulator; an empty stream fails with `ERR_MISSING_ARGS`.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     for n in [3u32, 4, 5] {
    ///         r.push(n);
    ///     }
    ///     r.push_eof();
    ///     assert_eq!(r.reduce(|a, b| async move { Ok(a * b) }).await.unwrap(), 60);
    /// });
    /// ```
    fn reduce<F, Fut>(&self, f: F) -> impl Future<Output = Result<T, Error>> + 'static
    where
        F: FnMut(T, T) -> Fut + 'static,
        Fut: Future<Output = Result<T, Error>> + 'static,
    {
        self.reduce_with(f, OperatorOptions::default())
    }

    /// Node's `reduce(fn, undefined, { signal })`: [`reduce`](Self::reduce)
    /// with options.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{OperatorOptions, Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     r.push(String::from("a"));
    ///     r.push(String::from("b"));
    ///     r.push_eof();
    ///     let s = r.reduce_with(|a, b| async move { Ok(a + &b) }, OperatorOptions::default());
    ///     assert_eq!(s.await.unwrap(), "ab");
    /// });
    /// ```
    fn reduce_with<F, Fut>(
        &self,
        f: F,
        opts: OperatorOptions,
    ) -> impl Future<Output = Result<T, Error>> + 'static
    where
        F: FnMut(T, T) -> Fut + 'static,
        Fut: Future<Output = Result<T, Error>> + 'static,
    {
        let pre = pre_aborted(self, &opts);
        let run = consume::reduce(self.stream(), None, f, opts.abort(), Some(|v| v));
        async move {
            match pre {
                Some(e) => Err(e),
                None => run.await,
            }
        }
    }

    /// Node's `reduce(fn, initial)`: folds every value into `init`.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::<u32>::pushed(ReadableOptions::objects());
    ///     r.push_eof();
    ///     // An empty stream gives the initial value.
    ///     assert_eq!(r.fold(7u64, |a, b| async move { Ok(a + u64::from(b)) }).await.unwrap(), 7);
    /// });
    /// ```
    fn fold<A, F, Fut>(&self, init: A, f: F) -> impl Future<Output = Result<A, Error>> + 'static
    where
        A: 'static,
        F: FnMut(A, T) -> Fut + 'static,
        Fut: Future<Output = Result<A, Error>> + 'static,
    {
        self.fold_with(init, f, OperatorOptions::default())
    }

    /// Node's `reduce(fn, initial, { signal })`.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{OperatorOptions, Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     r.push("ab");
    ///     r.push("cde");
    ///     r.push_eof();
    ///     let len = r.fold_with(0, |a, s: &str| async move { Ok(a + s.len()) }, OperatorOptions::default());
    ///     assert_eq!(len.await.unwrap(), 5);
    /// });
    /// ```
    fn fold_with<A, F, Fut>(
        &self,
        init: A,
        f: F,
        opts: OperatorOptions,
    ) -> impl Future<Output = Result<A, Error>> + 'static
    where
        A: 'static,
        F: FnMut(A, T) -> Fut + 'static,
        Fut: Future<Output = Result<A, Error>> + 'static,
    {
        let pre = pre_aborted(self, &opts);
        let run = consume::reduce(self.stream(), Some(init), f, opts.abort(), None);
        async move {
            match pre {
                Some(e) => Err(e),
                None => run.await,
            }
        }
    }

    /// Node's `some(fn)`: whether `f` answers `true` for a value; stops
    /// (destroying the stream) at the first.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     for n in [1u32, 20, 3] {
    ///         r.push(n);
    ///     }
    ///     let big = r.some(|n| {
    ///         let b = *n > 10;
    ///         async move { Ok(b) }
    ///     });
    ///     assert!(big.await.unwrap()); // found before the end
    ///     assert!(r.destroyed());
    /// });
    /// ```
    fn some<F, Fut>(&self, f: F) -> impl Future<Output = Result<bool, Error>> + 'static
    where
        F: FnMut(&T) -> Fut + 'static,
        Fut: Future<Output = Result<bool, Error>> + 'static,
    {
        self.some_with(f, OperatorOptions::default())
    }

    /// Node's `some(fn, options)`.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{OperatorOptions, Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     r.push(1u32);
    ///     r.push_eof();
    ///     let opts = OperatorOptions::default().concurrency(2);
    ///     assert!(!r.some_with(|n| { let b = *n > 1; async move { Ok(b) } }, opts).await.unwrap());
    /// });
    /// ```
    fn some_with<F, Fut>(
        &self,
        f: F,
        opts: OperatorOptions,
    ) -> impl Future<Output = Result<bool, Error>> + 'static
    where
        F: FnMut(&T) -> Fut + 'static,
        Fut: Future<Output = Result<bool, Error>> + 'static,
    {
        let found = self.find_with(f, opts);
        async move { Ok(found.await?.is_some()) }
    }

    /// Node's `every(fn)`: whether `f` answers `true` for every value;
    /// stops (destroying the stream) at the first `false`.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     for n in [2u32, 4, 6] {
    ///         r.push(n);
    ///     }
    ///     r.push_eof();
    ///     let even = r.every(|n| { let e = n % 2 == 0; async move { Ok(e) } });
    ///     assert!(even.await.unwrap());
    /// });
    /// ```
    fn every<F, Fut>(&self, f: F) -> impl Future<Output = Result<bool, Error>> + 'static
    where
        F: FnMut(&T) -> Fut + 'static,
        Fut: Future<Output = Result<bool, Error>> + 'static,
    {
        self.every_with(f, OperatorOptions::default())
    }

    /// Node's `every(fn, options)`: `!some(!fn)`.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{OperatorOptions, Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     for n in [2u32, 3] {
    ///         r.push(n);
    ///     }
    ///     let opts = OperatorOptions::default().concurrency(2);
    ///     let even = r.every_with(|n| { let e = n % 2 == 0; async move { Ok(e) } }, opts);
    ///     assert!(!even.await.unwrap());
    /// });
    /// ```
    fn every_with<F, Fut>(
        &self,
        mut f: F,
        opts: OperatorOptions,
    ) -> impl Future<Output = Result<bool, Error>> + 'static
    where
        F: FnMut(&T) -> Fut + 'static,
        Fut: Future<Output = Result<bool, Error>> + 'static,
    {
        let some = self.some_with(
            move |v| {
                let fut = f(v);
                async move { Ok(!fut.await?) }
            },
            opts,
        );
        async move { Ok(!some.await?) }
    }

    /// Node's `find(fn)`: the first value for which `f` answers `true`
    /// (`None` when none does); stops (destroying the stream) there.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     for w in ["ant", "bee", "cat"] {
    ///         r.push(w);
    ///     }
    ///     r.push_eof();
    ///     let b = r.find(|w| { let hit = w.starts_with('b'); async move { Ok(hit) } });
    ///     assert_eq!(b.await.unwrap(), Some("bee"));
    /// });
    /// ```
    fn find<F, Fut>(&self, f: F) -> impl Future<Output = Result<Option<T>, Error>> + 'static
    where
        F: FnMut(&T) -> Fut + 'static,
        Fut: Future<Output = Result<bool, Error>> + 'static,
    {
        self.find_with(f, OperatorOptions::default())
    }

    /// Node's `find(fn, options)`.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{OperatorOptions, Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     r.push(5u32);
    ///     r.push_eof();
    ///     let opts = OperatorOptions::default().concurrency(4);
    ///     let none = r.find_with(|n| { let hit = *n > 9; async move { Ok(hit) } }, opts);
    ///     assert_eq!(none.await.unwrap(), None);
    /// });
    /// ```
    fn find_with<F, Fut>(
        &self,
        f: F,
        opts: OperatorOptions,
    ) -> impl Future<Output = Result<Option<T>, Error>> + 'static
    where
        F: FnMut(&T) -> Fut + 'static,
        Fut: Future<Output = Result<bool, Error>> + 'static,
    {
        let filtered = self.filter_with(f, opts);
        async move { consume::first(filtered.stream()).await }
    }
}

impl<T: 'static, S: ReadableSide<T>> OperatorsExt<T> for S {}
