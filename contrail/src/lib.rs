//! Contrail's local stack: the pipeline's four Lambda handlers on one machine, driven the way AWS
//! drives them.
//!
//! - [`audit`]: `audit`'s text output (the analysis is `contrail_shared::ledger`).
//! - [`cli`]: the command line (public interface) and [`commands`]: what each command does.
//! - [`settings`]: configuration from the functions' environment variables, local defaults in `.contrail/`.
//! - [`functions`]: the handlers, built once and called with Lambda's own event types.
//! - [`gateway`]: the API Gateway-like front (TOKEN authorizer with a result cache, proxy events, CORS
//!   preflights, the web board).
//! - [`esm`]: the event source mapping: batching, MSK event shape, retry without advancing.
//! - [`simulator`]: a realistic flight feed; `kafka` (the default-on `kafka` feature): a real broker as
//!   the source instead.
//! - [`progress`]: the progress line of `replay`.
//! - [`trace`]: `up --trace`, the subsegments of each request and batch printed as one block.

pub mod audit;
pub mod cli;
pub mod commands;
pub mod esm;
pub mod functions;
pub mod gateway;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod progress;
pub mod settings;
pub mod trace;
pub use contrail_simulator as simulator;
