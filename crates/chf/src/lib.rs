//! The CHF's `Nchf_ConvergedCharging` (TS 32.291, v3) as a network-exposure function uses it
//! for session-based charging: the request and answer types with their 3GPP names
//! (`types.rs`), and the client (`client.rs`) on `sbi`'s transport (timeouts, bounded
//! retries, tokens, HTTP/2). Knows nothing of bookings.
#![forbid(unsafe_code)]

mod client;
mod types;

pub use client::ChfClient;
pub use types::*;
