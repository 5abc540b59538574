//! The delivery-feedback function: SES's events about link mails, as an EventBridge rule
//! delivers them, recorded on the links and users (`send_passkey_link::delivery`).
//!
//! An event it cannot record fails the invocation: Lambda retries it twice, then the
//! function's dead-letter queue keeps it (infra/template.yaml). Nothing here panics on any
//! JSON, so a bad event never makes the function crash and restart.

use std::process::ExitCode;

use lambda_http::lambda_runtime::{self, service_fn, Error, LambdaEvent};
use send_passkey_link::config::ConfigError;
use send_passkey_link::delivery::DeliveryFeedback;
use send_passkey_link::store::dynamodb::Table;
use send_passkey_link::{aws, telemetry};
use serde_json::Value;

fn main() -> ExitCode {
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("delivery-feedback: {e}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn serve() -> Result<(), Error> {
    let table_name = telemetry::init_from_env()
        .and_then(|()| {
            std::env::var("TABLE_NAME")
                .ok()
                .filter(|t| !t.trim().is_empty())
                .ok_or(ConfigError { variable: "TABLE_NAME", reason: "must be set".into() })
        })
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let sdk = aws::load().await;
    let feedback = DeliveryFeedback { store: Table::new(aws_sdk_dynamodb::Client::new(&sdk), table_name) };
    let feedback = std::sync::Arc::new(feedback);
    // run_concurrent, not run: see send-passkey-link's main.
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<Value>| {
        let feedback = feedback.clone();
        async move {
            // Boxed: the nested futures are too deep for rustc's layout otherwise.
            Box::pin(feedback.invoke_within(&event.payload, Some(&event.context)))
                .await
                .map_err(|e| Error::from(e.to_string()))
        }
    }))
    .await
}
