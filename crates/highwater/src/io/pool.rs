//! A small pool of threads for blocking file I/O, as libuv's thread pool is
//! for Node's `fs`.
//!
//! The event loop never blocks on a file: a file stream hands each open,
//! read, write or close to a worker and awaits the result on a task of the
//! loop. The pool starts its threads on first use; its size is 4, or
//! `HIGHWATER_THREADPOOL_SIZE` (1 to 128), like `UV_THREADPOOL_SIZE`.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};

use futures::channel::oneshot;

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    tx: Mutex<Sender<Job>>,
}

fn pool() -> Option<&'static Pool> {
    static POOL: OnceLock<Option<Pool>> = OnceLock::new();
    POOL.get_or_init(|| {
        let size = std::env::var("HIGHWATER_THREADPOOL_SIZE")
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|n| (1..=128).contains(n))
            .unwrap_or(4);
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let mut started = 0;
        for i in 0..size {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("highwater-io-{i}"))
                .spawn(move || worker(&rx));
            if spawned.is_ok() {
                started += 1;
            }
        }
        (started > 0).then(|| Pool { tx: Mutex::new(tx) })
    })
    .as_ref()
}

fn worker(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = {
            let guard = rx.lock().unwrap_or_else(|e| e.into_inner());
            guard.recv()
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// Runs `f` on a worker thread; the receiver yields its result. If no worker
/// thread could be started (the OS refused), `f` runs right here instead, so
/// that I/O still happens (blocking the loop) rather than never.
pub(crate) fn run<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> oneshot::Receiver<T> {
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(f());
    });
    match pool() {
        Some(p) => {
            let sent = p.tx.lock().unwrap_or_else(|e| e.into_inner()).send(job);
            if let Err(e) = sent {
                (e.0)();
            }
        }
        None => job(),
    }
    rx
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_jobs_off_this_thread() {
        let here = std::thread::current().id();
        let rx = super::run(move || std::thread::current().id() != here);
        assert_eq!(futures::executor::block_on(rx), Ok(true));
    }
}
