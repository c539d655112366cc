//! The QoS Booking gateway's wiring, and nothing else: typed configuration ([`settings`]),
//! the client onboarding records in force ([`clients`]),
//! the assembly of the API (`camara-api`), store (`store`), NEF side (`southbound`) and event
//! delivery (`delivery`) into one [`Application`] ([`startup`]) with its scheduler loop and
//! graceful shutdown, the HTTP serve loop ([`serve`], with [`tls`] and the client's origin
//! behind trusted proxies, [`forwarded`]), health endpoints ([`health`]), metrics
//! ([`metrics`], store calls through [`observed`]) and logs and traces ([`telemetry`]). `main.rs` only reads arguments and calls into this.
#![forbid(unsafe_code)]

pub mod admin;
pub mod clients;
pub mod decider;
pub mod forwarded;
pub mod health;
pub mod metrics;
pub mod network;
pub mod observed;
pub mod serve;
pub mod settings;
pub mod startup;
pub mod telemetry;
pub mod tls;
pub mod usage;

pub use settings::Settings;
pub use startup::Application;
