//! This node's subscriber: the one consumer of the bus. It routes message events to live
//! delivery, receipts and notices to the hub, and change events to the caches, and it polls the store's
//! heads every `bus.poll_ms`, so a lost event costs at most one poll interval, never a message.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use qunfa_core::bus::{Event, Target};
use qunfa_core::ids::AppId;
use qunfa_service::Services;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::gateway::fanout::Fanout;
use crate::gateway::hub::{Delivery, Hub};
use crate::gateway::protocol;

enum Follow {
    App(AppId),
    Apps,
}

/// Starts the subscriber's tasks; abort them to stop.
pub fn spawn(
    services: Arc<Services>,
    hub: Arc<Hub>,
    fanout: Fanout,
    mut events: mpsc::UnboundedReceiver<Event>,
    poll_every: Duration,
    apps_every: Duration,
) -> Vec<JoinHandle<()>> {
    let (follow_tx, follow_rx) = mpsc::unbounded_channel();
    let route = {
        let fanout = fanout.clone();
        tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                match ev {
                    Event::Committed { app, upto, live } => fanout.committed(app, upto, live),
                    Event::Receipt {
                        app,
                        sender,
                        msgid,
                        reader,
                        time,
                        tid,
                    } => hub.deliver(&Delivery {
                        app,
                        target: Target::One(sender),
                        out: protocol::receipt(msgid, &reader, time, tid),
                    }),
                    Event::Notice { app, to, notice } => {
                        let out = protocol::notice(&notice);
                        for o in to {
                            hub.deliver(&Delivery {
                                app,
                                target: Target::One(o),
                                out: out.clone(),
                            });
                        }
                    }
                    Event::Changed { app, .. } => {
                        let _ = follow_tx.send(Follow::App(app));
                    }
                    Event::AppsChanged => {
                        let _ = follow_tx.send(Follow::Apps);
                    }
                }
            }
        })
    };
    let follow = tokio::spawn(follow_loop(
        services, fanout, follow_rx, poll_every, apps_every,
    ));
    vec![route, follow]
}

/// Store reads happen here, off the router, so a slow read never holds up live delivery.
async fn follow_loop(
    services: Arc<Services>,
    fanout: Fanout,
    mut rx: mpsc::UnboundedReceiver<Follow>,
    poll_every: Duration,
    apps_every: Duration,
) {
    let mut poll = tokio::time::interval(poll_every);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut apps = tokio::time::interval(apps_every);
    apps.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            first = rx.recv() => {
                let Some(first) = first else { return };
                // Events queued meanwhile: each app once.
                let mut todo = BTreeSet::new();
                let mut reload = false;
                let mut next = Some(first);
                while let Some(f) = next {
                    match f {
                        Follow::App(app) => {
                            todo.insert(app);
                        }
                        Follow::Apps => reload = true,
                    }
                    next = rx.try_recv().ok();
                }
                if reload && let Err(e) = services.apps.reload().await {
                    tracing::warn!(error = %e, "app table reload failed");
                }
                for app in todo {
                    if let Err(e) = services.follow(app).await {
                        tracing::warn!(app = %app, error = %e, "catching up with the store failed");
                    }
                }
            }
            _ = poll.tick() => match services.poll().await {
                Ok(heads) => fanout.heads(heads),
                Err(e) => tracing::warn!(error = %e, "polling the store failed; will retry"),
            },
            _ = apps.tick() => {
                if let Err(e) = services.apps.reload().await {
                    tracing::warn!(error = %e, "app table reload failed");
                }
            }
        }
    }
}
