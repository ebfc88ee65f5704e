//! The streams against a real `nats-server` (started here on a free
//! loopback port with its own store, killed at the end): the publisher's
//! buffer is what awaits acknowledgement, a fetch asks for no more than the
//! free space, the backlog bound holds the publisher, and errors have codes.
//!
//! Skipped (with a line saying so) where `nats-server` is not installed,
//! unless `HIGHWATER_REQUIRE_NATS=1`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use highwater::prelude::*;
use highwater::WritableOptions;
use highwater_nats::{
    codes, connect, consumer, create_stream, open_stream, publisher, Backlog, ConsumerConfig, End,
    PublishOptions, StreamConfig, SubscribeOptions, Subscription,
};

const KIB: usize = 1024;

fn nats_server_bin() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var("HIGHWATER_REQUIRE_NATS").as_deref() != Ok("1"),
            "nats-server is not installed, and HIGHWATER_REQUIRE_NATS=1 requires it"
        );
        eprintln!("skipped: nats-server is not installed");
    }
    found
}

/// A JetStream server on a free loopback port; killed on drop.
struct Server {
    child: Child,
    addr: String,
    dir: PathBuf,
}

impl Server {
    fn start(tag: &str, extra: &[&str]) -> Option<Server> {
        let exe = nats_server_bin()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let dir = std::env::temp_dir().join(format!("highwater-nats-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let log = dir.join("log");
        let file = std::fs::File::create(&log).expect("log");
        let child = Command::new(exe)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir.join("store"))
            .args(extra)
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .stdin(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        // The guard first: a server that never gets ready is killed too.
        let server = Server {
            child,
            addr: format!("127.0.0.1:{port}"),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Server is ready")) {
            assert!(Instant::now() < deadline, "the server never got ready");
            std::thread::sleep(Duration::from_millis(5));
        }
        Some(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `cond` until it holds (a readiness signal observed through the
/// server or a stream), failing after 30 s.
async fn until(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn write_returns_false_at_the_mark_of_unacknowledged_bytes_and_drains() {
    let Some(server) = Server::start("mark", &[]) else {
        return;
    };
    let addr = server.addr.clone();
    highwater::block_on(async move {
        let js = connect(&addr).await.expect("connect");
        let mut stream = create_stream(&js, "m", "m", &StreamConfig::default())
            .await
            .expect("stream");
        let mark = 4 * 64 * KIB;
        let (w, stats) = publisher(
            js.clone(),
            WritableOptions::default().high_water_mark(mark),
            PublishOptions::new("m"),
        );
        let chunk = Bytes::from(vec![7u8; 64 * KIB]);
        // Synchronous writes: nothing is acknowledged in between, so the
        // fourth write reaches the mark.
        let returns: Vec<bool> = (0..4).map(|_| w.write(chunk.clone())).collect();
        assert_eq!(returns, [true, true, true, false]);
        assert_eq!(w.writable_length(), mark);
        w.drained()
            .await
            .expect("'drain' as the acknowledgements return");
        assert_eq!(w.writable_length(), 0);
        w.end_async().await.expect("end");
        assert_eq!(stats.get().chunks, 4);
        // Four chunks and the end marker, each stored once.
        assert_eq!(stream.info().await.expect("info").state.messages, 5);
    });
}

#[test]
fn a_fetch_asks_for_no_more_than_the_free_space_and_acks_follow_the_writes() {
    let Some(server) = Server::start("credit", &[]) else {
        return;
    };
    let addr = server.addr.clone();
    highwater::block_on(async move {
        let js = connect(&addr).await.expect("connect");
        let stream = create_stream(&js, "c", "c", &StreamConfig::default())
            .await
            .expect("stream");
        for i in 0..64u8 {
            js.publish("c", Bytes::from(vec![i; 64 * KIB]))
                .await
                .expect("publish")
                .await
                .expect("ack");
        }
        let c = consumer(&stream, &ConsumerConfig::default())
            .await
            .expect("consumer");
        let hwm = 256 * KIB;
        let sub = Subscription::open(
            c.clone(),
            SubscribeOptions {
                high_water_mark: hwm,
                end: End::NoPending,
                ..SubscribeOptions::default()
            },
        )
        .await
        .expect("open");
        let r = sub.readable();
        // Start pulling, then read nothing: the buffer fills to the mark.
        assert!(r.read(Some(0)).is_none());
        until("the buffer at the mark", async || {
            r.readable_length() >= hwm
        })
        .await;
        let info = c.get_info().await.expect("info");
        // Delivered: what the buffer holds (at most the mark, and one more
        // message than the first fetch's credit of one) and nothing else.
        assert!(
            r.readable_length() <= hwm + 64 * KIB,
            "{}",
            r.readable_length()
        );
        assert!(
            info.num_ack_pending <= 5,
            "{} delivered",
            info.num_ack_pending
        );
        // Nothing written downstream: nothing acknowledged.
        assert_eq!(info.ack_floor.stream_sequence, 0);
        // Read it all, saying each chunk was written: all acknowledged.
        let mut got = 0u64;
        let acks = sub.acks();
        let mut items = r.stream();
        while let Some(chunk) = items.next().await {
            let chunk = chunk.expect("chunk");
            assert_eq!(chunk[0] as u64, got / (64 * KIB as u64), "in order");
            got += chunk.len() as u64;
            acks.written(&chunk);
        }
        assert_eq!(got, 64 * 64 * KIB as u64);
        until("every message acknowledged", async || {
            c.get_info()
                .await
                .is_ok_and(|i| i.num_ack_pending == 0 && i.num_pending == 0)
        })
        .await;
        assert_eq!(acks.acknowledged(), 64);
    });
}

#[test]
fn the_backlog_bound_holds_the_publisher_until_the_receiver_catches_up() {
    let Some(server) = Server::start("backlog", &[]) else {
        return;
    };
    let addr = server.addr.clone();
    highwater::block_on(async move {
        let js = connect(&addr).await.expect("connect");
        let mut stream = create_stream(&js, "b", "b", &StreamConfig::default())
            .await
            .expect("stream");
        let c = consumer(&stream, &ConsumerConfig::default())
            .await
            .expect("consumer");
        let bound = 4;
        let mut opts = PublishOptions::new("b");
        opts.backlog = Some(Backlog {
            consumer: c.clone(),
            max_messages: bound,
            poll: Duration::from_millis(10),
        });
        let mark = 2 * 64 * KIB;
        let (w, stats) = publisher(
            js.clone(),
            WritableOptions::default().high_water_mark(mark),
            opts,
        );
        let chunks = 32;
        let writer = {
            let w = w.clone();
            highwater::spawn(async move {
                for i in 0..chunks {
                    w.write_async(Bytes::from(vec![i as u8; 64 * KIB])).await?;
                }
                w.end_async().await
            })
        };
        until("the publisher waits on the bound", async || {
            stats.get().backlog_waits > 0
        })
        .await;
        // Held: the buffer is at the mark (write() said false), and the
        // stream holds the bound plus at most one batch.
        assert!(w.writable_need_drain());
        let held = stream.info().await.expect("info").state.messages;
        assert!(
            held <= bound + 2,
            "{held} messages, over the bound {bound} + a batch"
        );
        // The receiver catches up: the publisher goes on, to the end.
        let sub = Subscription::open(c, SubscribeOptions::default())
            .await
            .expect("open");
        let acks = sub.acks();
        let mut items = sub.readable().stream();
        let mut got = 0;
        while let Some(chunk) = items.next().await {
            let chunk = chunk.expect("chunk");
            got += chunk.len();
            acks.written(&chunk);
        }
        assert_eq!(got, chunks * 64 * KIB);
        let end = acks.verify().expect("whole");
        assert_eq!(end.chunks, chunks as u64);
        acks.finish().await.expect("finish");
        writer.await.expect("the publisher finished");
    });
}

#[test]
fn errors_have_codes() {
    highwater::block_on(async {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let e = connect(&format!("127.0.0.1:{port}")).await.unwrap_err();
        assert_eq!(e.code(), codes::CONNECT, "{e}");
    });
    let Some(server) = Server::start("errors", &[]) else {
        return;
    };
    let addr = server.addr.clone();
    highwater::block_on(async move {
        let js = connect(&addr).await.expect("connect");
        let e = open_stream(&js, "nope").await.unwrap_err();
        assert_eq!(e.code(), codes::NO_STREAM, "{e}");
        let e: highwater::Error = e.into();
        assert_eq!(e.code(), "ERR_NATS_NO_STREAM");
    });
}

#[test]
fn a_server_that_wants_credentials_is_not_authorized() {
    let Some(server) = Server::start("auth", &["--user", "hw", "--pass", "secret"]) else {
        return;
    };
    let addr = server.addr.clone();
    highwater::block_on(async move {
        let e = connect(&addr).await.unwrap_err();
        assert_eq!(e.code(), codes::NOT_AUTHORIZED, "{e}");
    });
}
