//! The load generator's side of `POST /webhook`: plain HTTP/1.1 over keep-alive connections,
//! one request at a time per connection (as Telegram delivers), written by hand so that the
//! client costs a few microseconds per update and the figures measure the bot, not a client.

use std::{
    io,
    net::SocketAddr,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Longest wait for one acknowledgement; Telegram itself gives up after 60 s.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response head we accept.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// The bot's answer to one update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// HTTP status (200 accepted, 503 busy, ...).
    pub status: u16,
    /// From the first byte written to the last byte of the answer read.
    pub latency: Duration,
}

/// One keep-alive connection to the webhook.
pub struct Connection {
    stream: TcpStream,
    /// Bytes read past the previous answer (none in practice: one request in flight).
    pending: Vec<u8>,
    /// The request head up to `Content-Length: ` (path, host, secret).
    head: Vec<u8>,
}

impl Connection {
    /// Connects to the bot at `addr`, sending `secret` with every update.
    pub async fn open(addr: SocketAddr, secret: &str) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let head = format!(
            "POST /webhook HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             X-Telegram-Bot-Api-Secret-Token: {secret}\r\nContent-Length: "
        );
        Ok(Self {
            stream,
            pending: Vec::with_capacity(1024),
            head: head.into_bytes(),
        })
    }

    /// Posts one update body and reads the answer; the flag says whether the connection
    /// may be used again (the server did not close it).
    pub async fn post(&mut self, body: &[u8]) -> io::Result<(Ack, bool)> {
        let mut request = Vec::with_capacity(self.head.len() + body.len() + 16);
        request.extend_from_slice(&self.head);
        request.extend_from_slice(body.len().to_string().as_bytes());
        request.extend_from_slice(b"\r\n\r\n");
        request.extend_from_slice(body);
        let started = Instant::now();
        let answer = async {
            self.stream.write_all(&request).await?;
            self.read_answer().await
        };
        let (status, keep_alive) = tokio::time::timeout(ACK_TIMEOUT, answer)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no acknowledgement"))??;
        let ack = Ack {
            status,
            latency: started.elapsed(),
        };
        Ok((ack, keep_alive))
    }

    /// Reads one answer: its status and whether the connection stays open.
    async fn read_answer(&mut self) -> io::Result<(u16, bool)> {
        let head_end = loop {
            if let Some(end) = find(&self.pending, b"\r\n\r\n") {
                break end + 4;
            }
            if self.pending.len() > MAX_HEAD_BYTES {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "huge head"));
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.pending[..head_end]).to_ascii_lowercase();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no status line"))?;
        let length: usize = header(&head, "content-length")
            .and_then(|value| value.parse().ok())
            .unwrap_or(0);
        let keep_alive = header(&head, "connection") != Some("close");
        while self.pending.len() < head_end + length {
            self.fill().await?;
        }
        self.pending.drain(..head_end + length);
        Ok((status, keep_alive))
    }

    async fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 4096];
        let read = self.stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.pending.extend_from_slice(&chunk[..read]);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The value of header `name` in a lower-cased response head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim())
    })
}

/// A small pool of keep-alive connections shared by the simulated users.
pub struct WebhookClient {
    addr: SocketAddr,
    secret: String,
    idle: Mutex<Vec<Connection>>,
}

impl WebhookClient {
    /// A client of the webhook at `addr`.
    pub fn new(addr: SocketAddr, secret: &str) -> Self {
        Self {
            addr,
            secret: secret.to_owned(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Posts one update on an idle connection (or a new one) and returns the answer. An idle
    /// connection the server has closed meanwhile (actix-web closes keep-alive connections
    /// after 5 s of silence) is replaced by a new one, as any HTTP client does.
    pub async fn post(&self, body: &[u8]) -> io::Result<Ack> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let (connection, answer) = match idle {
            Some(mut connection) => match connection.post(body).await {
                Ok(answer) => (connection, answer),
                Err(_closed) => self.post_on_new(body).await?,
            },
            None => self.post_on_new(body).await?,
        };
        let (ack, keep_alive) = answer;
        if keep_alive {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(connection);
        }
        Ok(ack)
    }

    async fn post_on_new(&self, body: &[u8]) -> io::Result<(Connection, (Ack, bool))> {
        let mut connection = Connection::open(self.addr, &self.secret).await?;
        let answer = connection.post(body).await?;
        Ok((connection, answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_by_lower_case_name() {
        let head = "http/1.1 200 ok\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
        assert_eq!(header(head, "content-length"), Some("0"));
        assert_eq!(header(head, "connection"), Some("close"));
        assert_eq!(find(head.as_bytes(), b"\r\n\r\n"), Some(head.len() - 4));
    }
}
