//! The Readable state machine, transition by transition as in Node's
//! `lib/internal/streams/readable.js` (Node 20).
//!
//! Same discipline as the writable side: the state is borrowed only between
//! call-outs (the source's `_read`, listeners), and read again after each.
//! Flags keep Node's names: `flowing` (tri-state: `None` = no consumer chose
//! yet), `ended` (`push(None)` seen), `end_emitted` (`'end'` emitted),
//! `reading` (`_read` called, nothing pushed yet), `sync` (inside `_read`, so
//! pushed data is buffered rather than emitted), `need_readable`,
//! `emitted_readable`, `reading_more` (a `maybeReadMore` tick is queued),
//! `resume_scheduled`.

use std::collections::VecDeque;
use std::rc::Rc;
use std::task::Waker;

use crate::core::{self as core_, Core, StreamId};
use crate::stats::{PressureClock, ReadableStats};
use crate::{Error, ErrorKind, Overflow};

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
    pub(crate) fn clear(&mut self, multi: bool) {
        *self = if multi {
            AwaitDrain::Set(Vec::new())
        } else {
            AwaitDrain::Nobody
        };
    }
}

/// How chunks of a byte stream are measured, split and joined.
pub(crate) struct ChunkOps<R> {
    pub(crate) len: fn(&R) -> usize,
    /// Splits off and returns the first `n` bytes (byte mode only).
    pub(crate) split_to: fn(&mut R, usize) -> R,
    /// Joins chunks into one of `total` bytes (byte mode only).
    pub(crate) concat: fn(Vec<R>, usize) -> R,
}

