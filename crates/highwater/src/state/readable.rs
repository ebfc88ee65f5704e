//! Node's `ReadableState`: the readable side's flags, buffer and counters,
//! and the rules that only read or change them (`howMuchToRead`, `fromList`,
//! the overflow policy). No event loop, no listeners: the transitions that
//! call out live in `stream/readable/machine.rs`.
//!
//! Flags keep Node's names: `flowing` (tri-state: `None` = no consumer chose
//! yet), `ended` (`push(None)` seen), `end_emitted` (`'end'` emitted),
//! `reading` (`_read` called, nothing pushed yet), `sync` (inside `_read`, so
//! pushed data is buffered rather than emitted), `need_readable`,
//! `emitted_readable`, `reading_more` (a `maybeReadMore` tick is queued),
//! `resume_scheduled`.
//!
//! As in Node (`state[kState]`), the flags the transitions test live in one
//! word, [`RState::flags`], one bit each ([`F`]): `kObjectMode` is
//! [`F::OBJECT_MODE`], `kReading` [`F::READING`], `kDataListening`
//! [`F::DATA_LISTENING`], and so on. Two bits mirror values kept beside the
//! word: [`F::ERRORED`] is `errored.is_some()` and [`F::DECODER`] is
//! `text.is_some()` (Node's `kErrored` and `kDecoder`). Both values are
//! private to this module and written only through [`RState::set_errored`]
//! and [`RState::set_encoding`], which update the bit in the same step. The
//! tri-state `flowing` is two bits, as Node's `kHasFlowing` and `kFlowing`
//! ([`F::HAS_FLOWING`], [`F::FLOWING`]; `FLOWING` alone is `Some(true)`),
//! written only through [`RState::set_flowing`]. So `push()`'s "no decoder,
//! open, not errored" and `read()`'s "may call `_read`" are each one mask
//! test of the word.

use std::collections::VecDeque;
use std::task::Waker;

use super::chunk::ChunkOps;
use super::flags::flag_word;
use super::stats::{PressureClock, ReadableStats};
use super::text::{text_ops, Encoding, TextChunk, TextState};
use super::{Error, Overflow, StreamId};

/// Node's `awaitDrainWriters`: the destinations a pipe waits on.
#[derive(Debug, Default)]
pub(crate) enum AwaitDrain {
    #[default]
    Nobody,
    One(StreamId),
    Set(Vec<StreamId>),
}

impl AwaitDrain {
    /// `awaitDrainWriters = null` or `.clear()` (multi).
    #[inline(always)]
    pub(crate) fn clear(&mut self, multi: bool) {
        // Already clear: nothing to drop or allocate (the per-chunk case).
        if !multi && matches!(self, AwaitDrain::Nobody) {
            return;
        }
        self.clear_slow(multi);
    }

    #[inline(never)]
    fn clear_slow(&mut self, multi: bool) {
        match self {
            AwaitDrain::Nobody if !multi => {}
            AwaitDrain::Set(set) if multi => set.clear(),
            _ => {
                *self = if multi {
                    AwaitDrain::Set(Vec::new())
                } else {
                    AwaitDrain::Nobody
                };
            }
        }
    }
}

/// Wakes and forgets every waiting future (the rare case of `wake_all`).
#[cold]
#[inline(never)]
pub(crate) fn wake(wakers: &mut Vec<Waker>) {
    for w in wakers.drain(..) {
        w.wake();
    }
}

/// The bits of [`RState::flags`], named after Node's `kState` bits of
/// `ReadableState`.
///
/// `ERRORED` and `DECODER` mirror values kept beside the word, and
/// `HAS_FLOWING`/`FLOWING` are the tri-state `flowing` itself (see the
/// module docs): only their own setters change them, never [`RState::set`]
/// or [`RState::clear`].
pub(crate) struct F;

