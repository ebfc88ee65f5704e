//! A JetStream pull consumer as a [`Readable`]: messages are pulled only
//! while the buffer is below its mark, and each is acknowledged only once
//! the downstream write that carried its last byte has completed.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::{AckKind, Message};
use bytes::Bytes;
use futures::StreamExt;
use highwater::prelude::*;
use highwater::{Done, Readable, ReadableImpl, ReadableOptions, Source};
use highwater::{Writable, WritableImpl, WritableOptions};

use crate::error::{codes, NatsError};
use crate::protocol::{decode, EndInfo, Frame};

/// When a [`Subscription`] ends (`'end'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// At highwater's end marker (see [`crate::protocol`]); messages without
    /// highwater's headers are passed through until then.
    Marker,
    /// After the message with this stream sequence (or a later one).
    Sequence(u64),
    /// When a fetch finds nothing pending.
    NoPending,
}

/// How a [`Subscription`] pulls.
#[derive(Debug, Clone)]
pub struct SubscribeOptions {
    /// The readable buffer's mark in bytes: a fetch asks for at most the
    /// free space below it, in messages of the largest size seen (at least
    /// one).
    pub high_water_mark: usize,
    /// The end condition.
    pub end: End,
    /// How long one pull request waits on the server for messages.
    pub expires: Duration,
    /// How long fetching may keep failing before the stream fails with
    /// [`codes::UNAVAILABLE`].
    pub retry_budget: Duration,
}

impl Default for SubscribeOptions {
    /// A 1 MiB mark, the end marker, 1 s pull requests, a 60 s retry budget.
    ///
    /// ```
    /// let o = highwater_nats::SubscribeOptions::default();
    /// assert_eq!(o.high_water_mark, 1 << 20);
    /// ```
    fn default() -> Self {
        SubscribeOptions {
            high_water_mark: 1 << 20,
            end: End::Marker,
            expires: Duration::from_secs(1),
            retry_budget: Duration::from_secs(60),
        }
    }
}

/// Where the data of a subscription starts: the first message it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    /// The transfer's id, if the messages carry highwater's framing.
    pub transfer: Option<String>,
    /// The first chunk's sequence (0 for a transfer seen from its start).
    pub seq: u64,
    /// The first chunk's offset: the bytes acknowledged by an earlier
    /// receiver, which a resuming receiver must already have.
    pub offset: u64,
}

/// The acknowledgements of a subscription, driven by the downstream
/// writes: see [`Acks::written`] and [`acknowledging`].
#[derive(Debug, Clone)]
pub struct Acks(Rc<RefCell<AckState>>);

#[derive(Debug)]
struct AckState {
    /// Messages waiting for the written count to reach their end.
    queue: VecDeque<(u64, Message)>,
    written: u64,
    crc: crc32fast::Hasher,
    prefix: u64,
    end: Option<(EndInfo, Message)>,
    acked: u64,
}

impl Acks {
    fn new() -> Self {
        Acks(Rc::new(RefCell::new(AckState {
            queue: VecDeque::new(),
            written: 0,
            crc: crc32fast::Hasher::new(),
            prefix: 0,
            end: None,
            acked: 0,
        })))
    }

    /// Says that `chunk` (the next bytes of the subscription's data) has
    /// been written downstream: every message whose last byte is now
    /// written is acknowledged. The bytes also go into the running CRC-32
    /// that [`Acks::verify`] checks.
    ///
    /// ```no_run
    /// # async fn f(sub: highwater_nats::Subscription) {
    /// // In a destination's write callback:
    /// sub.acks().written(b"the bytes just written");
    /// # }
    /// ```
    pub fn written(&self, chunk: &[u8]) {
        let due: Vec<Message> = {
            let mut s = self.0.borrow_mut();
            s.written += chunk.len() as u64;
            s.crc.update(chunk);
            let mut due = Vec::new();
            while s.queue.front().is_some_and(|(end, _)| *end <= s.written) {
                if let Some((_, m)) = s.queue.pop_front() {
                    due.push(m);
                }
            }
            s.acked += due.len() as u64;
            due
        };
        if !due.is_empty() {
            highwater::spawn(async move {
                for m in due {
                    // Lost acknowledgements mean redeliveries, which the
                    // sequence numbers turn into skipped duplicates.
                    let _ = m.ack().await;
                }
            });
        }
    }

