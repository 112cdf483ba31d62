//! The statement file as it arrives: streamed from the request body into a blocking task that
//! parses it row by row and hashes it as it goes.

use std::io::Read;

use actix_web::web::{Bytes, Payload};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use web::ApiError;

use super::MAX_STATEMENT_BYTES;
use crate::domain::statements::{Collected, Collector, Layout, read_rows};

/// The body as a blocking reader: chunks arrive over a bounded channel (the HTTP side waits
/// while the parser is behind), are hashed as they are read, and count against
/// [`MAX_STATEMENT_BYTES`].
struct ChunkReader {
    chunks: tokio::sync::mpsc::Receiver<Bytes>,
    current: Bytes,
    hash: Sha256,
    read: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => {
                    self.read += chunk.len();
                    if self.read > MAX_STATEMENT_BYTES {
                        return Err(std::io::Error::other(format!(
                            "the file is larger than {} MiB: split it",
                            MAX_STATEMENT_BYTES / (1024 * 1024)
                        )));
                    }
                    self.hash.update(&chunk);
                    self.current = chunk;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// The file read through `collector`: its transactions or errors, and its SHA-256.
pub(super) async fn read_statement(
    mut payload: Payload,
    layout: Layout,
    mut collector: Collector,
) -> Result<(Collected, String), ApiError> {
    let (send, chunks) = tokio::sync::mpsc::channel(16);
    let parse = tokio::task::spawn_blocking(move || {
        let mut reader =
            ChunkReader { chunks, current: Bytes::new(), hash: Sha256::new(), read: 0 };
        let outcome = read_rows(&layout, &mut reader, |row| collector.push(row));
        // Drain what is left, so that the hash is the whole file's.
        let mut rest = [0u8; 8192];
        while outcome.is_ok() && matches!(reader.read(&mut rest), Ok(n) if n > 0) {}
        let hash = hex::encode(reader.hash.finalize());
        let collected = match outcome {
            Ok(_) => collector.finish(),
            Err(errors) => Collected::Refused { rows: 0, error_count: errors.len() as u64, errors },
        };
        (collected, hash)
    });
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request("malformed-body", format!("The body could not be read: {e}"))
        })?;
        if send.send(chunk).await.is_err() {
            break; // the parser stopped (the file is too large or not text): it says why
        }
    }
    drop(send);
    parse.await.map_err(ApiError::internal)
}
