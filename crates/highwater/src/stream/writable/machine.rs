//! The Writable state machine, transition by transition as in Node's
//! `lib/internal/streams/writable.js` (Node 20). The state it works on is
//! `state/writable.rs`; this file is every transition that calls out (the
//! sink's hooks, listeners, callbacks, the next tick).
//!
//! Every function here is named after its Node counterpart and follows it
//! line by line. The rule that keeps it re-entrant: the state is borrowed only
//! between call-outs. Before calling a hook, a listener or a callback, the
//! borrow is dropped; afterwards the state is read again, because the call-out
//! may have written, ended, corked or destroyed the stream.

use std::rc::Rc;

use crate::runtime::event_loop::next_tick;
use crate::state::callback::Cb;
use crate::state::op::WritableOp;
use crate::state::writable::{Buffered, WState, F};
use crate::state::Error;

use crate::stream::core::{self as core_, Core};
use crate::stream::done::Done;

/// Runs the writable side's next-tick jobs.
pub(crate) fn run_tick<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, op: WritableOp) {
    match op {
        WritableOp::AfterWriteNop => after_write(c, 1, Cb::Nop),
        WritableOp::AfterWriteTick => {
            let info = {
                let mut st = c.ws().borrow_mut();
                st.clear(F::AFTER_WRITE_TICK_INFO);
                st.tick_infos.pop_front()
            };
            if let Some((cb, count)) = info {
                after_write(c, count, cb);
            }
        }
        WritableOp::FinishMaybe => {
            let need = c.ws().borrow().need_finish();
            if need {
                finish(c);
            } else {
                c.ws().borrow_mut().pendingcb -= 1;
            }
        }
        WritableOp::Finish => finish(c),
        WritableOp::ErrorBuffer => error_buffer(c),
    }
}

fn tick<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, op: WritableOp) {
    core_::tick(c, op);
}

/// Node's `_write(stream, chunk, encoding, cb)`: `Err` is the error object
/// that `write()` turns into `false`.
#[inline]
pub(crate) fn write_<R: 'static, W: 'static>(
    c: &Rc<Core<R, W>>,
    chunk: W,
    cb: Cb,
) -> Result<bool, Error> {
    let mut st = c.ws().borrow_mut();
    if st.any(F::ENDING | F::DESTROYED) {
        let ending = st.ending();
        drop(st);
        return Err(write_refused(c, ending, cb));
    }
    st.pendingcb += 1;
    Ok(write_or_buffer(c, st, chunk, cb))
}

/// `write(chunk)` without a callback: Node's `_write`, `writeOrBuffer` and,
/// for a sink that finishes synchronously, `onwrite`, with the common case
/// taken in one test of the state.
///
/// The common case: the stream is open, nothing is in flight, buffered,
/// corked or waiting for `'drain'`. Then the chunk
/// goes straight to the sink and, when the sink completes before returning,
/// Node's `onwrite` only updates the counters (no tick, no event), which is
/// what this does; every other case goes through [`write_`], transition by
/// transition.
#[inline]
pub(crate) fn write_plain<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, chunk: W) -> bool {
    let Some(w) = &c.w else {
        unreachable!("writable-side operation on a stream without one")
    };
    let mut st = w.state.borrow_mut();
    if !st.may_write_now() {
        drop(st);
        return matches!(write_(c, chunk, Cb::Nop), Ok(true));
    }
    let len = (st.len_of)(&chunk);
    let length = st.length.saturating_add(len);
    st.length = length;
    st.writes += 1;
    st.bytes_in = st.bytes_in.wrapping_add(len as u64);
    if length > st.peak {
        st.peak = length;
    }
    st.writelen = len;
    st.writeitems = 1;
    st.set(F::WRITING | F::SYNC | F::EXPECT_WRITE_CB);
    st.pendingcb += 1;
    let write_sync = st.has_write_sync();
    drop(st);
    if write_sync {
        match w.imp.write_sync(chunk) {
            Ok(()) => {
                let mut st = w.state.borrow_mut();
                // The sink may have re-entered the stream (written, ended,
                // corked, destroyed): then the whole of `onwrite` decides.
                // In object mode Node defers every synchronous completion
                // (see `on_write_general`): once one deferral is pending, the
                // others only count down `pendingcb`, as here.
                // `expect_write_cb && !buffered && !ending && !need_drain
                // && (!object_mode || after_write_pending)`, as two masks.
                let f = st.flags();
                if f & (F::EXPECT_WRITE_CB | F::BUFFERED | F::ENDING | F::NEED_DRAIN)
                    == F::EXPECT_WRITE_CB
                    && f & (F::OBJECT_MODE | F::AFTER_WRITE_PENDING) != F::OBJECT_MODE
                {
                    let length = st.length.saturating_sub(len);
                    st.clear(F::WRITING | F::EXPECT_WRITE_CB | F::SYNC);
                    st.length = length;
                    st.bytes_out = st.bytes_out.wrapping_add(len as u64);
                    st.writelen = 0;
                    st.pendingcb -= 1;
                    // `length < hwm`, and nothing can have errored or
                    // destroyed the stream (the test above saw it open).
                    if length < st.hwm || length == 0 {
                        let under_max = match st.max_items {
                            Some(max) => st.buffered.len() < max || length == 0,
                            None => true,
                        };
                        if under_max && !st.any(F::DESTROYED | F::ERRORED) {
                            return true;
                        }
                    }
                    return write_answer(&mut st);
                }
                drop(st);
                on_write(c, None);
            }
            Err(e) => on_write(c, Some(e)),
        }
    } else {
        w.imp.write(chunk, Done::write(c));
    }
    let mut st = w.state.borrow_mut();
    st.clear(F::SYNC);
    write_answer(&mut st)
}

