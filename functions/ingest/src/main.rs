//! The `ingest` Lambda binary: builds the state once, then serves invocations.

use contrail_ingest::{MskEvent, State, handle};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    contrail_shared::telemetry::init_tracing();
    let state = State::from_env().await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<MskEvent>| handle(state, event))).await
}
