//! Pipeline stages written as async-stream functions: [`duplex_from_fn`]
//! (Node's `Duplex.from(async function* …)`) and the `Pipeline` methods
//! built on it (`Pipeline::from_stream`, `from_try_stream`, `through_fn`).

use std::cell::RefCell;
use std::rc::Rc;

use futures::Stream;

use super::stream::{StreamSource, StreamState};
use super::{done_with, BoxError};
use crate::ops::{Pipeline, ReadableExt, ReadableStream};
use crate::state::{DuplexOptions, Error, ErrorKind, ReadableOptions};
use crate::stream::{
    Done, Duplex, Hooks, Readable, ReadableEvent, ReadableImpl, ReadableSide, Source, StreamBase,
    WritableImpl,
};

/// The input of a [`duplex_from_fn`] function: a Readable fed by the
/// Duplex's writable side, whose write completions are held while it is
/// full (as a Transform holds them).
struct FnGate {
    held: RefCell<Option<Done>>,
}

impl FnGate {
    fn release(&self, err: Option<Error>) {
        let held = self.held.borrow_mut().take();
        if let Some(done) = held {
            done_with(done, err);
        }
    }
}

struct FnInputSource(Rc<FnGate>);

impl<In: 'static> ReadableImpl<In> for FnInputSource {
    fn read(&self, _size: usize, _src: &Source<In>) {
        // The function wants more: the held write completes.
        self.0.release(None);
    }

    fn destroy(&self, err: Option<Error>, done: Done) {
        // The function let go of its input (or the stage is destroyed): a
        // held write cannot go anywhere.
        self.0.release(Some(
            err.clone()
                .unwrap_or_else(|| Error::new(ErrorKind::PrematureClose)),
        ));
        done_with(done, err);
    }
}

/// The writable side of a [`duplex_from_fn`] stage: pushes into the input.
struct FnInputSink<In: 'static, S> {
    input: Readable<In>,
    gate: Rc<FnGate>,
    output: Rc<StreamState<S>>,
}

impl<In: 'static, S> FnInputSink<In, S> {
    fn input_gone(&self) -> Error {
        self.input
            .errored()
            .unwrap_or_else(|| Error::new(ErrorKind::PrematureClose))
    }
}

impl<In: 'static, S: 'static> WritableImpl<In> for FnInputSink<In, S> {
    fn write(&self, chunk: In, done: Done) {
        if self.input.destroyed() {
            done.err(self.input_gone());
            return;
        }
        if self.input.push(chunk) {
            done.ok();
        } else if self.input.destroyed() {
            done.err(self.input_gone());
        } else {
            *self.gate.held.borrow_mut() = Some(done);
        }
    }

    fn hooks(&self) -> Hooks {
        Hooks::FINAL
    }

    /// Ends the input, and finishes only once the function has taken all
    /// of it (its input's `'end'`): Node's `Duplex.from(async function*)`
    /// calls `_final`'s callback when the generator reaches the end of its
    /// source, so `'finish'` never comes before an error the function
    /// raises while input is left.
    fn finish(&self, done: Done) {
        if self.input.destroyed() {
            done.ok();
            return;
        }
        self.input.push_eof();
        let slot = Rc::new(RefCell::new(Some(done)));
        let s = slot.clone();
        self.input.once_event(ReadableEvent::End, move || {
            if let Some(done) = s.borrow_mut().take() {
                done.ok();
            }
        });
        let input = self.input.clone();
        self.input.once_close(move || {
            if let Some(done) = slot.borrow_mut().take() {
                let err = input
                    .errored()
                    .unwrap_or_else(|| Error::new(ErrorKind::PrematureClose));
                done.err(err);
            }
        });
    }

    /// The Duplex's one destroy hook: drops the function's output stream
    /// and destroys its input.
    fn destroy(&self, err: Option<Error>, done: Done) {
        self.output.close();
        self.input.destroy(err.clone());
        done_with(done, err);
    }
}

