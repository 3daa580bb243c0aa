//! Mail types shared by every protocol and by the queue: envelope addresses.
//!
//! Nothing here knows about sessions or storage; SMTP, the queue and local delivery all
//! speak in these types.

mod address;

pub use address::{Address, AddressError};
