//! Implementations of the `booking::BookingStore` port: `memory`, the embedded default for
//! development, demos and single-process labs, and `redis` (single node or Redis Cluster) for
//! replicated production deployments. Both pass the same contract suite (`suite.rs`).
#![forbid(unsafe_code)]

mod memory;
mod redis_store;
#[cfg(test)]
mod suite;

pub use memory::MemoryStore;
pub use redis_store::{RedisSettings, RedisStore};

#[cfg(any(test, feature = "test-support"))]
pub mod testing;
