//! Request rate limits per API client and operation (per replica; the API gateway in front
//! usually holds the global ones). Over the limit: 429 TOO_MANY_REQUESTS with `Retry-After`.

use crate::error::ApiError;
use booking::{Rejection, RejectionKind};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Create,
    Read,
    Delete,
    Retrieve,
}

/// Requests per second and burst of one operation; `per_second` 0 means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

pub struct RateLimits {
    create: Option<DefaultKeyedRateLimiter<String>>,
    read: Option<DefaultKeyedRateLimiter<String>>,
    delete: Option<DefaultKeyedRateLimiter<String>>,
    retrieve: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

fn limiter(rate: Rate) -> Option<DefaultKeyedRateLimiter<String>> {
    let per_second = NonZeroU32::new(rate.per_second)?;
    let burst = NonZeroU32::new(rate.burst.max(rate.per_second)).unwrap_or(per_second);
    Some(RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)))
}

impl RateLimits {
    pub fn new(create: Rate, read: Rate, delete: Rate, retrieve: Rate) -> Self {
        Self {
            create: limiter(create),
            read: limiter(read),
            delete: limiter(delete),
            retrieve: limiter(retrieve),
            clock: DefaultClock::default(),
        }
    }

    pub fn unlimited() -> Self {
        let none = Rate {
            per_second: 0,
            burst: 0,
        };
        Self::new(none, none, none, none)
    }

    pub fn check(&self, op: Operation, client_id: &str) -> Result<(), ApiError> {
        let limiter = match op {
            Operation::Create => &self.create,
            Operation::Read => &self.read,
            Operation::Delete => &self.delete,
            Operation::Retrieve => &self.retrieve,
        };
        let Some(limiter) = limiter else { return Ok(()) };
        limiter.check_key(&client_id.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::from(Rejection::new(
                RejectionKind::TooManyRequests { retry_after },
                "Too many requests for this operation; retry later",
            ))
        })
    }

    /// Forgets clients idle long enough to be back at full burst (keeps memory bounded).
    pub fn shrink(&self) {
        for l in [&self.create, &self.read, &self.delete, &self.retrieve]
            .into_iter()
            .flatten()
        {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}