/// Node's `ReadableState`, minus encodings.
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

    pub(crate) buffer: VecDeque<R>,
    pub(crate) length: usize,
    /// Piped destinations, in order.
    pub(crate) pipes: Vec<Rc<dyn crate::pipe::PipeTarget<R>>>,
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
            pipes: Vec::new(),
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
    fn push_answer(&mut self) -> bool {
        let more = self.can_push_more();
        if !more && !self.ended {
            self.false_returns += 1;
            self.pressure.start();
        }
        more
    }

    pub(crate) fn wake_all(&mut self) {
        for w in self.wakers.drain(..) {
            w.wake();
        }
    }

    fn chunk_len(&self, c: &R) -> usize {
        if self.object_mode && !self.weighted {
            1
        } else {
            (self.ops.len)(c)
        }
    }

    /// Node's `canPushMore`.
    fn can_push_more(&self) -> bool {
        !self.ended
            && ((self.length < self.hwm && self.max_items.is_none_or(|m| self.buffer.len() < m))
                || self.length == 0)
    }

    /// Node's `howMuchToRead`; `n == None` is `read()` without a size (NaN).
    fn how_much_to_read(&self, n: Option<usize>) -> usize {
        if n == Some(0) || (self.length == 0 && self.ended) {
            return 0;
        }
        if self.object_mode {
            return 1;
        }
        match n {
            None => {
                if self.flowing == Some(true) && self.length > 0 {
                    self.buffer.front().map_or(0, |c| (self.ops.len)(c))
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
    /// buffer. `n == None` takes everything.
    fn take_from_list(&mut self, n: Option<usize>) -> Option<R> {
        if self.length == 0 {
            return None;
        }
        if self.object_mode {
            return self.buffer.pop_front();
        }
        let len_of = self.ops.len;
        match n {
            Some(n) if n < self.length => {
                let first_len = self.buffer.front().map_or(0, len_of);
                if n < first_len {
                    let head = self.buffer.front_mut()?;
                    Some((self.ops.split_to)(head, n))
                } else if n == first_len {
                    self.buffer.pop_front()
                } else {
                    let mut parts = Vec::new();
                    let mut need = n;
                    while need > 0 {
                        let l = self.buffer.front().map_or(0, len_of);
                        if l == 0 && self.buffer.is_empty() {
                            break;
                        }
                        if need >= l {
                            parts.extend(self.buffer.pop_front());
                            need -= l;
                        } else {
                            let head = self.buffer.front_mut()?;
                            parts.push((self.ops.split_to)(head, need));
                            need = 0;
                        }
                    }
                    Some((self.ops.concat)(parts, n))
                }
            }
            _ => {
                // Everything: one chunk as is, several joined.
                if self.buffer.len() == 1 {
                    self.buffer.pop_front()
                } else {
                    let total = self.length;
                    let parts: Vec<R> = self.buffer.drain(..).collect();
                    Some((self.ops.concat)(parts, total))
                }
            }
        }
    }
}

/// Operations of the readable side's next-tick jobs.
pub(crate) mod op {
    pub const EMIT_READABLE: u32 = 100;
    pub const MAYBE_READ_MORE: u32 = 101;
    pub const END_READABLE: u32 = 102;
    pub const END_WRITABLE: u32 = 103;
    pub const RESUME: u32 = 104;
    pub const READ_ZERO: u32 = 105;
    pub const UPDATE_READABLE_LISTENING: u32 = 106;
}

pub(crate) fn run_tick<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, code: u32) {
    match code {
        op::EMIT_READABLE => emit_readable_(c),
        op::MAYBE_READ_MORE => maybe_read_more_(c),
        op::END_READABLE => end_readable_nt(c),
        op::END_WRITABLE => end_writable_nt(c),
        op::RESUME => resume_(c),
        op::READ_ZERO => {
            let _ = read(c, Some(0));
        }
        op::UPDATE_READABLE_LISTENING => update_readable_listening(c),
        _ => unreachable!("unknown readable tick op {code}"),
    }
}

fn tick<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, code: u32) {
    core_::tick(c, code);
}

/// `push(chunk)`; `None` is `push(null)` (EOF).
pub(crate) fn push<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, chunk: Option<R>) -> bool {
    let mut st = c.rs().borrow_mut();
    let Some(chunk) = chunk else {
        st.reading = false;
        drop(st);
        on_eof_chunk(c);
        return false;
    };
    if !st.object_mode && (st.ops.len)(&chunk) == 0 {
        st.reading = false;
        drop(st);
        maybe_read_more(c);
        return c.rs().borrow().can_push_more();
    }
    if st.ended {
        drop(st);
        core_::error_or_destroy(c, Error::new(ErrorKind::PushAfterEof), false);
        return false;
    }
    if st.destroyed || st.errored.is_some() {
        return false;
    }
    st.reading = false;
    drop(st);
    add_chunk(c, chunk, false);
    c.rs().borrow_mut().push_answer()
}

/// `unshift(chunk)`; `None` is `unshift(null)` (EOF).
pub(crate) fn unshift<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, chunk: Option<R>) -> bool {
    let mut st = c.rs().borrow_mut();
    let Some(chunk) = chunk else {
        st.reading = false;
        drop(st);
        on_eof_chunk(c);
        return false;
    };
    if !st.object_mode && (st.ops.len)(&chunk) == 0 {
        return st.can_push_more();
    }
    if st.end_emitted {
        drop(st);
        core_::error_or_destroy(c, Error::new(ErrorKind::UnshiftAfterEndEvent), false);
    } else if st.destroyed || st.errored.is_some() {
        return false;
    } else {
        drop(st);
        add_chunk(c, chunk, true);
    }
    c.rs().borrow().can_push_more()
}

