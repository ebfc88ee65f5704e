//! Node's `lib/internal/streams/utils.js`: the predicates the operations
//! (`finished`, `pipeline`, the async iterator) ask of a stream.

use super::core::Core;
use crate::state::writable::F;

/// What `end-of-stream.js` asks of a stream (its `utils.js` predicates).
impl<R: 'static, W: 'static> Core<R, W> {
    /// `isReadableNodeStream`.
    pub(crate) fn is_readable_node_stream(&self) -> bool {
        match (&self.r, &self.w) {
            (None, _) => false,
            (Some(r), Some(_)) => r.state.borrow().readable_side,
            (Some(_), None) => true,
        }
    }

    /// `isWritableNodeStream`.
    pub(crate) fn is_writable_node_stream(&self) -> bool {
        match (&self.w, &self.r) {
            (None, _) => false,
            (Some(w), Some(_)) => w.state.borrow().writable_side,
            (Some(_), None) => true,
        }
    }

    /// `isWritableFinished(stream, strict)`.
    pub(crate) fn is_writable_finished(&self, strict: bool) -> Option<bool> {
        if !self.is_writable_node_stream() {
            return None;
        }
        let st = self.ws().borrow();
        if st.finished() {
            return Some(true);
        }
        if st.is_errored() {
            return Some(false);
        }
        Some(!strict && st.ended() && st.length == 0)
    }

    /// `isReadableFinished(stream, strict)`.
    pub(crate) fn is_readable_finished(&self, strict: bool) -> Option<bool> {
        if !self.is_readable_node_stream() {
            return None;
        }
        let st = self.rs().borrow();
        if st.is_errored() {
            return Some(false);
        }
        Some(st.end_emitted() || (!strict && st.ended() && st.length == 0))
    }

    /// `isReadable(stream)`: `None` for a stream without a readable side.
    pub(crate) fn is_readable(&self) -> Option<bool> {
        let r = self.r.as_ref()?;
        if self.is_destroyed() {
            return Some(false);
        }
        let readable = {
            let st = r.state.borrow();
            st.readable_side && !st.destroyed() && !st.error_emitted() && !st.end_emitted()
        };
        Some(
            self.is_readable_node_stream()
                && readable
                && self.is_readable_finished(true) != Some(true),
        )
    }

    /// `isWritable(stream)`: `None` for a stream without a writable side.
    pub(crate) fn is_writable(&self) -> Option<bool> {
        let w = self.w.as_ref()?;
        if self.is_destroyed() {
            return Some(false);
        }
        let (writable, ended) = {
            let st = w.state.borrow();
            (
                st.writable_side && !st.any(F::ENDING | F::ENDED | F::DESTROYED | F::ERRORED),
                st.any(F::ENDING | F::ENDED),
            )
        };
        Some(self.is_writable_node_stream() && writable && !ended)
    }

    /// `isFinished(stream)`.
    pub(crate) fn is_finished(&self) -> bool {
        self.is_destroyed()
            || (self.is_readable() != Some(true) && self.is_writable() != Some(true))
    }

    /// `willEmitClose(stream)`.
    pub(crate) fn will_emit_close(&self) -> bool {
        let (auto, emit, closed) = match (&self.w, &self.r) {
            (Some(w), _) => {
                let st = w.state.borrow();
                (st.auto_destroy, st.emit_close, st.closed)
            }
            (None, Some(r)) => {
                let st = r.state.borrow();
                (st.auto_destroy, st.emit_close, st.closed)
            }
            (None, None) => return false,
        };
        auto && emit && !closed
    }

    pub(crate) fn error_emitted_any(&self) -> bool {
        self.w
            .as_ref()
            .is_some_and(|w| w.state.borrow().error_emitted())
            || self
                .r
                .as_ref()
                .is_some_and(|r| r.state.borrow().error_emitted())
    }
}
