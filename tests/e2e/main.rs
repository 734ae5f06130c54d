//! End-to-end tests: the real binaries (`ztoq-enqueue`, `ztoq-worker`, `ztoq`) against a
//! real Postgres and the mock APIs over loopback.
//!
//! Postgres: `ZTOQ_TEST_DATABASE_URL` or `DATABASE_URL` (each test creates and drops its own
//! database under it); without either, each test starts a throwaway cluster.

mod support;

mod crashes;
mod credentials;
mod failures;
mod faults;
mod hostile;
mod migrate;
mod ratelimit;
mod rollback;
mod secrets;
mod verify;
