//! A TCP proxy in front of the real Redis that a test can cut and restore, to play "Redis
//! stopped mid-test" without stopping the Redis other tests share.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, Ordering},
};

use tokio::{
    net::{TcpListener, TcpStream},
    task::AbortHandle,
};

/// A cuttable proxy to Redis.
pub struct RedisProxy {
    /// `redis://127.0.0.1:PORT` of the proxy.
    pub url: String,
    open: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
}

impl RedisProxy {
    /// Proxies to the Redis at `target_url`.
    pub async fn start(target_url: &str) -> Self {
        let target = url::Url::parse(target_url).expect("TEST_REDIS_URL is a URL");
        let target = format!(
            "{}:{}",
            target.host_str().unwrap_or("127.0.0.1"),
            target.port().unwrap_or(6379)
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let open = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (gate, tracked) = (open.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !gate.load(Ordering::SeqCst) {
                    continue; // dropped: connection refused in effect
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
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

    /// Redis "stops": open connections are cut and new ones dropped.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    /// Redis is back.
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}
