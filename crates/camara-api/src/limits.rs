//! Request rate limits per API client and operation (per replica; the API gateway in front
//! usually holds the global ones), the client's onboarding record overriding the default
//! rate. Over the limit: 429 TOO_MANY_REQUESTS with `Retry-After`.

use crate::error::ApiError;
use booking::{ClientBook, ClientRate, Rejection, RejectionKind};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

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
    clients: Arc<ClientBook>,
    /// The limiters of clients whose record sets their own rate, with that rate (a changed
    /// record gets a fresh limiter).
    own: Mutex<HashMap<(Operation, String), OwnLimiter>>,
}

/// A client's own rate and its limiter (`None`: no limit).
type OwnLimiter = (ClientRate, Option<DefaultDirectRateLimiter>);

fn quota(per_second: u32, burst: u32) -> Option<Quota> {
    let per_second = NonZeroU32::new(per_second)?;
    let burst = NonZeroU32::new(burst.max(per_second.get())).unwrap_or(per_second);
    Some(Quota::per_second(per_second).allow_burst(burst))
}

fn limiter(rate: Rate) -> Option<DefaultKeyedRateLimiter<String>> {
    quota(rate.per_second, rate.burst).map(RateLimiter::keyed)
}

impl RateLimits {
    pub fn new(create: Rate, read: Rate, delete: Rate, retrieve: Rate) -> Self {
        Self {
            create: limiter(create),
            read: limiter(read),
            delete: limiter(delete),
            retrieve: limiter(retrieve),
            clock: DefaultClock::default(),
            clients: Arc::new(ClientBook::default()),
            own: Mutex::default(),
        }
    }

    /// Rates set in the clients' onboarding records take the place of the defaults.
    pub fn with_clients(mut self, clients: Arc<ClientBook>) -> Self {
        self.clients = clients;
        self
    }

    /// The client's own rate for `op`, if its record sets one.
    fn own_rate(&self, op: Operation, client_id: &str) -> Option<ClientRate> {
        let record = self.clients.get(client_id)?;
        match op {
            Operation::Create => record.rates.create,
            Operation::Read => record.rates.read,
            Operation::Delete => record.rates.delete,
            Operation::Retrieve => record.rates.retrieve,
        }
    }

    fn refused(&self, not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> ApiError {
        let wait = not_until.wait_time_from(self.clock.now());
        let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError::from(Rejection::new(
            RejectionKind::TooManyRequests { retry_after },
            "Too many requests for this operation; retry later",
        ))
    }

    pub fn unlimited() -> Self {
        let none = Rate {
            per_second: 0,
            burst: 0,
        };
        Self::new(none, none, none, none)
    }

    pub fn check(&self, op: Operation, client_id: &str) -> Result<(), ApiError> {
        if let Some(rate) = self.own_rate(op, client_id) {
            let mut own = self.own.lock().unwrap_or_else(|p| p.into_inner());
            let entry = own.entry((op, client_id.to_owned())).or_insert_with(|| (rate, None));
            if entry.0 != rate || entry.1.is_none() {
                *entry = (rate, quota(rate.per_second, rate.burst).map(RateLimiter::direct));
            }
            return match &entry.1 {
                Some(l) => l.check().map_err(|n| self.refused(n)),
                None => Ok(()),
            };
        }
        let limiter = match op {
            Operation::Create => &self.create,
            Operation::Read => &self.read,
            Operation::Delete => &self.delete,
            Operation::Retrieve => &self.retrieve,
        };
        let Some(limiter) = limiter else { return Ok(()) };
        limiter.check_key(&client_id.to_owned()).map_err(|n| self.refused(n))
    }

    /// Forgets clients idle long enough to be back at full burst (keeps memory bounded).
    pub fn shrink(&self) {
        let book = self.clients.snapshot();
        self.own
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(_, client), _| book.contains_key(client));
        for l in [&self.create, &self.read, &self.delete, &self.retrieve]
            .into_iter()
            .flatten()
        {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}