impl F {
    // `ENDED` is bit 0: `length == 0 && ended` (`howMuchToRead`, twice
    // per `read()`) then tests the word without a shift.
    pub(crate) const ENDED: u32 = 1 << 0;
    pub(crate) const OBJECT_MODE: u32 = 1 << 1;
    pub(crate) const END_EMITTED: u32 = 1 << 2;
    pub(crate) const READING: u32 = 1 << 3;
    /// False while an asynchronous `construct` hook runs: no `_read` yet.
    pub(crate) const CONSTRUCTED: u32 = 1 << 4;
    pub(crate) const SYNC: u32 = 1 << 5;
    pub(crate) const NEED_READABLE: u32 = 1 << 6;
    pub(crate) const EMITTED_READABLE: u32 = 1 << 7;
    pub(crate) const READABLE_LISTENING: u32 = 1 << 8;
    pub(crate) const RESUME_SCHEDULED: u32 = 1 << 9;
    pub(crate) const ERROR_EMITTED: u32 = 1 << 10;
    pub(crate) const DESTROYED: u32 = 1 << 11;
    pub(crate) const CLOSE_EMITTED: u32 = 1 << 12;
    pub(crate) const MULTI_AWAIT_DRAIN: u32 = 1 << 13;
    pub(crate) const READING_MORE: u32 = 1 << 14;
    pub(crate) const DATA_EMITTED: u32 = 1 << 15;
    /// Mirror: `errored.is_some()`.
    pub(crate) const ERRORED: u32 = 1 << 16;
    /// Mirror: `text.is_some()` (Node's `kDecoder`).
    pub(crate) const DECODER: u32 = 1 << 17;
    /// `flowing` is not `None` (Node's `kHasFlowing`).
    pub(crate) const HAS_FLOWING: u32 = 1 << 18;
    /// `flowing == Some(true)`; never set without `HAS_FLOWING`.
    pub(crate) const FLOWING: u32 = 1 << 19;
    pub(crate) const HAS_PAUSED: u32 = 1 << 20;
    pub(crate) const PAUSED: u32 = 1 << 21;
    pub(crate) const DATA_LISTENING: u32 = 1 << 22;

    /// The bits only their own setters may change.
    const MIRRORS: u32 = F::ERRORED | F::DECODER | F::HAS_FLOWING | F::FLOWING;

    /// What sends `push()` off its fast path: a decoder, `ended`,
    /// `destroyed` or `errored`.
    pub(crate) const PUSH_SLOW: u32 = F::DECODER | F::ENDED | F::DESTROYED | F::ERRORED;

    /// `addChunk`'s hand-off to `'data'`: flowing, outside `_read`, with a
    /// `'data'` listener; only `FLOWING | DATA_LISTENING` may be set.
    pub(crate) const HAND_OFF: u32 = F::FLOWING | F::SYNC | F::DATA_LISTENING;

    /// What stops `read()` from calling `_read`: `reading`, `ended`,
    /// `destroyed`, `errored`, or not `constructed`; only `CONSTRUCTED`
    /// may be set.
    pub(crate) const NO_READ: u32 =
        F::READING | F::ENDED | F::DESTROYED | F::ERRORED | F::CONSTRUCTED;
}

/// Node's `ReadableState` (of its encodings, UTF-8 only).
pub(crate) struct RState<R> {
    /// Node's `state[kState]`: the bits of [`F`].
    flags: u32,
    pub(crate) hwm: usize,
    pub(crate) ops: ChunkOps<R>,
    // Options read once per stream or per rare transition stay plain
    // bools: no hot test combines them with other flags, so moving them
    // into `flags` would gain nothing. `closed` likewise (set once, read
    // by `Core::is_closed`).
    pub(crate) emit_close: bool,
    pub(crate) auto_destroy: bool,
    /// Node's `readable` option: false for a Duplex whose readable side is
    /// disabled (it starts ended and end-emitted).
    pub(crate) readable_side: bool,
    pub(crate) closed: bool,

    /// The chunks, each with the length it counts for (`chunk_len`, kept
    /// so that the per-chunk paths never ask `ops.len` twice).
    pub(crate) buffer: VecDeque<(R, usize)>,
    pub(crate) length: usize,
    pub(crate) await_drain: AwaitDrain,

    /// Mirrored by [`F::ERRORED`]: written only by [`RState::set_errored`].
    errored: Option<Error>,

    pub(crate) wakers: Vec<Waker>,