/// Node's `addChunk`: straight to `'data'` when flowing with an empty buffer
/// (and not inside `_read`), else into the buffer.
fn add_chunk<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, chunk: R, front: bool) {
    let mut st = c.rs().borrow_mut();
    let len = st.chunk_len(&chunk);
    if st.flowing == Some(true) && !st.sync && st.data_listening && st.length == 0 {
        let multi = st.multi_await_drain;
        st.await_drain.clear(multi);
        st.data_emitted = true;
        st.pushes += 1;
        st.bytes_in = st.bytes_in.wrapping_add(len as u64);
        st.bytes_out = st.bytes_out.wrapping_add(len as u64);
        drop(st);
        emit_data(c, &chunk);
    } else {
        if !front && st.overflow != Overflow::Block {
            let limit = st.overflow_limit.unwrap_or(st.hwm);
            if st.length + len > limit {
                match st.overflow {
                    Overflow::DropNewest => {
                        st.dropped_chunks += 1;
                        st.dropped_bytes = st.dropped_bytes.wrapping_add(len as u64);
                        return;
                    }
                    Overflow::DropOldest => {
                        while st.length + len > limit {
                            let Some(old) = st.buffer.pop_front() else {
                                break;
                            };
                            let old_len = st.chunk_len(&old);
                            st.length = st.length.saturating_sub(old_len);
                            st.dropped_chunks += 1;
                            st.dropped_bytes = st.dropped_bytes.wrapping_add(old_len as u64);
                        }
                    }
                    Overflow::Error => {
                        st.overflow_errors += 1;
                        let err = Error::new(ErrorKind::Overflow {
                            length: st.length + len,
                            limit,
                        });
                        drop(st);
                        core_::error_or_destroy(c, err, false);
                        return;
                    }
                    Overflow::Block => {}
                }
            }
        }
        st.pushes += 1;
        st.bytes_in = st.bytes_in.wrapping_add(len as u64);
        st.length = st.length.saturating_add(len);
        if st.length > st.peak {
            st.peak = st.length;
        }
        if front {
            st.buffer.push_front(chunk);
        } else {
            st.buffer.push_back(chunk);
        }
        st.wake_all();
        let need = st.need_readable;
        drop(st);
        if need {
            emit_readable(c);
        }
    }
    maybe_read_more(c);
}

/// `read(n)`; `n == None` is `read()`.
pub(crate) fn read<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, n: Option<usize>) -> Option<R> {
    let mut st = c.rs().borrow_mut();
    let n_orig = n;
    if let Some(n) = n {
        if n > st.hwm {
            st.hwm = compute_new_high_water_mark(n);
        }
    }
    if n != Some(0) {
        st.emitted_readable = false;
    }
    if n == Some(0)
        && st.need_readable
        && ((if st.hwm != 0 {
            st.length >= st.hwm
        } else {
            st.length > 0
        }) || st.ended)
    {
        let end = st.length == 0 && st.ended;
        drop(st);
        if end {
            end_readable(c);
        } else {
            emit_readable(c);
        }
        return None;
    }
    let mut n = st.how_much_to_read(n);
    if n == 0 && st.ended {
        let empty = st.length == 0;
        drop(st);
        if empty {
            end_readable(c);
        }
        return None;
    }
    let mut do_read = st.need_readable;
    if st.length == 0 || st.length.saturating_sub(n) < st.hwm {
        do_read = true;
    }
    // (Node also clears doRead here; nothing reads it afterwards.)
    let blocked = st.reading || st.ended || st.destroyed || st.errored.is_some() || !st.constructed;
    if !blocked && do_read {
        st.reading = true;
        st.sync = true;
        if st.length == 0 {
            st.need_readable = true;
        }
        let hwm = st.hwm;
        st.pressure.stop();
        drop(st);
        c.rimp().read(hwm, &crate::readable::Source::new(c));
        st = c.rs().borrow_mut();
        st.sync = false;
        if !st.reading {
            n = st.how_much_to_read(n_orig);
        }
    }
    let ret = if n > 0 {
        // `fromList(n)`: n is the whole buffer or less.
        let take = if n >= st.length { None } else { Some(n) };
        st.take_from_list(take)
    } else {
        None
    };
    match &ret {
        None => {
            if st.length <= st.hwm {
                st.need_readable = true;
            }
            n = 0;
        }
        Some(chunk) => {
            // Node subtracts `n`, which a `read()` made inside `_read` can
            // have made larger than what is left (its `readableLength` then
            // goes negative). highwater subtracts what it took, so the length
            // stays true (see conformance/divergences).
            let took = st.chunk_len(chunk);
            st.length -= took.min(st.length);
            st.bytes_out = st.bytes_out.wrapping_add(took as u64);
            let multi = st.multi_await_drain;
            st.await_drain.clear(multi);
        }
    }
    let mut end = false;
    if st.length == 0 {
        if !st.ended {
            st.need_readable = true;
        }
        if n_orig != Some(n) && st.ended {
            end = true;
        }
    }
    let emit = ret.is_some() && !st.error_emitted && !st.close_emitted;
    if emit {
        st.data_emitted = true;
    }
    drop(st);
    if end {
        end_readable(c);
    }
    if emit {
        if let Some(r) = &ret {
            emit_data(c, r);
        }
    }
    ret
}

