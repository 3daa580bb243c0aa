//! The actor each client connection runs in. It owns the connection task of its protocol
//! (SMTP, POP3 or IMAP) and stops when that task ends; the task itself feeds the pure protocol
//! state machine and carries out its actions.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use actix::prelude::*;

use super::{imap_session, pop3_session, smtp_session, Services};
use crate::net::{ConnectionGuard, ListenerRole};

/// An accepted connection, registered with the arbiter it will run on.
pub struct Connected {
    /// Shared services.
    pub services: Arc<Services>,
    /// The listener it came in on.
    pub role: ListenerRole,
    /// The socket.
    pub tcp: tokio::net::TcpStream,
    /// The client.
    pub peer: SocketAddr,
    /// Its slot in the listener's connection limits, released when the session ends.
    pub guard: ConnectionGuard,
}

/// A client session.
pub struct Session {
    run: Option<Pin<Box<dyn Future<Output = ()>>>>,
}

impl Session {
    /// Starts the session of `connection` on the current arbiter.
    pub fn start_for(connection: Connected) -> Addr<Session> {
        let run: Pin<Box<dyn Future<Output = ()>>> = match connection.role.protocol() {
            "pop3" => Box::pin(pop3_session::run(connection)),
            "imap" => Box::pin(imap_session::run(connection)),
            _ => Box::pin(smtp_session::run(connection)),
        };
        Session { run: Some(run) }.start()
    }
}

impl Actor for Session {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(run) = self.run.take() {
            ctx.spawn(run.into_actor(self).map(|_, _, ctx| ctx.stop()));
        }
    }
}
