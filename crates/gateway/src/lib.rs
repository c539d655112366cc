//! The QoS Booking gateway as a library: typed configuration ([`settings`]), the wiring of the
//! API, store, southbound and notifier into one [`Application`] ([`startup`]), the scheduler
//! worker that fires due timers, the CloudEvents sender, the in-process NEF simulator used by
//! the quick start, and telemetry. `main.rs` only reads arguments and calls into this.
#![forbid(unsafe_code)]

pub mod notifier;
pub mod settings;
pub mod simulator;
pub mod startup;
pub mod telemetry;

pub use settings::Settings;
pub use startup::Application;
