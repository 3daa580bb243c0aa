//! What the sink answers: by recipient (local parts starting with `reject`, `defer`,
//! `delay` or `disconnect` get that treatment, so a sender can aim at one), otherwise by
//! percentage.

use std::time::Duration;

/// The sink's answer to one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 250.
    Accept,
    /// 451 4.3.0.
    Defer,
    /// 550 5.1.1.
    Reject,
    /// 250 after a pause.
    Delay(Duration),
    /// Close the connection without an answer.
    Disconnect,
}

impl Outcome {
    /// Metric label.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Accept => "accepted",
            Outcome::Defer => "deferred",
            Outcome::Reject => "rejected",
            Outcome::Delay(_) => "delayed",
            Outcome::Disconnect => "disconnected",
        }
    }
}

/// Percentages (0–100) of recipients that get each treatment, and the pause of a delay.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Script {
    /// Deferred with 451.
    pub defer_percent: f64,
    /// Refused with 550.
    pub reject_percent: f64,
    /// Dropped without an answer.
    pub disconnect_percent: f64,
    /// Accepted after `delay`.
    pub delay_percent: f64,
    /// The pause of a delayed answer.
    pub delay: Duration,
}

impl Script {
    /// The treatment of `address`: by its local part's prefix, else drawn by percentage.
    pub fn for_recipient(&self, address: &str) -> Outcome {
        self.decide(address, rand::random::<f64>() * 100.0)
    }

    /// As [`Script::for_recipient`] with the draw given (0 ≤ draw < 100).
    pub fn decide(&self, address: &str, draw: f64) -> Outcome {
        let local = address
            .split('@')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        for (prefix, outcome) in [
            ("reject", Outcome::Reject),
            ("defer", Outcome::Defer),
            ("disconnect", Outcome::Disconnect),
            ("delay", Outcome::Delay(self.delay)),
        ] {
            if local.starts_with(prefix) {
                return outcome;
            }
        }
        let mut edge = 0.0;
        for (percent, outcome) in [
            (self.reject_percent, Outcome::Reject),
            (self.defer_percent, Outcome::Defer),
            (self.disconnect_percent, Outcome::Disconnect),
            (self.delay_percent, Outcome::Delay(self.delay)),
        ] {
            edge += percent;
            if draw < edge {
                return outcome;
            }
        }
        Outcome::Accept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_win_then_percentages() {
        let script = Script {
            reject_percent: 10.0,
            defer_percent: 20.0,
            delay: Duration::from_millis(5),
            ..Script::default()
        };
        assert_eq!(script.decide("Reject-1@x", 99.0), Outcome::Reject);
        assert_eq!(script.decide("defer@x", 99.0), Outcome::Defer);
        assert_eq!(
            script.decide("delay@x", 99.0),
            Outcome::Delay(Duration::from_millis(5))
        );
        assert_eq!(script.decide("disconnect@x", 0.0), Outcome::Disconnect);
        assert_eq!(script.decide("a@x", 5.0), Outcome::Reject);
        assert_eq!(script.decide("a@x", 15.0), Outcome::Defer);
        assert_eq!(script.decide("a@x", 30.0), Outcome::Accept);
        assert_eq!(Script::default().decide("a@x", 0.0), Outcome::Accept);
    }
}
