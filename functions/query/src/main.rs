//! The query Lambda: builds the state once per cold start and serves API Gateway requests with it.

use lambda_http::{Error, Request, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    contrail_shared::telemetry::init_tracing();
    let state = contrail_query::State::from_env().await?;
    let state = &state;
    lambda_http::run(service_fn(move |req: Request| contrail_query::handle(state, req))).await
}
