//! Connecting, and the stream and consumer a transfer uses: the sender
//! creates the stream (file storage, work-queue retention) when it does not
//! exist; the receiver requires it, and uses a durable pull consumer with
//! explicit acknowledgement.

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::stream::{
    DiscardPolicy, RetentionPolicy, StorageType, Stream as JsStream,
};
use async_nats::jetstream::{self, Context};

use crate::error::{codes, NatsError};

/// Connects to the server at `server` (`HOST:PORT`) and returns its
/// JetStream context. The client reconnects by itself after this; the
/// streams retry within their budgets.
///
/// # Errors
///
/// [`codes::CONNECT`] (nothing listens there, or it does not answer as NATS),
/// [`codes::NOT_AUTHORIZED`].
///
/// ```no_run
/// # async fn f() -> Result<(), highwater_nats::NatsError> {
/// let js = highwater_nats::connect("127.0.0.1:4222").await?;
/// # Ok(()) }
/// ```
pub async fn connect(server: &str) -> Result<Context, NatsError> {
    let client = async_nats::ConnectOptions::new()
        .name("highwater")
        .connection_timeout(Duration::from_secs(5))
        .connect(server)
        .await
        .map_err(|e| {
            let code = match e.kind() {
                async_nats::ConnectErrorKind::AuthorizationViolation
                | async_nats::ConnectErrorKind::Authentication => codes::NOT_AUTHORIZED,
                _ => codes::CONNECT,
            };
            NatsError::from_source(code, &format!("cannot connect to {server}"), &e)
        })?;
    Ok(jetstream::new(client))
}

/// The stream a sender creates when it does not exist.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// Replicas (1 on a single server, up to 5 in a cluster).
    pub replicas: usize,
    /// The most bytes the stream holds (`-1`: no limit); a publish into a
    /// full stream is refused (`discard: new`).
    pub max_bytes: i64,
}

impl Default for StreamConfig {
    /// One replica, no byte limit.
    ///
    /// ```
    /// assert_eq!(highwater_nats::StreamConfig::default().replicas, 1);
    /// ```
    fn default() -> Self {
        StreamConfig {
            replicas: 1,
            max_bytes: -1,
        }
    }
}

fn api_error(code: &'static str, what: &str, e: &(dyn std::error::Error + 'static)) -> NatsError {
    NatsError::from_source(code, what, e)
}

/// Gets the stream `name`, creating it (file storage, work-queue
/// retention: a message is removed once the receiver acknowledged it) on
/// `subject` if it does not exist.
///
/// # Errors
///
/// [`codes::OTHER`] for a refusal (JetStream not enabled, a subject
/// another stream has), [`codes::NOT_AUTHORIZED`].
///
/// ```no_run
/// # async fn f(js: async_nats::jetstream::Context) -> Result<(), highwater_nats::NatsError> {
/// let s = highwater_nats::create_stream(&js, "files", "files", &Default::default()).await?;
/// # Ok(()) }
/// ```
pub async fn create_stream(
    js: &Context,
    name: &str,
    subject: &str,
    cfg: &StreamConfig,
) -> Result<JsStream, NatsError> {
    js.get_or_create_stream(jetstream::stream::Config {
        name: name.to_string(),
        subjects: vec![subject.to_string()],
        storage: StorageType::File,
        retention: RetentionPolicy::WorkQueue,
        num_replicas: cfg.replicas,
        max_bytes: cfg.max_bytes,
        discard: DiscardPolicy::New,
        ..Default::default()
    })
    .await
    .map_err(|e| {
        api_error(
            codes::OTHER,
            &format!("cannot create the stream '{name}'"),
            &e,
        )
    })
}

