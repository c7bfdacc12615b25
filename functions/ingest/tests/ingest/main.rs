//! The ingest function's integration tests, one binary (one link, and every shared helper used): the handler on
//! both engines, data hazards, the sample event and the SQS dead-letter sink.

mod common;

mod data_hazards;
mod handler;
mod sample_event;
mod sqs_dead_letters;
