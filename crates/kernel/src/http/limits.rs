//! Resource limits (OWASP API4): per-subject rate limits on writes and on expensive reads,
//! checked by [`Caller`](super::Caller) right after the caller is authenticated, so only a
//! verified subject's own budget is spent.
//!
//! Writes are every request whose method is not `GET` or `HEAD`; expensive reads are the
//! endpoints whose roles say [`Cost::Expensive`] (reports, verification, replay). Each subject
//! has a budget per minute of each (GCRA, through `governor`), spent a request at a time and
//! refilled continuously; past it the answer is `429 rate-limited` with `Retry-After`. The
//! limits are the process's (`install`), set once at start by `procgate serve`; none are set by
//! default, so a library user or a test without them is not limited.

use std::num::NonZeroU32;
use std::sync::OnceLock;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use web::ApiError;

/// What a request costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// An ordinary read: not limited.
    Normal,
    /// A read that computes over much of the log (a report, a verification, a replay).
    Expensive,
}

/// The budgets, per subject and minute.
#[derive(Debug)]
pub struct RateLimits {
    writes: Option<DefaultKeyedRateLimiter<String>>,
    expensive: Option<DefaultKeyedRateLimiter<String>>,
}

impl RateLimits {
    /// `writes` and `expensive` requests per subject and minute, each also the burst a subject
    /// may spend at once; 0 turns a limit off.
    pub fn per_minute(writes: u32, expensive: u32) -> Self {
        let limiter = |n: u32| {
            NonZeroU32::new(n).map(|n| RateLimiter::keyed(Quota::per_minute(n).allow_burst(n)))
        };
        Self { writes: limiter(writes), expensive: limiter(expensive) }
    }

    /// Spends one request of `subject`'s budget: `429 rate-limited` when it is spent.
    pub fn check(&self, subject: &str, write: bool, cost: Cost) -> Result<(), ApiError> {
        let (limiter, what) = match (write, cost) {
            (true, _) => (&self.writes, "writes"),
            (false, Cost::Expensive) => (&self.expensive, "reports, verifications and replays"),
            (false, Cost::Normal) => return Ok(()),
        };
        let Some(limiter) = limiter else { return Ok(()) };
        // The map of subjects is pruned now and then so that it does not grow forever.
        if limiter.len() > 10_000 {
            limiter.retain_recent();
        }
        match limiter.check_key(&subject.to_owned()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    format!(
                        "Too many {what} from {subject} in the last minute; try again in \
                         {seconds} s."
                    ),
                )
                .with_header(RETRY_AFTER, HeaderValue::from(seconds.max(1))))
            }
        }
    }
}

static LIMITS: OnceLock<RateLimits> = OnceLock::new();

/// Sets the process's limits (once; later calls change nothing and answer `false`).
pub fn install(limits: RateLimits) -> bool {
    LIMITS.set(limits).is_ok()
}

/// Checks the process's limits, if any are set.
pub(crate) fn check(subject: &str, write: bool, cost: Cost) -> Result<(), ApiError> {
    match LIMITS.get() {
        Some(limits) => limits.check(subject, write, cost),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_subject_has_its_own_budget_of_writes_and_of_expensive_reads() {
        let limits = RateLimits::per_minute(3, 1);
        for _ in 0..3 {
            assert!(limits.check("erp-a", true, Cost::Normal).is_ok());
        }
        let refused = limits.check("erp-a", true, Cost::Normal).unwrap_err();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.detail().contains("Too many writes from erp-a"), "{}", refused.detail());
        assert!(limits.check("erp-b", true, Cost::Normal).is_ok(), "another subject's budget");
        assert!(limits.check("erp-a", false, Cost::Normal).is_ok(), "ordinary reads are free");
        assert!(limits.check("erp-a", false, Cost::Expensive).is_ok());
        assert!(limits.check("erp-a", false, Cost::Expensive).is_err());
        let off = RateLimits::per_minute(0, 0);
        for _ in 0..100 {
            assert!(off.check("x", true, Cost::Expensive).is_ok());
        }
    }
}
