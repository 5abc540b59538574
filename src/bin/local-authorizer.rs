//! The Lambda authorizer of the local template (`make sam-local`): see
//! send_passkey_link::local_authorizer. Not part of what infra/template.yaml deploys.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use lambda_http::lambda_runtime::{self, service_fn, Error, LambdaEvent};
use send_passkey_link::local_authorizer::{authorization, response, TokenVerifier};
use send_passkey_link::telemetry::{self, LogSettings};
use serde_json::Value;

fn main() -> ExitCode {
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local-authorizer: {e}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn serve() -> Result<(), Error> {
    telemetry::init(LogSettings::from_env().unwrap_or_default());
    let verifier = TokenVerifier::from_env().inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let verifier = std::sync::Arc::new(verifier);
    // run_concurrent, not run: see send-passkey-link's main.
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<Value>| {
        let verifier = verifier.clone();
        async move {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
            let verdict = verifier.verify(authorization(&event.payload), now);
            match &verdict {
                Ok(claims) => {
                    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
                    tracing::info!(sub, "token accepted")
                }
                Err(reason) => tracing::info!(%reason, "token refused"),
            }
            Ok::<_, std::convert::Infallible>(response(&verdict))
        }
    }))
    .await
}