    /// Node's `decoder` and `encoding`: set by `setEncoding`; every chunk
    /// pushed is then decoded to whole UTF-8 characters. Mirrored by
    /// [`F::DECODER`]: written only by [`RState::set_encoding`].
    text: Option<Box<TextState<R>>>,

    // Beyond Node: weights, the item bound, the overflow policy and the
    // counters of `ReadableStats`.
    /// Object mode whose chunks count `ops.len` instead of 1. A bool, not
    /// a bit: `chunk_len` tests `object_mode` alone first, which in byte
    /// mode decides (one bit test), where a mask test of both would cost
    /// more on every chunk.
    pub(crate) weighted: bool,
    pub(crate) max_items: Option<usize>,
    pub(crate) overflow: Overflow,
    pub(crate) overflow_limit: Option<usize>,
    pub(crate) peak: usize,
    pub(crate) pushes: u64,
    pub(crate) false_returns: u64,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    pub(crate) dropped_chunks: u64,
    pub(crate) dropped_bytes: u64,
    pub(crate) overflow_errors: u64,
    pub(crate) pressure: PressureClock,
}

// The word's accessors (`state/flags.rs`): a getter per flag for code
// that tests one, a setter per flag other modules set one at a time.
flag_word! {
    RState<R>,
    get {
        object_mode: OBJECT_MODE;
        ended: ENDED;
        end_emitted: END_EMITTED;
        reading: READING;
        constructed: CONSTRUCTED;
        sync: SYNC;
        need_readable: NEED_READABLE;
        emitted_readable: EMITTED_READABLE;
        readable_listening: READABLE_LISTENING;
        resume_scheduled: RESUME_SCHEDULED;
        error_emitted: ERROR_EMITTED;
        destroyed: DESTROYED;
        multi_await_drain: MULTI_AWAIT_DRAIN;
        data_emitted: DATA_EMITTED;
        reading_more: READING_MORE;
        paused: PAUSED;
        data_listening: DATA_LISTENING;
    }
    set {
        set_constructed: CONSTRUCTED;
        set_sync: SYNC;
        set_readable_listening: READABLE_LISTENING;
        set_error_emitted: ERROR_EMITTED;
        set_destroyed: DESTROYED;
        set_close_emitted: CLOSE_EMITTED;
        set_multi_await_drain: MULTI_AWAIT_DRAIN;
    }
}

impl<R> RState<R> {
    pub(crate) fn new(
        object_mode: bool,
        hwm: usize,
        ops: ChunkOps<R>,
        emit_close: bool,
        auto_destroy: bool,
    ) -> Self {
        let mut flags = F::CONSTRUCTED | F::SYNC;
        if object_mode {
            flags |= F::OBJECT_MODE;
        }
        RState {
            flags,
            hwm,
            ops,
            emit_close,
            auto_destroy,
            readable_side: true,
            closed: false,
            buffer: VecDeque::new(),
            length: 0,
            await_drain: AwaitDrain::Nobody,
            errored: None,
            wakers: Vec::new(),
            text: None,
            weighted: false,
            max_items: None,
            overflow: Overflow::Block,
            overflow_limit: None,
            peak: 0,
            pushes: 0,
            false_returns: 0,
            bytes_in: 0,
            bytes_out: 0,
            dropped_chunks: 0,
            dropped_bytes: 0,
            overflow_errors: 0,
            pressure: PressureClock::default(),
        }
    }

    /// Node's tri-state `flowing`: `None` until a consumer chose.
    #[inline]
    pub(crate) fn flowing(&self) -> Option<bool> {
        self.debug_check_mirrors();
        if self.flags & F::HAS_FLOWING != 0 {
            Some(self.flags & F::FLOWING != 0)
        } else {
            None
        }
    }

    /// `flowing == Some(true)`, one bit test.
    #[inline]
    pub(crate) fn is_flowing(&self) -> bool {
        self.flags & F::FLOWING != 0
    }

    /// `flowing = v`: both bits in one step.
    #[inline]
    pub(crate) fn set_flowing(&mut self, v: Option<bool>) {
        self.flags &= !(F::HAS_FLOWING | F::FLOWING);
        match v {
            None => {}
            Some(false) => self.flags |= F::HAS_FLOWING,
            Some(true) => self.flags |= F::HAS_FLOWING | F::FLOWING,
        }
    }

