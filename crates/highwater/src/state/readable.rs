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

use std::collections::VecDeque;
use std::task::Waker;

use super::chunk::ChunkOps;
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

/// Node's `ReadableState` (of its encodings, UTF-8 only).
pub(crate) struct RState<R> {
    pub(crate) object_mode: bool,
    pub(crate) hwm: usize,
    pub(crate) ops: ChunkOps<R>,
    pub(crate) emit_close: bool,
    pub(crate) auto_destroy: bool,
    /// Node's `readable` option: false for a Duplex whose readable side is
    /// disabled (it starts ended and end-emitted).
    pub(crate) readable_side: bool,
    /// False while an asynchronous `construct` hook runs: no `_read` yet.
    pub(crate) constructed: bool,

    /// The chunks, each with the length it counts for (`chunk_len`, kept
    /// so that the per-chunk paths never ask `ops.len` twice).
    pub(crate) buffer: VecDeque<(R, usize)>,
    pub(crate) length: usize,
    pub(crate) flowing: Option<bool>,
    pub(crate) paused: bool,
    pub(crate) has_paused: bool,
    pub(crate) ended: bool,
    pub(crate) end_emitted: bool,
    pub(crate) reading: bool,
    pub(crate) sync: bool,
    pub(crate) need_readable: bool,
    pub(crate) emitted_readable: bool,
    pub(crate) readable_listening: bool,
    pub(crate) data_listening: bool,
    pub(crate) resume_scheduled: bool,
    pub(crate) reading_more: bool,
    pub(crate) data_emitted: bool,
    pub(crate) await_drain: AwaitDrain,
    pub(crate) multi_await_drain: bool,

    pub(crate) destroyed: bool,
    pub(crate) closed: bool,
    pub(crate) close_emitted: bool,
    pub(crate) error_emitted: bool,
    pub(crate) errored: Option<Error>,

    pub(crate) wakers: Vec<Waker>,

    /// Node's `decoder` and `encoding`: set by `setEncoding`; every chunk
    /// pushed is then decoded to whole UTF-8 characters.
    pub(crate) text: Option<Box<TextState<R>>>,

    // Beyond Node: weights, the item bound, the overflow policy and the
    // counters of `ReadableStats`.
    /// Object mode whose chunks count `ops.len` instead of 1.
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

impl<R> RState<R> {
    pub(crate) fn new(
        object_mode: bool,
        hwm: usize,
        ops: ChunkOps<R>,
        emit_close: bool,
        auto_destroy: bool,
    ) -> Self {
        RState {
            object_mode,
            hwm,
            ops,
            emit_close,
            auto_destroy,
            readable_side: true,
            constructed: true,
            buffer: VecDeque::new(),
            length: 0,
            flowing: None,
            paused: false,
            has_paused: false,
            ended: false,
            end_emitted: false,
            reading: false,
            sync: true,
            need_readable: false,
            emitted_readable: false,
            readable_listening: false,
            data_listening: false,
            resume_scheduled: false,
            reading_more: false,
            data_emitted: false,
            await_drain: AwaitDrain::Nobody,
            multi_await_drain: false,
            destroyed: false,
            closed: false,
            close_emitted: false,
            error_emitted: false,
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
        if !more && !self.ended {
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
        let multi = self.multi_await_drain;
        self.await_drain.clear(multi);
        self.data_emitted = true;
        self.pushes += 1;
        self.bytes_in = self.bytes_in.wrapping_add(len as u64);
        self.bytes_out = self.bytes_out.wrapping_add(len as u64);
    }

    #[inline]
    pub(crate) fn chunk_len(&self, c: &R) -> usize {
        if self.object_mode && !self.weighted {
            1
        } else {
            (self.ops.len)(c)
        }
    }

    /// Node's `canPushMore`.
    #[inline]
    pub(crate) fn can_push_more(&self) -> bool {
        !self.ended
            && ((self.length < self.hwm && self.max_items.is_none_or(|m| self.buffer.len() < m))
                || self.length == 0)
    }

    /// Node's `howMuchToRead`; `n == None` is `read()` without a size (NaN).
    #[inline(always)]
    pub(crate) fn how_much_to_read(&self, n: Option<usize>) -> usize {
        if n == Some(0) || (self.length == 0 && self.ended) {
            return 0;
        }
        if self.object_mode {
            return 1;
        }
        match n {
            None => {
                if self.flowing == Some(true) && self.length > 0 {
                    self.buffer.front().map_or(0, |(_, len)| *len)
                } else {
                    self.length
                }
            }
            Some(n) if n <= self.length => n,
            Some(_) => {
                if self.ended {
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
        if self.object_mode {
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
        if self.object_mode {
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
    }
}

impl<R> RState<R> {
    /// Node's `readableEncoding`.
    pub(crate) fn encoding(&self) -> Option<Encoding> {
        self.text.as_ref().map(|t| t.encoding)
    }
}
