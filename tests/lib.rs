//! End-to-end tests (see `e2e.rs`): they start the built `gateway` binary as a user would and
//! talk to it over HTTP only. This library is empty; it exists so the package has a target.
#![forbid(unsafe_code)]
