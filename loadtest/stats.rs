//! What a run measures: per-step latency histograms (HDR, microsecond resolution),
//! the shared outcome counters the progress line reads, bounded error samples, and the
//! rendering of figures as a table or JSON-ready summaries.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::wire::Failure;

/// Latencies above this are clamped: no single step of a bounded run lasts longer.
const MAX_MICROS: u64 = 3_600_000_000;

/// Distinct error texts kept; further distinct ones are counted under one key.
const MAX_SAMPLES: usize = 20;

/// One latency histogram per named step, in the order the steps were declared.
#[derive(Debug, Clone)]
pub struct Latencies {
    steps: Vec<(&'static str, Histogram<u64>)>,
}

impl Latencies {
    /// Empty histograms for `names`.
    pub fn new(names: &[&'static str]) -> Latencies {
        let steps = names
            .iter()
            .map(|&name| {
                // 3 significant digits from 1 µs to an hour: 0.1% error, small memory.
                let hist = Histogram::new_with_bounds(1, MAX_MICROS, 3)
                    .unwrap_or_else(|_| unreachable!("constant bounds are valid"));
                (name, hist)
            })
            .collect();
        Latencies { steps }
    }

    /// Records one duration for `step` (ignored if the step was not declared).
    pub fn record(&mut self, step: &str, took: Duration) {
        if let Some((_, hist)) = self.steps.iter_mut().find(|(n, _)| *n == step) {
            let micros = u64::try_from(took.as_micros()).unwrap_or(MAX_MICROS);
            hist.saturating_record(micros.clamp(1, MAX_MICROS));
        }
    }

    /// Adds another worker's histograms into these.
    pub fn merge(&mut self, other: &Latencies) {
        for (name, hist) in &other.steps {
            if let Some((_, mine)) = self.steps.iter_mut().find(|(n, _)| n == name) {
                // Same bounds on both sides, so adding cannot fail.
                let _ = mine.add(hist);
            }
        }
    }

    /// Summaries of the steps that have samples, in declaration order.
    pub fn summaries(&self, elapsed: Duration) -> BTreeMap<&'static str, Summary> {
        self.steps
            .iter()
            .filter(|(_, h)| !h.is_empty())
            .map(|(name, h)| (*name, Summary::of(h, elapsed)))
            .collect()
    }

    /// Step names in declaration order (for tables).
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.steps.iter().map(|(n, _)| *n)
    }
}

/// Percentiles of one histogram, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Samples recorded.
    pub count: u64,
    /// Samples per second of the run.
    pub rate_per_sec: f64,
    /// Arithmetic mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

