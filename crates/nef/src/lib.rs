//! The southbound client of the operator's NEF: the 3GPP AsSessionWithQoS wire types
//! (TS 29.122 Rel-17, plus the two Rel-18 fields the gateway can use), the Rel-18 PDTQ policy
//! negotiation's (TS 29.522, [`pdtq`]) and their clients, on the transport, errors and common
//! data of `sbi` (re-exported here under the NEF's names). It knows nothing of bookings;
//! `qos-mapping` and `southbound` build its requests.
#![forbid(unsafe_code)]

mod client;
pub mod pdtq;
mod types;

pub use client::{Created, NefAuth, NefClient, NefClientConfig};
pub use sbi::{Propagator, SbiError as NefError, filter_rule};
pub use types::*;
