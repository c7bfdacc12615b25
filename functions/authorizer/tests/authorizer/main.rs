//! The authorizer's integration tests, one binary (one link, and every shared helper used): the handler, JWKS
//! fetching and caching, and every rejection.

mod common;

mod handler;
mod jwks;
mod rejections;
