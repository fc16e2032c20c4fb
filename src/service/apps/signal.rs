//! Wakes the runtime's long polls here when an app changes on this instance. Changes made by
//! another instance are found by the poll's own re-check (see `api::platform::runtime`).

use tokio::sync::watch;

/// Cheap to clone; every clone wakes the same waiters.
#[derive(Clone)]
pub struct AppSignal(watch::Sender<u64>);

impl Default for AppSignal {
    fn default() -> Self {
        Self(watch::channel(0).0)
    }
}

impl AppSignal {
    /// Wakes every waiter (call after the change committed).
    pub fn changed(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that sees the next [`AppSignal::changed`] from now on.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}
