//! ztoq's shared vocabulary: the kinds and states of migrated records, and the wire types of
//! the two APIs ztoq speaks (Zephyr Scale Cloud v2 as the source, qTest Manager v3 as the
//! sink).
//!
//! Invariant: this crate does no I/O. The wire types are lenient on input (every optional field
//! is an `Option` with a default, unknown keys are ignored), because the real APIs send `null`s
//! and keys their own specs do not list.
#![warn(missing_docs)]

pub mod qtest;
pub mod record;
pub mod settings;
pub mod zephyr;

pub use record::{RecordKind, RecordState};