    /// A message to acknowledge once `end` bytes are written.
    fn after(&self, end: u64, m: Message) {
        let mut s = self.0.borrow_mut();
        if end <= s.written && s.queue.is_empty() {
            drop(s);
            highwater::spawn(async move {
                let _ = m.ack().await;
            });
        } else {
            s.queue.push_back((end, m));
        }
    }

    /// For a receiver that resumes: the CRC-32 and length of the bytes it
    /// already has (the data before [`Start::offset`]), so that
    /// [`Acks::verify`] checks the whole.
    ///
    /// ```no_run
    /// # fn f(sub: highwater_nats::Subscription, have: &[u8]) {
    /// sub.acks().set_prefix(crc32fast::hash(have), have.len() as u64);
    /// # }
    /// ```
    pub fn set_prefix(&self, crc32: u32, len: u64) {
        let mut s = self.0.borrow_mut();
        s.crc = crc32fast::Hasher::new_with_initial_len(crc32, len);
        s.prefix = len;
    }

    /// How many messages were acknowledged so far.
    ///
    /// ```no_run
    /// # fn f(sub: highwater_nats::Subscription) {
    /// println!("{} acknowledged", sub.acks().acknowledged());
    /// # }
    /// ```
    pub fn acknowledged(&self) -> u64 {
        self.0.borrow().acked
    }

    /// What the end marker said, once it came.
    ///
    /// ```no_run
    /// # fn f(sub: highwater_nats::Subscription) {
    /// if let Some(end) = sub.acks().end_info() { println!("{} bytes", end.length); }
    /// # }
    /// ```
    pub fn end_info(&self) -> Option<EndInfo> {
        self.0.borrow().end.as_ref().map(|(i, _)| *i)
    }

    /// Checks that the bytes written (after the prefix) are the whole
    /// transfer: the length and the CRC-32 of the end marker.
    ///
    /// # Errors
    ///
    /// [`codes::PROTOCOL`]: no end marker, or a length or checksum that
    /// differs.
    ///
    /// ```no_run
    /// # fn f(sub: highwater_nats::Subscription) -> Result<(), highwater_nats::NatsError> {
    /// let end = sub.acks().verify()?;
    /// println!("{} bytes, CRC-32 {:08x}: complete", end.length, end.crc32);
    /// # Ok(()) }
    /// ```
    pub fn verify(&self) -> Result<EndInfo, NatsError> {
        let s = self.0.borrow();
        let Some((end, _)) = &s.end else {
            return Err(NatsError::new(
                codes::PROTOCOL,
                "the transfer ended without its end marker",
            ));
        };
        let total = s.prefix + s.written;
        if total != end.length {
            return Err(NatsError::new(
                codes::PROTOCOL,
                format!(
                    "{total} bytes written, but the sender sent {}: the copy is incomplete",
                    end.length
                ),
            ));
        }
        let crc = s.crc.clone().finalize();
        if crc != end.crc32 {
            return Err(NatsError::new(
                codes::PROTOCOL,
                format!(
                    "the CRC-32 of the bytes written is {crc:08x}, the sender's {:08x}: the copy is corrupt",
                    end.crc32
                ),
            ));
        }
        Ok(*end)
    }

    /// Acknowledges the end marker and waits for the server to confirm it
    /// (a double acknowledgement): after this the transfer is consumed.
    /// Call it once the data is safe (written, synced, renamed).
    ///
    /// # Errors
    ///
    /// [`codes::UNAVAILABLE`]: the server did not confirm.
    ///
    /// ```no_run
    /// # async fn f(sub: highwater_nats::Subscription) -> Result<(), highwater_nats::NatsError> {
    /// sub.acks().finish().await
    /// # }
    /// ```
    pub async fn finish(&self) -> Result<(), NatsError> {
        let (rest, end) = {
            let mut s = self.0.borrow_mut();
            let rest: Vec<Message> = s.queue.drain(..).map(|(_, m)| m).collect();
            (rest, s.end.as_ref().map(|(_, m)| m.clone()))
        };
        for m in rest {
            let _ = m.ack().await;
        }
        if let Some(m) = end {
            m.double_ack().await.map_err(|e| {
                NatsError::from_source(
                    codes::UNAVAILABLE,
                    "the server did not confirm the end of the transfer",
                    &*e,
                )
            })?;
        }
        Ok(())
    }
}

