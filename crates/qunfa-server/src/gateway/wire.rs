//! WebSocket framing (RFC 6455), as much as the gateway needs: the opening handshake's accept
//! key, server frames encoded once (header and payload in one `Bytes`, unmasked, so every
//! receiver gets the same bytes), and a reader that reassembles a client's masked frames.
//!
//! No extensions are negotiated (no compression), so the reserved bits must be 0.

use bytes::{BufMut, Bytes, BytesMut};
use sha1::{Digest, Sha1};

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(key);
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64(&h.finalize())
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A complete, unmasked server frame.
fn frame(opcode: u8, payload: &[u8]) -> Bytes {
    let len = payload.len();
    let mut b = BytesMut::with_capacity(len + 10);
    b.put_u8(0x80 | opcode);
    if len < 126 {
        b.put_u8(len as u8);
    } else if len <= usize::from(u16::MAX) {
        b.put_u8(126);
        b.put_u16(len as u16);
    } else {
        b.put_u8(127);
        b.put_u64(len as u64);
    }
    b.put_slice(payload);
    b.freeze()
}

/// A text frame.
pub fn text(payload: &str) -> Bytes {
    frame(OP_TEXT, payload.as_bytes())
}

pub fn ping() -> Bytes {
    frame(OP_PING, &[])
}

pub fn pong(payload: &[u8]) -> Bytes {
    frame(OP_PONG, payload)
}

/// A close frame with `code` and a reason (cut to fit a control frame's 125 bytes).
pub fn close(code: u16, reason: &str) -> Bytes {
    let mut p = Vec::with_capacity(2 + reason.len());
    p.extend_from_slice(&code.to_be_bytes());
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    p.extend_from_slice(&reason.as_bytes()[..end]);
    frame(OP_CLOSE, &p)
}

/// What a client sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    Text(String),
    Binary,
    Ping(Vec<u8>),
    Pong,
    /// The client's close, with its code when it gave one.
    Close(Option<u16>),
}

/// Why a client's bytes are not acceptable.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// A message over the size limit (close 1009).
    TooBig,
    /// Not a well-formed client frame (close 1008 for the gateway: a protocol violation).
    Protocol(&'static str),
}

/// Reassembles a client's frames from what is read off the socket.
pub struct Reader {
    buf: BytesMut,
    max_message: usize,
    /// A fragmented message being assembled: its opcode and payload so far.
    partial: Option<(u8, Vec<u8>)>,
}

impl Reader {
    pub fn new(max_message: usize) -> Reader {
        Reader {
            buf: BytesMut::new(),
            max_message,
            partial: None,
        }
    }

    /// Where to read into (`read_buf`).
    pub fn buffer(&mut self) -> &mut BytesMut {
        if self.buf.capacity() - self.buf.len() < 256 {
            self.buf.reserve(512);
        }
        &mut self.buf
    }

    /// Gives the buffer's memory back when nothing is pending in it (an idle connection
    /// should cost as little as possible).
    pub fn shrink(&mut self) {
        if self.buf.is_empty() && self.partial.is_none() {
            self.buf = BytesMut::new();
        }
    }

    /// The next complete message or control frame, if the buffer holds one.
    pub fn next_message(&mut self) -> Result<Option<Incoming>, Refused> {
        loop {
            let Some((fin, opcode, payload)) = self.frame()? else {
                return Ok(None);
            };
            match opcode {
                OP_PING => return Ok(Some(Incoming::Ping(payload))),
                OP_PONG => return Ok(Some(Incoming::Pong)),
                OP_CLOSE => {
                    let code =
                        (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                    return Ok(Some(Incoming::Close(code)));
                }
                OP_TEXT | OP_BINARY => {
                    if self.partial.is_some() {
                        return Err(Refused::Protocol("a new message inside a fragmented one"));
                    }
                    if fin {
                        return Ok(Some(message(opcode, payload)?));
                    }
                    self.partial = Some((opcode, payload));
                }
                OP_CONTINUATION => {
                    let Some((op, mut so_far)) = self.partial.take() else {
                        return Err(Refused::Protocol("a continuation without a message"));
                    };
                    if so_far.len() + payload.len() > self.max_message {
                        return Err(Refused::TooBig);
                    }
                    so_far.extend_from_slice(&payload);
                    if fin {
                        return Ok(Some(message(op, so_far)?));
                    }
                    self.partial = Some((op, so_far));
                }
                _ => return Err(Refused::Protocol("an unknown opcode")),
            }
        }
    }

    /// One whole frame off the buffer: (FIN, opcode, unmasked payload).
    fn frame(&mut self) -> Result<Option<(bool, u8, Vec<u8>)>, Refused> {
        let b = &self.buf;
        if b.len() < 2 {
            return Ok(None);
        }
        let (fin, rsv, opcode) = (b[0] & 0x80 != 0, b[0] & 0x70, b[0] & 0x0F);
        if rsv != 0 {
            return Err(Refused::Protocol(
                "reserved bits set (no extension was agreed)",
            ));
        }
        if b[1] & 0x80 == 0 {
            return Err(Refused::Protocol("a client frame must be masked"));
        }
        let (len, at) = match b[1] & 0x7F {
            126 => {
                if b.len() < 4 {
                    return Ok(None);
                }
                (u64::from(u16::from_be_bytes([b[2], b[3]])), 4)
            }
            127 => {
                if b.len() < 10 {
                    return Ok(None);
                }
                let mut n = [0u8; 8];
                n.copy_from_slice(&b[2..10]);
                (u64::from_be_bytes(n), 10)
            }
            n => (u64::from(n), 2),
        };
        let control = opcode & 0x8 != 0;
        if control && (!fin || len > 125) {
            return Err(Refused::Protocol("a fragmented or oversized control frame"));
        }
        if len > self.max_message as u64 {
            return Err(Refused::TooBig);
        }
        let len = len as usize;
        if b.len() < at + 4 + len {
            return Ok(None);
        }
        let mask = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        let _ = self.buf.split_to(at + 4);
        let mut payload = self.buf.split_to(len).to_vec();
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte ^= mask[i % 4];
        }
        Ok(Some((fin, opcode, payload)))
    }
}

