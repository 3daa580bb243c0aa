//! Connection limits per listener: a cap on concurrent connections and on connections from
//! one IP address. A [`ConnectionGuard`] holds one slot and gives it back when dropped, so a
//! session that ends in any way (close, error, panic) frees its slot.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The listener has `max_connections` sessions already.
    ListenerFull,
    /// This address has `max_per_ip` sessions already.
    PeerFull,
}

/// The counters behind one listener's limits.
#[derive(Debug)]
pub struct ConnectionLimits {
    max_total: usize,
    max_per_ip: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it releases the slot.
#[derive(Debug)]
pub struct ConnectionGuard {
    limits: Arc<ConnectionLimits>,
    ip: IpAddr,
}

impl ConnectionLimits {
    /// Limits of `max_total` connections, `max_per_ip` of them from one address.
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(ConnectionLimits {
            max_total,
            max_per_ip,
            state: Mutex::new(State::default()),
        })
    }

    /// Takes a slot for a connection from `ip`, or says which limit is reached.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionGuard, Refusal> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.total >= self.max_total {
            return Err(Refusal::ListenerFull);
        }
        let count = state.per_ip.entry(ip).or_insert(0);
        if *count >= self.max_per_ip {
            return Err(Refusal::PeerFull);
        }
        *count += 1;
        state.total += 1;
        Ok(ConnectionGuard {
            limits: Arc::clone(self),
            ip,
        })
    }

    /// Connections currently admitted.
    pub fn active(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut state = self.limits.state.lock().unwrap_or_else(|p| p.into_inner());
        state.total -= 1;
        if let Some(count) = state.per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                // Keeps the map bounded by the number of live peers.
                state.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_enforced_and_released_on_drop() {
        let limits = ConnectionLimits::new(3, 2);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let g1 = limits.admit(a).unwrap();
        let _g2 = limits.admit(a).unwrap();
        assert_eq!(limits.admit(a).unwrap_err(), Refusal::PeerFull);
        let _g3 = limits.admit(b).unwrap();
        assert_eq!(limits.admit(b).unwrap_err(), Refusal::ListenerFull);
        drop(g1);
        assert_eq!(limits.active(), 2);
        assert!(limits.admit(a).is_ok());
    }
}
