//! Node's `WritableState`: the writable side's flags, buffer and counters,
//! and the rules that only read or change them. No event loop, no hooks: the
//! transitions that call out live in `stream/writable/machine.rs`.
//!
//! Flags keep Node's names: `ending` ("at the start of end()"), `ended` ("end()
//! returned"), `finished` ("'finish' emitted"), `need_drain` ("a write()
//! returned false"), `sync` ("the hook has not returned yet, so its callback is
//! synchronous"), `buffered_flag` (Node's `kBuffered`: the buffer array exists,
//! which stays true while `clear_buffer` is handing its entries out).
//!
//! As in Node (`state[kState]`), the flags the transitions test live in one
//! word, [`WState::flags`], one bit each ([`F`]): `kObjectMode` is
//! [`F::OBJECT_MODE`], `kEnding` [`F::ENDING`], `kBuffered` [`F::BUFFERED`]
//! (the field `buffered_flag` before), `kAfterWriteTickInfo`
//! [`F::AFTER_WRITE_TICK_INFO`] (`tick_info_active` before), and so on. Two
//! bits mirror values kept beside the word: [`F::CORKED`] is `corked > 0` and
//! [`F::ERRORED`] is `errored.is_some()` (Node's `kCorked` and `kErrored`).
//! Both values are private to this module and written only through
//! [`WState::cork`], [`WState::set_corked`] and [`WState::set_errored`], which
//! update the bit in the same step, so a test such as "may write now" is one
//! mask test of the word.

use std::collections::VecDeque;
use std::task::Waker;

use super::callback::Cb;
use super::flags::flag_word;
use super::stats::{PressureClock, WritableStats};
use super::Error;

/// A chunk accepted by `write()` and not yet handed to the sink.
pub(crate) struct Buffered<T> {
    pub(crate) chunk: T,
    pub(crate) len: usize,
    pub(crate) cb: Cb,
}

/// The bits of [`WState::flags`], named after Node's `kState` bits.
///
/// `CORKED` and `ERRORED` are mirrors (see the module docs): only the
/// setters of `corked` and `errored` change them, never [`WState::set`] or
/// [`WState::clear`].
pub(crate) struct F;

impl F {
    pub(crate) const OBJECT_MODE: u32 = 1 << 0;
    pub(crate) const ENDED: u32 = 1 << 1;
    /// False while an asynchronous `construct` hook runs: writes buffer.
    pub(crate) const CONSTRUCTED: u32 = 1 << 2;
    pub(crate) const SYNC: u32 = 1 << 3;
    pub(crate) const ERROR_EMITTED: u32 = 1 << 4;
    pub(crate) const DESTROYED: u32 = 1 << 5;
    pub(crate) const CLOSE_EMITTED: u32 = 1 << 6;
    pub(crate) const FINAL_CALLED: u32 = 1 << 7;
    pub(crate) const NEED_DRAIN: u32 = 1 << 8;
    pub(crate) const ENDING: u32 = 1 << 9;
    pub(crate) const FINISHED: u32 = 1 << 10;
    pub(crate) const WRITING: u32 = 1 << 11;
    pub(crate) const BUFFER_PROCESSING: u32 = 1 << 12;
    pub(crate) const PREFINISHED: u32 = 1 << 13;
    pub(crate) const ALL_NOOP: u32 = 1 << 14;
    pub(crate) const EXPECT_WRITE_CB: u32 = 1 << 15;
    /// Node's `kAfterWriteTickInfo`: the newest tick info may still coalesce.
    pub(crate) const AFTER_WRITE_TICK_INFO: u32 = 1 << 16;
    pub(crate) const AFTER_WRITE_PENDING: u32 = 1 << 17;
    /// Node's `kBuffered`: the buffer exists (stays set while
    /// `clear_buffer` hands its entries out).
    pub(crate) const BUFFERED: u32 = 1 << 18;
    /// The sink finishes every write before returning (`write_sync`).
    pub(crate) const HAS_WRITE_SYNC: u32 = 1 << 19;
    /// Mirror: `errored.is_some()`.
    pub(crate) const ERRORED: u32 = 1 << 20;
    /// Mirror: `corked > 0`.
    pub(crate) const CORKED: u32 = 1 << 21;

    /// The bits only the setters of `corked` and `errored` may change.
    const MIRRORS: u32 = F::ERRORED | F::CORKED;

