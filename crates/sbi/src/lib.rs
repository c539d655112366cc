//! What every southbound client of the gateway shares, whichever network function it calls
//! (the NEF's northbound API, or the PCF, NRF and BSF over the service-based interface): an
//! HTTP transport with timeouts, bounded retries, 307/308 handling, `Retry-After`, pacing,
//! OAuth2 client credentials and optional HTTP/2-only mode; the error that says whether to
//! retry; the TS 29.571 common data (`ProblemDetails`, `Snssai`); and the `IPFilterRule`
//! syntax of flow descriptions (TS 29.214 §5.3.8), which N5 and AsSessionWithQoS share.
#![forbid(unsafe_code)]

mod error;
pub mod filter_rule;
mod oauth;
mod transport;
mod types;

pub use error::SbiError;
pub use transport::{Auth, Body, Propagator, Transport, TransportConfig, location};
pub use types::*;
