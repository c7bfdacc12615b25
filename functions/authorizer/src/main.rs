//! The authorizer Lambda: builds the verifier once per cold start, loads the JWKS during init, serves.

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    contrail_shared::telemetry::init_tracing();
    let state = contrail_authorizer::State::from_env().await?;
    state.verifier().prefetch().await;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequest>| {
        contrail_authorizer::handle(state, event)
    }))
    .await
}
