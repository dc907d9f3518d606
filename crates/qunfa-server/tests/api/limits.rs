//! The listener's limits, tried as an attacker would: a request head sent one byte at a time,
//! a body that never completes, and sockets opened without any request.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::TestServer;

fn addr(s: &TestServer) -> String {
    s.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection; answers what it sent and how long it took.
async fn until_closed(tcp: &mut TcpStream, within: Duration) -> (Vec<u8>, Duration) {
    let t0 = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(within, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (out, t0.elapsed()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept the connection open past {within:?}"),
        }
    }
}

#[tokio::test]
async fn a_request_head_that_never_ends_is_closed_after_the_header_timeout() {
    let s = TestServer::with(|c| c.api.header_timeout_secs = 1).await;
    let mut tcp = TcpStream::connect(addr(&s)).await.unwrap();
    // Half a head, then a byte now and then.
    tcp.write_all(b"POST /nimserver/user/create.action HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let dribble = async {
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if tcp.write_all(b"X").await.is_err() {
                break;
            }
        }
    };
    dribble.await;
    let (_, took) = until_closed(&mut tcp, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(10));
    // An idle keep-alive connection goes the same way; a complete request still works.
    let mut idle = TcpStream::connect(addr(&s)).await.unwrap();
    until_closed(&mut idle, Duration::from_secs(5)).await;
    assert_eq!(
        s.call("user/getUinfos", &[("accids", "[]")]).await["code"],
        200
    );
}

#[tokio::test]
async fn a_body_that_never_completes_answers_408() {
    let s = TestServer::with(|c| c.api.body_timeout_secs = 1).await;
    let mut tcp = TcpStream::connect(addr(&s)).await.unwrap();
    let mut head = String::from(
        "POST /nimserver/user/create.action HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n",
    );
    for (k, v) in s.client.sign() {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\naccid=half");
    tcp.write_all(head.as_bytes()).await.unwrap();
    let (answer, _) = until_closed(&mut tcp, Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let body: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap_or("")).unwrap();
    assert_eq!(
        body,
        json!({"code": 408, "desc": "request body not received within 1 s"})
    );
    // Nothing was created.
    assert_eq!(
        s.call("user/getUinfos", &[("accids", r#"["half"]"#)]).await,
        json!({"code": 200, "uinfos": []})
    );
}

#[tokio::test]
async fn sockets_without_a_request_cannot_use_up_the_server() {
    let s = TestServer::with(|c| {
        c.api.max_pending_connections = 3;
        c.api.header_timeout_secs = 2;
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(addr(&s)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The fourth is closed at once.
    let mut fourth = TcpStream::connect(addr(&s)).await.unwrap();
    let (_, took) = until_closed(&mut fourth, Duration::from_secs(1)).await;
    assert!(took < Duration::from_secs(1));
    // Once the idle ones time out, requests are served again.
    for c in &mut idle {
        until_closed(c, Duration::from_secs(5)).await;
    }
    assert_eq!(
        s.call("user/getUinfos", &[("accids", "[]")]).await["code"],
        200
    );
    // A connection that made its request no longer counts: many keep-alive clients are fine.
    let clients: Vec<_> = (0..6).map(|_| s.client_for(&s.app)).collect();
    for c in &clients {
        assert_eq!(
            c.call("user/getUinfos", &[("accids", "[]")]).await.unwrap()["code"],
            200
        );
    }
}
