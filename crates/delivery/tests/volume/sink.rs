//! A keep-alive HTTP/1.1 sink that answers 204 to every request and keeps the event id
//! (`x-correlator`) of each, so a test can tell what arrived and what arrived twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Default)]
pub struct Received(Arc<Mutex<HashMap<String, usize>>>);

impl Received {
    /// Distinct event ids received.
    pub fn distinct(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    /// Events received more than once.
    pub fn duplicates(&self) -> usize {
        self.0.lock().unwrap().values().filter(|n| **n > 1).count()
    }
    pub fn has(&self, id: &str) -> bool {
        self.0.lock().unwrap().contains_key(id)
    }
}

/// Starts the sink; its URL and what it received.
pub async fn start() -> (String, Received) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cb", l.local_addr().unwrap());
    let got = Received::default();
    let g = got.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(serve(s, g.clone()));
        }
    });
    (url, got)
}

async fn serve(mut s: TcpStream, got: Received) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        // One whole request (head and body) in `buf`, or read more.
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let header = |name: &str| {
                head.lines()
                    .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
            };
            let len: usize = header("content-length:").and_then(|v| v.parse().ok()).unwrap_or(0);
            if buf.len() < end + 4 + len {
                break;
            }
            if let Some(id) = header("x-correlator:") {
                *got.0.lock().unwrap().entry(id).or_default() += 1;
            }
            buf.drain(..end + 4 + len);
            if s.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                .await
                .is_err()
            {
                return;
            }
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
