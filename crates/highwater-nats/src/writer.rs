//! A JetStream stream as a [`Writable`]: each write publishes, and the
//! publishes awaiting their acknowledgement are the buffer.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::Context;
use async_nats::HeaderMap;
use bytes::Bytes;
use highwater::{Done, Hooks, Writable, WritableImpl, WritableOptions};

use crate::error::{codes, NatsError};
use crate::protocol;

/// The receiving consumer's backlog a sender waits on (see
/// [`PublishOptions::backlog`]).
#[derive(Debug, Clone)]
pub struct Backlog {
    /// The receiver's durable pull consumer.
    pub consumer: PullConsumer,
    /// At most this many messages published and not yet acknowledged by it.
    pub max_messages: u64,
    /// How often its state is asked for while the sender waits.
    pub poll: Duration,
}

/// How a [`publisher`] publishes.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// The subject every message goes to.
    pub subject: String,
    /// The transfer's id: with the sequence, each message's `Nats-Msg-Id`.
    pub transfer: String,
    /// How long publishing may keep failing (server gone, no leader)
    /// before the stream fails with [`codes::UNAVAILABLE`].
    pub retry_budget: Duration,
    /// The optional backlog bound: while the receiving consumer has this
    /// many messages published and not acknowledged, nothing more is
    /// published, so `write()` returns `false` once the buffer fills.
    pub backlog: Option<Backlog>,
}

impl PublishOptions {
    /// Options for `subject` with a fresh transfer id, a 60 s retry budget
    /// and no backlog bound.
    ///
    /// ```
    /// let o = highwater_nats::PublishOptions::new("files");
    /// assert_eq!(o.subject, "files");
    /// assert!(o.backlog.is_none());
    /// ```
    pub fn new(subject: impl Into<String>) -> Self {
        PublishOptions {
            subject: subject.into(),
            transfer: protocol::transfer_id(),
            retry_budget: Duration::from_secs(60),
            backlog: None,
        }
    }
}

/// What a publisher has sent so far: where the next chunk goes, the
/// checksum, and what it knows of the receiver's backlog.
#[derive(Debug, Default)]
struct Progress {
    seq: u64,
    offset: u64,
    crc: crc32fast::Hasher,
    /// The backlog last reported by the server, plus what was published since.
    backlog_estimate: u64,
    /// Times the sender waited on the backlog bound.
    backlog_waits: u64,
}

/// What a publisher has done, read with [`PublisherStats::get`].
#[derive(Debug, Clone, Default)]
pub struct PublisherStats(Rc<RefCell<Progress>>);

/// A snapshot of a publisher's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublisherCounts {
    /// Chunks published and acknowledged (or in flight).
    pub chunks: u64,
    /// Bytes published.
    pub bytes: u64,
    /// How many times publishing waited for the receiver's backlog to fall
    /// under the bound.
    pub backlog_waits: u64,
}

impl PublisherStats {
    /// The counters now.
    ///
    /// ```
    /// let s = highwater_nats::PublisherStats::default();
    /// assert_eq!(s.get().chunks, 0);
    /// ```
    pub fn get(&self) -> PublisherCounts {
        let p = self.0.borrow();
        PublisherCounts {
            chunks: p.seq,
            bytes: p.offset,
            backlog_waits: p.backlog_waits,
        }
    }
}

struct Publisher {
    js: Context,
    opts: Rc<PublishOptions>,
    progress: Rc<RefCell<Progress>>,
}

struct Outgoing {
    headers: HeaderMap,
    payload: Bytes,
}

/// Whether a failed publish is worth retrying (the server or the leader
/// may come back: a timeout, a broken connection, no responder) or is
/// final: the server answered with a refusal (the stream full, the message
/// too large, not allowed), except the cluster's "no leader now" answers.
fn permanent(e: &async_nats::jetstream::context::PublishError) -> bool {
    use async_nats::jetstream::ErrorCode;
    use std::error::Error as _;
    match e.kind() {
        PublishErrorKind::MaxPayloadExceeded
        | PublishErrorKind::WrongLastMessageId
        | PublishErrorKind::WrongLastSequence => true,
        PublishErrorKind::Other => e
            .source()
            .and_then(|s| s.downcast_ref::<async_nats::jetstream::Error>())
            .is_some_and(|api| {
                !matches!(
                    api.error_code(),
                    ErrorCode::CLUSTER_NOT_AVAILABLE
                        | ErrorCode::CLUSTER_NOT_LEADER
                        | ErrorCode::JETSTREAM_NOT_ENABLED
                )
            }),
        _ => false,
    }
}