/// The return value of `writeOrBuffer`, and the need for `'drain'` it records.
#[inline]
fn write_answer<T>(st: &mut WState<T>) -> bool {
    let mut ret = st.length < st.hwm || st.length == 0;
    if let Some(max) = st.max_items {
        ret = ret && (st.items() < max || st.length == 0);
    }
    if !ret {
        st.set(F::NEED_DRAIN);
        st.false_returns += 1;
        st.pressure.start();
    }
    ret && !st.any(F::DESTROYED | F::ERRORED)
}

/// A write after `end()` or `destroy()`: the callback gets the error on the
/// next tick, and the stream errors (Node's `_write` error branch).
#[cold]
#[inline(never)]
fn write_refused<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, ending: bool, cb: Cb) -> Error {
    let err = if ending {
        Error::write_after_end()
    } else {
        Error::destroyed("write")
    };
    if !cb.is_nop() {
        let e = err.clone();
        let mut cb = cb;
        next_tick(move || cb.call(Err(e)));
    }
    error_or_destroy(c, err.clone(), true);
    err
}

/// Node's `writeOrBuffer`: the chunk goes to the sink now, or to the buffer.
/// Takes the borrow `write_` already holds (one borrow per write).
#[inline]
fn write_or_buffer<'a, R: 'static, W: 'static>(
    c: &'a Rc<Core<R, W>>,
    mut st: std::cell::RefMut<'a, WState<W>>,
    chunk: W,
    cb: Cb,
) -> bool {
    let len = (st.len_of)(&chunk);
    st.length = st.length.saturating_add(len);
    st.writes += 1;
    st.bytes_in = st.bytes_in.wrapping_add(len as u64);
    if st.length > st.peak {
        st.peak = st.length;
    }
    // `writing || errored || corked || !constructed`, one mask test.
    if st.flags() & (F::WRITING | F::ERRORED | F::CORKED | F::CONSTRUCTED) != F::CONSTRUCTED {
        if !cb.is_nop() {
            st.clear(F::ALL_NOOP);
        }
        st.buffered.push_back(Buffered { chunk, len, cb });
        st.set(F::BUFFERED);
    } else {
        st.writelen = len;
        st.writeitems = 1;
        set_writecb(&mut st, cb);
        st.set(F::WRITING | F::SYNC | F::EXPECT_WRITE_CB);
        let write_sync = st.has_write_sync();
        drop(st);
        if write_sync {
            let r = c.wimp().write_sync(chunk);
            on_write(c, r.err());
        } else {
            c.wimp().write(chunk, Done::write(c));
        }
        st = c.ws().borrow_mut();
        st.clear(F::SYNC);
    }
    write_answer(&mut st)
}

