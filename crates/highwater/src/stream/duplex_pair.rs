//! `duplexPair()`: Node 22's `lib/internal/streams/duplexpair.js` (not in
//! Node 20), ported with its semantics.
//!
//! Two Duplex streams connected back to back: what one writes, the other
//! reads. A side's `_write` pushes the chunk into the other side's readable
//! buffer and leaves its callback with the other side, whose next `_read`
//! calls it: a write completes once the reader asks for more (its buffer is
//! under its mark), so a writer facing a slow reader sees `write()` return
//! `false` and waits for `'drain'`. A zero-length chunk (which would not make
//! the reader ask again) completes on the next tick. `end()` pushes the end
//! of stream into the other side, and `'finish'` waits for the other side's
//! `'end'`. Destroying one side does not touch the other (Node's sides have
//! no `_destroy`).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use crate::runtime::event_loop::next_tick;
use crate::state::DuplexOptions;

use super::core::Core;
use super::readable::Source;
use super::side::ReadableSide;
use super::{Done, Duplex, Hooks, ReadableImpl, WritableImpl};

/// Both sides: each one's write callback waiting for its `_read`
/// (Node's `kCallback`) and a weak link to each stream.
struct Pair<T: 'static> {
    callback: [RefCell<Option<Done>>; 2],
    cores: [RefCell<Weak<Core<T, T>>>; 2],
}

/// One side's hooks; `i` is its index in the pair.
struct PairSide<T: 'static> {
    pair: Rc<Pair<T>>,
    i: usize,
}

impl<T: 'static> PairSide<T> {
    fn other(&self) -> Option<Duplex<T, T>> {
        self.pair.cores[1 - self.i]
            .borrow()
            .upgrade()
            .map(|core| Duplex { core })
    }
}

impl<T: 'static> ReadableImpl<T> for PairSide<T> {
    fn read(&self, _size: usize, _src: &Source<T>) {
        let cb = self.pair.callback[self.i].borrow_mut().take();
        if let Some(cb) = cb {
            cb.ok();
        }
    }
}

impl<T: 'static> WritableImpl<T> for PairSide<T> {
    fn write(&self, chunk: T, done: Done) {
        // `chunk.length === 0`: this side's own measure of the chunk (0 only
        // for an empty chunk in byte mode, as in Node).
        let empty = self.pair.cores[self.i]
            .borrow()
            .upgrade()
            .is_some_and(|c| (c.ws().borrow().len_of)(&chunk) == 0);
        if empty {
            next_tick(move || done.ok());
            return;
        }
        if let Some(other) = self.other() {
            // Node pushes first, then leaves the callback; leaving it first
            // makes no difference unless the push reads synchronously, and
            // then the callback is not lost.
            *self.pair.callback[1 - self.i].borrow_mut() = Some(done);
            other.push(chunk);
        }
    }

    fn hooks(&self) -> Hooks {
        Hooks::FINAL
    }

    fn finish(&self, done: Done) {
        if let Some(other) = self.other() {
            let done = RefCell::new(Some(done));
            other.on_end(move || {
                if let Some(done) = done.borrow_mut().take() {
                    done.ok();
                }
            });
            other.push_eof();
        }
    }
}

/// Node 22's `duplexPair(options)`: two connected Duplex streams, each
/// made with `opts`; what one writes the other reads, with backpressure (a
/// write completes when the other side's `_read` asks for more), and
/// `end()` on one ends the other's readable side.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{duplex_pair, DuplexOptions};
///
/// let (client, server) = duplex_pair::<Bytes>(DuplexOptions::default());
/// client.end_with_chunk(Bytes::from_static(b"ping"));
/// highwater::run_until_idle();
/// assert_eq!(server.read(None), Some(Bytes::from_static(b"ping")));
/// highwater::run_until_idle();
/// assert!(server.readable_ended() && client.writable_finished());
/// ```
pub fn duplex_pair<T: 'static>(opts: DuplexOptions<T, T>) -> (Duplex<T, T>, Duplex<T, T>) {
    let pair = Rc::new(Pair {
        callback: [RefCell::new(None), RefCell::new(None)],
        cores: [RefCell::new(Weak::new()), RefCell::new(Weak::new())],
    });
    let side = |i: usize| {
        let hooks = || PairSide {
            pair: pair.clone(),
            i,
        };
        let d = Duplex::new(opts.clone(), hooks(), hooks());
        *pair.cores[i].borrow_mut() = Rc::downgrade(&d.core);
        d
    };
    let a = side(0);
    let b = side(1);
    (a, b)
}
