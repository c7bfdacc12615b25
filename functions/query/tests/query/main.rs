//! The query function's integration tests, one binary (one link, and every shared helper used): the API on both
//! engines, flight events, the OpenAPI description, positions, the read-only role and grouped stats.

mod common;

mod api;
mod events;
mod openapi;
mod positions;
mod reader_role;
mod stats_groups;