impl Summary {
    fn of(h: &Histogram<u64>, elapsed: Duration) -> Summary {
        Summary {
            count: h.len(),
            rate_per_sec: per_sec(h.len(), elapsed),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

/// `count` per second of `elapsed`, 0 for an empty run.
pub fn per_sec(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

/// Outcome counters shared by all workers of a run.
#[derive(Debug, Default)]
pub struct Tally {
    /// Units of work that succeeded (messages accepted, sessions completed).
    pub ok: AtomicU64,
    /// Refusals with an SMTP 4yz reply.
    pub rejected_4xx: AtomicU64,
    /// Refusals with an SMTP 5yz reply.
    pub rejected_5xx: AtomicU64,
    /// Refusals with a POP3 `-ERR`.
    pub rejected_err: AtomicU64,
    /// Connection failures (refused, reset, closed early, TLS failures).
    pub connection_errors: AtomicU64,
    /// Operations without an answer within `--timeout`.
    pub timeouts: AtomicU64,
    /// Garbage or unexpected answers.
    pub protocol_violations: AtomicU64,
    /// Work cut short by `--max-time`.
    pub interrupted: AtomicU64,
    samples: Mutex<BTreeMap<String, u64>>,
}

/// A plain copy of a [`Tally`] at one moment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// See [`Tally::ok`].
    pub ok: u64,
    /// See [`Tally::rejected_4xx`].
    pub rejected_4xx: u64,
    /// See [`Tally::rejected_5xx`].
    pub rejected_5xx: u64,
    /// See [`Tally::rejected_err`].
    pub rejected_err: u64,
    /// See [`Tally::connection_errors`].
    pub connection_errors: u64,
    /// See [`Tally::timeouts`].
    pub timeouts: u64,
    /// See [`Tally::protocol_violations`].
    pub protocol_violations: u64,
    /// See [`Tally::interrupted`].
    pub interrupted: u64,
}

impl Counts {
    /// Connection errors, timeouts and protocol violations together.
    pub fn errors(&self) -> u64 {
        self.connection_errors + self.timeouts + self.protocol_violations
    }

    /// All refusals.
    pub fn rejected(&self) -> u64 {
        self.rejected_4xx + self.rejected_5xx + self.rejected_err
    }

    /// The failure counters as every report shows them.
    pub fn faults(&self) -> Faults {
        Faults {
            connection_errors: self.connection_errors,
            timeouts: self.timeouts,
            protocol_violations: self.protocol_violations,
            errors: self.errors(),
            interrupted: self.interrupted,
        }
    }
}

/// The failures every mode reports, flattened into its JSON object.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Faults {
    /// Connection failures.
    pub connection_errors: u64,
    /// Operations without an answer in time.
    pub timeouts: u64,
    /// Answers that break the protocol: junk, malformed replies, foreign tags, BAD.
    pub protocol_violations: u64,
    /// `connection_errors + timeouts + protocol_violations`.
    pub errors: u64,
    /// Work cut short by `--max-time`.
    pub interrupted: u64,
}

impl Faults {
    /// The counters for a summary table.
    pub fn text(&self) -> String {
        format!(
            "connection errors {}  timeouts {}  protocol violations {}  interrupted {}",
            self.connection_errors, self.timeouts, self.protocol_violations, self.interrupted
        )
    }
}

impl Tally {
    /// Counts one success.
    pub fn succeed(&self) {
        self.ok.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one failure under its kind and keeps its text as a sample.
    pub fn fail(&self, failure: &Failure) {
        let counter = match failure {
            Failure::Rejected { class: "4xx", .. } => &self.rejected_4xx,
            Failure::Rejected { class: "5xx", .. } => &self.rejected_5xx,
            Failure::Rejected { .. } => &self.rejected_err,
            Failure::Violation { .. } => &self.protocol_violations,
            Failure::Connection { .. } => &self.connection_errors,
            Failure::Timeout { .. } => &self.timeouts,
            Failure::Stopped => &self.interrupted,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if matches!(failure, Failure::Stopped) {
            return;
        }
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let mut key = failure.to_string();
        if !samples.contains_key(&key) && samples.len() >= MAX_SAMPLES {
            key = "(other errors)".to_string();
        }
        *samples.entry(key).or_default() += 1;
    }

    /// The counters now.
    pub fn counts(&self) -> Counts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counts {
            ok: get(&self.ok),
            rejected_4xx: get(&self.rejected_4xx),
            rejected_5xx: get(&self.rejected_5xx),
            rejected_err: get(&self.rejected_err),
            connection_errors: get(&self.connection_errors),
            timeouts: get(&self.timeouts),
            protocol_violations: get(&self.protocol_violations),
            interrupted: get(&self.interrupted),
        }
    }

    /// Error texts seen, with how often.
    pub fn samples(&self) -> BTreeMap<String, u64> {
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The progress line; drawn on stderr only when both stdout and stderr are terminals.
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar of `len` units, or a spinner when the length is a duration.
    pub fn new(visible: bool, len: Option<u64>) -> Progress {
        let bar = match len {
            Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        };
        let template = if len.is_some() {
            "{elapsed_precise} [{bar:30}] {pos}/{len} {msg}"
        } else {
            "{elapsed_precise} {spinner} {msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        if !visible {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        Progress { bar }
    }

    /// Moves the bar and replaces its message.
    pub fn update(&self, position: u64, message: String) {
        self.bar.set_position(position);
        self.bar.set_message(message);
    }

    /// Removes the line before the summary is printed.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A latency table: one row per step with samples.
pub fn latency_table(title: &str, lat: &Latencies, elapsed: Duration) -> String {
    let summaries = lat.summaries(elapsed);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{title:<14} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "count", "rate/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for name in lat.names() {
        if let Some(s) = summaries.get(name) {
            let _ = writeln!(
                out,
                "{name:<14} {:>8} {:>9.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                s.count, s.rate_per_sec, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms
            );
        }
    }
    out
}

/// Error samples as indented lines, most frequent first.
pub fn samples_text(samples: &BTreeMap<String, u64>) -> String {
    let mut sorted: Vec<_> = samples.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut out = String::new();
    for (text, n) in sorted {
        let _ = writeln!(out, "  {n:>8}  {text}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_merge() {
        let mut a = Latencies::new(&["connect", "mail"]);
        let mut b = Latencies::new(&["connect", "mail"]);
        for ms in 1..=100u64 {
            a.record("connect", Duration::from_millis(ms));
        }
        b.record("connect", Duration::from_millis(1000));
        b.record("unknown", Duration::from_millis(1));
        a.merge(&b);
        let s = a.summaries(Duration::from_secs(1));
        let c = &s["connect"];
        assert_eq!(c.count, 101);
        assert!((c.p50_ms - 51.0).abs() < 0.1, "{}", c.p50_ms);
        assert!((c.max_ms - 1000.0).abs() < 1.0, "{}", c.max_ms);
        assert!(!s.contains_key("mail"));
    }

    #[test]
    fn huge_and_zero_durations_are_clamped() {
        let mut a = Latencies::new(&["x"]);
        a.record("x", Duration::ZERO);
        a.record("x", Duration::from_secs(100_000));
        let s = a.summaries(Duration::from_secs(1));
        assert_eq!(s["x"].count, 2);
        assert!((s["x"].max_ms - 3_600_000.0).abs() < 3_600.0);
    }

    #[test]
    fn tally_counts_by_kind_and_bounds_samples() {
        let t = Tally::default();
        t.succeed();
        t.fail(&Failure::Rejected {
            step: "rcpt",
            class: "5xx",
        });
        t.fail(&Failure::Rejected {
            step: "pass",
            class: "-ERR",
        });
        t.fail(&Failure::Stopped);
        for i in 0..50 {
            t.fail(&Failure::Violation {
                step: "greeting",
                detail: format!("garbage {i}"),
            });
        }
        let c = t.counts();
        assert_eq!(
            (c.ok, c.rejected_5xx, c.rejected_err, c.interrupted),
            (1, 1, 1, 1)
        );
        assert_eq!(c.protocol_violations, 50);
        assert_eq!(c.errors(), 50);
        let samples = t.samples();
        assert_eq!(samples.len(), MAX_SAMPLES + 1);
        assert_eq!(samples.values().sum::<u64>(), 52);
    }
}