fn emit_data<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, chunk: &R) {
    c.events
        .data
        .emit_with(chunk, || on_data_listener_removed(c));
}

/// Node's `computeNewHighWaterMark`: the next power of two, at most 1 GiB.
fn compute_new_high_water_mark(n: usize) -> usize {
    const MAX_HWM: usize = 0x4000_0000;
    if n > MAX_HWM {
        // Node throws ERR_OUT_OF_RANGE; highwater caps the mark instead (see
        // the module docs).
        MAX_HWM
    } else {
        n.next_power_of_two()
    }
}

/// Node's `onEofChunk`: `push(null)`.
fn on_eof_chunk<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut st = c.rs().borrow_mut();
    if st.ended {
        return;
    }
    st.ended = true;
    st.wake_all();
    if st.sync {
        drop(st);
        emit_readable(c);
    } else {
        st.need_readable = false;
        st.emitted_readable = true;
        drop(st);
        emit_readable_(c);
    }
}

/// Node's `emitReadable`: schedules `'readable'` once.
fn emit_readable<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut st = c.rs().borrow_mut();
    st.need_readable = false;
    if !st.emitted_readable {
        st.emitted_readable = true;
        drop(st);
        tick(c, op::EMIT_READABLE);
    }
}

/// Node's `emitReadable_`.
fn emit_readable_<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let emit = {
        let st = c.rs().borrow();
        !st.destroyed && st.errored.is_none() && (st.length > 0 || st.ended)
    };
    if emit {
        c.events
            .readable
            .emit_with(&(), || on_readable_listener_removed(c));
        c.rs().borrow_mut().emitted_readable = false;
    }
    {
        let mut st = c.rs().borrow_mut();
        if st.flowing != Some(true) && !st.ended && st.length <= st.hwm {
            st.need_readable = true;
        }
    }
    flow(c);
}

/// Node's `maybeReadMore`: pre-fill the buffer up to the mark on the next tick.
fn maybe_read_more<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut st = c.rs().borrow_mut();
    if !st.reading_more && st.constructed {
        st.reading_more = true;
        drop(st);
        tick(c, op::MAYBE_READ_MORE);
    }
}

fn maybe_read_more_<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    loop {
        let len = {
            let st = c.rs().borrow();
            let go = !st.reading
                && !st.ended
                && (st.length < st.hwm || (st.flowing == Some(true) && st.length == 0));
            if !go {
                break;
            }
            st.length
        };
        let _ = read(c, Some(0));
        if len == c.rs().borrow().length {
            break;
        }
    }
    c.rs().borrow_mut().reading_more = false;
}

/// Node's `endReadable`.
fn end_readable<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut st = c.rs().borrow_mut();
    if !st.end_emitted {
        st.ended = true;
        drop(st);
        tick(c, op::END_READABLE);
    }
}

fn end_readable_nt<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    {
        let mut st = c.rs().borrow_mut();
        if st.errored.is_some() || st.close_emitted || st.end_emitted || st.length != 0 {
            return;
        }
        st.end_emitted = true;
        st.wake_all();
    }
    c.events.end.emit(&());
    let writable = writable_getter(c);
    if writable && !c.allow_half_open {
        tick(c, op::END_WRITABLE);
    } else if c.rs().borrow().auto_destroy {
        let auto = match &c.w {
            None => true,
            Some(w) => {
                let ws = w.state.borrow();
                ws.auto_destroy && (ws.finished || !ws.writable_side)
            }
        };
        if auto {
            core_::destroy(c, None);
        }
    }
}

