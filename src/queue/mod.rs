//! Pure queue logic: the retry schedule ([`RetryPolicy`]), the due-time index of scheduled
//! work ([`DueIndex`]) and delivery status notifications ([`build_dsn`], RFC 3464). No I/O
//! and no clock: the current time and any randomness are parameters, so every rule is
//! unit-tested deterministically; the actors own the timers and the storage.

mod dsn;
mod due;
mod schedule;

pub use dsn::{build_dsn, Action, DsnRecipient, DsnRequest};
pub use due::{DueIndex, DueKey};
pub use schedule::RetryPolicy;
