//! `nats://HOST:PORT/STREAM[/SUBJECT]`: where a stream is, as the command
//! line names it.

use crate::error::{codes, NatsError};

/// A parsed `nats://HOST:PORT/STREAM[/SUBJECT]` address. The subject
/// defaults to the stream's name.
///
/// ```
/// use highwater_nats::NatsUrl;
///
/// let u = NatsUrl::parse("nats://127.0.0.1:4222/files").unwrap();
/// assert_eq!((u.server.as_str(), u.stream.as_str(), u.subject.as_str()),
///            ("127.0.0.1:4222", "files", "files"));
/// let u = NatsUrl::parse("nats://localhost:4222/files/in.big").unwrap();
/// assert_eq!(u.subject, "in.big");
/// assert_eq!(NatsUrl::parse("nats://localhost/files").unwrap_err().code(), "ERR_NATS_URL");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsUrl {
    /// `HOST:PORT` of the server.
    pub server: String,
    /// The JetStream stream's name.
    pub stream: String,
    /// The subject the transfer publishes on (and the stream listens to).
    pub subject: String,
}

impl NatsUrl {
    /// Whether `s` names a NATS endpoint at all (starts with `nats://`).
    ///
    /// ```
    /// assert!(highwater_nats::NatsUrl::is_nats("nats://h:1/s"));
    /// assert!(!highwater_nats::NatsUrl::is_nats("file.bin"));
    /// ```
    pub fn is_nats(s: &str) -> bool {
        s.starts_with("nats://")
    }

    /// Parses `nats://HOST:PORT/STREAM[/SUBJECT]`.
    ///
    /// # Errors
    ///
    /// [`codes::URL`], saying what is missing or wrong.
    ///
    /// ```
    /// let e = highwater_nats::NatsUrl::parse("nats://h:1/").unwrap_err();
    /// assert!(e.to_string().contains("stream"));
    /// ```
    pub fn parse(s: &str) -> Result<NatsUrl, NatsError> {
        let bad = |why: &str| {
            NatsError::new(
                codes::URL,
                format!("'{s}' is not a NATS stream address: {why} (expected nats://HOST:PORT/STREAM[/SUBJECT])"),
            )
        };
        let rest = s
            .strip_prefix("nats://")
            .ok_or_else(|| bad("it must start with nats://"))?;
        let (server, path) = rest.split_once('/').unwrap_or((rest, ""));
        match server.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {}
            _ => return Err(bad("no HOST:PORT")),
        }
        let (stream, subject) = path.split_once('/').unwrap_or((path, ""));
        if stream.is_empty() {
            return Err(bad("no stream name"));
        }
        let name_ok = stream
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err(bad("a stream name has only letters, digits, '-' and '_'"));
        }
        let subject = if subject.is_empty() { stream } else { subject };
        let subject_ok = !subject.starts_with('.')
            && !subject.ends_with('.')
            && !subject.contains("..")
            && subject
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '*' && c != '>' && c != '/');
        if !subject_ok {
            return Err(bad("a subject is dot-separated tokens without wildcards"));
        }
        Ok(NatsUrl {
            server: server.to_string(),
            stream: stream.to_string(),
            subject: subject.to_string(),
        })
    }
}

impl std::fmt::Display for NatsUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.subject == self.stream {
            write!(f, "nats://{}/{}", self.server, self.stream)
        } else {
            write!(f, "nats://{}/{}/{}", self.server, self.stream, self.subject)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_addresses_say_why() {
        for (s, why) in [
            ("http://h:1/s", "nats://"),
            ("nats://h/s", "HOST:PORT"),
            ("nats://h:0/s", "HOST:PORT"),
            ("nats://:4222/s", "HOST:PORT"),
            ("nats://h:1", "stream"),
            ("nats://h:1/a.b", "stream name"),
            ("nats://h:1/s/a..b", "subject"),
            ("nats://h:1/s/a.*", "subject"),
        ] {
            let e = NatsUrl::parse(s).unwrap_err();
            assert_eq!(e.code(), codes::URL, "{s}");
            assert!(e.to_string().contains(why), "{s}: {e}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["nats://h:1/s", "nats://h:1/s/x.y"] {
            assert_eq!(NatsUrl::parse(s).unwrap().to_string(), s);
        }
    }
}
