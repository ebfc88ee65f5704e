//! Node's `WritableState`: the writable side's flags, buffer and counters,
//! and the rules that only read or change them. No event loop, no hooks: the
//! transitions that call out live in `stream/writable/machine.rs`.
//!
//! Flags keep Node's names: `ending` ("at the start of end()"), `ended` ("end()
//! returned"), `finished` ("'finish' emitted"), `need_drain` ("a write()
//! returned false"), `sync` ("the hook has not returned yet, so its callback is
//! synchronous"), `buffered_flag` (Node's `kBuffered`: the buffer array exists,
//! which stays true while `clear_buffer` is handing its entries out).

use std::collections::VecDeque;
use std::task::Waker;

use super::callback::Cb;
use super::stats::{PressureClock, WritableStats};
use super::Error;

/// A chunk accepted by `write()` and not yet handed to the sink.
pub(crate) struct Buffered<T> {
    pub(crate) chunk: T,
    pub(crate) len: usize,
    pub(crate) cb: Cb,
}

/// Node's `WritableState`, minus what highwater has no use for (encodings,
/// `_construct`).
pub(crate) struct WState<T> {
    pub(crate) object_mode: bool,
    pub(crate) hwm: usize,
    pub(crate) len_of: fn(&T) -> usize,
    pub(crate) has_writev: bool,
    /// The sink finishes every write before returning (`write_sync`).
    pub(crate) has_write_sync: bool,
    pub(crate) has_final: bool,
    pub(crate) emit_close: bool,
    pub(crate) auto_destroy: bool,
    /// Node's `writable` option: false for a Duplex whose writable side is
    /// disabled (it starts ended and finished).
    pub(crate) writable_side: bool,
    /// False while an asynchronous `construct` hook runs: writes buffer.
    pub(crate) constructed: bool,

    /// Bytes (items) accepted and not yet completed, the in-flight chunk included.
    pub(crate) length: usize,
    /// Length of the in-flight `_write`/`_writev`.
    pub(crate) writelen: usize,
    pub(crate) writing: bool,
    pub(crate) sync: bool,
    pub(crate) expect_write_cb: bool,
    pub(crate) corked: u32,
    pub(crate) buffer_processing: bool,
    pub(crate) buffered: VecDeque<Buffered<T>>,
    pub(crate) buffered_flag: bool,
    pub(crate) all_noop: bool,
    pub(crate) need_drain: bool,
    /// Outstanding callbacks: each accepted write, `_final`, the deferred finish.
    pub(crate) pendingcb: isize,
    pub(crate) writecb: Cb,
    pub(crate) after_write_pending: bool,
    /// Pending coalesced after-write ticks, oldest first: (callback, count).
    pub(crate) tick_infos: VecDeque<(Cb, usize)>,
    /// Node's `kAfterWriteTickInfo`: the newest tick info may still coalesce.
    pub(crate) tick_info_active: bool,

    pub(crate) ending: bool,
    pub(crate) ended: bool,
    pub(crate) final_called: bool,
    pub(crate) prefinished: bool,
    pub(crate) finished: bool,
    pub(crate) on_finished: Vec<Cb>,

    pub(crate) destroyed: bool,
    pub(crate) closed: bool,
    pub(crate) close_emitted: bool,
    pub(crate) error_emitted: bool,
    pub(crate) errored: Option<Error>,

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
        WState {
            object_mode,
            hwm,
            len_of,
            has_writev,
            has_write_sync,
            has_final,
            emit_close,
            auto_destroy,
            writable_side: true,
            constructed: true,
            length: 0,
            writelen: 0,
            writing: false,
            sync: true,
            expect_write_cb: false,
            corked: 0,
            buffer_processing: false,
            buffered: VecDeque::new(),
            buffered_flag: false,
            all_noop: true,
            need_drain: false,
            pendingcb: 0,
            writecb: Cb::Nop,
            after_write_pending: false,
            tick_infos: VecDeque::new(),
            tick_info_active: false,
            ending: false,
            ended: false,
            final_called: false,
            prefinished: false,
            finished: false,
            on_finished: Vec::new(),
            destroyed: false,
            closed: false,
            close_emitted: false,
            error_emitted: false,
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

    /// The common case of `write()`: open, constructed, nothing in flight,
    /// buffered, corked, errored or waiting for `'drain'`.
    #[inline]
    pub(crate) fn may_write_now(&self) -> bool {
        !(self.ending
            | self.destroyed
            | self.writing
            | self.buffered_flag
            | self.need_drain
            | !self.constructed)
            && self.corked == 0
            && self.errored.is_none()
    }

    /// Chunks accepted and not yet written (buffered and in flight).
    pub(crate) fn items(&self) -> usize {
        self.buffered.len() + if self.writing { self.writeitems } else { 0 }
    }

    /// A snapshot for [`WritableStats`].
    pub(crate) fn stats(&self) -> WritableStats {
        WritableStats {
            length: self.length,
            items: self.items(),
            high_water_mark: self.hwm,
            low_water_mark: self.lwm,
            max_items: self.max_items,
            need_drain: self.need_drain,
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

    /// Node's `needFinish(state)`.
    pub(crate) fn need_finish(&self) -> bool {
        self.ending
            && self.constructed
            && !self.destroyed
            && !self.finished
            && !self.writing
            && !self.error_emitted
            && !self.close_emitted
            && self.errored.is_none()
            && !self.buffered_flag
            && self.length == 0
    }

    /// Node's `resetBuffer(state)`. Entries pushed re-entrantly while a
    /// `_writev` batch was being handed out are kept (Node drops them along
    /// with the array, losing those writes and leaving `length` stuck).
    pub(crate) fn reset_buffer(&mut self) {
        if self.buffered.is_empty() {
            self.buffered_flag = false;
        }
        self.all_noop = true;
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
