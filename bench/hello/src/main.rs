//! Hello world on the Lambda runtime: what any function costs to start before it does anything of its own.
//! The yardstick the functions' cold starts are measured against (bench/init.sh).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move { Ok::<Value, Error>(event.payload) })).await
}
