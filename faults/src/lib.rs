//! The fault-injection suite lives in `tests/`: each file one kind of failure (a database stopped
//! mid-write, a queue server killed mid-send, a JWKS server down or lying, hostile batches), each case
//! asserting that nothing is lost, nothing is duplicated and the error is the documented one.
//! `scripts/test-faults` runs it; `scripts/test` runs that script.
