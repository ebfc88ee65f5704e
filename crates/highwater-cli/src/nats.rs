//! `highwater copy` with a `nats://HOST:PORT/STREAM[/SUBJECT]` end: a file
//! into a NATS JetStream stream, or out of one into a file, through the
//! `highwater-nats` streams and the copy engine's reports.
//!
//! * Sending creates the stream (file storage, work-queue retention) when
//!   it does not exist, publishes each chunk with its sequence, offset and
//!   `Nats-Msg-Id`, and ends with an end marker holding the length, the
//!   chunk count and a CRC-32. It exits 0 once the server acknowledged the
//!   end marker. With `--backlog N` it holds publishing while the receiving
//!   consumer has N messages not yet acknowledged.
//! * Receiving requires the stream, reads it through a durable pull
//!   consumer (`--consumer`, default `highwater`), and acknowledges each
//!   message once the file write that carried it completed. At the end it
//!   checks the length and CRC-32 of what it wrote against the end marker
//!   before it renames (`--atomic`) and acknowledges the end. A receiver
//!   killed mid-transfer and restarted resumes at the first unacknowledged
//!   chunk: the file (or `--atomic`'s `.NAME.highwater-ID.part`) keeps the
//!   bytes before it.

use std::io::Read;
use std::time::Duration;

use highwater::{Error, WritableOptions};
use highwater_nats::{
    acknowledging, connect, consumer, create_stream, open_stream, publisher, Backlog,
    ConsumerConfig, NatsError, NatsUrl, PublishOptions, StreamConfig, SubscribeOptions,
    Subscription,
};
use serde_json::json;

use crate::dest::plan_dest;
use crate::endpoint::{open_input, Endpoint};
use crate::engine::{input_stream, transfer, CopyConfig, Signals};
use crate::error::CliError;
use crate::report::Report;

/// The NATS settings of a transfer (the `NATS` options of `copy`).
#[derive(Debug, Clone)]
pub struct NatsConfig {
    /// The receiver's durable consumer.
    pub consumer: String,
    /// Sending: hold publishing while the consumer has this many messages
    /// not yet acknowledged.
    pub backlog: Option<u64>,
    /// Sending: replicas of a stream it creates.
    pub replicas: usize,
    /// Sending: the byte limit of a stream it creates.
    pub stream_max_bytes: Option<u64>,
    /// Receiving: how long a delivered message may stay unacknowledged
    /// before the server delivers it again.
    pub ack_wait: Duration,
    /// How long the server may stay unreachable before the transfer fails.
    pub retry_budget: Duration,
}

fn failed(e: NatsError) -> CliError {
    CliError::Failed(e.to_string())
}

/// Connects to the server at `url` (interruptible).
async fn connect_to(
    url: &NatsUrl,
    signals: &mut Signals,
) -> Result<async_nats::jetstream::Context, CliError> {
    tokio::select! {
        r = connect(&url.server) => r.map_err(|e| {
            CliError::Failed(format!("{e} (is nats-server running there, with -js?)"))
        }),
        _ = signals.next() => Err(CliError::Interrupted),
    }
}

/// What a stream error means here: the NATS side, or the file.
fn describe(e: &Error, file: &Endpoint, std_name: &str, nats_what: &str) -> CliError {
    if e.code().starts_with("ERR_NATS") {
        return CliError::Failed(format!("error while {nats_what}: {e} ({})", e.code()));
    }
    let side = match e.syscall() {
        Some("read") => format!("reading {}", file.show(std_name)),
        Some("write") | Some("fsync") => format!("writing {}", file.show(std_name)),
        _ => nats_what.to_string(),
    };
    CliError::Failed(format!("error while {side}: {e}"))
}

/// Sends `src` into the stream at `url`.
///
/// # Errors
///
/// One line: the server unreachable, the stream refused, the chunk size
/// above the server's limit, the file unreadable, an interruption.
pub async fn send(
    src: Endpoint,
    url: NatsUrl,
    cfg: CopyConfig,
    ncfg: NatsConfig,
) -> Result<Report, CliError> {
    let (file, size) = open_input(&src)?;
    let mut signals = Signals::new()?;
    let js = connect_to(&url, &mut signals).await?;
    let max_payload = js.client().server_info().max_payload;
    // The headers take a few hundred bytes of each message.
    if cfg.chunk_size + 1024 > max_payload {
        return Err(CliError::Usage(format!(
            "--chunk-size {} does not fit the server's max_payload of {max_payload} bytes: use a smaller one",
            cfg.chunk_size
        )));
    }
    let stream = create_stream(
        &js,
        &url.stream,
        &url.subject,
        &StreamConfig {
            replicas: ncfg.replicas,
            max_bytes: ncfg
                .stream_max_bytes
                .map_or(-1, |b| i64::try_from(b).unwrap_or(i64::MAX)),
        },
    )
    .await
    .map_err(failed)?;
    let backlog = match ncfg.backlog {
        Some(n) => Some(Backlog {
            consumer: consumer(
                &stream,
                &ConsumerConfig {
                    durable: ncfg.consumer.clone(),
                    ack_wait: ncfg.ack_wait,
                    reclaim: false,
                },
            )
            .await
            .map_err(failed)?,
            max_messages: n,
            poll: Duration::from_millis(20),
        }),
        None => None,
    };
    let mut opts = PublishOptions::new(url.subject.clone());
    opts.retry_budget = ncfg.retry_budget;
    opts.backlog = backlog;
    let transfer_id = opts.transfer.clone();
    let wopts = {
        let o = WritableOptions::default().high_water_mark(cfg.high_water_mark);
        match cfg.low_water_mark {
            Some(l) => o.low_water_mark(l),
            None => o,
        }
    };
    let (writer, stats) = publisher(js.clone(), wopts, opts);
    let reader = input_stream(file, &cfg)?;
    let what = format!("sending to {url}");
    let describe = |e: &Error| describe(e, &src, "standard input", &what);
    let mut report = transfer(
        reader,
        writer,
        size,
        &cfg,
        format!("{} to {url}", src.show("standard input")),
        &mut signals,
        &describe,
    )
    .await?;
    let counts = stats.get();
    report.nats = Some(json!({
        "stream": url.stream,
        "subject": url.subject,
        "transfer": transfer_id,
        "chunks": counts.chunks,
        "backlog_bound_messages": ncfg.backlog,
        "backlog_waits": counts.backlog_waits,
    }));
    Ok(report)
}

