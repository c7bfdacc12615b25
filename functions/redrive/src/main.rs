//! The `redrive` Lambda binary: tracing, state from the environment, the runtime loop.
// The runtime future wrapping the SDK clients' futures is deeper than the default layout query limit.
#![recursion_limit = "256"]

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    contrail_shared::telemetry::init_tracing();
    let state = contrail_redrive::State::from_env().await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        contrail_redrive::handle(state, event.payload).await
    }))
    .await
}
