//! The gate's clock: the server's time, read by the adapters (never by the domain), and moved
//! forward by tests that need time to pass.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;

/// The time now, as the gate's handlers and its scheduler see it.
#[derive(Debug, Clone)]
pub struct Clock {
    ahead: Arc<watch::Sender<TimeDelta>>,
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl Clock {
    /// The server's clock.
    pub fn system() -> Self {
        Self { ahead: Arc::new(watch::Sender::new(TimeDelta::zero())) }
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.ahead.borrow()
    }

    /// Moves this clock `by` ahead of the server's (for tests: a weekend passes in a moment).
    pub fn advance(&self, by: TimeDelta) {
        self.ahead.send_modify(|ahead| *ahead += by);
    }

    /// Changes whenever the clock is moved, so a sleeper can wake and look again.
    pub fn moved(&self) -> watch::Receiver<TimeDelta> {
        self.ahead.subscribe()
    }
}