/// A consumer read as a byte [`Readable`], with its [`Acks`].
#[derive(Debug, Clone)]
pub struct Subscription {
    readable: Readable<Bytes>,
    acks: Acks,
    start: Start,
}

struct Puller {
    consumer: PullConsumer,
    opts: SubscribeOptions,
    acks: Acks,
    /// The stream itself, to push into and to measure the free space; taken
    /// out at the end (it holds this puller: the cycle ends there).
    readable: RefCell<Option<Readable<Bytes>>>,
    state: RefCell<Decoder>,
    /// How many times a message that came early is put back before the
    /// one missing before it is declared lost: long enough for a message
    /// held by a receiver that died to be delivered again (twice `ack_wait`
    /// and 5 s).
    max_early: i64,
}

#[derive(Debug)]
struct Decoder {
    pending: VecDeque<Message>,
    transfer: Option<String>,
    next_seq: u64,
    next_offset: u64,
    start_offset: u64,
    largest: usize,
    fetching: bool,
    ended: bool,
}

/// What one message did.
enum Step {
    Pushed,
    Skipped,
    Ended,
}

/// How long a message that came before its turn is put back for.
const EARLY_DELAY: Duration = Duration::from_millis(100);

impl Puller {
    fn protocol(msg: String) -> NatsError {
        NatsError::new(codes::PROTOCOL, msg)
    }

    fn push(&self, data: Bytes) {
        if let Some(r) = self.readable.borrow().as_ref() {
            r.push(data);
        }
    }

    fn push_eof(&self) {
        self.state.borrow_mut().ended = true;
        if let Some(r) = self.readable.borrow_mut().take() {
            r.push_eof();
        }
    }

    fn fail(&self, e: NatsError) {
        self.state.borrow_mut().ended = true;
        if let Some(r) = self.readable.borrow_mut().take() {
            r.destroy(Some(e.into()));
        }
    }

    /// A message that came before its turn: put back for later.
    fn early(&self, m: Message, seq: u64, expected: u64) -> Result<Step, NatsError> {
        let delivered = m.info().map(|i| i.delivered).unwrap_or(1);
        if delivered >= self.max_early {
            return Err(Self::protocol(format!(
                "chunk {expected} is missing: chunk {seq} came {delivered} times before it"
            )));
        }
        highwater::spawn(async move {
            let _ = m.ack_with(AckKind::Nak(Some(EARLY_DELAY))).await;
        });
        Ok(Step::Skipped)
    }

    fn handle(&self, m: Message) -> Result<Step, NatsError> {
        let frame = decode(m.headers.as_ref())
            .map_err(|why| Self::protocol(format!("a message is not highwater's: {why}")))?;
        let stream_seq = m.info().map(|i| i.stream_sequence).unwrap_or(0);
        let mut st = self.state.borrow_mut();
        st.largest = st.largest.max(m.payload.len());
        let step = match frame {
            Frame::Plain => {
                let data = m.payload.clone();
                st.next_offset += data.len() as u64;
                let end = st.next_offset - st.start_offset;
                drop(st);
                self.acks.after(end, m);
                self.push(data);
                Step::Pushed
            }
            Frame::Chunk {
                transfer,
                seq,
                offset,
            } => {
                if let Some(t) = &st.transfer {
                    if *t != transfer {
                        return Err(Self::protocol(format!(
                            "a message of another transfer ({transfer}) came during transfer {t}: \
                             the stream holds an unfinished transfer (purge it, or use another stream)"
                        )));
                    }
                }
                let len = m.payload.len() as u64;
                if seq < st.next_seq {
                    // A duplicate (redelivered, or a publish stored twice):
                    // acknowledged once its original is written.
                    let end = (offset + len).saturating_sub(st.start_offset);
                    drop(st);
                    self.acks.after(end, m);
                    return Ok(Step::Skipped);
                }
                if seq > st.next_seq {
                    let expected = st.next_seq;
                    drop(st);
                    return self.early(m, seq, expected);
                }
                if offset != st.next_offset {
                    return Err(Self::protocol(format!(
                        "chunk {seq} starts at byte {offset}, but the bytes before it end at {}",
                        st.next_offset
                    )));
                }
                st.next_seq += 1;
                st.next_offset += len;
                let end = st.next_offset - st.start_offset;
                let data = m.payload.clone();
                drop(st);
                self.acks.after(end, m);
                self.push(data);
                Step::Pushed
            }
            Frame::End { transfer, summary } => {
                if let Some(t) = &st.transfer {
                    if *t != transfer {
                        return Err(Self::protocol(format!(
                            "the end of another transfer ({transfer}) came during transfer {t}"
                        )));
                    }
                }
                if summary.chunks > st.next_seq {
                    let expected = st.next_seq;
                    drop(st);
                    return self.early(m, summary.chunks, expected);
                }
                if summary.chunks < st.next_seq || summary.length != st.next_offset {
                    return Err(Self::protocol(format!(
                        "the end marker says {} chunks and {} bytes, but {} chunks and {} bytes came",
                        summary.chunks, summary.length, st.next_seq, st.next_offset
                    )));
                }
                drop(st);
                self.acks.0.borrow_mut().end = Some((summary, m));
                Step::Ended
            }
        };
        if matches!(step, Step::Pushed) {
            if let End::Sequence(s) = self.opts.end {
                if stream_seq >= s {
                    return Ok(Step::Ended);
                }
            }
        }
        Ok(step)
    }

