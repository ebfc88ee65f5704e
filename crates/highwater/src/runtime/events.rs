//! Listener lists with Node's `EventEmitter` semantics.
//!
//! Listeners run synchronously, in registration order, when the stream emits;
//! a listener added during an emit does not run in that emit, and one removed
//! during it still does (Node copies the listener array before calling). A
//! `once` listener is removed just before it runs. No borrow is held while a
//! listener runs, so a listener may call back into the stream, add or remove
//! listeners, or emit again.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Identifies one registered listener, for [`off`](crate::StreamBase::off).
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{ListenerId, Writable, WritableOptions};
///
/// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
/// let log = Rc::new(RefCell::new(Vec::new()));
/// let l = log.clone();
/// let a: ListenerId = w.on_close(move || l.borrow_mut().push("a"));
/// let l = log.clone();
/// let b = w.on_close(move || l.borrow_mut().push("b"));
/// assert_ne!(a, b);
/// assert!(w.off(a));
/// assert!(!w.off(a)); // already removed
/// w.destroy(None);
/// highwater::run_until_idle();
/// assert_eq!(*log.borrow(), ["b"]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

thread_local! {
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
}

fn next_id() -> ListenerId {
    NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id + 1);
        ListenerId(id)
    })
}

/// A listener's closure.
type ListenerFn<A> = Rc<dyn Fn(&A)>;

/// A listener that can take the argument by value, when it is the only one.
type OwnedFn<A> = Rc<dyn Fn(A)>;

struct Entry<A> {
    id: ListenerId,
    /// `Some` for a `once` listener: whether it fired (Node's `onceWrapper`
    /// checks this, so a listener that fired in a nested emit is skipped by
    /// the outer emit's snapshot).
    once: Option<Rc<Cell<bool>>>,
    /// `None` once the list was released: the listener still counts (as
    /// Node's would), but what it captured is gone.
    f: Option<ListenerFn<A>>,
    /// The same listener taking the argument by value (a pipe's `'data'`
    /// listener, which hands the chunk on): used when it is the only one.
    owned: Option<OwnedFn<A>>,
}

impl<A> Clone for Entry<A> {
    fn clone(&self) -> Self {
        Entry {
            id: self.id,
            once: self.once.clone(),
            f: self.f.clone(),
            owned: self.owned.clone(),
        }
    }
}

/// The listeners of one event, whose argument is `&A`.
pub(crate) struct Listeners<A> {
    list: RefCell<Vec<Entry<A>>>,
    /// Nothing can be emitted any more (the stream closed): the closures
    /// were let go, and those added later are not kept.
    released: Cell<bool>,
    /// The snapshot vector of the last emit to several listeners, empty,
    /// kept for its capacity.
    spare: Cell<Vec<Entry<A>>>,
}

impl<A> Default for Listeners<A> {
    fn default() -> Self {
        Listeners {
            list: RefCell::new(Vec::new()),
            released: Cell::new(false),
            spare: Cell::new(Vec::new()),
        }
    }
}

impl<A> Listeners<A> {
    /// Adds a listener at the end (`on`/`once`) or the front (`prepend`).
    pub(crate) fn add(&self, f: Rc<dyn Fn(&A)>, once: bool, prepend: bool) -> ListenerId {
        self.add_entry(f, None, once, prepend)
    }

    /// Adds a listener (at the end) that also has a form taking the argument
    /// by value: [`emit_owned`](Self::emit_owned) calls that form when this
    /// is the only listener, saving the copy the by-reference form makes.
    /// Both forms must do the same.
    pub(crate) fn add_owned(&self, f: Rc<dyn Fn(&A)>, owned: OwnedFn<A>) -> ListenerId {
        self.add_entry(f, Some(owned), false, false)
    }

    fn add_entry(
        &self,
        f: Rc<dyn Fn(&A)>,
        owned: Option<OwnedFn<A>>,
        once: bool,
        prepend: bool,
    ) -> ListenerId {
        let id = next_id();
        let once = once.then(|| Rc::new(Cell::new(false)));
        // On a released list the listener could never be called: it is
        // counted, but what it captures (often the stream itself) is not
        // kept alive.
        let live = !self.released.get();
        let f = live.then_some(f);
        let owned = owned.filter(|_| live);
        let e = Entry { id, once, f, owned };
        let mut list = self.list.borrow_mut();
        if prepend {
            list.insert(0, e);
        } else {
            list.push(e);
        }
        id
    }

