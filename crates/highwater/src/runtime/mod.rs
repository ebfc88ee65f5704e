//! Layer 2: the event loop and listeners. Node's ordering (synchronous
//! emits, the next-tick queue, tasks as promise jobs) on top of tokio, and
//! the listener lists events are emitted through. Imports only from
//! [`state`](crate::state).

pub mod event_loop;
pub(crate) mod events;

pub use events::ListenerId;
