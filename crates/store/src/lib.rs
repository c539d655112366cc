//! Implementations of the `booking::BookingStore` port. `memory` is the embedded default for
//! development, demos and single-process labs; a Redis backend for replicated production
//! deployments follows the same contract, proven by the shared suite in `suite.rs`.
#![forbid(unsafe_code)]

mod memory;
#[cfg(test)]
mod suite;

pub use memory::MemoryStore;
