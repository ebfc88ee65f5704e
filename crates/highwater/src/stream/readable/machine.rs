//! The Readable state machine, transition by transition as in Node's
//! `lib/internal/streams/readable.js` (Node 20). The state it works on is
//! `state/readable.rs`; this file is every transition that calls out (the
//! source's `_read`, listeners, the next tick).
//!
//! Same discipline as the writable side: the state is borrowed only between
//! call-outs, and read again after each.

use std::rc::Rc;

use crate::state::op::ReadableOp;
use crate::state::readable::{RState, F};
use crate::state::{Error, ErrorKind, Overflow};

use crate::stream::core::{self as core_, Core};

/// Runs the readable side's next-tick jobs.
pub(crate) fn run_tick<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, op: ReadableOp) {
    match op {
        ReadableOp::EmitReadable => emit_readable_(c),
        ReadableOp::MaybeReadMore => maybe_read_more_(c),
        ReadableOp::EndReadable => end_readable_nt(c),
        ReadableOp::EndWritable => end_writable_nt(c),
        ReadableOp::Resume => resume_(c),
        ReadableOp::ReadZero => {
            let _ = read(c, Some(0));
        }
        ReadableOp::UpdateReadableListening => update_readable_listening(c),
    }
}

fn tick<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, op: ReadableOp) {
    core_::tick(c, op);
}

/// `push(chunk)`; `None` is `push(null)` (EOF).
pub(crate) fn push<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, chunk: Option<R>) -> bool {
    let mut st = c.rs().borrow_mut();
    let Some(chunk) = chunk else {
        st.clear(F::READING);
        drop(st);
        on_eof_chunk(c);
        return false;
    };
    // The common cases, in one borrow: an open stream without a decoder
    // and a chunk that is not empty (Node's `readableAddChunk`). "No
    // decoder, not ended, destroyed or errored" is one mask test.
    if st.flags() & F::PUSH_SLOW == 0 {
        let len = st.chunk_len(&chunk);
        if len > 0 || st.object_mode() {
            st.clear(F::READING);
            // `flowing == Some(true) && !sync && data_listening`, one mask test.
            if st.flags() & F::HAND_OFF == F::FLOWING | F::DATA_LISTENING && st.length == 0 {
                // `addChunk`'s hand-off: a flowing stream with an empty
                // buffer, pushed to from outside `_read`, gives the chunk
                // straight to its `'data'` listeners.
                st.count_hand_off(len);
                drop(st);
                emit_data_owned(c, chunk);
                st = c.rs().borrow_mut();
            } else if st.overflow == Overflow::Block {
                // `addChunk` into the buffer (no overflow policy to apply).
                st.pushes += 1;
                st.bytes_in = st.bytes_in.wrapping_add(len as u64);
                st.length = st.length.saturating_add(len);
                if st.length > st.peak {
                    st.peak = st.length;
                }
                st.buffer.push_back((chunk, len));
                st.wake_all();
                if st.need_readable() {
                    drop(st);
                    emit_readable(c);
                    st = c.rs().borrow_mut();
                }
            } else {
                drop(st);
                add_chunk(c, chunk, false);
                return c.rs().borrow_mut().push_answer();
            }
            // `maybeReadMore` and the answer, in one borrow.
            if !st.reading_more() && st.constructed() {
                st.set(F::READING_MORE);
                drop(st);
                tick(c, ReadableOp::MaybeReadMore);
                return c.rs().borrow_mut().push_answer();
            }
            return st.push_answer();
        }
    }
    push_general(c, st, Some(chunk))
}

/// [`push`], every case.
#[inline(never)]
fn push_general<'a, R: 'static, W: 'static>(
    c: &'a Rc<Core<R, W>>,
    mut st: std::cell::RefMut<'a, RState<R>>,
    chunk: Option<R>,
) -> bool {
    let Some(chunk) = chunk else {
        st.clear(F::READING);
        drop(st);
        on_eof_chunk(c);
        return false;
    };
    if !st.object_mode() && (st.ops.len)(&chunk) == 0 {
        st.clear(F::READING);
        drop(st);
        maybe_read_more(c);
        return c.rs().borrow().can_push_more();
    }
    if st.ended() {
        drop(st);
        core_::error_or_destroy(c, Error::new(ErrorKind::PushAfterEof), false);
        return false;
    }
    if st.any(F::DESTROYED | F::ERRORED) {
        return false;
    }
    st.clear(F::READING);
    let chunk = match st.text_mut() {
        None => chunk,
        Some(t) => {
            // Node: `chunk = state.decoder.write(chunk)`; a chunk that was
            // only the start of a character adds nothing.
            let chunk = (t.decode)(&mut t.decoder, chunk);
            if !st.object_mode() && (st.ops.len)(&chunk) == 0 {
                drop(st);
                maybe_read_more(c);
                return c.rs().borrow_mut().push_answer();
            }
            chunk
        }
    };
    drop(st);
    add_chunk(c, chunk, false);
    c.rs().borrow_mut().push_answer()
}

