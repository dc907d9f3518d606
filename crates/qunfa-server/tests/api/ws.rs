//! A small WebSocket test client for the gateway.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::harness::TestServer;

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How a connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    Closed(u16),
    Dropped,
}

const WAIT: Duration = Duration::from_secs(10);

impl Client {
    pub async fn connect(s: &TestServer) -> Client {
        let url = format!("{}/ws", s.base.replace("http://", "ws://"));
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connects");
        Client { ws }
    }

    /// Connects with an `X-Forwarded-For` header, as a reverse proxy would.
    pub async fn connect_forwarded(s: &TestServer, forwarded_for: &str) -> Client {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("{}/ws", s.base.replace("http://", "ws://"));
        let mut req = url.into_client_request().unwrap();
        req.headers_mut()
            .insert("X-Forwarded-For", forwarded_for.parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("websocket connects");
        Client { ws }
    }

    /// Connects over a socket with a tiny receive buffer (to make a slow consumer).
    pub async fn connect_small_window(s: &TestServer) -> Client {
        let addr: std::net::SocketAddr = s.base.trim_start_matches("http://").parse().unwrap();
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.set_recv_buffer_size(2048).unwrap();
        let stream = sock.connect(addr).await.unwrap();
        let url = format!("{}/ws", s.base.replace("http://", "ws://"));
        let (ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
        Client { ws }
    }

    /// Sends a text frame as it is (not necessarily JSON).
    pub async fn send_text(&mut self, t: &str) {
        self.ws
            .send(Message::Text(t.to_owned().into()))
            .await
            .expect("send");
    }

    /// Reads one frame every `every` until the connection ends: a client that reads, slowly.
    pub async fn slowly_until_end(&mut self, every: Duration) -> (Vec<Value>, End) {
        let mut frames = Vec::new();
        loop {
            tokio::time::sleep(every).await;
            match tokio::time::timeout(Duration::from_secs(60), self.ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    frames.push(serde_json::from_str(t.as_str()).unwrap())
                }
                Ok(Some(Ok(Message::Close(Some(f))))) => {
                    return (frames, End::Closed(u16::from(f.code)));
                }
                Ok(Some(Ok(Message::Close(None)))) => {
                    return (frames, End::Closed(u16::from(CloseCode::Status)));
                }
                Ok(Some(Ok(_))) => {}
                _ => return (frames, End::Dropped),
            }
        }
    }

    pub async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("send");
    }

    /// Logs in and answers the login reply.
    pub async fn login(&mut self, appkey: &str, accid: &str, token: &str, cursor: i64) -> Value {
        self.send(json!({"op": "login", "appkey": appkey, "accid": accid, "token": token, "cursor": cursor})).await;
        self.next().await.expect("a login answer")
    }

    /// The next JSON frame; `None` when the connection ended.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            let m = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame within 10 s");
            match m {
                Some(Ok(Message::Text(t))) => {
                    return Some(serde_json::from_str(t.as_str()).expect("JSON frame"));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                _ => return None,
            }
        }
    }

    /// Reads frames until `synced`, answering the message frames before it.
    pub async fn until_synced(&mut self) -> (Vec<Value>, i64) {
        let mut frames = Vec::new();
        loop {
            let f = self.next().await.expect("frames until synced");
            if f["op"] == "synced" {
                return (frames, f["cursor"].as_i64().unwrap());
            }
            frames.push(f);
        }
    }

    /// Reads until the connection ends, answering the frames seen and how it ended.
    pub async fn until_end(&mut self) -> (Vec<Value>, End) {
        let mut frames = Vec::new();
        loop {
            let m = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("the connection ends within 10 s");
            match m {
                Some(Ok(Message::Text(t))) => {
                    frames.push(serde_json::from_str(t.as_str()).unwrap())
                }
                Some(Ok(Message::Close(Some(f)))) => {
                    return (frames, End::Closed(u16::from(f.code)));
                }
                Some(Ok(Message::Close(None))) => {
                    return (frames, End::Closed(u16::from(CloseCode::Status)));
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return (frames, End::Dropped),
            }
        }
    }
}
