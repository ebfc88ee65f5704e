//! Text as `String`s: [`ReadableExt::text`](crate::ReadableExt::text), the
//! typed form of `setEncoding('utf8')` plus the async iterator.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

use crate::state::{Error, TextChunk};

use super::iter::ReadableStream;

/// The `futures::Stream` of [`ReadableExt::text`](crate::ReadableExt::text):
/// Node's `for await (const s of readable.setEncoding('utf8'))`, each item a
/// `String` of whole characters.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use futures::StreamExt;
/// use highwater::prelude::*;
/// use highwater::{Readable, ReadableOptions};
///
/// highwater::block_on(async {
///     let r = Readable::<Bytes>::pushed(ReadableOptions::default());
///     r.push(Bytes::from_static(&[b'a', 0xC3])); // 'a' and half of 'é'
///     r.push(Bytes::from_static(&[0xA9]));
///     r.push_eof();
///     let text: Vec<String> = r.text().map(|s| s.unwrap()).collect().await;
///     assert_eq!(text.concat(), "aé");
/// });
/// ```
pub struct TextStream<T: 'static> {
    inner: ReadableStream<T>,
}

impl<T: 'static> std::fmt::Debug for TextStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TextStream")
    }
}

impl<T: TextChunk> TextStream<T> {
    pub(crate) fn new(inner: ReadableStream<T>) -> Self {
        TextStream { inner }
    }
}

impl<T: TextChunk> Stream for TextStream<T> {
    type Item = Result<String, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                // The side decodes: its chunks are whole UTF-8 characters.
                let s = match std::str::from_utf8(chunk.as_bytes()) {
                    Ok(s) => s.to_owned(),
                    Err(_) => String::from_utf8_lossy(chunk.as_bytes()).into_owned(),
                };
                Poll::Ready(Some(Ok(s)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
