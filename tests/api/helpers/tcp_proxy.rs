//! A TCP proxy in front of a real server (Redis, PostgreSQL) that a test can cut and restore,
//! to play "the server stopped mid-test" without stopping the server other tests share.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpSocket, TcpStream},
    task::AbortHandle,
};

/// A cuttable proxy to a server.
pub struct TcpProxy {
    /// The target URL with the proxy's address in place of the server's.
    pub url: String,
    /// Where the proxy listens (again after a cut).
    address: SocketAddr,
    target: String,
    /// Milliseconds every answer from the server is held back (changeable while running).
    latency: Arc<AtomicU64>,
    /// The task accepting connections; none while cut.
    accepting: Mutex<Option<AbortHandle>>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
}

impl TcpProxy {
    /// Proxies to the server at `target_url` (`redis://…`, `postgres://…`, with a port).
    pub async fn start(target_url: &str) -> Self {
        Self::start_with_latency(target_url, Duration::ZERO).await
    }

    /// The same, every answer from the server held back by `latency` (a slow network).
    pub async fn start_with_latency(target_url: &str, latency: Duration) -> Self {
        let mut url = url::Url::parse(target_url).expect("a server URL");
        let target = format!(
            "{}:{}",
            url.host_str().unwrap_or("127.0.0.1"),
            url.port_or_known_default().or(url.port()).unwrap_or(6379)
        );
        let listener = listen("127.0.0.1:0".parse().unwrap()).expect("a free port");
        let address = listener.local_addr().unwrap();
        url.set_port(Some(address.port())).unwrap();
        let proxy = Self {
            url: url.to_string(),
            address,
            target,
            latency: Arc::new(AtomicU64::new(
                u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            )),
            accepting: Mutex::default(),
            connections: Arc::default(),
        };
        proxy.accept_on(Some(listener));
        proxy
    }

    /// Accepts on `listener`, or first takes the port back (an aborted task gives it back on
    /// its next poll, so right after a cut the port may still be taken for a moment).
    fn accept_on(&self, listener: Option<TcpListener>) {
        let (target, latency, address) = (self.target.clone(), self.latency.clone(), self.address);
        let tracked = self.connections.clone();
        let task = tokio::spawn(async move {
            let listener = match listener {
                Some(listener) => listener,
                None => loop {
                    match listen(address) {
                        Ok(listener) => break listener,
                        Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                },
            };
            while let Ok((client, _)) = listener.accept().await {
                let (target, latency) = (target.clone(), latency.clone());
                let task = tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(target).await {
                        relay(client, server, latency).await;
                    }
                });
                tracked.lock().unwrap().push(task.abort_handle());
            }
        });
        *self.accepting.lock().unwrap() = Some(task.abort_handle());
    }

    /// The server "stops": open connections are cut and new ones refused.
    pub fn cut(&self) {
        if let Some(accepting) = self.accepting.lock().unwrap().take() {
            accepting.abort();
        }
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    /// From now on every answer from the server is held back by `latency` (a network turning
    /// slow), on open connections too.
    pub fn set_latency(&self, latency: Duration) {
        let millis = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.latency.store(millis, Ordering::Relaxed);
    }

    /// The server is back, on the same port.
    pub fn restore(&self) {
        if self.accepting.lock().unwrap().is_none() {
            self.accept_on(None);
        }
    }
}

/// A listener on `address` that may take a port back at once after a cut.
fn listen(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(1024)
}

/// Copies both ways until either side closes; the server's bytes wait `latency` first.
async fn relay(client: TcpStream, server: TcpStream, latency: Arc<AtomicU64>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = tokio::io::copy(&mut client_read, &mut server_write);
    let downstream = async {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let read = server_read.read(&mut buffer).await.unwrap_or(0);
            if read == 0 {
                return;
            }
            let held = latency.load(Ordering::Relaxed);
            if held > 0 {
                tokio::time::sleep(Duration::from_millis(held)).await;
            }
            if client_write.write_all(&buffer[..read]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = upstream => {}
        () = downstream => {}
    }
}