/// A Duplex whose readable side is what `f` makes of its writable side:
/// Node's `Duplex.from(async function* (source) { … })`, and what a
/// function stage of `pipeline` is.
///
/// `f` is called at once with the input as a [`ReadableStream`] (the
/// chunks written to the Duplex, in order, ending when the Duplex's
/// writable side ends) and returns the output `Stream`; its items are
/// pushed to the readable side as [`Readable::from_try_stream`] does. The
/// options give each side's mode and mark (Node's `Duplex.from` is object
/// mode: [`DuplexOptions::objects`]); the input holds up to the writable
/// mark before writes wait.
///
/// * An `Err` item destroys the Duplex with that error.
/// * Ending the output early while input still comes (a `take(n)`)
///   destroys the input (dropping a [`ReadableStream`] before its end does,
///   with `ABORT_ERR`), and the next write fails with that error: a
///   pipeline fails with `ABORT_ERR` instead of waiting forever.
/// * Destroying the Duplex drops the output stream and destroys the input.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use highwater::prelude::*;
/// use highwater::{compat, DuplexOptions};
///
/// highwater::block_on(async {
///     let double = compat::duplex_from_fn(DuplexOptions::objects(), |input| {
///         input.map(|r: Result<u32, highwater::Error>| r.map(|n| n * 2))
///     });
///     assert!(double.write(1));
///     double.end_with_chunk(2);
///     let got: Vec<u32> = double.stream().map(|r| r.unwrap()).collect().await;
///     assert_eq!(got, [2, 4]);
/// });
/// ```
pub fn duplex_from_fn<In, Out, F, S>(opts: DuplexOptions<Out, In>, f: F) -> Duplex<Out, In>
where
    In: 'static,
    Out: 'static,
    F: FnOnce(ReadableStream<In>) -> S,
    S: Stream<Item = Result<Out, Error>> + 'static,
{
    let input_mark = opts.writable_side().mark();
    let gate = Rc::new(FnGate {
        held: RefCell::new(None),
    });
    let input: Readable<In> = Readable::new(
        ReadableOptions::objects().high_water_mark(input_mark),
        FnInputSource(gate.clone()),
    );
    let output = StreamState::new(f(input.stream()));
    Duplex::new(
        opts,
        StreamSource(output.clone()),
        FnInputSink {
            input,
            gate,
            output,
        },
    )
}

impl<T: Clone + 'static> Pipeline<T> {
    /// Starts a pipeline at a `futures` [`Stream`] (Node's
    /// `pipeline(iterable, …)`): the stream becomes an object-mode
    /// [`Readable::from_stream`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use highwater::prelude::*;
    /// use highwater::{Pipeline, Writable, WritableOptions};
    ///
    /// highwater::block_on(async {
    ///     let seen = Rc::new(RefCell::new(Vec::new()));
    ///     let s = seen.clone();
    ///     let dst = Writable::from_fn(WritableOptions::objects(), move |n: u32| {
    ///         s.borrow_mut().push(n);
    ///         Ok(())
    ///     });
    ///     Pipeline::from_stream(futures::stream::iter(0..4)).run(&dst).await.unwrap();
    ///     assert_eq!(*seen.borrow(), [0, 1, 2, 3]);
    /// });
    /// ```
    pub fn from_stream<S>(stream: S) -> Self
    where
        S: Stream<Item = T> + 'static,
    {
        Pipeline::new(&Readable::from_stream(ReadableOptions::objects(), stream))
    }

    /// [`from_stream`](Pipeline::from_stream) for a stream of `Result`s: an
    /// `Err` fails the pipeline with that error.
    ///
    /// # Examples
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Error, Pipeline, Writable, WritableOptions};
    ///
    /// highwater::block_on(async {
    ///     let dst = Writable::from_fn(WritableOptions::objects(), |_n: u32| Ok(()));
    ///     let items = futures::stream::iter([Ok(1), Err(Error::custom("EBAD", "bad"))]);
    ///     let err = Pipeline::from_try_stream(items).run(&dst).await.unwrap_err();
    ///     assert_eq!(err.code(), "EBAD");
    /// });
    /// ```
    pub fn from_try_stream<S, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<T, E>> + 'static,
        E: Into<BoxError>,
    {
        Pipeline::new(&Readable::from_try_stream(
            ReadableOptions::objects(),
            stream,
        ))
    }

    /// Adds a function stage (Node's `pipeline(src, async function* (source)
    /// { … }, dst)`): `f` gets the previous stage's output as a
    /// [`ReadableStream`] and returns a `Stream` of results, which the next
    /// stage reads. It runs as a [`duplex_from_fn`] stage (object mode), so
    /// backpressure, errors and destroy go through the pipeline as for any
    /// Duplex: an `Err` item fails the pipeline with that error.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use highwater::prelude::*;
    /// use highwater::{Pipeline, Writable, WritableOptions};
    ///
    /// highwater::block_on(async {
    ///     let out = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    ///     let o = out.clone();
    ///     let dst = Writable::from_fn(WritableOptions::objects(), move |s: String| {
    ///         o.borrow_mut().push(s);
    ///         Ok(())
    ///     });
    ///     Pipeline::from_stream(futures::stream::iter(1..=3u32))
    ///         .through_fn(|source| source.map(|n| n.map(|n| format!("#{n}"))))
    ///         .run(&dst)
    ///         .await
    ///         .unwrap();
    ///     assert_eq!(*out.borrow(), ["#1", "#2", "#3"]);
    /// });
    /// ```
    pub fn through_fn<U, F, S>(self, f: F) -> Pipeline<U>
    where
        U: Clone + 'static,
        F: FnOnce(ReadableStream<T>) -> S,
        S: Stream<Item = Result<U, Error>> + 'static,
    {
        let stage = duplex_from_fn(DuplexOptions::objects(), f);
        self.through(&stage)
    }
}
