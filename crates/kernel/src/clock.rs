//! The service's clock: the server's time, read by the adapters (handlers, schedulers; never
//! by domain code, which is told the time), and moved forward by tests that need time to pass.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;

/// The time now, as a service's handlers and its schedulers see it. Clones share one offset:
/// moving one moves them all.
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

    /// Moves this clock so that it reads `at` now (for tests: an evening in Chicago), then
    /// runs on with the server's.
    pub fn set(&self, at: DateTime<Utc>) {
        self.ahead.send_modify(|ahead| *ahead = at - Utc::now());
    }

    /// Changes whenever the clock is moved, so a sleeper can wake and look again.
    pub fn moved(&self) -> watch::Receiver<TimeDelta> {
        self.ahead.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_move_together_and_set_reads_back() {
        let clock = Clock::system();
        let other = clock.clone();
        let moved = clock.moved();
        clock.advance(TimeDelta::days(2));
        assert!(other.now() - Utc::now() > TimeDelta::days(2) - TimeDelta::minutes(1));
        assert!(moved.has_changed().unwrap());
        let at: DateTime<Utc> = "2024-09-06T02:00:00Z".parse().unwrap();
        other.set(at);
        assert!((clock.now() - at).abs() < TimeDelta::minutes(1));
    }
}
