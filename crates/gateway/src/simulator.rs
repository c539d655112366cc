//! The in-process NEF simulator used by the quick start: it accepts every subscription and
//! keeps what it was asked, so demos and tests can see bookings reach "the network".

use async_trait::async_trait;
use booking::{Booking, BookingId, Southbound, SouthboundError};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimCall {
    Create {
        booking: BookingId,
        subscription: String,
    },
    Delete {
        subscription: String,
    },
}

#[derive(Default)]
struct State {
    active: BTreeMap<String, BookingId>,
    calls: Vec<SimCall>,
    next: u64,
    /// Test control: the next N activations fail with this error.
    fail_next: Vec<SouthboundError>,
}

#[derive(Default)]
pub struct SimulatedNef {
    state: Mutex<State>,
}

impl SimulatedNef {
    pub fn new() -> Self {
        Self::default()
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// Subscriptions that exist now, by URI.
    pub fn active(&self) -> BTreeMap<String, BookingId> {
        self.lock().active.clone()
    }
    /// Every create and delete received, in order.
    pub fn calls(&self) -> Vec<SimCall> {
        self.lock().calls.clone()
    }
    /// Makes the next activation attempts fail, one error per attempt.
    pub fn fail_next_activations(&self, errors: Vec<SouthboundError>) {
        self.lock().fail_next = errors;
    }
}

#[async_trait]
impl Southbound for SimulatedNef {
    async fn activate(&self, booking: &Booking) -> Result<String, SouthboundError> {
        let mut s = self.lock();
        if !s.fail_next.is_empty() {
            return Err(s.fail_next.remove(0));
        }
        s.next += 1;
        let subscription = format!(
            "sim://nef/3gpp-as-session-with-qos/v1/qos-gw/subscriptions/{}",
            s.next
        );
        s.active.insert(subscription.clone(), booking.id);
        s.calls.push(SimCall::Create {
            booking: booking.id,
            subscription: subscription.clone(),
        });
        tracing::info!(booking.id = %booking.id, nef.subscription = %subscription, "simulated NEF: subscription created");
        Ok(subscription)
    }

    async fn deactivate(&self, subscription: &str) -> Result<(), SouthboundError> {
        let mut s = self.lock();
        s.active.remove(subscription);
        s.calls.push(SimCall::Delete {
            subscription: subscription.to_owned(),
        });
        tracing::info!(nef.subscription = %subscription, "simulated NEF: subscription deleted");
        Ok(())
    }
}