/// Stores the in-flight write's callback. The previous one was taken by
/// `on_write` (so it is a `Nop`): forgetting it skips the drop glue, which
/// is measurable on the per-write path.
#[inline]
fn set_writecb<T>(st: &mut WState<T>, cb: Cb) {
    if cb.is_nop() && st.writecb.is_nop() {
        std::mem::forget(cb);
        return;
    }
    let old = std::mem::replace(&mut st.writecb, cb);
    if old.is_nop() {
        std::mem::forget(old);
    }
}

/// Node's `doWrite` with a batch: hands the chunks to the sink's `writev`.
fn do_writev<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, len: usize, chunks: Vec<W>, cb: Cb) {
    let destroyed = {
        let mut st = c.ws().borrow_mut();
        st.writelen = len;
        st.writeitems = chunks.len();
        set_writecb(&mut st, cb);
        st.set(F::WRITING | F::SYNC | F::EXPECT_WRITE_CB);
        st.destroyed()
    };
    if destroyed {
        on_write(c, Some(Error::destroyed("write")));
    } else {
        c.wimp().writev(chunks, Done::write(c));
    }
    c.ws().borrow_mut().clear(F::SYNC);
}

/// Node's `onwriteError`: the write callback first, then the buffer, then
/// `'error'`.
fn on_write_error<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, er: Error, mut cb: Cb) {
    c.ws().borrow_mut().pendingcb -= 1;
    cb.call(Err(er.clone()));
    error_buffer(c);
    error_or_destroy(c, er, false);
}

/// Node's `onwrite`: the sink called back for the in-flight write.
///
/// The common case is handled inline: a successful synchronous completion
/// of a write without callback, with nothing buffered, no `end()` pending
/// and no after-write tick to queue (none due, or one already queued).
/// Node's `onwrite` then only updates the counters (no new tick, no
/// event), and so does this.
#[inline]
pub(crate) fn on_write<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, er: Option<Error>) {
    // Matched, not tested: the `None` arm has nothing to drop.
    let Some(er) = er else {
        return on_write_ok(c);
    };
    on_write_general(c, Some(er));
}

/// [`on_write`] without an error.
#[inline]
pub(crate) fn on_write_ok<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    {
        let mut st = c.ws().borrow_mut();
        // `expect_write_cb && sync && !buffered && !ending`, one mask test.
        let f = st.flags();
        if f & (F::EXPECT_WRITE_CB | F::SYNC | F::BUFFERED | F::ENDING)
            == F::EXPECT_WRITE_CB | F::SYNC
            && st.writecb.is_nop()
        {
            let length = st.length.saturating_sub(st.writelen);
            // What `on_write_general` would defer to an after-write tick
            // ('drain' due, or any object-mode completion): unless such a
            // tick is already pending, it is not this path's to do.
            let need_tick = (f & F::NEED_DRAIN != 0 && length <= st.lwm) || f & F::OBJECT_MODE != 0;
            if !need_tick || f & F::AFTER_WRITE_PENDING != 0 {
                st.clear(F::WRITING | F::EXPECT_WRITE_CB);
                st.length = length;
                st.bytes_out = st.bytes_out.wrapping_add(st.writelen as u64);
                st.writelen = 0;
                st.pendingcb -= 1;
                return;
            }
        }
    }
    on_write_general(c, None);
}

