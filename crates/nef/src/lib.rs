//! The southbound client of the operator's NEF: the 3GPP AsSessionWithQoS wire types
//! (TS 29.122 Rel-17, plus the two Rel-18 fields the gateway can use), the `IPFilterRule`
//! syntax of flow descriptions, and an HTTP client with timeouts, bounded retries, 307/308
//! handling, `ProblemDetails` parsing and NEF authentication (none, basic, OAuth2 client
//! credentials). It knows nothing of bookings; `nef-mapping` builds its requests.
#![forbid(unsafe_code)]

mod client;
mod error;
pub mod filter_rule;
mod oauth;
mod types;

pub use client::{Created, NefAuth, NefClient, NefClientConfig, Propagator};
pub use error::NefError;
pub use types::*;
