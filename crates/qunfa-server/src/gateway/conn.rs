//! The connection under a session: its socket (shared with the hub, which writes to it while
//! the session is parked), what has been read off it, and what is on its way out.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use qunfa_core::ids::MsgId;
use tokio::net::TcpStream;

use super::hub::SessionHandle;
use super::wire::{self, Incoming, Reader, Refused};

/// Frames gathered into one write at most (`IOV_MAX` is 1,024).
const MAX_BATCH: usize = 512;

/// The connection: its socket, what has been read off it, and what is on its way out.
pub(super) struct Conn {
    /// Shared with the hub, which writes to it while the session is parked (`handle::Queue`).
    pub(super) tcp: Arc<TcpStream>,
    pub(super) reader: Reader,
    /// Frames not yet fully written, and how much of the first one was.
    pub(super) out: VecDeque<Bytes>,
    pub(super) offset: usize,
    /// The first frame of `out` is partly on the wire already (written by the hub).
    pub(super) head_started: bool,
}

impl Conn {
    pub(super) fn new(tcp: TcpStream, max_frame: usize) -> Conn {
        Conn {
            tcp: Arc::new(tcp),
            reader: Reader::new(max_frame),
            out: VecDeque::new(),
            offset: 0,
            head_started: false,
        }
    }

    /// Writes what is queued, gathered (`sendmsg`), as many frames per system call as the
    /// socket takes. Cancel-safe: if the future is dropped, what was written is accounted for
    /// and the rest is still queued, so a frame is never cut short by a close.
    pub(super) async fn flush(&mut self) -> std::io::Result<()> {
        while !self.out.is_empty() {
            let n = {
                let mut slices = Vec::with_capacity(self.out.len().min(64));
                slices.push(IoSlice::new(&self.out[0][self.offset..]));
                for f in self.out.iter().skip(1).take(63) {
                    slices.push(IoSlice::new(f));
                }
                loop {
                    match send(&self.tcp, &slices) {
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            self.tcp.writable().await?
                        }
                        r => break r?,
                    }
                }
            };
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            self.advance(n);
        }
        if self.out.capacity() > 4 {
            // A burst is over: give its memory back rather than keep it per idle client.
            self.out = VecDeque::new();
        }
        Ok(())
    }

    pub(super) async fn write(
        &mut self,
        frames: impl IntoIterator<Item = Bytes>,
    ) -> std::io::Result<()> {
        self.out.extend(frames);
        self.flush().await
    }

    pub(super) async fn write_one(&mut self, frame: Bytes) -> std::io::Result<()> {
        self.write([frame]).await
    }

    /// The next message from the client, answering its pings; `None` once it closed the
    /// connection (or sent a close).
    pub(super) async fn next(&mut self) -> Result<Option<Incoming>, Refused> {
        loop {
            match self.reader.next_message()? {
                Some(Incoming::Ping(p)) => {
                    if self.write_one(wire::pong(&p)).await.is_err() {
                        return Ok(None);
                    }
                }
                Some(Incoming::Pong) => {}
                Some(Incoming::Close(_)) => return Ok(None),
                Some(m) => return Ok(Some(m)),
                None => match read_buf(&self.tcp, self.reader.buffer()).await {
                    Ok(0) | Err(_) => return Ok(None),
                    Ok(_) => {}
                },
            }
        }
    }

    /// Ends the connection: finishes the frame being written (the others queued are dropped:
    /// nothing goes after the close), sends `last` (a kick notice, say) and the close frame,
    /// then waits for the client to close its side, all within `within`: a client that is not
    /// reading may never take it.
    pub(super) async fn close(mut self, last: &[Bytes], code: u16, reason: &str, within: Duration) {
        let started = usize::from(self.offset > 0 || self.head_started);
        self.out.truncate(started);
        self.out.extend(last.iter().cloned());
        self.out.push_back(wire::close(code, reason));
        let _ = tokio::time::timeout(within, async {
            if self.flush().await.is_err() {
                return;
            }
            let _ = socket2::SockRef::from(&*self.tcp).shutdown(std::net::Shutdown::Write);
            // Reading to the end lets the client's close (and anything it had in flight)
            // arrive, so the connection ends with a FIN rather than a reset.
            let mut sink = bytes::BytesMut::with_capacity(512);
            while matches!(read_buf(&self.tcp, &mut sink).await, Ok(n) if n > 0) {
                sink.clear();
            }
        })
        .await;
    }
}