    /// Removes the listener `id`; returns whether it was here.
    pub(crate) fn remove(&self, id: ListenerId) -> bool {
        let mut list = self.list.borrow_mut();
        match list.iter().position(|e| e.id == id) {
            Some(i) => {
                list.remove(i);
                true
            }
            None => false,
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.list.borrow().len()
    }

    /// Lets every listener's closure go, now and from now on: called once
    /// nothing can be emitted any more, so that a listener capturing its own
    /// stream (an `Rc` cycle) does not keep it alive. The listeners stay in
    /// the list, so counts and `off` answer as Node's do. The closures are
    /// dropped after the borrow ends, since dropping one may drop a stream
    /// that owns a list.
    pub(crate) fn release(&self) {
        self.released.set(true);
        let gone: Vec<_> = self
            .list
            .borrow_mut()
            .iter_mut()
            .map(|e| (e.f.take(), e.owned.take()))
            .collect();
        drop(gone);
    }

    /// Calls every listener registered now, in order. Returns whether there
    /// was any.
    pub(crate) fn emit(&self, arg: &A) -> bool {
        self.emit_with(arg, || {})
    }

    /// Like [`emit_with`](Self::emit_with), giving the argument away: to
    /// the by-value form of the only listener when it has one, else by
    /// reference to each listener, then dropped.
    #[inline]
    pub(crate) fn emit_owned(&self, arg: A, on_once_removed: impl Fn()) -> bool {
        let owned = {
            let list = self.list.borrow();
            match list.as_slice() {
                [e] if e.once.is_none() => e.owned.clone(),
                _ => None,
            }
        };
        match owned {
            Some(f) => {
                f(arg);
                true
            }
            None => self.emit_with(&arg, on_once_removed),
        }
    }

    /// Like [`emit`](Self::emit), calling `on_once_removed` right after a
    /// `once` listener is removed and before it runs (where Node's
    /// `removeListener` side effects happen).
    pub(crate) fn emit_with(&self, arg: &A, on_once_removed: impl Fn()) -> bool {
        // The common case, one listener (a pipe's), needs no snapshot vector:
        // emitting allocates nothing.
        let single = {
            let list = self.list.borrow();
            match list.len() {
                0 => return false,
                1 => {
                    let e = &list[0];
                    if e.once.is_none() {
                        // One plain listener: only its closure is needed.
                        let f = e.f.clone();
                        drop(list);
                        if let Some(f) = f {
                            f(arg);
                        }
                        return true;
                    }
                    Some(e.clone())
                }
                _ => None,
            }
        };
        if let Some(e) = single {
            self.call(e, arg, &on_once_removed);
            return true;
        }
        // Several listeners: a snapshot (Node's `arrayClone`), in a vector
        // kept for the next emit, so that emitting allocates nothing in
        // steady state. A nested emit finds the spare taken and makes its own.
        let mut snapshot = self.spare.take();
        snapshot.extend(self.list.borrow().iter().cloned());
        for e in snapshot.drain(..) {
            self.call(e, arg, &on_once_removed);
        }
        self.spare.set(snapshot);
        true
    }

    fn call(&self, e: Entry<A>, arg: &A, on_once_removed: &impl Fn()) {
        if let Some(fired) = &e.once {
            if fired.replace(true) {
                return;
            }
            if self.remove(e.id) {
                on_once_removed();
            }
        }
        if let Some(f) = &e.f {
            f(arg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emit_order_once_and_reentrant_changes() {
        let l: Rc<Listeners<i32>> = Rc::new(Listeners::default());
        let log = Rc::new(RefCell::new(Vec::new()));
        let lg = log.clone();
        l.add(
            Rc::new(move |v| lg.borrow_mut().push(format!("a{v}"))),
            false,
            false,
        );
        let lg = log.clone();
        l.add(
            Rc::new(move |v| lg.borrow_mut().push(format!("once{v}"))),
            true,
            false,
        );
        let lg = log.clone();
        let l2 = l.clone();
        l.add(
            Rc::new(move |v| {
                lg.borrow_mut().push(format!("c{v}"));
                // Added during an emit: not called in this one.
                let lg2 = lg.clone();
                l2.add(
                    Rc::new(move |v| lg2.borrow_mut().push(format!("late{v}"))),
                    true,
                    false,
                );
            }),
            true,
            false,
        );
        let lg = log.clone();
        l.add(
            Rc::new(move |v| lg.borrow_mut().push(format!("first{v}"))),
            true,
            true,
        );
        assert!(l.emit(&1));
        assert!(l.emit(&2));
        assert_eq!(
            *log.borrow(),
            ["first1", "a1", "once1", "c1", "a2", "late2"]
        );
        assert_eq!(l.count(), 1);
    }
}