/// Publishes `msgs` in order and waits for every acknowledgement,
/// republishing (same `Nats-Msg-Id`, so the server stores each once) from
/// the first that failed, until the retry budget is spent.
async fn publish_all(
    js: &Context,
    opts: &PublishOptions,
    msgs: &[Outgoing],
) -> Result<(), NatsError> {
    let mut start = 0;
    let mut failing_since: Option<Instant> = None;
    while start < msgs.len() {
        let mut acks = VecDeque::new();
        let mut failure = None;
        for m in &msgs[start..] {
            match js
                .publish_with_headers(opts.subject.clone(), m.headers.clone(), m.payload.clone())
                .await
            {
                Ok(f) => acks.push_back(f),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        while let Some(f) = acks.pop_front() {
            match f.await {
                Ok(_) => {
                    start += 1;
                    failing_since = None;
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let Some(e) = failure else { continue };
        if permanent(&e) {
            return Err(NatsError::from_source(
                codes::REJECTED,
                "publish refused",
                &e,
            ));
        }
        let since = *failing_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= opts.retry_budget {
            // No responder for the whole budget: the stream is gone.
            let code = if e.kind() == PublishErrorKind::StreamNotFound {
                codes::NO_STREAM
            } else {
                codes::UNAVAILABLE
            };
            return Err(NatsError::from_source(
                code,
                &format!(
                    "publishing failed for {:?} (the retry budget)",
                    opts.retry_budget
                ),
                &e,
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Waits while the receiver's backlog is at the bound. Asks the server
/// only when the estimate (last report + published since) reaches it.
async fn wait_for_backlog(
    b: &Backlog,
    progress: &RefCell<Progress>,
    retry_budget: Duration,
) -> Result<(), NatsError> {
    let mut failing_since: Option<Instant> = None;
    let mut waited = false;
    while progress.borrow().backlog_estimate >= b.max_messages {
        match b.consumer.get_info().await {
            Ok(info) => {
                failing_since = None;
                let backlog = info.num_pending + info.num_ack_pending as u64;
                progress.borrow_mut().backlog_estimate = backlog;
                if backlog < b.max_messages {
                    break;
                }
                if !waited {
                    waited = true;
                    progress.borrow_mut().backlog_waits += 1;
                }
            }
            Err(e) => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= retry_budget {
                    return Err(NatsError::from_source(
                        codes::UNAVAILABLE,
                        "cannot read the receiving consumer's backlog",
                        &e,
                    ));
                }
            }
        }
        tokio::time::sleep(b.poll).await;
    }
    Ok(())
}

impl Publisher {
    fn send(&self, msgs: Vec<Outgoing>, done: Done) {
        let js = self.js.clone();
        let opts = self.opts.clone();
        let progress = self.progress.clone();
        highwater::spawn(async move {
            let result = async {
                if let Some(b) = &opts.backlog {
                    wait_for_backlog(b, &progress, opts.retry_budget).await?;
                    progress.borrow_mut().backlog_estimate += msgs.len() as u64;
                }
                publish_all(&js, &opts, &msgs).await
            }
            .await;
            done.call(result.map_err(highwater::Error::from));
        });
    }

    fn frame(&self, chunk: Bytes) -> Outgoing {
        let mut p = self.progress.borrow_mut();
        let headers = protocol::chunk_headers(&self.opts.transfer, p.seq, p.offset);
        p.seq += 1;
        p.offset += chunk.len() as u64;
        p.crc.update(&chunk);
        Outgoing {
            headers,
            payload: chunk,
        }
    }
}

impl WritableImpl<Bytes> for Publisher {
    fn write(&self, chunk: Bytes, done: Done) {
        let m = self.frame(chunk);
        self.send(vec![m], done);
    }

    fn writev(&self, chunks: Vec<Bytes>, done: Done) {
        let msgs = chunks.into_iter().map(|c| self.frame(c)).collect();
        self.send(msgs, done);
    }

    fn finish(&self, done: Done) {
        let end = {
            let p = self.progress.borrow();
            Outgoing {
                headers: protocol::end_headers(
                    &self.opts.transfer,
                    p.seq,
                    p.offset,
                    p.crc.clone().finalize(),
                ),
                payload: Bytes::new(),
            }
        };
        // The end marker waits for nothing but its own acknowledgement.
        let js = self.js.clone();
        let opts = self.opts.clone();
        highwater::spawn(async move {
            let r = publish_all(&js, &opts, std::slice::from_ref(&end)).await;
            done.call(r.map_err(highwater::Error::from));
        });
    }

    fn hooks(&self) -> Hooks {
        Hooks::WRITEV | Hooks::FINAL
    }
}

/// A [`Writable`] that publishes each chunk to `opts.subject` through `js`.
///
/// A chunk's write completes when the server acknowledged it, so the
/// writable buffer (`writable_length()`, bounded by the mark of `wopts`)
/// holds exactly the bytes not yet acknowledged: those in flight and
/// those queued behind them (the queued ones go out together as the next
/// batch, Node's `_writev`). `write()` returns `false` at the mark and
/// `'drain'` comes as acknowledgements return. With
/// [`PublishOptions::backlog`], a batch waits while the receiving
/// consumer's backlog is at the bound, which fills the buffer, so
/// backpressure reaches the producer from the last consumer. Every message
/// carries `Nats-Msg-Id` = `TRANSFER.SEQ` (see [`protocol`]); a publish
/// that fails (timeout, reconnect, no leader) is retried from the first
/// unacknowledged one with the same ids until `retry_budget`, and then
/// the stream fails with [`codes::UNAVAILABLE`]. `end()` publishes the end
/// marker (length, chunk count, CRC-32) and finishes once it is
/// acknowledged.
///
/// Runs on highwater's loop inside its tokio runtime (`highwater::block_on`).
///
/// ```no_run
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::WritableOptions;
/// use highwater_nats::{publisher, PublishOptions};
///
/// highwater::block_on(async {
///     let client = async_nats::connect("127.0.0.1:4222").await.unwrap();
///     let js = async_nats::jetstream::new(client);
///     let (w, _stats) = publisher(js, WritableOptions::default().high_water_mark(1 << 20),
///                                 PublishOptions::new("files"));
///     w.write_async(Bytes::from_static(b"hello")).await?;
///     w.end_async().await
/// })
/// .unwrap();
/// ```
pub fn publisher(
    js: Context,
    wopts: WritableOptions<Bytes>,
    opts: PublishOptions,
) -> (Writable<Bytes>, PublisherStats) {
    let progress = Rc::new(RefCell::new(Progress::default()));
    let w = Writable::new(
        wopts,
        Publisher {
            js,
            opts: Rc::new(opts),
            progress: progress.clone(),
        },
    );
    (w, PublisherStats(progress))
}
