//! What can go wrong between highwater and a NATS server, with a code for
//! each case, and how it becomes a stream error ([`highwater::Error`]).

/// The codes of [`NatsError`], as `highwater::Error::code()` reports them.
pub mod codes {
    /// A `nats://` address that cannot be parsed.
    pub const URL: &str = "ERR_NATS_URL";
    /// The server cannot be reached (not running, wrong port, refused).
    pub const CONNECT: &str = "ERR_NATS_CONNECT";
    /// The server refused the credentials or the permission.
    pub const NOT_AUTHORIZED: &str = "ERR_NATS_NOT_AUTHORIZED";
    /// The stream does not exist (receiving creates none).
    pub const NO_STREAM: &str = "ERR_NATS_NO_STREAM";
    /// The server (or the stream's leader) stayed unreachable past the retry budget.
    pub const UNAVAILABLE: &str = "ERR_NATS_UNAVAILABLE";
    /// The server refused a publish for good (too large, stream full).
    pub const REJECTED: &str = "ERR_NATS_REJECTED";
    /// The messages break the transfer's framing (a gap, another transfer,
    /// a wrong length or checksum).
    pub const PROTOCOL: &str = "ERR_NATS_PROTOCOL";
    /// Any other failure of the JetStream API.
    pub const OTHER: &str = "ERR_NATS";
}

/// A NATS failure: a code from [`codes`] and a one-line message.
///
/// ```
/// use highwater_nats::{codes, NatsError};
///
/// let e = NatsError::new(codes::NO_STREAM, "stream 'files' does not exist");
/// assert_eq!(e.code(), "ERR_NATS_NO_STREAM");
/// let stream_error: highwater::Error = e.into();
/// assert_eq!(stream_error.code(), "ERR_NATS_NO_STREAM");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NatsError {
    code: &'static str,
    message: String,
}

impl NatsError {
    /// A new error with `code` (one of [`codes`]).
    ///
    /// ```
    /// let e = highwater_nats::NatsError::new(highwater_nats::codes::URL, "bad");
    /// assert_eq!(e.to_string(), "bad");
    /// ```
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        NatsError {
            code,
            message: message.into(),
        }
    }

    /// The code, one of [`codes`].
    ///
    /// ```
    /// let e = highwater_nats::NatsError::new(highwater_nats::codes::CONNECT, "refused");
    /// assert_eq!(e.code(), "ERR_NATS_CONNECT");
    /// ```
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message, without the code.
    ///
    /// ```
    /// let e = highwater_nats::NatsError::new(highwater_nats::codes::CONNECT, "refused");
    /// assert_eq!(e.message(), "refused");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Classifies an `async-nats` error by what it says: an authorisation
    /// failure anywhere in its chain is [`codes::NOT_AUTHORIZED`], anything
    /// else `code`.
    ///
    /// ```
    /// use highwater_nats::{codes, NatsError};
    /// let io = std::io::Error::other("Authorization Violation");
    /// assert_eq!(NatsError::from_source(codes::OTHER, "publish", &io).code(), codes::NOT_AUTHORIZED);
    /// ```
    pub fn from_source(
        code: &'static str,
        what: &str,
        e: &(dyn std::error::Error + 'static),
    ) -> Self {
        let mut text = e.to_string();
        let mut cur = e.source();
        while let Some(s) = cur {
            let t = s.to_string();
            if !text.contains(&t) {
                text.push_str(": ");
                text.push_str(&t);
            }
            cur = s.source();
        }
        let lower = text.to_ascii_lowercase();
        let code = if lower.contains("authoriz") || lower.contains("permissions violation") {
            codes::NOT_AUTHORIZED
        } else {
            code
        };
        NatsError::new(code, format!("{what}: {text}"))
    }
}

impl From<NatsError> for highwater::Error {
    fn from(e: NatsError) -> Self {
        highwater::Error::custom(e.code, e.message)
    }
}
