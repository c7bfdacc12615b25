//! The local stack's integration tests, one binary (one link, and every shared helper used): the built `contrail`
//! driven as a user would, through processes, real HTTP and real tokens. `configuration.rs` is apart: it changes
//! the process environment.

mod common;

mod audit;
mod auth_settings;
mod invoke;
mod kafka;
mod local_stack;
mod time_limits;
mod trace;