    /// The decoder, if `setEncoding` was called.
    #[inline]
    pub(crate) fn text(&self) -> Option<&TextState<R>> {
        self.text.as_deref()
    }

    /// The decoder, to decode with.
    #[inline]
    pub(crate) fn text_mut(&mut self) -> Option<&mut TextState<R>> {
        self.text.as_deref_mut()
    }

    /// Debug builds: the mirror bits agree with the values they mirror,
    /// and `FLOWING` never stands without `HAS_FLOWING`.
    #[inline]
    fn debug_check_mirrors(&self) {
        debug_assert_eq!(self.flags & F::ERRORED != 0, self.errored.is_some());
        debug_assert_eq!(self.flags & F::DECODER != 0, self.text.is_some());
        debug_assert!(
            self.flags & (F::HAS_FLOWING | F::FLOWING) != F::FLOWING,
            "FLOWING without HAS_FLOWING"
        );
    }

    /// A snapshot for [`ReadableStats`].
    pub(crate) fn stats(&self) -> ReadableStats {
        ReadableStats {
            length: self.length,
            items: self.buffer.len(),
            high_water_mark: self.hwm,
            peak_length: self.peak,
            pushes: self.pushes,
            false_returns: self.false_returns,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            backpressure_time: self.pressure.total(),
            under_backpressure: self.pressure.current(),
            dropped_chunks: self.dropped_chunks,
            dropped_bytes: self.dropped_bytes,
            overflow_errors: self.overflow_errors,
        }
    }

    /// `push()`'s answer, counted when it is false.
    #[inline(always)]
    pub(crate) fn push_answer(&mut self) -> bool {
        let more = self.can_push_more();
        if !more && !self.ended() {
            self.false_returns += 1;
            self.pressure.start();
        }
        more
    }

    #[inline(always)]
    pub(crate) fn wake_all(&mut self) {
        // Usually nobody waits: the test inline, the drain out of line.
        if !self.wakers.is_empty() {
            wake(&mut self.wakers);
        }
    }

    /// `addChunk`'s direct `'data'` (flowing, empty buffer, outside
    /// `_read`): nobody awaits a drain any more, data was emitted, and the
    /// chunk counts as in and out.
    #[inline]
    pub(crate) fn count_hand_off(&mut self, len: usize) {
        let multi = self.multi_await_drain();
        self.await_drain.clear(multi);
        self.flags |= F::DATA_EMITTED;
        self.pushes += 1;
        self.bytes_in = self.bytes_in.wrapping_add(len as u64);
        self.bytes_out = self.bytes_out.wrapping_add(len as u64);
    }

    #[inline]
    pub(crate) fn chunk_len(&self, c: &R) -> usize {
        if self.object_mode() && !self.weighted {
            1
        } else {
            (self.ops.len)(c)
        }
    }

    /// Node's `canPushMore`.
    #[inline]
    pub(crate) fn can_push_more(&self) -> bool {
        !self.ended()
            && ((self.length < self.hwm && self.max_items.is_none_or(|m| self.buffer.len() < m))
                || self.length == 0)
    }

    /// Node's `howMuchToRead`; `n == None` is `read()` without a size (NaN).
    #[inline(always)]
    pub(crate) fn how_much_to_read(&self, n: Option<usize>) -> usize {
        if n == Some(0) || (self.length == 0 && self.ended()) {
            return 0;
        }
        if self.object_mode() {
            return 1;
        }
        match n {
            None => {
                if self.is_flowing() && self.length > 0 {
                    self.buffer.front().map_or(0, |(_, len)| *len)
                } else {
                    self.length
                }
            }
            Some(n) if n <= self.length => n,
            Some(_) => {
                if self.ended() {
                    self.length
                } else {
                    0
                }
            }
        }
    }

    /// Node's `fromList`: takes `n` bytes (one item in object mode) off the
    /// buffer, with the length the taken chunk counted for. `n == None`
    /// takes everything.
    #[inline(always)]
    pub(crate) fn take_from_list(&mut self, n: Option<usize>) -> Option<(R, usize)> {
        if self.length == 0 {
            return None;
        }
        if self.object_mode() {
            return self.buffer.pop_front();
        }
        // The per-chunk case: exactly the first chunk (a flowing `read()`).
        let first_len = self.buffer.front().map_or(0, |(_, len)| *len);
        if n == Some(first_len) || (n.is_none() && self.buffer.len() == 1) {
            return self.buffer.pop_front();
        }
        self.take_from_list_slow(n)
    }

