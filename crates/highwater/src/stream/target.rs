//! A writable side with its stream's other type erased: what a Readable
//! holds of each destination it pipes into (Node's `state.pipes`), and what
//! the adapters above (fan-out, `Sink`) hold of theirs. The pipe algorithm
//! itself is an operation (`ops/pipe.rs`); this is the view of a destination
//! it works through.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::runtime::events::Listeners;
use crate::state::callback::Cb;
use crate::state::writable::WState;
use crate::state::{Error, StreamId};

use super::core::Core;
use super::writable::machine as wm;

/// The argument of an internal `'unpipe'` emit: the source, and Node's
/// `unpipeInfo.hasUnpiped`, shared by the listeners of that one emit.
pub(crate) struct UnpipeInfo {
    pub(crate) src: StreamId,
    pub(crate) has_unpiped: Cell<bool>,
}

/// A destination in a source's `pipes` list: its id, and the destination
/// itself, weakly.
pub(crate) type PipeRef<R> = (StreamId, std::rc::Weak<dyn PipeTarget<R>>);

/// What a pipe needs of its destination, whatever its readable side.
pub(crate) trait PipeTarget<T>: 'static {
    fn id(&self) -> StreamId;
    fn write(self: Rc<Self>, chunk: T) -> bool;
    /// `write(chunk, cb)`, with the refusal as an error (for `compat`'s
    /// `Sink`).
    #[cfg_attr(not(feature = "compat"), allow(dead_code))]
    fn write_with(self: Rc<Self>, chunk: T, cb: Cb) -> Result<bool, Error>;
    /// The writable side's state (for adapters that poll it: `compat`'s
    /// `Sink`).
    #[cfg_attr(not(feature = "compat"), allow(dead_code))]
    fn ws(&self) -> &RefCell<WState<T>>;
    fn end(self: Rc<Self>);
    /// `writableNeedDrain`.
    fn need_drain_getter(&self) -> bool;
    /// `_writableState.needDrain`.
    fn need_drain_raw(&self) -> bool;
    fn error_emitted(&self) -> bool;
    fn error_or_destroy(self: Rc<Self>, err: Error);
    /// `writableLength`.
    fn length(&self) -> usize;
    /// Destroyed or errored: takes no more writes.
    fn dead(&self) -> bool;
    fn drain(&self) -> &Listeners<()>;
    fn close(&self) -> &Listeners<()>;
    fn finish(&self) -> &Listeners<()>;
    fn error(&self) -> &Listeners<Error>;
    fn pipe(&self) -> &Listeners<StreamId>;
    fn unpipe(&self) -> &Listeners<UnpipeInfo>;
}

impl<R: 'static, W: 'static> PipeTarget<W> for Core<R, W> {
    fn id(&self) -> StreamId {
        self.id
    }
    fn write(self: Rc<Self>, chunk: W) -> bool {
        wm::write_plain(&self, chunk)
    }
    fn write_with(self: Rc<Self>, chunk: W, cb: Cb) -> Result<bool, Error> {
        wm::write_(&self, chunk, cb)
    }
    fn ws(&self) -> &RefCell<WState<W>> {
        Core::ws(self)
    }
    fn end(self: Rc<Self>) {
        wm::end(&self, None, Cb::Nop);
    }
    fn need_drain_getter(&self) -> bool {
        let st = self.ws().borrow();
        st.need_drain() && !st.destroyed() && !st.ending()
    }
    fn need_drain_raw(&self) -> bool {
        self.ws().borrow().need_drain()
    }
    fn error_emitted(&self) -> bool {
        self.ws().borrow().error_emitted()
    }
    fn error_or_destroy(self: Rc<Self>, err: Error) {
        super::core::error_or_destroy(&self, err, false);
    }
    fn length(&self) -> usize {
        self.ws().borrow().length
    }
    fn dead(&self) -> bool {
        let st = self.ws().borrow();
        st.destroyed() || st.is_errored()
    }
    fn drain(&self) -> &Listeners<()> {
        &self.events.drain
    }
    fn close(&self) -> &Listeners<()> {
        &self.events.close
    }
    fn finish(&self) -> &Listeners<()> {
        &self.events.finish
    }
    fn error(&self) -> &Listeners<Error> {
        &self.events.error
    }
    fn pipe(&self) -> &Listeners<StreamId> {
        &self.events.pipe
    }
    fn unpipe(&self) -> &Listeners<UnpipeInfo> {
        &self.events.unpipe
    }
}