/// [`on_write`], every case.
#[inline(never)]
fn on_write_general<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, er: Option<Error>) {
    let mut st = c.ws().borrow_mut();
    if !st.expect_write_cb() {
        drop(st);
        error_or_destroy(c, Error::multiple_callback(), false);
        return;
    }
    let sync = st.sync();
    let cb = std::mem::replace(&mut st.writecb, Cb::Nop);
    st.clear(F::WRITING | F::EXPECT_WRITE_CB);
    st.length = st.length.saturating_sub(st.writelen);
    if er.is_none() {
        st.bytes_out = st.bytes_out.wrapping_add(st.writelen as u64);
    }
    st.writelen = 0;

    if let Some(er) = er {
        st.set_errored_once(&er);
        drop(st);
        // A Duplex: the readable side learns of the error too.
        if let Some(r) = &c.r {
            r.state.borrow_mut().set_errored_once(&er);
        }
        if sync {
            let c2 = c.clone();
            next_tick(move || on_write_error(&c2, er, cb));
        } else {
            on_write_error(c, er, cb);
        }
        return;
    }

    if st.buffered_flag() {
        drop(st);
        clear_buffer(c);
        st = c.ws().borrow_mut();
    }

    if !sync {
        drop(st);
        after_write(c, 1, cb);
        return;
    }

    let need_drain = st.need_drain() && st.length <= st.lwm;
    // Node writes `(state[kState] & kDestroyed !== 0)`, which by precedence is
    // `state[kState] & 1`: the objectMode bit. So every synchronous completion
    // in object mode takes the deferred path. Kept, as it decides when
    // `pendingcb` drops and so when 'finish' may come.
    let need_tick = need_drain || st.object_mode() || !cb.is_nop();
    if cb.is_nop() {
        // Nothing to drop: skip the drop glue on the hottest path.
        std::mem::forget(cb);
        if !st.after_write_pending() && need_tick {
            st.set(F::AFTER_WRITE_PENDING);
            drop(st);
            tick(c, WritableOp::AfterWriteNop);
        } else {
            st.pendingcb -= 1;
            let ending = st.ending();
            drop(st);
            if ending {
                finish_maybe(c, true);
            }
        }
    } else if st.tick_info_active() && st.tick_infos.back().is_some_and(|(c, _)| c.same(&cb)) {
        if let Some((_, count)) = st.tick_infos.back_mut() {
            *count += 1;
        }
    } else if need_tick {
        st.tick_infos.push_back((cb, 1));
        st.set(F::AFTER_WRITE_PENDING | F::AFTER_WRITE_TICK_INFO);
        drop(st);
        tick(c, WritableOp::AfterWriteTick);
    } else {
        // Unreachable in practice (a callback always needs a tick), kept as Node has it.
        st.pendingcb -= 1;
        let ending = st.ending();
        drop(st);
        if ending {
            finish_maybe(c, true);
        }
    }
}

/// Node's `afterWrite`: `'drain'` if due, then the write callbacks.
fn after_write<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, count: usize, mut cb: Cb) {
    let drain = {
        let mut st = c.ws().borrow_mut();
        st.clear(F::AFTER_WRITE_PENDING);
        // `need_drain && !ending && !destroyed`, one mask test.
        let drain = st.flags() & (F::NEED_DRAIN | F::ENDING | F::DESTROYED) == F::NEED_DRAIN
            && st.length <= st.lwm;
        if drain {
            st.clear(F::NEED_DRAIN);
            st.drains += 1;
            st.pressure.stop();
            st.wake_all();
        } else if cb.is_nop() && !st.any(F::DESTROYED | F::ENDING) {
            // The common case, in one borrow: no event, no callback to call,
            // nothing to fail or finish.
            st.pendingcb -= count as isize;
            std::mem::forget(cb);
            return;
        }
        drain
    };
    if drain {
        c.events.drain.emit(&());
    }
    for _ in 0..count {
        c.ws().borrow_mut().pendingcb -= 1;
        cb.call(Ok(()));
    }
    if cb.is_nop() {
        std::mem::forget(cb);
    }
    let (destroyed, ending) = {
        let st = c.ws().borrow();
        (st.destroyed(), st.ending())
    };
    if destroyed {
        error_buffer(c);
    }
    if ending {
        finish_maybe(c, true);
    }
}

/// Node's `errorBuffer`: fails every buffered write and every waiting `end()`
/// callback, once no write is in flight.
pub(crate) fn error_buffer<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    if c.ws().borrow().writing() {
        return;
    }
    loop {
        let next = {
            let mut st = c.ws().borrow_mut();
            match st.buffered.pop_front() {
                Some(e) => {
                    st.length = st.length.saturating_sub(e.len);
                    let err = st
                        .errored()
                        .cloned()
                        .unwrap_or_else(|| Error::destroyed("write"));
                    Some((e, err))
                }
                None => None,
            }
        };
        match next {
            Some((e, err)) => {
                // The chunk is dropped here, outside the borrow: its `Drop`
                // may look at the stream.
                let Buffered { chunk, mut cb, .. } = e;
                drop(chunk);
                cb.call(Err(err));
            }
            None => break,
        }
    }
    let err = c
        .ws()
        .borrow()
        .errored()
        .cloned()
        .unwrap_or_else(|| Error::destroyed("end"));
    call_finished_callbacks(c, Err(err));
    c.ws().borrow_mut().reset_buffer();
}

