//! The HTTP listener, ours rather than `axum::serve`, for what a server facing the open
//! network needs and that one does not offer:
//!
//! - **A header read timeout** (`api.header_timeout_secs`): a client that sends its request
//!   head one byte a second, or a keep-alive connection that sends nothing, is closed when it
//!   runs out (hyper's timer runs from the moment a request head is awaited).
//! - **A cap on connections that never made a request** (`api.max_pending_connections`):
//!   past it, new connections are closed at once, so sockets held open without a request
//!   cannot use up the server's file descriptors. A connection leaves the count with its first
//!   request (a WebSocket upgrade is one).
//! - **A bounded kernel send buffer** per socket (`gateway.send_buffer_bytes`), so a client
//!   that stops reading holds kilobytes in the kernel, not megabytes, and a close frame for it
//!   is not queued behind them.
//! - The peer's address on every request (`ConnectInfo<SocketAddr>`), and the client's
//!   (`ClientAddr`: the same, or the one a proxy of `api.trusted_proxies` forwarded), for login
//!   throttling and the access log.
//!
//! Body read timeouts are the API extractor's (`api.body_timeout_secs`).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::proxy::TrustedProxies;

/// The listener's limits.
#[derive(Clone, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_pending: usize,
    /// `SO_SNDBUF` for accepted sockets (0: the kernel's default, which grows to megabytes).
    pub send_buffer_bytes: usize,
    /// Whose `X-Forwarded-For` names the client (`api.trusted_proxies`).
    pub proxies: Arc<TrustedProxies>,
}

/// The client a request is from: the connection's own address, or the one a trusted proxy
/// forwarded ([`TrustedProxies::client`]). Set on every request [`serve`] serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

fn configure(tcp: &TcpStream, limits: &Limits) {
    // Small frames (a login answer, one message) must not wait for Nagle's delayed ACK.
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
    if limits.send_buffer_bytes > 0
        && let Err(e) = socket2::SockRef::from(tcp).set_send_buffer_size(limits.send_buffer_bytes)
    {
        tracing::debug!(error = %e, "cannot set SO_SNDBUF");
    }
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, lets every
/// connection finish the request it is on, and returns once all have ended. (Upgraded
/// WebSocket connections are the gateway's: it closes them itself.)
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let (stop, stopped) = watch::channel(false);
    let pending = Arc::new(AtomicUsize::new(0));
    let mut conns = JoinSet::new();
    let mut refused = 0u64;
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors, most likely: let some connections end.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        while conns.try_join_next().is_some() {}
        if pending.load(Ordering::Relaxed) >= limits.max_pending {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    refused,
                    max = limits.max_pending,
                    "closing new connections: too many open without a request"
                );
            }
            drop(tcp);
            continue;
        }
        configure(&tcp, &limits);
        pending.fetch_add(1, Ordering::Relaxed);
        let asked = Arc::new(AtomicBool::new(false));
        let service = {
            let (router, pending, asked) = (router.clone(), pending.clone(), asked.clone());
            let proxies = limits.proxies.clone();
            tower::service_fn(move |mut req: hyper::Request<Incoming>| {
                if !asked.swap(true, Ordering::Relaxed) {
                    pending.fetch_sub(1, Ordering::Relaxed);
                }
                let client = proxies.client(peer, req.headers());
                req.extensions_mut().insert(ConnectInfo(peer));
                req.extensions_mut().insert(ClientAddr(client));
                router.clone().oneshot(req)
            })
        };
        let (pending, mut stopped) = (pending.clone(), stopped.clone());
        conns.spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true);
            let conn = builder
                .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service))
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, peer = %peer, "http connection ended");
                    }
                }
                _ = stopped.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            if !asked.load(Ordering::Relaxed) {
                pending.fetch_sub(1, Ordering::Relaxed);
            }
        });
    }
    let _ = stop.send(true);
    while conns.join_next().await.is_some() {}
}

/// The peer of a request served by [`serve`] (`None` when it was built another way, in tests).
pub fn peer_of<B>(req: &hyper::Request<B>) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}
