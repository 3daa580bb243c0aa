//! The actix side of the process: a System on its own thread with one Arbiter per core.
//! The tokio runtime that accepts connections hands each socket to the next arbiter,
//! round-robin, where its session actor runs.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

use actix::dev::ArbiterHandle;
use actix::{Arbiter, System};

/// The running actix System and its arbiters.
pub struct ActorSystem {
    system: System,
    arbiters: Vec<ArbiterHandle>,
    next: AtomicUsize,
    thread: Option<thread::JoinHandle<()>>,
}

impl ActorSystem {
    /// Starts the System thread and `workers` arbiters (at least one).
    pub fn start(workers: usize) -> io::Result<ActorSystem> {
        let (tx, rx) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("actix-system".into())
            .spawn(move || {
                let system = System::new();
                system.block_on(async {
                    // Arbiter::new registers with the current System, so it runs here.
                    // Dropping an Arbiter value detaches its thread; the handles keep
                    // addressing it until it is stopped.
                    let handles: Vec<ArbiterHandle> = (0..workers.max(1))
                        .map(|_| Arbiter::new().handle())
                        .collect();
                    let _ = tx.send((System::current(), handles));
                });
                let _ = system.run();
            })?;
        let (system, arbiters) = rx
            .recv()
            .map_err(|_| io::Error::other("the actix system did not start"))?;
        Ok(ActorSystem {
            system,
            arbiters,
            next: AtomicUsize::new(0),
            thread: Some(thread),
        })
    }

    /// Every arbiter.
    pub fn arbiters(&self) -> &[ArbiterHandle] {
        &self.arbiters
    }

    /// The next arbiter in round-robin order.
    pub fn next_arbiter(&self) -> &ArbiterHandle {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.arbiters.len();
        &self.arbiters[i]
    }

    /// Stops every arbiter and the System, and waits for the System thread.
    pub fn stop(mut self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
        self.system.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
