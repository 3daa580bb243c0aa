//! The shutdown signal: a `watch` channel that turns true once. Every accept loop and
//! session selects on [`requested`] and stops at its next safe point.

use tokio::sync::watch;

/// Resolves once shutdown has been requested (or the sender is gone).
pub async fn requested(stop: &mut watch::Receiver<bool>) {
    // The guard wait_for returns must not live across the caller's other awaits.
    let _ = stop.wait_for(|stop| *stop).await;
}
