//! One signed POST to an app's server, as NIM signs them: `AppKey`, `CurTime` (ms), `MD5` of
//! the exact body, `CheckSum = sha1(AppSecret + MD5 + CurTime)`. The answer's body is read up
//! to 64 KiB (a pre-send answer is small; a copy's answer is discarded).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use qunfa_core::auth::App;
use qunfa_core::callback;

/// Most of an answer's body read.
const MAX_ANSWER: usize = 64 * 1024;

/// What an attempt got back: the status and (the start of) the body.
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

/// The client every callback shares (connections kept per host).
pub fn client() -> reqwest::Client {
    crate::tls::install();
    reqwest::Client::builder()
        .user_agent(concat!("qunfa/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot build the callback HTTP client; using the default");
            reqwest::Client::new()
        })
}

/// POSTs `body` to `url` for `app`, within `timeout`; `Err` says why there is no answer.
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    app: &App,
    body: String,
    now_ms: i64,
    timeout: Duration,
) -> Result<Answer, String> {
    let curtime = now_ms.to_string();
    let (md5, checksum) = callback::sign(&app.secret, body.as_bytes(), &curtime);
    let attempt = async {
        let mut resp = http
            .post(url)
            .header("AppKey", &app.appkey)
            .header("CurTime", &curtime)
            .header("MD5", &md5)
            .header("CheckSum", &checksum)
            .header("Content-Type", "application/json; charset=utf-8")
            .body(body)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = resp.status().as_u16();
        let mut got = BytesMut::new();
        while got.len() < MAX_ANSWER {
            match resp.chunk().await {
                Ok(Some(c)) => got.extend_from_slice(&c[..c.len().min(MAX_ANSWER - got.len())]),
                Ok(None) => break,
                // The status is what counts; a body cut short is still an answer.
                Err(_) => break,
            }
        }
        Ok(Answer {
            status,
            body: got.freeze(),
        })
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

/// A transport error in a few words, with its cause (reqwest's own text says little).
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "timed out"
    } else {
        "request failed"
    };
    match std::error::Error::source(e) {
        Some(cause) => format!("{what}: {cause}"),
        None => format!("{what}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `https://` receiver is spoken to over TLS: what reaches it first is a TLS
    /// handshake record (0x16), not a refusal of the scheme before any connection.
    #[tokio::test]
    async fn https_urls_are_tried_over_tls() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let first = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut b = [0u8; 1];
            sock.read_exact(&mut b).await.map(|_| b[0])
        });
        let sent = client()
            .post(format!("https://127.0.0.1:{port}/cb"))
            .timeout(Duration::from_secs(5))
            .body("{}")
            .send();
        let first = tokio::time::timeout(Duration::from_secs(5), first);
        let (_, got) = tokio::join!(sent, first);
        let got = got.expect("the client connected").unwrap().unwrap();
        assert_eq!(got, 0x16, "a TLS ClientHello");
    }
}