    /// [`take_from_list`](Self::take_from_list) where chunks are split or joined.
    #[inline(never)]
    fn take_from_list_slow(&mut self, n: Option<usize>) -> Option<(R, usize)> {
        match n {
            Some(n) if n < self.length => {
                let first_len = self.buffer.front().map_or(0, |(_, len)| *len);
                if n < first_len {
                    // What is taken may differ from `n` (text keeps a
                    // character whole): both lengths are counted again.
                    let (split_to, len_of) = (self.ops.split_to, self.ops.len);
                    let (head, len) = self.buffer.front_mut()?;
                    let taken = split_to(head, n);
                    *len = len_of(head);
                    let took = len_of(&taken);
                    Some((taken, took))
                } else if n == first_len {
                    self.buffer.pop_front()
                } else {
                    let mut parts = Vec::new();
                    let mut need = n;
                    while need > 0 {
                        let l = self.buffer.front().map_or(0, |(_, len)| *len);
                        if l == 0 && self.buffer.is_empty() {
                            break;
                        }
                        if need >= l {
                            parts.extend(self.buffer.pop_front().map(|(c, _)| c));
                            need -= l;
                        } else {
                            let (split_to, len_of) = (self.ops.split_to, self.ops.len);
                            let (head, len) = self.buffer.front_mut()?;
                            parts.push(split_to(head, need));
                            *len = len_of(head);
                            need = 0;
                        }
                    }
                    let joined = (self.ops.concat)(parts, n);
                    let took = (self.ops.len)(&joined);
                    Some((joined, took))
                }
            }
            _ => {
                // Everything: one chunk as is, several joined.
                if self.buffer.len() == 1 {
                    self.buffer.pop_front()
                } else {
                    let total = self.length;
                    let parts: Vec<R> = self.buffer.drain(..).map(|(c, _)| c).collect();
                    Some(((self.ops.concat)(parts, total), total))
                }
            }
        }
    }
}

impl<R: TextChunk> RState<R> {
    /// Node's `setEncoding`: a new decoder; in byte mode the side counts
    /// UTF-16 code units from now on, and what is buffered is decoded again
    /// with the new decoder into one chunk (an incomplete character at its
    /// end stays in the decoder). In object mode each buffered chunk is
    /// decoded in place and still counts 1 (Node would join them; see the
    /// divergences in `ReadableSide::set_encoding`).
    pub(crate) fn set_encoding(&mut self, encoding: Encoding) {
        let mut text = TextState::<R>::new(encoding);
        let chunks: Vec<(R, usize)> = self.buffer.drain(..).collect();
        if self.object_mode() {
            for (c, len) in chunks {
                let d = (text.decode)(&mut text.decoder, c);
                // Still counted as before (1, or its weight).
                self.buffer.push_back((d, len));
            }
        } else {
            self.ops = text_ops::<R>();
            let mut parts = Vec::with_capacity(chunks.len());
            let mut bytes = 0;
            for (c, _) in chunks {
                let d = (text.decode)(&mut text.decoder, c);
                let n = TextChunk::as_bytes(&d).len();
                if n > 0 {
                    bytes += n;
                    parts.push(d);
                }
            }
            self.length = 0;
            if !parts.is_empty() {
                let joined = if parts.len() == 1 {
                    parts.pop()
                } else {
                    Some((self.ops.concat)(parts, bytes))
                };
                if let Some(j) = joined {
                    self.length = (self.ops.len)(&j);
                    self.buffer.push_back((j, self.length));
                }
            }
        }
        self.text = Some(Box::new(text));
        self.flags |= F::DECODER;
    }
}

impl<R> RState<R> {
    /// Node's `readableEncoding`.
    pub(crate) fn encoding(&self) -> Option<Encoding> {
        self.text.as_ref().map(|t| t.encoding)
    }
}