    /// What stops `write()` from handing the chunk to the sink at once
    /// ([`WState::may_write_now`]); `CONSTRUCTED` must be set, the rest clear.
    const NOT_NOW: u32 = F::ENDING
        | F::DESTROYED
        | F::WRITING
        | F::BUFFERED
        | F::NEED_DRAIN
        | F::CONSTRUCTED
        | F::CORKED
        | F::ERRORED;

    /// The bits [`WState::need_finish`] reads; only `ENDING | CONSTRUCTED`
    /// may be set.
    const FINISH: u32 = F::ENDING
        | F::CONSTRUCTED
        | F::DESTROYED
        | F::FINISHED
        | F::WRITING
        | F::ERROR_EMITTED
        | F::CLOSE_EMITTED
        | F::ERRORED
        | F::BUFFERED;
}

/// Node's `WritableState`, minus what highwater has no use for (encodings,
/// `_construct`).
pub(crate) struct WState<T> {
    /// Node's `state[kState]`: the bits of [`F`].
    flags: u32,
    pub(crate) hwm: usize,
    pub(crate) len_of: fn(&T) -> usize,
    // Options read once per stream or per rare transition stay plain
    // bools: no hot test combines them with other flags, so moving them
    // into `flags` would gain nothing. `closed` likewise (set once, read
    // by `Core::is_closed`).
    pub(crate) has_writev: bool,
    pub(crate) has_final: bool,
    pub(crate) emit_close: bool,
    pub(crate) auto_destroy: bool,
    /// Node's `writable` option: false for a Duplex whose writable side is
    /// disabled (it starts ended and finished).
    pub(crate) writable_side: bool,
    pub(crate) closed: bool,

    /// Bytes (items) accepted and not yet completed, the in-flight chunk included.
    pub(crate) length: usize,
    /// Length of the in-flight `_write`/`_writev`.
    pub(crate) writelen: usize,
    /// Mirrored by [`F::CORKED`]: written only by [`WState::cork`] and
    /// [`WState::set_corked`].
    corked: u32,
    pub(crate) buffered: VecDeque<Buffered<T>>,
    /// Outstanding callbacks: each accepted write, `_final`, the deferred finish.
    pub(crate) pendingcb: isize,
    pub(crate) writecb: Cb,
    /// Pending coalesced after-write ticks, oldest first: (callback, count).
    pub(crate) tick_infos: VecDeque<(Cb, usize)>,
    pub(crate) on_finished: Vec<Cb>,

    /// Mirrored by [`F::ERRORED`]: written only by [`WState::set_errored`].
    errored: Option<Error>,

    /// Futures waiting for drain, finish, error or close.
    pub(crate) wakers: Vec<Waker>,

    // Beyond Node: the low-water mark, the item bound and the counters of
    // `WritableStats`.
    pub(crate) lwm: usize,
    pub(crate) max_items: Option<usize>,
    /// Chunks in the in-flight `_write` (1) or `_writev` (n).
    pub(crate) writeitems: usize,
    pub(crate) peak: usize,
    pub(crate) writes: u64,
    pub(crate) false_returns: u64,
    pub(crate) drains: u64,
    /// Byte counters wrap (after 2^64 bytes, centuries at any real rate)
    /// rather than saturate: the cheaper add on the per-write path.
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    pub(crate) pressure: PressureClock,
}

// The word's accessors (`state/flags.rs`): a getter per flag for code
// that tests one, a setter per flag other modules set one at a time.
flag_word! {
    WState<T>,
    get {
        object_mode: OBJECT_MODE;
        ended: ENDED;
        constructed: CONSTRUCTED;
        sync: SYNC;
        error_emitted: ERROR_EMITTED;
        destroyed: DESTROYED;
        need_drain: NEED_DRAIN;
        ending: ENDING;
        finished: FINISHED;
        writing: WRITING;
        prefinished: PREFINISHED;
        all_noop: ALL_NOOP;
        expect_write_cb: EXPECT_WRITE_CB;
        tick_info_active: AFTER_WRITE_TICK_INFO;
        after_write_pending: AFTER_WRITE_PENDING;
        buffered_flag: BUFFERED;
        has_write_sync: HAS_WRITE_SYNC;
    }
    set {
        set_constructed: CONSTRUCTED;
        set_error_emitted: ERROR_EMITTED;
        set_destroyed: DESTROYED;
        set_close_emitted: CLOSE_EMITTED;
    }
}

