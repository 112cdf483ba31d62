//! Wake-ups from other processes: a connection that `LISTEN`s for the notification each append
//! sends at commit, and moves the head watch to the position it carries.

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{Notify, watch};
use tokio_postgres::{AsyncMessage, NoTls};

use super::to_u64;
use crate::error::{Result, StoreError};
use crate::store::raise_head;

/// The channel every append notifies, with the new head as payload (see `INSERT_SQL` and
/// `procgate_append`).
const NOTIFY_CHANNEL: &str = "procgate_events";

/// Listens for other processes' appends and moves the head watch. Reconnects with backoff.
pub(super) async fn listen_loop(
    config: tokio_postgres::Config,
    head: Weak<watch::Sender<u64>>,
    shutdown: Arc<Notify>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        tokio::select! {
            outcome = listen(&config, &head) => match outcome {
                Ok(()) => return,
                Err(e) => tracing::warn!(error = %e, "event listener disconnected; reconnecting"),
            },
            () = shutdown.notified() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = shutdown.notified() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn listen(config: &tokio_postgres::Config, head: &Weak<watch::Sender<u64>>) -> Result<()> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (tx, mut rx) = futures::channel::mpsc::unbounded();
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.unbounded_send(n.payload().parse::<u64>().unwrap_or(0)).is_err() {
                        return Ok(());
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(StoreError::from(e)),
            }
        }
        Err(StoreError::Unavailable("listener connection closed".into()))
    });
    client.batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}")).await?;
    // Anything appended while nobody was listening.
    let now = client.query_one("SELECT position FROM log_head", &[]).await?;
    match head.upgrade() {
        Some(head) => raise_head(&head, to_u64(now.get(0))),
        None => return Ok(()),
    }
    while let Some(position) = rx.next().await {
        match head.upgrade() {
            Some(head) => raise_head(&head, position),
            None => return Ok(()),
        }
    }
    drop(client);
    match driver.await {
        Ok(Err(e)) => Err(e),
        _ => Err(StoreError::Unavailable("listener connection closed".into())),
    }
}
