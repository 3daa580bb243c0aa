//! Networking: TLS setup (rustls), the stream type sessions run on, and the accept loops
//! that hand each connection to an actor on one of the arbiters.

pub mod http;
pub mod limits;
pub mod listener;
pub mod stream;
pub mod tls;

pub use limits::{ConnectionGuard, ConnectionLimits};
pub use listener::{bind_all, BoundListeners, ListenerRole};
pub use stream::Stream;
pub use tls::{ephemeral_tls, load_or_create_tls, TlsError};