impl<T> WState<T> {
    // One argument per option the state reads once; called from one place.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        object_mode: bool,
        hwm: usize,
        len_of: fn(&T) -> usize,
        has_writev: bool,
        has_write_sync: bool,
        has_final: bool,
        emit_close: bool,
        auto_destroy: bool,
    ) -> Self {
        let mut flags = F::CONSTRUCTED | F::SYNC | F::ALL_NOOP;
        if object_mode {
            flags |= F::OBJECT_MODE;
        }
        if has_write_sync {
            flags |= F::HAS_WRITE_SYNC;
        }
        WState {
            flags,
            hwm,
            len_of,
            has_writev,
            has_final,
            emit_close,
            auto_destroy,
            writable_side: true,
            closed: false,
            length: 0,
            writelen: 0,
            corked: 0,
            buffered: VecDeque::new(),
            pendingcb: 0,
            writecb: Cb::Nop,
            tick_infos: VecDeque::new(),
            on_finished: Vec::new(),
            errored: None,
            wakers: Vec::new(),
            lwm: 0,
            max_items: None,
            writeitems: 0,
            peak: 0,
            writes: 0,
            false_returns: 0,
            drains: 0,
            bytes_in: 0,
            bytes_out: 0,
            pressure: PressureClock::default(),
        }
    }

    /// `corked`: the count of `cork()` calls not yet undone.
    #[inline]
    pub(crate) fn corked(&self) -> u32 {
        self.corked
    }

    /// `corked = n`, with [`F::CORKED`] kept in step.
    #[inline]
    pub(crate) fn set_corked(&mut self, n: u32) {
        self.corked = n;
        if n > 0 {
            self.flags |= F::CORKED;
        } else {
            self.flags &= !F::CORKED;
        }
    }

    /// `cork()`: one more level.
    #[inline]
    pub(crate) fn cork(&mut self) {
        self.set_corked(self.corked.saturating_add(1));
    }

    /// Debug builds: the mirror bits agree with the values they mirror.
    #[inline]
    fn debug_check_mirrors(&self) {
        debug_assert_eq!(self.flags & F::CORKED != 0, self.corked > 0);
        debug_assert_eq!(self.flags & F::ERRORED != 0, self.errored.is_some());
    }

    /// The common case of `write()`: open, constructed, nothing in flight,
    /// buffered, corked, errored or waiting for `'drain'`. One mask test.
    #[inline]
    pub(crate) fn may_write_now(&self) -> bool {
        self.debug_check_mirrors();
        self.flags & F::NOT_NOW == F::CONSTRUCTED
    }

    /// Chunks accepted and not yet written (buffered and in flight).
    pub(crate) fn items(&self) -> usize {
        self.buffered.len() + if self.writing() { self.writeitems } else { 0 }
    }

    /// A snapshot for [`WritableStats`].
    pub(crate) fn stats(&self) -> WritableStats {
        WritableStats {
            length: self.length,
            items: self.items(),
            high_water_mark: self.hwm,
            low_water_mark: self.lwm,
            max_items: self.max_items,
            need_drain: self.need_drain(),
            peak_length: self.peak,
            writes: self.writes,
            false_returns: self.false_returns,
            drains: self.drains,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            backpressure_time: self.pressure.total(),
            under_backpressure: self.pressure.current(),
        }
    }

    /// Node's `needFinish(state)`: `ending` and `constructed` set, none of
    /// `destroyed`, `finished`, `writing`, `errorEmitted`, `closeEmitted`,
    /// `errored`, `kBuffered`, and nothing left to write. One mask test.
    #[inline]
    pub(crate) fn need_finish(&self) -> bool {
        self.debug_check_mirrors();
        self.flags & F::FINISH == F::ENDING | F::CONSTRUCTED && self.length == 0
    }

    /// Node's `resetBuffer(state)`. Entries pushed re-entrantly while a
    /// `_writev` batch was being handed out are kept (Node drops them along
    /// with the array, losing those writes and leaving `length` stuck).
    pub(crate) fn reset_buffer(&mut self) {
        if self.buffered.is_empty() {
            self.flags &= !F::BUFFERED;
        }
        self.flags |= F::ALL_NOOP;
    }

    #[inline]
    pub(crate) fn wake_all(&mut self) {
        // Usually nobody waits: skip the drain (and its drop) then.
        if !self.wakers.is_empty() {
            for w in self.wakers.drain(..) {
                w.wake();
            }
        }
    }
}
