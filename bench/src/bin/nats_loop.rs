//! The plain `async-nats` loop that `highwater copy FILE nats://…` and back
//! is measured against: the same chunk size and the same windows, nothing
//! else.
//!
//! ```text
//! nats_loop pub HOST:PORT STREAM FILE CHUNK INFLIGHT   # read FILE in CHUNK bytes, publish with INFLIGHT acks outstanding
//! nats_loop sub HOST:PORT STREAM FILE BATCH            # fetch BATCH messages at a time, write them, ack each
//! ```
//!
//! `pub` creates the stream (file storage, work-queue retention, subject =
//! STREAM) and ends with an empty message; `sub` stops at it. No framing,
//! no checksum, no retries: the floor a transfer through JetStream cannot
//! go under on this machine.

use std::future::IntoFuture;
use std::io::{Read, Write};
use std::time::Instant;

use async_nats::jetstream::{self, consumer::pull, stream};
use futures::StreamExt;

type Res<T> = Result<T, async_nats::Error>;

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: nats_loop pub|sub HOST:PORT STREAM FILE CHUNK_OR_BATCH [INFLIGHT]";
    if args.len() < 6 {
        return Err(usage.into());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let n: usize = args[5].parse()?;
    rt.block_on(async {
        let client = async_nats::connect(&args[2]).await?;
        let js = jetstream::new(client);
        let start = Instant::now();
        let bytes = match args[1].as_str() {
            "pub" => {
                let inflight: usize = args.get(6).ok_or(usage)?.parse()?;
                publish(&js, &args[3], &args[4], n, inflight).await?
            }
            "sub" => subscribe(&js, &args[3], &args[4], n).await?,
            _ => return Err(usage.into()),
        };
        let s = start.elapsed().as_secs_f64();
        eprintln!(
            "{} {bytes} bytes in {s:.3} s: {:.0} MB/s",
            args[1],
            bytes as f64 / s / 1e6
        );
        Ok(())
    })
}

async fn publish(
    js: &jetstream::Context,
    name: &str,
    path: &str,
    chunk: usize,
    inflight: usize,
) -> Res<u64> {
    js.get_or_create_stream(stream::Config {
        name: name.into(),
        subjects: vec![name.into()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::WorkQueue,
        ..Default::default()
    })
    .await?;
    let mut file = std::fs::File::open(path)?;
    let mut acks = futures::stream::FuturesOrdered::new();
    let mut total = 0u64;
    loop {
        let mut buf = vec![0u8; chunk];
        let mut n = 0;
        while n < chunk {
            let k = file.read(&mut buf[n..])?;
            if k == 0 {
                break;
            }
            n += k;
        }
        if acks.len() >= inflight {
            if let Some(r) = acks.next().await {
                r?;
            }
        }
        buf.truncate(n);
        let last = n == 0;
        total += n as u64;
        acks.push_back(
            js.publish(name.to_string(), buf.into())
                .await?
                .into_future(),
        );
        if last {
            break;
        }
    }
    while let Some(r) = acks.next().await {
        r?;
    }
    Ok(total)
}

async fn subscribe(js: &jetstream::Context, name: &str, path: &str, batch: usize) -> Res<u64> {
    let stream = js.get_stream(name).await?;
    let consumer: jetstream::consumer::PullConsumer = stream
        .get_or_create_consumer(
            "loop",
            pull::Config {
                durable_name: Some("loop".into()),
                ..Default::default()
            },
        )
        .await?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut total = 0u64;
    loop {
        let mut msgs = consumer
            .batch()
            .max_messages(batch)
            .expires(std::time::Duration::from_secs(1))
            .messages()
            .await?;
        while let Some(m) = msgs.next().await {
            let m = m?;
            if m.payload.is_empty() {
                // Confirmed by the server, so that no acknowledgement is
                // lost at exit (a lost one is a redelivery in the next run).
                m.double_ack().await?;
                out.flush()?;
                return Ok(total);
            }
            out.write_all(&m.payload)?;
            total += m.payload.len() as u64;
            m.ack().await?;
        }
    }
}
