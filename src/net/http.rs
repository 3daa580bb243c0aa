//! The HTTP endpoint for operations: `GET /metrics` (Prometheus text format) and
//! `GET /health`. One request per connection, head bounded to 8 KiB and read with a
//! timeout: enough for scrapers and probes, and no general HTTP server to keep safe.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const MAX_HEAD: usize = 8 * 1024;
const READ_LIMIT: Duration = Duration::from_secs(10);

/// Renders the body of `/metrics`.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Serves until `stop` turns true.
pub async fn serve(listener: TcpListener, render: Render, mut stop: watch::Receiver<bool>) {
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = crate::shutdown::requested(&mut stop) => return,
        };
        tokio::spawn(answer(tcp, Arc::clone(&render)));
    }
}

async fn answer(mut tcp: TcpStream, render: Render) {
    let Ok(Some(head)) = tokio::time::timeout(READ_LIMIT, read_head(&mut tcp)).await else {
        return;
    };
    let (status, content_type, body) = route(&head, &render);
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tcp.write_all(response.as_bytes()).await;
    let _ = tcp.shutdown().await;
}

/// Reads up to the blank line ending the request head; None when it is too long or cut.
async fn read_head(tcp: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = tcp.read(&mut chunk).await.ok()?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return None;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    Some(head)
}

fn route(head: &[u8], render: &Render) -> (&'static str, &'static str, String) {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") => ("200 OK", "text/plain; version=0.0.4", render()),
        ("GET", "/health") => ("200 OK", "text/plain", "ok\n".into()),
        ("GET", _) => ("404 Not Found", "text/plain", "not found\n".into()),
        _ => ("405 Method Not Allowed", "text/plain", "GET only\n".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render() -> Render {
        Arc::new(|| "hermod_up 1\n".to_string())
    }

    #[test]
    fn routes() {
        let r = render();
        assert_eq!(
            route(b"GET /metrics HTTP/1.1\r\n\r\n", &r).2,
            "hermod_up 1\n"
        );
        assert_eq!(route(b"GET /nope HTTP/1.1\r\n\r\n", &r).0, "404 Not Found");
        assert_eq!(
            route(b"POST /metrics HTTP/1.1\r\n\r\n", &r).0,
            "405 Method Not Allowed"
        );
        assert_eq!(route(b"\xff\x00garbage", &r).0, "405 Method Not Allowed");
    }
}