/// Gets the stream `name`, which must exist.
///
/// # Errors
///
/// [`codes::NO_STREAM`] when it does not exist; [`codes::OTHER`] otherwise.
///
/// ```no_run
/// # async fn f(js: async_nats::jetstream::Context) -> Result<(), highwater_nats::NatsError> {
/// let s = highwater_nats::open_stream(&js, "files").await?;
/// # Ok(()) }
/// ```
pub async fn open_stream(js: &Context, name: &str) -> Result<JsStream, NatsError> {
    js.get_stream(name).await.map_err(|e| {
        use async_nats::jetstream::context::GetStreamErrorKind;
        match e.kind() {
            GetStreamErrorKind::JetStream(j)
                if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND =>
            {
                NatsError::new(
                    codes::NO_STREAM,
                    format!("the stream '{name}' does not exist (a sender creates it)"),
                )
            }
            _ => api_error(
                codes::OTHER,
                &format!("cannot open the stream '{name}'"),
                &e,
            ),
        }
    })
}

/// The durable consumer a transfer's receiver reads through.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Its durable name: a receiver that restarts with the same name
    /// resumes where the acknowledgements stopped.
    pub durable: String,
    /// How long a delivered message may stay unacknowledged before it is
    /// delivered again.
    pub ack_wait: Duration,
    /// For a receiver: when the consumer has messages delivered and not
    /// acknowledged (a receiver before it died holding them), start it
    /// again from its acknowledgement floor, so that they come again now,
    /// first and in order, instead of after `ack_wait` behind later ones.
    /// Only one receiver may use a consumer at a time.
    pub reclaim: bool,
}

impl Default for ConsumerConfig {
    /// `highwater`, 10 s, no reclaiming.
    ///
    /// ```
    /// assert_eq!(highwater_nats::ConsumerConfig::default().durable, "highwater");
    /// ```
    fn default() -> Self {
        ConsumerConfig {
            durable: "highwater".into(),
            ack_wait: Duration::from_secs(10),
            reclaim: false,
        }
    }
}

/// Gets (or creates) the durable pull consumer of `cfg` on `stream`:
/// every message, explicit acknowledgement. Sender and receiver may both
/// call it (the sender does for a backlog bound).
///
/// # Errors
///
/// [`codes::OTHER`], [`codes::NOT_AUTHORIZED`].
///
/// ```no_run
/// # async fn f(s: async_nats::jetstream::stream::Stream) -> Result<(), highwater_nats::NatsError> {
/// let c = highwater_nats::consumer(&s, &Default::default()).await?;
/// # Ok(()) }
/// ```
pub async fn consumer(stream: &JsStream, cfg: &ConsumerConfig) -> Result<PullConsumer, NatsError> {
    let failed = |e: &(dyn std::error::Error + 'static)| {
        api_error(
            codes::OTHER,
            &format!("cannot open the consumer '{}'", cfg.durable),
            e,
        )
    };
    let config = |deliver_policy| pull::Config {
        durable_name: Some(cfg.durable.clone()),
        deliver_policy,
        ack_policy: AckPolicy::Explicit,
        ack_wait: cfg.ack_wait,
        ..Default::default()
    };
    let c: PullConsumer = stream
        .get_or_create_consumer(&cfg.durable, config(DeliverPolicy::All))
        .await
        .map_err(|e| failed(&e))?;
    if !cfg.reclaim {
        return Ok(c);
    }
    let info = c.get_info().await.map_err(|e| failed(&e))?;
    if info.num_ack_pending == 0 {
        return Ok(c);
    }
    // A receiver died holding messages: start again from the floor. In a
    // work-queue stream (which allows only "deliver all") every message
    // left is unacknowledged, so "all" starts at the floor.
    let floor = info.ack_floor.stream_sequence;
    let policy = if stream.cached_info().config.retention == RetentionPolicy::WorkQueue {
        DeliverPolicy::All
    } else {
        DeliverPolicy::ByStartSequence {
            start_sequence: floor + 1,
        }
    };
    stream
        .delete_consumer(&cfg.durable)
        .await
        .map_err(|e| failed(&e))?;
    stream
        .create_consumer(config(policy))
        .await
        .map_err(|e| failed(&e))
}
