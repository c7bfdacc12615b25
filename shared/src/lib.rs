//! Contrail's shared library: everything the four Lambda functions and the local stack have in common.
//! Lambda event types never enter it; it speaks the domain.
//!
//! - [`domain`]: validated codes (carrier, flight number, airport, flight id) and the flight event.
//! - [`codec`]: a Kafka record (base64 key and value) to a snapshot, or a reasoned rejection.
//! - [`deadletter`]: the dead-letter format (`contrail.dead-letter/v1`).
//! - [`sink`]: where dead letters go (SQS, the store's table), above the format and the store.
//! - [`ledger`]: the consistency ledger (offsets, outcomes and checksums per batch) and its audit.
//! - [`storage`]: the store, one interface over PostgreSQL and SQLite.
//! - [`auth`]: bearer-token verification (JWKS or shared secret), scope rules, token minting.
//! - [`rds_iam`]: RDS IAM database authentication tokens.
//! - [`secrets`]: secrets read from Secrets Manager by ARN once per cold start.
//! - [`config`]: settings from the environment.
//! - [`telemetry`]: tracing setup and CloudWatch Embedded Metric Format lines.
//! - [`time_bounds`]: the window of plausible event times (future skew, retention horizon).
//! - [`uri`]: percent-encoding as AWS addresses and signs requests.
//! - [`xray`]: X-Ray subsegments for the calls a function makes (database, AWS, HTTP).

pub mod auth;
pub mod codec;
pub mod config;
pub mod deadletter;
pub mod domain;
pub mod ledger;
pub mod rds_iam;
pub mod secrets;
pub mod sink;
pub mod storage;
pub mod telemetry;
pub mod time_bounds;
pub mod uri;
pub mod xray;
