//! Mock Zephyr Scale Cloud v2 and qTest Manager v3 servers, for tests, demos and benchmarks.
//!
//! Each mock exports `router(state) -> axum::Router` and speaks the vendor's real paths, JSON
//! shapes, paging and status codes (checked against the vendors' specs by the conformance
//! test). [`faults`] wraps either router with injected latency (and spikes), errors, rate
//! limiting, connection resets, hangs, truncated bodies and lost responses;
//! [`recorder`] captures every exchange for the conformance test.
#![warn(missing_docs)]

pub mod faults;
pub mod qtest;
pub mod recorder;
pub mod zephyr;
