//! Redrive against real parts: a moto server for SQS and S3, SQLite and PostgreSQL stores.

mod common;
mod dlq;
mod local;
mod s3;
mod samples;