/// What woke the live loop.
pub(super) enum Woken {
    /// The hub asked the session to close.
    Closing,
    /// The client went away (or the socket failed).
    Gone,
    /// The client sent something: it is in the read buffer.
    Read,
}

impl Conn {
    /// One turn of the live loop (see [`live`]).
    pub(super) fn poll_live(
        &mut self,
        cx: &mut Context<'_>,
        handle: &SessionHandle,
        cursor: MsgId,
    ) -> Poll<Woken> {
        handle.register_waker(cx);
        handle.unpark();
        if handle.closing() {
            return Poll::Ready(Woken::Closing);
        }
        loop {
            if self.out.is_empty() {
                let (n, started) = handle.take(&mut self.out, MAX_BATCH, cursor);
                if n == 0 {
                    break;
                }
                self.head_started = started;
            }
            if self.out.is_empty() {
                continue;
            }
            match self.poll_write_some(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Poll::Ready(Woken::Gone),
                Poll::Pending => break,
            }
        }
        if self.out.is_empty() && self.out.capacity() > 4 {
            // A burst is over: give its memory back rather than keep it per idle client.
            self.out = VecDeque::new();
        }
        loop {
            match self.tcp.poll_read_ready(cx) {
                Poll::Pending => {
                    if self.out.is_empty() {
                        handle.park(&self.tcp, cursor);
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Err(_)) => return Poll::Ready(Woken::Gone),
                Poll::Ready(Ok(())) => {}
            }
            match self.tcp.try_read_buf(self.reader.buffer()) {
                Ok(0) => return Poll::Ready(Woken::Gone),
                Ok(_) => return Poll::Ready(Woken::Read),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.reader.shrink();
                }
                Err(_) => return Poll::Ready(Woken::Gone),
            }
        }
    }

    /// One gathered write of what is queued; `Ready(Ok)` once some of it went out.
    pub(super) fn poll_write_some(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let n = {
            let mut slices = [IoSlice::new(&[]); 64];
            let mut k = 0;
            for (i, f) in self.out.iter().take(64).enumerate() {
                slices[i] = IoSlice::new(if i == 0 { &f[self.offset..] } else { f });
                k = i + 1;
            }
            loop {
                match self.tcp.poll_write_ready(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
                match send(&self.tcp, &slices[..k]) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Poll::Ready(Err(e)),
                    Ok(n) => break n,
                }
            }
        };
        if n == 0 {
            return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
        }
        self.advance(n);
        Poll::Ready(Ok(()))
    }

    /// Accounts for `n` bytes written from the front of the queue.
    pub(super) fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let rest = self.out[0].len() - self.offset;
            if n >= rest {
                n -= rest;
                self.out.pop_front();
                self.offset = 0;
                self.head_started = false;
            } else {
                self.offset += n;
                n = 0;
            }
        }
    }
}

/// One non-blocking write of `slices` to the socket, in the order given: `send(2)` for one
/// slice and `sendmsg(2)` for more. Not `write`/`writev`: those go through the file layer
/// first (the file position lock and a modify notification per call), which a socket does not
/// need, and a fan-out makes one such call per connection. `WouldBlock` clears the socket's
/// write readiness, as tokio's own writes do; a peer that is gone answers an error, never
/// `SIGPIPE`.
pub(super) fn send(tcp: &TcpStream, slices: &[IoSlice<'_>]) -> std::io::Result<usize> {
    tcp.try_io(tokio::io::Interest::WRITABLE, || send_now(tcp, slices))
}

/// [`send`] without tokio's readiness: the system call is made whatever tokio last saw, and a
/// full socket leaves that untouched. For the hub's direct write, which queues what the socket
/// does not take and wakes the session: the session's own write then goes through [`send`]
/// and waits for readiness properly. Skipping the check saves a cache miss per connection in
/// a fan-out (tokio keeps readiness in a separate allocation per socket).
pub(super) fn send_now(tcp: &TcpStream, slices: &[IoSlice<'_>]) -> std::io::Result<usize> {
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    let sock = socket2::SockRef::from(tcp);
    match slices {
        [one] => sock.send_with_flags(one, flags),
        more => sock.send_vectored_with_flags(more, flags),
    }
}

/// Reads what the socket holds into `buf`, waiting for some (`read_buf` on the shared socket).
async fn read_buf(tcp: &TcpStream, buf: &mut bytes::BytesMut) -> std::io::Result<usize> {
    loop {
        tcp.readable().await?;
        match tcp.try_read_buf(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            r => return r,
        }
    }
}