fn message(opcode: u8, payload: Vec<u8>) -> Result<Incoming, Refused> {
    if opcode == OP_BINARY {
        return Ok(Incoming::Binary);
    }
    String::from_utf8(payload)
        .map(Incoming::Text)
        .map_err(|_| Refused::Protocol("a text frame that is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame: masked, as a browser sends it.
    fn client(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x12, 0x34, 0x56, 0x78];
        let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 65535 => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    fn feed(r: &mut Reader, bytes: &[u8]) {
        r.buffer().extend_from_slice(bytes);
    }

    #[test]
    fn the_handshake_key_of_rfc_6455() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn server_frames_carry_their_length() {
        assert_eq!(&text("hi")[..], b"\x81\x02hi");
        let long = "x".repeat(300);
        let f = text(&long);
        assert_eq!(&f[..4], &[0x81, 126, 1, 44]);
        assert_eq!(f.len(), 304);
        let huge = "y".repeat(70_000);
        assert_eq!(&text(&huge)[..2], &[0x81, 127]);
        assert_eq!(&close(4008, "too slow")[..], b"\x88\x0a\x0f\xa8too slow");
        assert_eq!(close(1000, &"長".repeat(100)).len(), 2 + 2 + 123);
    }

    #[test]
    fn client_frames_arrive_whole_whatever_the_reads() {
        let mut r = Reader::new(1024);
        let bytes = client(true, OP_TEXT, "{\"op\":\"ping\"}".as_bytes());
        for b in &bytes[..bytes.len() - 1] {
            feed(&mut r, std::slice::from_ref(b));
            assert_eq!(r.next_message(), Ok(None));
        }
        feed(&mut r, &bytes[bytes.len() - 1..]);
        assert_eq!(
            r.next_message(),
            Ok(Some(Incoming::Text("{\"op\":\"ping\"}".into())))
        );
        // Fragments, with a ping between them, and a close.
        let mut all = client(false, OP_TEXT, b"hel");
        all.extend(client(true, OP_PING, b"p"));
        all.extend(client(true, OP_CONTINUATION, b"lo"));
        all.extend(client(true, OP_CLOSE, &1000u16.to_be_bytes()));
        feed(&mut r, &all);
        assert_eq!(r.next_message(), Ok(Some(Incoming::Ping(b"p".to_vec()))));
        assert_eq!(r.next_message(), Ok(Some(Incoming::Text("hello".into()))));
        assert_eq!(r.next_message(), Ok(Some(Incoming::Close(Some(1000)))));
        assert_eq!(r.next_message(), Ok(None));
        let mut big = Reader::new(1024);
        feed(&mut big, &client(true, OP_TEXT, &vec![b'a'; 2000]));
        assert_eq!(big.next_message(), Err(Refused::TooBig));
    }

    #[test]
    fn what_a_client_must_not_send() {
        let unmasked = [0x81, 0x02, b'h', b'i'];
        let mut r = Reader::new(1024);
        feed(&mut r, &unmasked);
        assert!(matches!(r.next_message(), Err(Refused::Protocol(_))));
        let mut r = Reader::new(1024);
        feed(&mut r, &client(true, OP_TEXT, &[0xff, 0xfe]));
        assert!(matches!(r.next_message(), Err(Refused::Protocol(_))));
        let mut r = Reader::new(1024);
        feed(&mut r, &client(true, 0x3, b""));
        assert!(matches!(r.next_message(), Err(Refused::Protocol(_))));
        let mut r = Reader::new(1024);
        feed(&mut r, &client(true, OP_BINARY, b"\x00\x01"));
        assert_eq!(r.next_message(), Ok(Some(Incoming::Binary)));
    }
}