/// Node's `clearBuffer`: hands buffered chunks to the sink, as one `_writev`
/// batch when there are several and the sink has `writev`.
pub(crate) fn clear_buffer<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut st = c.ws().borrow_mut();
    // `destroyed || buffer_processing || corked || !buffered || !constructed`,
    // one mask test.
    const GUARD: u32 =
        F::DESTROYED | F::BUFFER_PROCESSING | F::CORKED | F::BUFFERED | F::CONSTRUCTED;
    if st.flags() & GUARD != F::BUFFERED | F::CONSTRUCTED {
        return;
    }
    let n = st.buffered.len();
    if n == 0 {
        return;
    }
    st.set(F::BUFFER_PROCESSING);
    if n > 1 && st.has_writev {
        st.pendingcb -= n as isize - 1;
        let all_noop = st.all_noop();
        let len = st.length;
        let mut chunks = Vec::with_capacity(n);
        let mut cbs = Vec::new();
        for e in st.buffered.drain(..) {
            chunks.push(e.chunk);
            if !all_noop {
                cbs.push(e.cb);
            }
        }
        drop(st);
        let cb = if all_noop { Cb::Nop } else { Cb::Batch(cbs) };
        do_writev(c, len, chunks, cb);
        st = c.ws().borrow_mut();
        st.reset_buffer();
    } else {
        loop {
            let Some(e) = st.buffered.pop_front() else {
                break;
            };
            // `doWrite` of one chunk, sharing this borrow.
            let Buffered { chunk, len, cb } = e;
            st.writelen = len;
            st.writeitems = 1;
            set_writecb(&mut st, cb);
            st.set(F::WRITING | F::SYNC | F::EXPECT_WRITE_CB);
            let (destroyed, write_sync) = (st.destroyed(), st.has_write_sync());
            drop(st);
            if destroyed {
                on_write(c, Some(Error::destroyed("write")));
                drop(chunk);
            } else if write_sync {
                let r = c.wimp().write_sync(chunk);
                on_write(c, r.err());
            } else {
                c.wimp().write(chunk, Done::write(c));
            }
            st = c.ws().borrow_mut();
            st.clear(F::SYNC);
            if st.buffered.is_empty() || st.writing() {
                break;
            }
        }
        if st.buffered.is_empty() {
            st.reset_buffer();
        }
    }
    st.clear(F::BUFFER_PROCESSING);
}

/// `uncork()`.
pub(crate) fn uncork<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut st = c.ws().borrow_mut();
    let corked = st.corked();
    if corked > 0 {
        st.set_corked(corked - 1);
        let writing = st.writing();
        drop(st);
        if !writing {
            clear_buffer(c);
        }
    }
}

/// Node's `Writable.prototype.end(chunk, encoding, cb)`.
pub(crate) fn end<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, chunk: Option<W>, cb: Cb) {
    let mut err = None;
    if let Some(chunk) = chunk {
        if let Err(e) = write_(c, chunk, Cb::Nop) {
            err = Some(e);
        }
    }
    let corked = c.ws().borrow().corked() > 0;
    if corked {
        c.ws().borrow_mut().set_corked(1);
        uncork(c);
    }
    if err.is_none() {
        let (ending, errored, finished, destroyed) = {
            let st = c.ws().borrow();
            (st.ending(), st.is_errored(), st.finished(), st.destroyed())
        };
        if !ending && !errored {
            c.ws().borrow_mut().set(F::ENDING);
            finish_maybe(c, true);
            c.ws().borrow_mut().set(F::ENDED);
        } else if finished {
            err = Some(Error::already_finished("end"));
        } else if destroyed {
            err = Some(Error::destroyed("end"));
        }
    }
    if cb.is_nop() {
        return;
    }
    let mut st = c.ws().borrow_mut();
    let result = if let Some(e) = err {
        Some(Err(e))
    } else if let Some(e) = st.errored().cloned() {
        Some(Err(e))
    } else if st.finished() {
        Some(Ok(()))
    } else {
        None
    };
    match result {
        Some(r) => {
            drop(st);
            let mut cb = cb;
            next_tick(move || cb.call(r));
        }
        None => st.on_finished.push(cb),
    }
}

