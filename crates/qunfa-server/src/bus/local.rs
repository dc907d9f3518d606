//! The in-process bus: one node, events handed to its own subscriber through a channel.

use std::sync::Mutex;

use qunfa_core::bus::{Bus, Event};
use tokio::sync::mpsc;

pub struct LocalBus {
    tx: mpsc::UnboundedSender<Event>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Event>>>,
}

impl LocalBus {
    pub fn new() -> LocalBus {
        let (tx, rx) = mpsc::unbounded_channel();
        LocalBus {
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::new()
    }
}

impl Bus for LocalBus {
    fn publish(&self, event: Event) {
        // Fails only once the subscriber is gone (shutdown): nothing is listening then.
        let _ = self.tx.send(event);
    }

    fn subscribe(&self) -> Option<mpsc::UnboundedReceiver<Event>> {
        self.rx.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn connected(&self) -> bool {
        true
    }
}
