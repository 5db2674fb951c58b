//! A TCP proxy in front of a real server (Redis, PostgreSQL) that a test can cut and restore,
//! to play "the server stopped mid-test" without stopping the server other tests share.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::AbortHandle,
};

/// A cuttable proxy to a server.
pub struct TcpProxy {
    /// The target URL with the proxy's address in place of the server's.
    pub url: String,
    open: Arc<AtomicBool>,
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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        url.set_port(Some(listener.local_addr().unwrap().port()))
            .unwrap();
        let url = url.to_string();
        let open = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (gate, tracked) = (open.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !gate.load(Ordering::SeqCst) {
                    continue; // dropped: connection refused in effect
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(target).await {
                        relay(client, server, latency).await;
                    }
                });
                tracked.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            url,
            open,
            connections,
        }
    }

    /// The server "stops": open connections are cut and new ones dropped.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    /// The server is back.
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// Copies both ways until either side closes; the server's bytes wait `latency` first.
async fn relay(mut client: TcpStream, server: TcpStream, latency: Duration) {
    if latency.is_zero() {
        let mut server = server;
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        return;
    }
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
            tokio::time::sleep(latency).await;
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
