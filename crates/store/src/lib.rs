//! Implementations of the `booking::BookingStore` port: `memory`, the embedded default for
//! development, demos and single-process labs, and `redis` (single node, Sentinel or Redis Cluster) for
//! replicated production deployments. Both pass the same contract suite (`suite.rs`). Redis
//! keeps each booking as a private, versioned, compact record (`record.rs`); its atomic steps
//! are the Lua scripts in `lua/`.
#![forbid(unsafe_code)]

mod memory;
mod record;
mod redis_store;
#[cfg(test)]
mod suite;
#[cfg(test)]
mod suite_ledger;

pub use memory::MemoryStore;
pub use redis_store::{RedisSettings, RedisStore, SentinelSettings, WaitReplicas};

#[cfg(any(test, feature = "test-support"))]
pub mod testing;