    /// Free space below the mark, in messages of the largest size seen.
    fn credit(&self) -> usize {
        let length = self
            .readable
            .borrow()
            .as_ref()
            .map_or(0, |r| r.readable_length());
        let free = self.opts.high_water_mark.saturating_sub(length);
        let largest = self.state.borrow().largest.max(1);
        (free / largest).max(1)
    }

    /// Pulls until something was pushed (or the end, or a failure).
    async fn pull(self: Rc<Self>) {
        let mut failing_since: Option<Instant> = None;
        loop {
            // What was fetched before (the first message) goes first.
            let queued = self.state.borrow_mut().pending.pop_front();
            if let Some(m) = queued {
                match self.handle(m) {
                    Ok(Step::Pushed) => break,
                    Ok(Step::Skipped) => continue,
                    Ok(Step::Ended) => {
                        self.push_eof();
                        break;
                    }
                    Err(e) => {
                        self.fail(e);
                        break;
                    }
                }
            }
            if self.state.borrow().ended || self.readable.borrow().is_none() {
                break;
            }
            let n = self.credit();
            let got = fetch(&self.consumer, n, &self.opts).await;
            match got {
                Ok(msgs) => {
                    failing_since = None;
                    if msgs.is_empty() && self.opts.end == End::NoPending {
                        self.push_eof();
                        break;
                    }
                    self.state.borrow_mut().pending.extend(msgs);
                }
                Err(e) => {
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= self.opts.retry_budget {
                        self.fail(NatsError::new(
                            codes::UNAVAILABLE,
                            format!(
                                "fetching failed for {:?} (the retry budget): {}",
                                self.opts.retry_budget,
                                e.message()
                            ),
                        ));
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        // Anything else fetched stays queued for the next read.
        self.state.borrow_mut().fetching = false;
    }
}

/// Up to `n` messages: first what is there now (a pull request that does
/// not wait); when nothing is, one pull request that waits up to
/// `opts.expires` for the next message (unless the end is "nothing
/// pending", which an empty answer is).
async fn fetch(
    consumer: &PullConsumer,
    n: usize,
    opts: &SubscribeOptions,
) -> Result<Vec<Message>, NatsError> {
    let now = pull_once(consumer, n, None).await?;
    if !now.is_empty() || opts.end == End::NoPending {
        return Ok(now);
    }
    pull_once(consumer, 1, Some(opts.expires)).await
}

/// One pull request: `expires` None asks for what is there now.
async fn pull_once(
    consumer: &PullConsumer,
    n: usize,
    expires: Option<Duration>,
) -> Result<Vec<Message>, NatsError> {
    let failed = |e: &(dyn std::error::Error + 'static)| {
        NatsError::from_source(codes::UNAVAILABLE, "fetching messages", e)
    };
    // A request sent while the connection is down (the server restarting)
    // gets no answer: every pull request expires on the server, and is
    // abandoned here a little after that.
    let wait = expires.unwrap_or(PULL_TIMEOUT);
    let pull = async {
        let mut batch = match expires {
            None => {
                consumer
                    .fetch()
                    .max_messages(n)
                    .expires(PULL_TIMEOUT)
                    .messages()
                    .await
            }
            Some(t) => consumer.batch().max_messages(n).expires(t).messages().await,
        }
        .map_err(|e| failed(&e))?;
        let mut out = Vec::with_capacity(n);
        while let Some(m) = batch.next().await {
            match m {
                Ok(m) => out.push(m),
                // Messages already here count; the failure shows next time.
                Err(e) if out.is_empty() => return Err(failed(&*e)),
                Err(_) => break,
            }
        }
        Ok(out)
    };
    match tokio::time::timeout(wait + Duration::from_secs(1), pull).await {
        Ok(r) => r,
        Err(_) => Err(NatsError::new(
            codes::UNAVAILABLE,
            "fetching messages: no answer from the server",
        )),
    }
}

/// How long a pull request that asks for what is there now may wait for
/// its answer.
const PULL_TIMEOUT: Duration = Duration::from_secs(2);

/// A shared handle, so the readable's hook can start a pull task.
struct Hook(Rc<Puller>);

impl ReadableImpl<Bytes> for Hook {
    fn read(&self, _size: usize, _src: &Source<Bytes>) {
        let p = &self.0;
        {
            let mut st = p.state.borrow_mut();
            if st.fetching || st.ended {
                return;
            }
            st.fetching = true;
        }
        highwater::spawn(p.clone().pull());
    }

    fn destroy(&self, err: Option<highwater::Error>, done: Done) {
        self.0.state.borrow_mut().ended = true;
        self.0.readable.borrow_mut().take();
        done.call(err.map_or(Ok(()), Err));
    }
}

impl Subscription {
    /// Opens a subscription on `consumer` (a durable pull consumer with
    /// explicit acknowledgement): waits for its first message, which says
    /// where the data starts ([`Subscription::start`]), and makes the
    /// readable. Nothing is acknowledged until [`Acks::written`] says so.
    ///
    /// # Errors
    ///
    /// [`codes::UNAVAILABLE`] when fetching fails past the retry budget;
    /// [`codes::PROTOCOL`] for a first message that is not highwater's.
    ///
    /// ```no_run
    /// use highwater_nats::{SubscribeOptions, Subscription};
    /// # async fn f(consumer: async_nats::jetstream::consumer::PullConsumer) -> Result<(), highwater_nats::NatsError> {
    /// let sub = Subscription::open(consumer, SubscribeOptions::default()).await?;
    /// println!("starting at byte {}", sub.start().offset);
    /// # Ok(()) }
    /// ```
    pub async fn open(
        consumer: PullConsumer,
        opts: SubscribeOptions,
    ) -> Result<Subscription, NatsError> {
        let mut failing_since: Option<Instant> = None;
        let first = loop {
            match fetch(&consumer, 1, &opts).await {
                Ok(mut msgs) => match msgs.pop() {
                    Some(m) => break Some(m),
                    None if opts.end == End::NoPending => break None,
                    None => failing_since = None,
                },
                Err(e) => {
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= opts.retry_budget {
                        return Err(e);
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        let (start, pending, ended) = match first {
            None => (
                Start {
                    transfer: None,
                    seq: 0,
                    offset: 0,
                },
                VecDeque::new(),
                true,
            ),
            Some(m) => {
                let start = match decode(m.headers.as_ref()).map_err(|why| {
                    Puller::protocol(format!("a message is not highwater's: {why}"))
                })? {
                    Frame::Plain => Start {
                        transfer: None,
                        seq: 0,
                        offset: 0,
                    },
                    Frame::Chunk {
                        transfer,
                        seq,
                        offset,
                    } => Start {
                        transfer: Some(transfer),
                        seq,
                        offset,
                    },
                    Frame::End { transfer, summary } => Start {
                        transfer: Some(transfer),
                        seq: summary.chunks,
                        offset: summary.length,
                    },
                };
                (start, VecDeque::from([m]), false)
            }
        };
        let acks = Acks::new();
        let ack_wait = consumer.cached_info().config.ack_wait;
        let patience = ack_wait * 2 + Duration::from_secs(5);
        let max_early = (patience.as_millis() / EARLY_DELAY.as_millis()).max(1) as i64;
        let puller = Rc::new(Puller {
            max_early,
            consumer,
            opts: opts.clone(),
            acks: acks.clone(),
            readable: RefCell::new(None),
            state: RefCell::new(Decoder {
                pending,
                transfer: start.transfer.clone(),
                next_seq: start.seq,
                next_offset: start.offset,
                start_offset: start.offset,
                largest: 0,
                fetching: false,
                ended,
            }),
        });
        let readable = Readable::new(
            ReadableOptions::default().high_water_mark(opts.high_water_mark),
            Hook(puller.clone()),
        );
        if ended {
            readable.push_eof();
        } else {
            *puller.readable.borrow_mut() = Some(readable.clone());
        }
        Ok(Subscription {
            readable,
            acks,
            start,
        })
    }

    /// The data, as a byte stream.
    ///
    /// ```no_run
    /// # fn f(sub: highwater_nats::Subscription) {
    /// let r: highwater::Readable<bytes::Bytes> = sub.readable();
    /// # }
    /// ```
    pub fn readable(&self) -> Readable<Bytes> {
        self.readable.clone()
    }

    /// The acknowledgements, driven by the downstream writes.
    ///
    /// ```no_run
    /// # fn f(sub: highwater_nats::Subscription) {
    /// let acks = sub.acks();
    /// # }
    /// ```
    pub fn acks(&self) -> Acks {
        self.acks.clone()
    }

    /// Where the data starts.
    ///
    /// ```no_run
    /// # fn f(sub: highwater_nats::Subscription) {
    /// assert_eq!(sub.start().seq, 0, "not a resumed transfer");
    /// # }
    /// ```
    pub fn start(&self) -> &Start {
        &self.start
    }
}

struct Acknowledging<W> {
    inner: W,
    acks: Acks,
}

impl<W: WritableSide<Bytes> + 'static> WritableImpl<Bytes> for Acknowledging<W> {
    fn write(&self, chunk: Bytes, done: Done) {
        let acks = self.acks.clone();
        let data = chunk.clone();
        // The return value is the inner buffer level; this stream has its own mark.
        let _ = self.inner.write_cb(chunk, move |r: highwater::Result<()>| {
            if r.is_ok() {
                acks.written(&data);
            }
            done.call(r);
        });
    }

    fn finish(&self, done: Done) {
        self.inner.end_with(
            None,
            Some((move |r: highwater::Result<()>| done.call(r)).into()),
        );
    }

    fn destroy(&self, err: Option<highwater::Error>, done: Done) {
        if !self.inner.destroyed() {
            self.inner.destroy(err.clone());
        }
        done.call(err.map_or(Ok(()), Err));
    }

    fn hooks(&self) -> highwater::Hooks {
        highwater::Hooks::FINAL
    }
}

/// A destination that acknowledges the messages it carries: it writes each
/// chunk into `inner` (one at a time) and, once that write's callback says
/// it completed, tells `acks` ([`Acks::written`]), so a message is
/// acknowledged only when its bytes are where the pipeline put them. Its
/// own buffer (bounded by the mark of `wopts`) is the pipeline's write
/// buffer; `inner` holds at most the chunk being written.
///
/// ```no_run
/// use highwater::WritableOptions;
/// use highwater_nats::{acknowledging, Subscription};
/// # fn f(sub: Subscription, file: highwater::fs::WriteStream) {
/// let dest = acknowledging(file, sub.acks(), WritableOptions::default());
/// sub.readable().pipe(&dest);
/// # }
/// # use highwater::prelude::*;
/// ```
pub fn acknowledging<W: WritableSide<Bytes> + 'static>(
    inner: W,
    acks: Acks,
    wopts: WritableOptions<Bytes>,
) -> Writable<Bytes> {
    // The inner stream's failure reaches the caller through the write
    // callbacks; its 'error' event has nobody else to tell.
    inner.on_error(|_| {});
    Writable::new(wopts, Acknowledging { inner, acks })
}
