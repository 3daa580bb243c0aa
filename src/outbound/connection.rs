//! One SMTP session to a remote server: connect, greeting, EHLO, STARTTLS, AUTH, then
//! transactions driven by [`Transaction`], RSET between them, QUIT at the end.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, timeout_at, Instant};
use tokio_rustls::client::TlsStream;

use super::config::{ClientConfig, ClientError};
use super::tls;
use crate::protocol::smtp_client::{
    dot_stuff, seven_bit, After, Capabilities, OutboundEnvelope, RcptResult, Reply, ReplyParser,
    Step, Transaction,
};

/// QUIT is a courtesy: never wait long for its reply.
const QUIT_TIMEOUT: Duration = Duration::from_secs(5);

enum Transport {
    Plain(TcpStream),
    // Boxed: the TLS state is large.
    Tls(Box<TlsStream<TcpStream>>),
}

/// One open SMTP session, ready for a transaction.
pub struct Connection {
    transport: Transport,
    parser: ReplyParser,
    capabilities: Capabilities,
    command_timeout: Duration,
    data_timeout: Duration,
    usable: bool,
}

impl Connection {
    /// Connects (bounded), reads the greeting, says EHLO (HELO when EHLO gets 5xx),
    /// upgrades with STARTTLS when offered and EHLOs again, then AUTHs when configured.
    ///
    /// A STARTTLS refusal without `require_tls` continues in plain text; a failed
    /// handshake is [`ClientError::Tls`] and the connection is gone.
    pub async fn connect(
        addr: SocketAddr,
        server_name: &str,
        config: &ClientConfig,
    ) -> Result<Connection, ClientError> {
        let tcp = timeout(config.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout("connect"))?
            .map_err(ClientError::Connect)?;
        // Commands are small and each waits for a reply: Nagle would only add latency.
        let _ = tcp.set_nodelay(true);
        let mut conn = Connection {
            transport: Transport::Plain(tcp),
            parser: ReplyParser::default(),
            capabilities: Capabilities::default(),
            command_timeout: config.command_timeout,
            data_timeout: config.data_timeout,
            usable: true,
        };
        let greeting = conn.read_reply("greeting").await?;
        if !greeting.is_positive() {
            // RFC 5321 §3.1: after a 554 greeting the client should still QUIT.
            conn.quit().await;
            return Err(ClientError::Rejected(greeting));
        }
        conn.hello(&config.helo_name).await?;
        if config.starttls && conn.capabilities.starttls {
            conn.command("STARTTLS\r\n", "STARTTLS").await?;
            let reply = conn.read_reply("STARTTLS").await?;
            if reply.code == 220 {
                conn = conn
                    .upgrade(addr, server_name, config.verify_certificates)
                    .await?;
                // RFC 3207 §4.2: forget everything learnt before TLS and ask again.
                conn.hello(&config.helo_name).await?;
            } else if config.require_tls {
                return Err(ClientError::Tls(format!("STARTTLS refused: {reply}")));
            }
        }
        if config.require_tls && !conn.is_tls() {
            return Err(ClientError::Tls("STARTTLS required but not offered".into()));
        }
        if let Some((user, password)) = &config.auth {
            conn.authenticate(user, password).await?;
        }
        Ok(conn)
    }

    /// Runs one transaction and returns one result per recipient, in envelope order.
    ///
    /// A refused MAIL or DATA gives every recipient concerned that reply. Afterwards the
    /// connection is ready for another transaction (RSET sent when needed) unless
    /// [`Connection::is_usable`] is false. An error means the connection is unusable,
    /// except [`ClientError::Unsupported`], returned before anything is sent. When the
    /// connection fails after the final dot the server may have taken the message: the
    /// caller retries, accepting a possible duplicate (RFC 5321 §6.1 prefers that to loss).
    pub async fn send(
        &mut self,
        envelope: &OutboundEnvelope,
        message: &[u8],
    ) -> Result<Vec<RcptResult>, ClientError> {
        if !self.usable {
            return Err(ClientError::Closed);
        }
        // RFC 6152 §3: 8-bit content goes to a server without 8BITMIME only as 7 bit.
        let message = if envelope.eight_bit && !self.capabilities.eightbitmime {
            seven_bit(message).map_err(|e| ClientError::Unsupported(e.to_string()))?
        } else {
            Cow::Borrowed(message)
        };
        let message = message.as_ref();
        let (mut transaction, first) =
            Transaction::start(envelope, &self.capabilities, message.len())
                .map_err(|e| ClientError::Unsupported(e.to_string()))?;
        let result = self.run(&mut transaction, first, message).await;
        if result.is_err() {
            self.usable = false;
        }
        result
    }

    async fn run(
        &mut self,
        transaction: &mut Transaction,
        first: Vec<u8>,
        message: &[u8],
    ) -> Result<Vec<RcptResult>, ClientError> {
        self.write(&first, self.command_timeout, transaction.waiting_for())
            .await?;
        loop {
            let step = transaction.waiting_for();
            let reply = if transaction.awaiting_data_end() {
                self.read_reply_within(self.data_timeout, step).await?
            } else {
                self.read_reply(step).await?
            };
            match transaction.on_reply(reply) {
                Step::Send(bytes) => self.write(&bytes, self.command_timeout, step).await?,
                Step::Read => {}
                Step::SendMessage => {
                    self.write(&dot_stuff(message), self.data_timeout, "message")
                        .await?
                }
                Step::Done(outcome) => {
                    match outcome.after {
                        After::Ready => {}
                        After::Reset => self.reset().await?,
                        After::Close => self.usable = false,
                    }
                    return Ok(outcome.results);
                }
            }
        }
    }

