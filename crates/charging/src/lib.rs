//! Charging: what a booking is billed for. The store's usage ledger (`booking::usage`) holds
//! each booking as it was when its QoS went into place and when it ended; this crate turns
//! those entries into versioned usage records (`record.rs`), exports them exactly once across
//! replicas under a lease and a durable marker (`export.rs`) to JSON Lines files
//! (`file.rs`) or to the operator's CHF as charging sessions (`chf/`), and sums them into the operator's usage reports (`report.rs`). It knows no
//! HTTP front: the API names and area rendering come from the gateway through [`ApiFront`].
#![forbid(unsafe_code)]

pub mod chf;
pub mod export;
pub mod file;
pub mod record;
pub mod report;
#[cfg(test)]
mod testing;

pub use export::{Exporter, Sink};
pub use record::{ApiFront, ApiNames, DeviceIdentity, Renderer, UsageRecord};
pub use report::{GroupBy, Report, ReportQuery, Row};