/// `unshift(chunk)`; `None` is `unshift(null)` (EOF).
pub(crate) fn unshift<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, chunk: Option<R>) -> bool {
    let mut st = c.rs().borrow_mut();
    let Some(chunk) = chunk else {
        st.clear(F::READING);
        drop(st);
        on_eof_chunk(c);
        return false;
    };
    if !st.object_mode() && (st.ops.len)(&chunk) == 0 {
        return st.can_push_more();
    }
    if st.end_emitted() {
        drop(st);
        core_::error_or_destroy(c, Error::new(ErrorKind::UnshiftAfterEndEvent), false);
    } else if st.any(F::DESTROYED | F::ERRORED) {
        return false;
    } else {
        // With an encoding, the chunk put back is decoded on its own (Node
        // puts a Buffer back as is, among strings; highwater keeps every
        // chunk whole UTF-8).
        let chunk = match st.text() {
            Some(t) => (t.whole)(chunk),
            None => chunk,
        };
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
    if st.flags() & F::HAND_OFF == F::FLOWING | F::DATA_LISTENING && st.length == 0 {
        st.count_hand_off(len);
        drop(st);
        emit_data_owned(c, chunk);
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
                            let Some((old, old_len)) = st.buffer.pop_front() else {
                                break;
                            };
                            drop(old);
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
            st.buffer.push_front((chunk, len));
        } else {
            st.buffer.push_back((chunk, len));
        }
        st.wake_all();
        let need = st.need_readable();
        drop(st);
        if need {
            emit_readable(c);
        }
    }
    maybe_read_more(c);
}

/// `read(n)`; `n == None` is `read()`.
pub(crate) fn read<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, n: Option<usize>) -> Option<R> {
    match read_(c, n, true, None) {
        Read::Chunk(r) => Some(r),
        Read::Taken | Read::Nothing => None,
    }
}

/// What [`read_`] did.
enum Read<R> {
    /// A chunk was read and `'data'` emitted by reference; here it is.
    Chunk(R),
    /// A chunk was read (and given away with `'data'`, unless the stream
    /// had already errored or closed).
    Taken,
    Nothing,
}

/// Node's `read(n)`. With `keep` false, the chunk read is not returned but
/// handed to `'data'` by value (`flow()`, which only asks whether there
/// was one).
///
/// `src` is the handle `_read` gets, when the caller has one to lend
/// (`flow()` makes one for all its reads).
fn read_<R: 'static, W: 'static>(
    c: &Rc<Core<R, W>>,
    n: Option<usize>,
    keep: bool,
    src: Option<&super::Source<R>>,
) -> Read<R> {
    let mut st = c.rs().borrow_mut();
    let n_orig = n;
    if let Some(n) = n {
        if n > st.hwm {
            st.hwm = compute_new_high_water_mark(n);
        }
    }
    if n != Some(0) {
        st.clear(F::EMITTED_READABLE);
    }
    if n == Some(0)
        && st.need_readable()
        && ((if st.hwm != 0 {
            st.length >= st.hwm
        } else {
            st.length > 0
        }) || st.ended())
    {
        let end = st.length == 0 && st.ended();
        drop(st);
        if end {
            end_readable(c);
        } else {
            emit_readable(c);
        }
        return Read::Nothing;
    }
    let mut n = st.how_much_to_read(n);
    if n == 0 && st.ended() {
        let empty = st.length == 0;
        drop(st);
        if empty {
            end_readable(c);
        }
        return Read::Nothing;
    }
    let mut do_read = st.need_readable();
    if st.length == 0 || st.length.saturating_sub(n) < st.hwm {
        do_read = true;
    }
    // (Node also clears doRead here; nothing reads it afterwards.)
    // `reading || ended || destroyed || errored || !constructed`, one mask test.
    let blocked = st.flags() & F::NO_READ != F::CONSTRUCTED;
    if !blocked && do_read {
        if st.length == 0 {
            st.set(F::READING | F::SYNC | F::NEED_READABLE);
        } else {
            st.set(F::READING | F::SYNC);
        }
        let hwm = st.hwm;
        st.pressure.stop();
        drop(st);
        match src {
            Some(src) => c.rimp().read(hwm, src),
            None => c.rimp().read(hwm, &super::Source::new(c)),
        }
        st = c.rs().borrow_mut();
        st.clear(F::SYNC);
        if !st.reading() {
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
    let ret = match ret {
        None => {
            if st.length <= st.hwm {
                st.set(F::NEED_READABLE);
            }
            n = 0;
            None
        }
        Some((chunk, took)) => {
            // Node subtracts `n`, which a `read()` made inside `_read` can
            // have made larger than what is left (its `readableLength` then
            // goes negative). highwater subtracts what it took, so the length
            // stays true (see conformance/divergences).
            st.length -= took.min(st.length);
            st.bytes_out = st.bytes_out.wrapping_add(took as u64);
            let multi = st.multi_await_drain();
            st.await_drain.clear(multi);
            Some(chunk)
        }
    };
    let mut end = false;
    if st.length == 0 {
        let ended = st.ended();
        if !ended {
            st.set(F::NEED_READABLE);
        }
        if n_orig != Some(n) && ended {
            end = true;
        }
    }
    let emit = ret.is_some() && !st.any(F::ERROR_EMITTED | F::CLOSE_EMITTED);
    if emit {
        st.set(F::DATA_EMITTED);
    }
    drop(st);
    if end {
        end_readable(c);
    }
    match ret {
        None => Read::Nothing,
        Some(r) if keep => {
            if emit {
                emit_data(c, &r);
            }
            Read::Chunk(r)
        }
        Some(r) => {
            if emit {
                emit_data_owned(c, r);
            }
            Read::Taken
        }
    }
}

fn emit_data<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, chunk: &R) {
    c.events
        .data
        .emit_with(chunk, || on_data_listener_removed(c));
}

/// `emit('data', chunk)` where nothing uses the chunk afterwards: a single
/// pipe takes it as it is (no reference count to take and give back).
fn emit_data_owned<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, chunk: R) {
    c.events
        .data
        .emit_owned(chunk, || on_data_listener_removed(c));
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
    if st.ended() {
        return;
    }
    if let Some(t) = st.text_mut() {
        // Node: what the decoder holds (an incomplete character) ends as U+FFFD.
        if let Some(last) = (t.end)(&mut t.decoder) {
            let n = st.chunk_len(&last);
            st.length += n;
            st.buffer.push_back((last, n));
        }
    }
    st.set(F::ENDED);
    st.wake_all();
    if st.sync() {
        drop(st);
        emit_readable(c);
    } else {
        st.clear(F::NEED_READABLE);
        st.set(F::EMITTED_READABLE);
        drop(st);
        emit_readable_(c);
    }
}

