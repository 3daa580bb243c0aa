//! A `hermod sink` process (the scripted SMTP sink with STARTTLS and metrics), killed on drop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};

use super::hermod;

/// A running sink and its two listeners.
pub struct SinkProcess {
    child: Child,
    /// SMTP.
    pub smtp: SocketAddr,
    /// `/metrics`.
    pub http: SocketAddr,
}

impl SinkProcess {
    /// Starts `hermod sink` on loopback port 0 with these extra arguments.
    pub fn start(extra: &[&str]) -> SinkProcess {
        let mut child = hermod()
            .args(["sink", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let smtp = lines.next().unwrap().unwrap();
        let http = lines.next().unwrap().unwrap();
        SinkProcess {
            child,
            smtp: smtp.rsplit(' ').next().unwrap().parse().unwrap(),
            http: http
                .trim_start_matches("metrics on http://")
                .trim_end_matches("/metrics")
                .parse()
                .unwrap(),
        }
    }

    /// The sink's metrics text.
    pub fn metrics(&self) -> String {
        let mut http = TcpStream::connect(self.http).unwrap();
        http.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
        let mut metrics = String::new();
        http.read_to_string(&mut metrics).unwrap();
        metrics
    }

    /// `hermod_sink_messages_total`.
    pub fn messages(&self) -> u64 {
        self.metrics()
            .lines()
            .find_map(|l| l.strip_prefix("hermod_sink_messages_total "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for SinkProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
