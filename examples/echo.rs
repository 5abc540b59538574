//! make bench's echo function: answers every invocation at once with a fixed API Gateway
//! response. Timed under the runtime emulator beside the real function, it shows what the
//! emulator's invoke path and the runtime's loop cost on their own.

use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use serde_json::{json, Value};

// The same runtime flavour and loop as the function (src/bin/send-passkey-link.rs).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run_concurrent(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, lambda_runtime::Error>(json!({"statusCode": 200, "headers": {}, "body": "{}"}))
    }))
    .await
}