/// Node's `emitReadable`: schedules `'readable'` once.
fn emit_readable<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut st = c.rs().borrow_mut();
    st.clear(F::NEED_READABLE);
    if !st.emitted_readable() {
        st.set(F::EMITTED_READABLE);
        drop(st);
        tick(c, ReadableOp::EmitReadable);
    }
}

/// Node's `emitReadable_`.
fn emit_readable_<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let emit = {
        let st = c.rs().borrow();
        !st.any(F::DESTROYED | F::ERRORED) && (st.length > 0 || st.ended())
    };
    if emit {
        c.events
            .readable
            .emit_with(&(), || on_readable_listener_removed(c));
        c.rs().borrow_mut().clear(F::EMITTED_READABLE);
    }
    {
        let mut st = c.rs().borrow_mut();
        if !st.any(F::FLOWING | F::ENDED) && st.length <= st.hwm {
            st.set(F::NEED_READABLE);
        }
    }
    flow(c);
}

/// Node's `maybeReadMore`: pre-fill the buffer up to the mark on the next tick.
fn maybe_read_more<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut st = c.rs().borrow_mut();
    if st.flags() & (F::READING_MORE | F::CONSTRUCTED) == F::CONSTRUCTED {
        st.set(F::READING_MORE);
        drop(st);
        tick(c, ReadableOp::MaybeReadMore);
    }
}

fn maybe_read_more_<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    loop {
        let len = {
            let st = c.rs().borrow();
            let go = !st.any(F::READING | F::ENDED)
                && (st.length < st.hwm || (st.is_flowing() && st.length == 0));
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
    c.rs().borrow_mut().clear(F::READING_MORE);
}

/// Node's `endReadable`.
fn end_readable<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut st = c.rs().borrow_mut();
    if !st.end_emitted() {
        st.set(F::ENDED);
        drop(st);
        tick(c, ReadableOp::EndReadable);
    }
}

fn end_readable_nt<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    {
        let mut st = c.rs().borrow_mut();
        if st.any(F::ERRORED | F::CLOSE_EMITTED | F::END_EMITTED) || st.length != 0 {
            return;
        }
        st.set(F::END_EMITTED);
        st.wake_all();
    }
    c.events.end.emit(&());
    let writable = writable_getter(c);
    if writable && !c.allow_half_open {
        tick(c, ReadableOp::EndWritable);
    } else if c.rs().borrow().auto_destroy {
        let auto = match &c.w {
            None => true,
            Some(w) => {
                let ws = w.state.borrow();
                ws.auto_destroy && (ws.finished() || !ws.writable_side)
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
        ws.writable_side && !ws.ending() && !ws.ended() && !ws.destroyed() && !ws.is_errored()
    })
}

