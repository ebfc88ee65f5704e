//! Helpers shared by the ports of Node's tests: an ordered log, a call
//! counter (`common.mustCall`), and macrotasks (`setTimeout`/`setImmediate`).

#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use highwater::run_until_idle;

/// An ordered record of what happened.
#[derive(Clone, Default)]
pub struct Log(pub Rc<RefCell<Vec<String>>>);

impl Log {
    pub fn push(&self, s: impl Into<String>) {
        self.0.borrow_mut().push(s.into());
    }
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.borrow_mut())
    }
    pub fn ev(&self, name: impl Into<String>) -> impl Fn() + 'static {
        let l = self.clone();
        let name = name.into();
        move || l.push(name.clone())
    }
}

/// A call counter, `common.mustCall()`'s count.
#[derive(Clone, Default)]
pub struct Calls(Rc<Cell<usize>>);

impl Calls {
    pub fn hit(&self) {
        self.0.set(self.0.get() + 1);
    }
    pub fn get(&self) -> usize {
        self.0.get()
    }
    pub fn listener(&self) -> impl Fn() + 'static {
        let c = self.clone();
        move || c.hit()
    }
}

/// A queued macrotask.
pub type Job = Box<dyn FnOnce()>;

/// Macrotasks: `setTimeout`/`setImmediate` callbacks. [`Macro::run`] runs
/// the ticks, then every job queued so far (each followed by the ticks it
/// queued), and so on until nothing is left.
#[derive(Clone, Default)]
pub struct Macro(Rc<RefCell<VecDeque<Job>>>);

impl Macro {
    pub fn later(&self, f: impl FnOnce() + 'static) {
        self.0.borrow_mut().push_back(Box::new(f));
    }
    pub fn run(&self) {
        loop {
            run_until_idle();
            let batch: Vec<_> = self.0.borrow_mut().drain(..).collect();
            if batch.is_empty() {
                break;
            }
            for f in batch {
                f();
                run_until_idle();
            }
        }
    }
}
