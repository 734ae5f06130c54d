//! The code behind ztoq's programs. Each binary in `src/bin/` parses its flags, initialises
//! logging and calls one function here.
//!
//! Flags resolve in two steps: clap reads what was typed (flags, then `ZTOQ_*` environment
//! variables) into the `*Args` structs of [`args`], which turn into the plain settings the
//! libraries take. Secrets come only from the environment or a file, never from a flag (a flag
//! shows in `ps`).
#![warn(missing_docs)]

pub mod args;
pub mod bench;
pub mod commands;
pub mod demo;
pub mod logging;
pub mod mock;
pub mod rollback;