/// The CRC-32 of the first `len` bytes of `path`.
fn prefix_crc(path: &std::path::Path, len: u64) -> Result<u32, CliError> {
    let file = std::fs::File::open(path).map_err(|e| {
        crate::endpoint::io_context(&format!("cannot read '{}' back", path.display()), e)
    })?;
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut r = file.take(len);
    loop {
        let n = r.read(&mut buf).map_err(|e| {
            crate::endpoint::io_context(&format!("cannot read '{}' back", path.display()), e)
        })?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize())
}

/// Receives the transfer in the stream at `url` into `dst`.
///
/// # Errors
///
/// One line: the server unreachable, the stream unknown, the transfer
/// broken (a gap, another transfer, a wrong length or checksum), the file
/// unwritable, an interruption. With `--atomic` the destination is then
/// untouched.
pub async fn receive(
    url: NatsUrl,
    dst: Endpoint,
    cfg: CopyConfig,
    ncfg: NatsConfig,
) -> Result<Report, CliError> {
    let plan = plan_dest(&dst, cfg.atomic)?;
    let mut signals = Signals::new()?;
    let js = connect_to(&url, &mut signals).await?;
    let stream = open_stream(&js, &url.stream).await.map_err(failed)?;
    let consumer = consumer(
        &stream,
        &ConsumerConfig {
            durable: ncfg.consumer.clone(),
            ack_wait: ncfg.ack_wait,
            reclaim: true,
        },
    )
    .await
    .map_err(failed)?;
    let sopts = SubscribeOptions {
        high_water_mark: cfg.high_water_mark,
        retry_budget: ncfg.retry_budget,
        ..SubscribeOptions::default()
    };
    // Waits for the sender's first message: the file is created only then.
    let sub = tokio::select! {
        r = Subscription::open(consumer, sopts) => r.map_err(failed)?,
        _ = signals.next() => return Err(CliError::Interrupted),
    };
    let start = sub.start().clone();
    let id = start.transfer.clone().unwrap_or_else(|| "plain".into());
    let (mut dest, written_path) = plan.open_resumable(&dst, &cfg, &id, start.offset)?;
    let done = async {
        if start.offset > 0 {
            if let Some(p) = &written_path {
                sub.acks()
                    .set_prefix(prefix_crc(p, start.offset)?, start.offset);
            }
        }
        let inner = dest.stream_at(&cfg, (start.offset > 0).then_some(start.offset))?;
        let wopts = {
            let o = WritableOptions::default().high_water_mark(cfg.high_water_mark);
            match cfg.low_water_mark {
                Some(l) => o.low_water_mark(l),
                None => o,
            }
        };
        let writer = acknowledging(inner, sub.acks(), wopts);
        let what = format!("receiving from {url}");
        let describe = |e: &Error| describe(e, &dst, "standard output", &what);
        let mut report = transfer(
            sub.readable(),
            writer,
            None,
            &cfg,
            format!("{url} to {}", dst.show("standard output")),
            &mut signals,
            &describe,
        )
        .await?;
        let end = sub
            .acks()
            .verify()
            .map_err(|e| CliError::Failed(format!("the transfer from {url} is not whole: {e}")))?;
        dest.commit(&dst)?;
        sub.acks().finish().await.map_err(failed)?;
        report.nats = Some(json!({
            "stream": url.stream,
            "subject": url.subject,
            "transfer": start.transfer,
            "consumer": ncfg.consumer,
            "resumed_at_byte": start.offset,
            "resumed_at_chunk": start.seq,
            "chunks": end.chunks,
            "length": end.length,
            "crc32": format!("{:08x}", end.crc32),
            "verified": true,
        }));
        Ok::<_, CliError>(report)
    }
    .await;
    if let Err(e) = &done {
        // An interrupted or failed transfer keeps what it wrote for a
        // restarted receiver to resume from, except for a broken one, which
        // nothing can resume.
        if matches!(e, CliError::Failed(m) if m.contains("is not whole")) {
            dest.discard();
        }
    }
    done
}
