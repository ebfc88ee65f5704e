//! How a byte stream is framed on a JetStream subject: each chunk is one
//! message whose headers say which transfer it belongs to, its sequence and
//! its offset; the transfer ends with an empty message carrying the total
//! length, the number of chunks and a CRC-32 of the bytes. Every message
//! has a `Nats-Msg-Id` made of the transfer id and its sequence, so a
//! publish retried after a reconnect is stored once.

use async_nats::HeaderMap;

/// The transfer a message belongs to.
pub const TRANSFER: &str = "Highwater-Transfer";
/// A chunk's sequence number, from 0.
pub const SEQ: &str = "Highwater-Seq";
/// A chunk's offset in the byte stream.
pub const OFFSET: &str = "Highwater-Offset";
/// On the end marker: the total length in bytes.
pub const END_LENGTH: &str = "Highwater-End-Length";
/// On the end marker: the number of chunks.
pub const END_CHUNKS: &str = "Highwater-End-Chunks";
/// On the end marker: the CRC-32 (IEEE) of every byte, in hex.
pub const END_CRC32: &str = "Highwater-End-Crc32";

/// A transfer id unique enough for de-duplication: the process id, the
/// time in nanoseconds and a counter, in hex.
///
/// ```
/// let a = highwater_nats::protocol::transfer_id();
/// let b = highwater_nats::protocol::transfer_id();
/// assert_ne!(a, b);
/// assert!(a.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
/// ```
pub fn transfer_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{:x}-{:x}-{:x}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The headers of chunk `seq` at `offset` of `transfer`.
///
/// ```
/// let h = highwater_nats::protocol::chunk_headers("t1", 3, 300);
/// assert_eq!(h.get("Nats-Msg-Id").unwrap().as_str(), "t1.3");
/// assert_eq!(h.get("Highwater-Offset").unwrap().as_str(), "300");
/// ```
pub fn chunk_headers(transfer: &str, seq: u64, offset: u64) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        async_nats::header::NATS_MESSAGE_ID,
        format!("{transfer}.{seq}").as_str(),
    );
    h.insert(TRANSFER, transfer);
    h.insert(SEQ, seq.to_string().as_str());
    h.insert(OFFSET, offset.to_string().as_str());
    h
}

/// The headers of the end marker of `transfer`.
///
/// ```
/// let h = highwater_nats::protocol::end_headers("t1", 2, 10, 0xcbf43926);
/// assert_eq!(h.get("Nats-Msg-Id").unwrap().as_str(), "t1.end");
/// assert_eq!(h.get("Highwater-End-Crc32").unwrap().as_str(), "cbf43926");
/// ```
pub fn end_headers(transfer: &str, chunks: u64, length: u64, crc32: u32) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        async_nats::header::NATS_MESSAGE_ID,
        format!("{transfer}.end").as_str(),
    );
    h.insert(TRANSFER, transfer);
    h.insert(END_CHUNKS, chunks.to_string().as_str());
    h.insert(END_LENGTH, length.to_string().as_str());
    h.insert(END_CRC32, format!("{crc32:08x}").as_str());
    h
}

/// What a received message is, by its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A chunk of a transfer.
    Chunk {
        /// The transfer's id.
        transfer: String,
        /// The chunk's sequence, from 0.
        seq: u64,
        /// Its offset in the byte stream.
        offset: u64,
    },
    /// The end of a transfer.
    End {
        /// The transfer's id.
        transfer: String,
        /// What the sender sent.
        summary: EndInfo,
    },
    /// A message without highwater's headers: its payload is data.
    Plain,
}

/// What the end marker says about the whole transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndInfo {
    /// How many chunks.
    pub chunks: u64,
    /// How many bytes.
    pub length: u64,
    /// CRC-32 (IEEE) of the bytes.
    pub crc32: u32,
}

/// Reads a message's framing from its headers.
///
/// # Errors
///
/// A highwater header that does not parse: the message is not highwater's.
///
/// ```
/// use highwater_nats::protocol::{chunk_headers, decode, Frame};
/// let f = decode(Some(&chunk_headers("t", 1, 5))).unwrap();
/// assert_eq!(f, Frame::Chunk { transfer: "t".into(), seq: 1, offset: 5 });
/// assert_eq!(decode(None).unwrap(), Frame::Plain);
/// ```
pub fn decode(h: Option<&HeaderMap>) -> Result<Frame, String> {
    let Some(h) = h else {
        return Ok(Frame::Plain);
    };
    let Some(transfer) = h.get(TRANSFER).map(|v| v.as_str().to_string()) else {
        return Ok(Frame::Plain);
    };
    let num = |name: &str| -> Result<Option<u64>, String> {
        h.get(name)
            .map(|v| {
                v.as_str()
                    .parse::<u64>()
                    .map_err(|_| format!("header {name} is not a number: '{}'", v.as_str()))
            })
            .transpose()
    };
    if let Some(length) = num(END_LENGTH)? {
        let chunks = num(END_CHUNKS)?.ok_or("end marker without a chunk count")?;
        let crc = h.get(END_CRC32).ok_or("end marker without a checksum")?;
        let crc32 = u32::from_str_radix(crc.as_str(), 16)
            .map_err(|_| format!("bad checksum '{}'", crc.as_str()))?;
        return Ok(Frame::End {
            transfer,
            summary: EndInfo {
                chunks,
                length,
                crc32,
            },
        });
    }
    let seq = num(SEQ)?.ok_or("chunk without a sequence")?;
    let offset = num(OFFSET)?.ok_or("chunk without an offset")?;
    Ok(Frame::Chunk {
        transfer,
        seq,
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_headers_decode_to_what_was_sent() {
        let h = end_headers("t", 4, 1 << 40, 0xdeadbeef);
        assert_eq!(
            decode(Some(&h)).unwrap(),
            Frame::End {
                transfer: "t".into(),
                summary: EndInfo {
                    chunks: 4,
                    length: 1 << 40,
                    crc32: 0xdeadbeef
                }
            }
        );
    }

    #[test]
    fn malformed_headers_are_errors() {
        let mut h = chunk_headers("t", 1, 2);
        h.insert(SEQ, "x");
        assert!(decode(Some(&h)).is_err());
    }
}