/// Node's `endWritableNT` (a Duplex with `allowHalfOpen: false`).
fn end_writable_nt<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let writable = writable_getter(c);
    if writable && !c.is_destroyed() {
        crate::stream::writable::machine::end(c, None, crate::state::callback::Cb::Nop);
    }
}

/// Node's `ReadableState[kOnConstructed]`.
pub(crate) fn on_constructed<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    if c.rs().borrow().need_readable() {
        maybe_read_more(c);
    }
}

/// `resume()`.
pub(crate) fn resume<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut st = c.rs().borrow_mut();
    if !st.is_flowing() {
        // 'readable' listeners keep the stream out of flowing mode.
        let flowing = !st.readable_listening();
        st.set_flowing(Some(flowing));
        if !st.resume_scheduled() {
            st.set(F::RESUME_SCHEDULED);
            drop(st);
            tick(c, ReadableOp::Resume);
            st = c.rs().borrow_mut();
        }
    }
    st.set(F::HAS_PAUSED);
    st.clear(F::PAUSED);
}

fn resume_<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    if !c.rs().borrow().reading() {
        let _ = read(c, Some(0));
    }
    c.rs().borrow_mut().clear(F::RESUME_SCHEDULED);
    c.events.resume.emit(&());
    flow(c);
    let again = {
        let st = c.rs().borrow();
        st.flags() & (F::FLOWING | F::READING) == F::FLOWING
    };
    if again {
        let _ = read(c, Some(0));
    }
}

/// `pause()`: `'pause'` synchronously if the stream was not already paused.
pub(crate) fn pause<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut st = c.rs().borrow_mut();
    let emit = st.flowing() != Some(false);
    if emit {
        st.set_flowing(Some(false));
    }
    st.set(F::HAS_PAUSED | F::PAUSED);
    drop(st);
    if emit {
        c.events.pause.emit(&());
    }
}

/// Node's `flow`: one chunk per `read()` while flowing.
fn flow<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let src = super::Source::new(c);
    while c.rs().borrow().is_flowing()
        && !matches!(read_(c, None, false, Some(&src)), Read::Nothing)
    {}
}

/// `on('data', …)` side effects: start flowing unless explicitly paused.
pub(crate) fn on_data_listener_added<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let start = {
        let mut st = c.rs().borrow_mut();
        st.set(F::DATA_LISTENING);
        if c.events.readable.count() > 0 {
            st.set(F::READABLE_LISTENING);
        }
        st.flowing() != Some(false)
    };
    if start {
        resume(c);
    }
}

/// `on('readable', …)` side effects: paused mode, and a `'readable'` soon.
pub(crate) fn on_readable_listener_added<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut st = c.rs().borrow_mut();
    if !st.any(F::END_EMITTED | F::READABLE_LISTENING) {
        st.set(F::READABLE_LISTENING | F::NEED_READABLE);
        st.set_flowing(Some(false));
        st.clear(F::EMITTED_READABLE);
        if st.length > 0 {
            drop(st);
            emit_readable(c);
        } else if !st.reading() {
            drop(st);
            tick(c, ReadableOp::ReadZero);
        }
    }
}

/// `removeListener('data')`: no more data listeners clears `dataListening`
/// (it does not pause).
pub(crate) fn on_data_listener_removed<R: 'static, W: 'static>(c: &Core<R, W>) {
    if c.events.data.count() == 0 {
        if let Some(r) = &c.r {
            r.state.borrow_mut().clear(F::DATA_LISTENING);
        }
    }
}

/// `removeListener('readable')`: re-evaluated on the next tick.
pub(crate) fn on_readable_listener_removed<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    tick(c, ReadableOp::UpdateReadableListening);
}

fn update_readable_listening<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut st = c.rs().borrow_mut();
    st.set_readable_listening(c.events.readable.count() > 0);
    // `has_paused && !paused && resume_scheduled`, one mask test.
    if st.flags() & (F::HAS_PAUSED | F::PAUSED | F::RESUME_SCHEDULED)
        == F::HAS_PAUSED | F::RESUME_SCHEDULED
    {
        st.set_flowing(Some(true));
    } else if st.data_listening() {
        drop(st);
        resume(c);
    } else if !st.readable_listening() {
        st.set_flowing(None);
    }
}

/// `setEncoding(encoding)`.
pub(crate) fn set_encoding<R: crate::state::TextChunk, W: 'static>(
    c: &Rc<Core<R, W>>,
    encoding: crate::state::Encoding,
) {
    c.rs().borrow_mut().set_encoding(encoding);
}
