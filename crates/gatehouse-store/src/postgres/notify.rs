//! Change notices between nodes through PostgreSQL's LISTEN/NOTIFY.
//!
//! Each node holds one dedicated connection (outside the pool) that LISTENs on the
//! installation's channel and forwards what it hears to a broadcast channel; announcing is a
//! `pg_notify` through the pool. A notice carries `<topic> <node>`, so a node ignores its own
//! (it has already applied the change in memory). Revocations are announced inside the
//! revoking transaction (`notify_in`): PostgreSQL delivers a NOTIFY only when its transaction
//! commits, so no node hears of a revocation that did not happen, and none misses one that did
//! while its feed was connected. When the listening connection drops (PostgreSQL restarting,
//! the network), notices sent meanwhile are lost: on reconnecting the feed emits
//! `Topic::Resync` and the node re-reads everything.

use std::time::Duration;

use deadpool_postgres::GenericClient;
use futures_util::StreamExt;
use tokio::sync::{broadcast, mpsc};
use tokio_postgres::AsyncMessage;

use super::{map_err, PgStore};
use crate::changes::{Announce, Topic};
use crate::StoreResult;

/// How long the listener waits before reconnecting.
const RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// A node's view of the installation's notices: subscribe to hear other nodes' changes;
/// announce (through `Announce`) to tell them of this node's.
pub struct PgChangeFeed {
    heard: broadcast::Sender<Topic>,
    outgoing: mpsc::UnboundedSender<Topic>,
}

impl PgChangeFeed {
    /// Topics other nodes announced from now on (and `Resync` after a reconnect).
    pub fn subscribe(&self) -> broadcast::Receiver<Topic> {
        self.heard.subscribe()
    }
}

impl Announce for PgChangeFeed {
    fn announce(&self, topic: Topic) {
        // The sender task ends only with the runtime; a send error then changes nothing.
        let _ = self.outgoing.send(topic);
    }
}

impl PgStore {
    /// Starts listening for other nodes' notices and a task that sends this node's. Call once,
    /// from within the runtime the node runs on.
    pub async fn change_feed(&self) -> StoreResult<PgChangeFeed> {
        let (heard, _) = broadcast::channel(256);
        let (outgoing, rx) = mpsc::unbounded_channel();
        // The first connection is made here, so a node that cannot listen does not start.
        let first = self.listen_connection().await?;
        tokio::spawn(listen(self.clone(), heard.clone(), first));
        tokio::spawn(send(self.clone(), rx));
        Ok(PgChangeFeed { heard, outgoing })
    }

    /// Sends a notice as part of the caller's transaction (delivered at commit).
    pub(crate) async fn notify_in<C: GenericClient>(&self, c: &C, topic: Topic) -> StoreResult<()> {
        let payload = format!("{} {}", topic.as_str(), self.node);
        c.execute(
            "SELECT pg_notify($1, $2)",
            &[&self.channel.as_str(), &payload.as_str()],
        )
        .await
        .map_err(map_err)?;
        Ok(())
    }

    /// A connection of its own that LISTENs on the channel, with a receiver of its notices'
    /// payloads. The receiver ends when the connection does.
    async fn listen_connection(
        &self,
    ) -> StoreResult<(tokio_postgres::Client, mpsc::UnboundedReceiver<String>)> {
        let (client, mut connection) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(map_err)?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        if tx.send(n.payload().to_string()).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "the change-notice connection to PostgreSQL ended");
                        break;
                    }
                }
            }
        });
        // The channel name is derived from a checked schema name: a plain identifier.
        client
            .batch_execute(&format!("LISTEN {}", self.channel))
            .await
            .map_err(map_err)?;
        Ok((client, rx))
    }

    /// Whose notice this is and about what; `None` for this node's own or an unknown topic.
    fn heard(&self, payload: &str) -> Option<Topic> {
        let (topic, node) = payload.split_once(' ')?;
        if node == self.node {
            return None;
        }
        Topic::parse(topic)
    }
}

async fn listen(
    store: PgStore,
    heard: broadcast::Sender<Topic>,
    first: (tokio_postgres::Client, mpsc::UnboundedReceiver<String>),
) {
    let mut current = Some(first);
    let mut down_logged = false;
    loop {
        if let Some((client, mut payloads)) = current.take() {
            while let Some(payload) = payloads.recv().await {
                if let Some(topic) = store.heard(&payload) {
                    // No subscriber yet is fine: nothing to refresh.
                    let _ = heard.send(topic);
                }
            }
            drop(client);
        }
        // Lost: reconnect, then have everyone re-read what they may have missed.
        loop {
            tokio::time::sleep(RECONNECT_DELAY).await;
            match store.listen_connection().await {
                Ok(c) => {
                    if down_logged {
                        tracing::info!("change notices from PostgreSQL are back");
                    }
                    down_logged = false;
                    current = Some(c);
                    let _ = heard.send(Topic::Resync);
                    break;
                }
                Err(e) => {
                    if !down_logged {
                        tracing::warn!(error = %e, "cannot listen for other nodes' changes; retrying");
                        down_logged = true;
                    }
                }
            }
        }
    }
}

/// Sends this node's notices, coalescing bursts (a deployment touches several rows).
async fn send(store: PgStore, mut rx: mpsc::UnboundedReceiver<Topic>) {
    while let Some(first) = rx.recv().await {
        let mut topics = vec![first];
        while let Ok(t) = rx.try_recv() {
            if !topics.contains(&t) {
                topics.push(t);
            }
        }
        for topic in topics {
            let result = match store.client().await {
                Ok(c) => store.notify_in(&c, topic).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                // The other nodes' feeds are down too (or will resync when they reconnect).
                tracing::warn!(error = %e, topic = topic.as_str(), "announcing a change failed");
            }
        }
    }
}
