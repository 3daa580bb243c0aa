//! What the criterion benches share.

use std::time::Duration;

use criterion::Criterion;

/// Short runs and no plots (rendering them takes longer than measuring): every bench of
/// the crate together stays within a few minutes on 2 cores.
pub fn short_config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20)
        .without_plots()
}
