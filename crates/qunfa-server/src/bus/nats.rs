//! The NATS bus: how the nodes of a deployment wake each other.
//!
//! Every event goes to this node's own subscriber at once (with its in-process payload) and,
//! encoded as JSON without that payload, to the subject `PREFIX.events` for the other nodes.
//! A node skips what it published itself (the `Qunfa-Node` header). NATS is at most once, and
//! that is enough: the store is the truth, and every node polls it (`bus.poll_ms`), so a lost
//! event costs one poll interval. With NATS down the node keeps serving, warns, and delivers
//! across nodes by polling until the connection is back (the client reconnects on its own).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_nats::{ConnectOptions, HeaderMap};
use bytes::Bytes;
use futures_util::StreamExt;
use qunfa_core::bus::{Bus, Event};
use tokio::sync::mpsc;

/// Encoded events waiting for the NATS client. Bounded: while NATS is away, what does not fit
/// is dropped (the other nodes' polls find it in the store).
const OUTBOX: usize = 65_536;
const NODE_HEADER: &str = "Qunfa-Node";

pub struct NatsBus {
    node: String,
    local: mpsc::UnboundedSender<Event>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Event>>>,
    outbox: mpsc::Sender<Bytes>,
    connected: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for NatsBus {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl NatsBus {
    /// Connects in the background: an unreachable server is not an error, only a warning,
    /// and the node polls meanwhile.
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<NatsBus> {
        let node = qunfa_core::random_hex(8);
        let connected = Arc::new(AtomicBool::new(false));
        let flag = connected.clone();
        let shown = url.to_owned();
        let client = ConnectOptions::new()
            .name(format!("qunfa-{node}"))
            .retry_on_initial_connect()
            .max_reconnects(None)
            .event_callback(move |ev| {
                let flag = flag.clone();
                let shown = shown.clone();
                async move {
                    match ev {
                        async_nats::Event::Connected => {
                            flag.store(true, Ordering::SeqCst);
                            tracing::info!(url = %shown, "nats connected");
                        }
                        async_nats::Event::Disconnected => {
                            flag.store(false, Ordering::SeqCst);
                            tracing::warn!(url = %shown, "nats disconnected; nodes reach each other by polling the store until it is back");
                        }
                        other => tracing::debug!(event = %other, "nats event"),
                    }
                }
            })
            .connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("bus.url {url}: {e}"))?;
        let subject = format!("{prefix}.events");
        let (local, rx) = mpsc::unbounded_channel();
        let (outbox, mut out_rx) = mpsc::channel::<Bytes>(OUTBOX);

        let publisher = {
            let client = client.clone();
            let subject = subject.clone();
            let node = node.clone();
            tokio::spawn(async move {
                while let Some(payload) = out_rx.recv().await {
                    let mut headers = HeaderMap::new();
                    headers.insert(NODE_HEADER, node.as_str());
                    if let Err(e) = client
                        .publish_with_headers(subject.clone(), headers, payload)
                        .await
                    {
                        tracing::debug!(error = %e, "nats publish failed; the store's poll covers it");
                    }
                }
            })
        };
        let mut sub = client
            .subscribe(subject.clone())
            .await
            .map_err(|e| anyhow::anyhow!("subscribing to {subject}: {e}"))?;
        let subscriber = {
            let local = local.clone();
            let node = node.clone();
            tokio::spawn(async move {
                while let Some(msg) = sub.next().await {
                    let from_self = msg
                        .headers
                        .as_ref()
                        .and_then(|h| h.get(NODE_HEADER))
                        .is_some_and(|v| v.as_str() == node);
                    if from_self {
                        continue;
                    }
                    match serde_json::from_slice::<Event>(&msg.payload) {
                        Ok(ev) => {
                            if local.send(ev).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "ignoring an event this node cannot read")
                        }
                    }
                }
            })
        };
        let watch = {
            let connected = connected.clone();
            let url = url.to_owned();
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                if !connected.load(Ordering::SeqCst) {
                    tracing::warn!(url = %url, "nats is not reachable; serving anyway, reaching other nodes by polling the store until it is");
                }
            })
        };
        Ok(NatsBus {
            node,
            local,
            rx: Mutex::new(Some(rx)),
            outbox,
            connected,
            tasks: vec![publisher, subscriber, watch],
        })
    }

    /// This node's id on the bus.
    pub fn node(&self) -> &str {
        &self.node
    }
}

impl Bus for NatsBus {
    fn publish(&self, event: Event) {
        match serde_json::to_vec(&event) {
            Ok(bytes) => {
                if self.outbox.try_send(Bytes::from(bytes)).is_err() {
                    tracing::debug!("nats outbox full; the store's poll covers it");
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot encode a bus event"),
        }
        let _ = self.local.send(event);
    }

    fn subscribe(&self) -> Option<mpsc::UnboundedReceiver<Event>> {
        self.rx.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }
}
