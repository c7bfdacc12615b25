//! The authorizer Lambda: builds the verifier once per cold start and serves; the JWKS loads while the runtime
//! polls for the first event (a request that arrives first waits for that one fetch).

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    contrail_shared::telemetry::init_tracing();
    let state = contrail_authorizer::State::from_env().await?;
    let state = &state;
    let serve = lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequest>| {
        contrail_authorizer::handle(state, event)
    }));
    let ((), served) = tokio::join!(state.verifier().prefetch(), serve);
    served
}