    /// False once the connection failed or the server misbehaved: drop it.
    pub fn is_usable(&self) -> bool {
        self.usable
    }

    /// What the server offered in its last EHLO (after TLS when TLS is on).
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// True once STARTTLS succeeded.
    pub fn is_tls(&self) -> bool {
        matches!(self.transport, Transport::Tls(_))
    }

    /// Says QUIT and closes, without waiting long or reporting errors.
    pub async fn quit(mut self) {
        let _ = timeout(QUIT_TIMEOUT, async {
            if self.command("QUIT\r\n", "QUIT").await.is_ok() {
                let _ = self.read_reply_within(QUIT_TIMEOUT, "QUIT").await;
            }
            let _ = match &mut self.transport {
                Transport::Plain(s) => s.shutdown().await,
                Transport::Tls(s) => s.shutdown().await,
            };
        })
        .await;
    }

    async fn hello(&mut self, helo_name: &str) -> Result<(), ClientError> {
        self.command(&format!("EHLO {helo_name}\r\n"), "EHLO")
            .await?;
        let reply = self.read_reply("EHLO").await?;
        if reply.is_positive() {
            self.capabilities = Capabilities::from_ehlo(&reply);
            return Ok(());
        }
        if !reply.is_permanent() {
            return Err(ClientError::Rejected(reply));
        }
        // RFC 5321 §3.2: an old server that does not know EHLO gets HELO.
        self.command(&format!("HELO {helo_name}\r\n"), "HELO")
            .await?;
        let reply = self.read_reply("HELO").await?;
        if !reply.is_positive() {
            return Err(ClientError::Rejected(reply));
        }
        self.capabilities = Capabilities::default();
        Ok(())
    }

    async fn upgrade(
        self,
        addr: SocketAddr,
        server_name: &str,
        verify: bool,
    ) -> Result<Connection, ClientError> {
        // RFC 3207 §4.2 (and CVE-2011-0411): bytes after the 220 were sent before TLS and
        // would be read as if protected.
        if self.parser.has_buffered() {
            return Err(ClientError::Protocol(
                "data after the STARTTLS reply".into(),
            ));
        }
        let Transport::Plain(tcp) = self.transport else {
            return Err(ClientError::Tls("TLS is already active".into()));
        };
        let connector = tls::connector(verify).map_err(ClientError::Tls)?;
        let name = ServerName::try_from(server_name.to_string())
            .unwrap_or_else(|_| ServerName::IpAddress(addr.ip().into()));
        let stream = timeout(self.command_timeout, connector.connect(name, tcp))
            .await
            .map_err(|_| ClientError::Timeout("TLS handshake"))?
            .map_err(|e| ClientError::Tls(e.to_string()))?;
        Ok(Connection {
            transport: Transport::Tls(Box::new(stream)),
            parser: ReplyParser::default(),
            ..self
        })
    }

    async fn authenticate(&mut self, user: &str, password: &str) -> Result<(), ClientError> {
        if !self.is_tls() {
            return Err(ClientError::Auth(
                "refusing to send credentials without TLS".into(),
            ));
        }
        if !self.capabilities.auth.iter().any(|m| m == "PLAIN") {
            return Err(ClientError::Auth(
                "the server does not offer AUTH PLAIN".into(),
            ));
        }
        // RFC 4616 §2: authzid NUL authcid NUL passwd; RFC 4954 §4: as an initial response.
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
        self.command(&format!("AUTH PLAIN {token}\r\n"), "AUTH")
            .await?;
        let reply = self.read_reply("AUTH").await?;
        if reply.code == 235 {
            Ok(())
        } else {
            Err(ClientError::Auth(reply.to_string()))
        }
    }

    async fn reset(&mut self) -> Result<(), ClientError> {
        self.command("RSET\r\n", "RSET").await?;
        let reply = self.read_reply("RSET").await?;
        if !reply.is_positive() {
            self.usable = false;
        }
        Ok(())
    }

    async fn command(&mut self, line: &str, step: &'static str) -> Result<(), ClientError> {
        self.write(line.as_bytes(), self.command_timeout, step)
            .await
    }

    async fn write(
        &mut self,
        bytes: &[u8],
        limit: Duration,
        step: &'static str,
    ) -> Result<(), ClientError> {
        let io = async {
            match &mut self.transport {
                Transport::Plain(s) => s.write_all(bytes).await,
                Transport::Tls(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await
                }
            }
        };
        timeout(limit, io)
            .await
            .map_err(|_| ClientError::Timeout(step))?
            .map_err(ClientError::io)
    }

    async fn read_reply(&mut self, step: &'static str) -> Result<Reply, ClientError> {
        self.read_reply_within(self.command_timeout, step).await
    }

    /// One whole reply within `limit`: a server trickling bytes cannot stretch it.
    async fn read_reply_within(
        &mut self,
        limit: Duration,
        step: &'static str,
    ) -> Result<Reply, ClientError> {
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 4096];
        loop {
            match self.parser.next_reply() {
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => {}
                Err(e) => {
                    self.usable = false;
                    return Err(ClientError::Protocol(format!("{step}: {e}")));
                }
            }
            let read = async {
                match &mut self.transport {
                    Transport::Plain(s) => s.read(&mut buf).await,
                    Transport::Tls(s) => s.read(&mut buf).await,
                }
            };
            let n = timeout_at(deadline, read)
                .await
                .map_err(|_| ClientError::Timeout(step))?
                .map_err(ClientError::io)?;
            if n == 0 {
                return Err(ClientError::Closed);
            }
            self.parser.feed(&buf[..n]);
        }
    }
}