/// Node's `stream.writable` getter (false without a writable side).
fn writable_getter<R: 'static, W: 'static>(c: &Core<R, W>) -> bool {
    c.w.as_ref().is_some_and(|w| {
        let ws = w.state.borrow();
        ws.writable_side && !ws.ending && !ws.ended && !ws.destroyed && ws.errored.is_none()
    })
}

/// Node's `endWritableNT` (a Duplex with `allowHalfOpen: false`).
fn end_writable_nt<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let writable = writable_getter(c);
    if writable && !c.is_destroyed() {
        crate::writable::machine::end(c, None, crate::callback::Cb::Nop);
    }
}

/// Node's `ReadableState[kOnConstructed]`.
pub(crate) fn on_constructed<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    if c.rs().borrow().need_readable {
        maybe_read_more(c);
    }
}

/// `resume()`.
pub(crate) fn resume<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut st = c.rs().borrow_mut();
    if st.flowing != Some(true) {
        // 'readable' listeners keep the stream out of flowing mode.
        st.flowing = Some(!st.readable_listening);
        if !st.resume_scheduled {
            st.resume_scheduled = true;
            drop(st);
            tick(c, op::RESUME);
            st = c.rs().borrow_mut();
        }
    }
    st.has_paused = true;
    st.paused = false;
}

fn resume_<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    if !c.rs().borrow().reading {
        let _ = read(c, Some(0));
    }
    c.rs().borrow_mut().resume_scheduled = false;
    c.events.resume.emit(&());
    flow(c);
    let again = {
        let st = c.rs().borrow();
        st.flowing == Some(true) && !st.reading
    };
    if again {
        let _ = read(c, Some(0));
    }
}

/// `pause()`: `'pause'` synchronously if the stream was not already paused.
pub(crate) fn pause<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut st = c.rs().borrow_mut();
    let emit = st.flowing != Some(false);
    if emit {
        st.flowing = Some(false);
    }
    st.has_paused = true;
    st.paused = true;
    drop(st);
    if emit {
        c.events.pause.emit(&());
    }
}

/// Node's `flow`: one chunk per `read()` while flowing.
fn flow<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    while c.rs().borrow().flowing == Some(true) && read(c, None).is_some() {}
}

/// `on('data', …)` side effects: start flowing unless explicitly paused.
pub(crate) fn on_data_listener_added<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let start = {
        let mut st = c.rs().borrow_mut();
        st.data_listening = true;
        if c.events.readable.count() > 0 {
            st.readable_listening = true;
        }
        st.flowing != Some(false)
    };
    if start {
        resume(c);
    }
}

/// `on('readable', …)` side effects: paused mode, and a `'readable'` soon.
pub(crate) fn on_readable_listener_added<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut st = c.rs().borrow_mut();
    if !st.end_emitted && !st.readable_listening {
        st.readable_listening = true;
        st.need_readable = true;
        st.flowing = Some(false);
        st.emitted_readable = false;
        if st.length > 0 {
            drop(st);
            emit_readable(c);
        } else if !st.reading {
            drop(st);
            tick(c, op::READ_ZERO);
        }
    }
}

/// `removeListener('data')`: no more data listeners clears `dataListening`
/// (it does not pause).
pub(crate) fn on_data_listener_removed<R: 'static, W: 'static>(c: &Core<R, W>) {
    if c.events.data.count() == 0 {
        if let Some(r) = &c.r {
            r.state.borrow_mut().data_listening = false;
        }
    }
}

/// `removeListener('readable')`: re-evaluated on the next tick.
pub(crate) fn on_readable_listener_removed<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    tick(c, op::UPDATE_READABLE_LISTENING);
}

fn update_readable_listening<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut st = c.rs().borrow_mut();
    st.readable_listening = c.events.readable.count() > 0;
    if st.has_paused && !st.paused && st.resume_scheduled {
        st.flowing = Some(true);
    } else if st.data_listening {
        drop(st);
        resume(c);
    } else if !st.readable_listening {
        st.flowing = None;
    }
}