/// Node's `prefinish`: calls `_final`, or emits `'prefinish'` when there is none.
fn prefinish<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let mut st = c.ws().borrow_mut();
    if st.any(F::PREFINISHED | F::FINAL_CALLED) {
        return;
    }
    if st.has_final && !st.destroyed() {
        st.set(F::FINAL_CALLED | F::SYNC);
        st.pendingcb += 1;
        drop(st);
        c.wimp().finish(Done::finish(c));
        c.ws().borrow_mut().clear(F::SYNC);
    } else {
        st.set(F::FINAL_CALLED | F::PREFINISHED);
        drop(st);
        c.events.prefinish.emit(&());
    }
}

/// Node's `onFinish`: the `_final` callback.
pub(crate) fn on_final<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, err: Option<Error>) {
    let mut st = c.ws().borrow_mut();
    if st.prefinished() {
        drop(st);
        error_or_destroy(c, err.unwrap_or_else(Error::multiple_callback), false);
        return;
    }
    st.pendingcb -= 1;
    if let Some(err) = err {
        let sync = st.sync();
        drop(st);
        call_finished_callbacks(c, Err(err.clone()));
        error_or_destroy(c, err, sync);
    } else if st.need_finish() {
        st.set(F::PREFINISHED);
        drop(st);
        c.events.prefinish.emit(&());
        c.ws().borrow_mut().pendingcb += 1;
        tick(c, WritableOp::Finish);
    }
}

/// Node's `finishMaybe`.
fn finish_maybe<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, sync: bool) {
    if !c.ws().borrow().need_finish() {
        return;
    }
    prefinish(c);
    let mut st = c.ws().borrow_mut();
    if st.pendingcb == 0 {
        if sync {
            st.pendingcb += 1;
            drop(st);
            tick(c, WritableOp::FinishMaybe);
        } else if st.need_finish() {
            st.pendingcb += 1;
            drop(st);
            finish(c);
        }
    }
}

/// Node's `finish`: the `end()` callbacks, then `'finish'`, then autoDestroy.
fn finish<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    {
        let mut st = c.ws().borrow_mut();
        st.pendingcb -= 1;
        st.set(F::FINISHED);
        st.wake_all();
    }
    call_finished_callbacks(c, Ok(()));
    c.events.finish.emit(&());
    if c.ws().borrow().auto_destroy {
        // A Duplex is destroyed only once its readable side ended too.
        let readable_done = match &c.r {
            None => true,
            Some(r) => {
                let rs = r.state.borrow();
                rs.auto_destroy && (rs.end_emitted() || !rs.readable_side)
            }
        };
        if readable_done {
            destroy(c, None);
        }
    }
}

fn call_finished_callbacks<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, r: Result<(), Error>) {
    let cbs = std::mem::take(&mut c.ws().borrow_mut().on_finished);
    for mut cb in cbs {
        cb.call(r.clone());
    }
}

/// Node's `WritableState[kOnConstructed]`: the construct hook called back.
pub(crate) fn on_constructed<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let (writing, ending) = {
        let st = c.ws().borrow();
        (st.writing(), st.ending())
    };
    if !writing {
        clear_buffer(c);
    }
    if ending {
        finish_maybe(c, false);
    }
}

/// The part of `Writable.prototype.destroy` before the shared destroy: a
/// buffer or waiting `end()` callbacks are failed on the next tick.
pub(crate) fn schedule_error_buffer_on_destroy<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) {
    let due = {
        let st = c.ws().borrow();
        (st.buffered_flag() || !st.on_finished.is_empty()) && !st.destroyed()
    };
    if due {
        tick(c, WritableOp::ErrorBuffer);
    }
}

pub(crate) use core_::{destroy, error_or_destroy};
