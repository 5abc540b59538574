//! The Lambda function: builds configuration and AWS clients once, then serves events.
//!
//! `send-passkey-link --check-config` validates the environment and exits (0 valid, 1 not),
//! so scripts can refuse a bad configuration before starting the function under an emulator.

use std::process::ExitCode;

use lambda_http::lambda_runtime::{self, service_fn, Error, LambdaEvent};
use send_passkey_link::config::Config;
use send_passkey_link::domain::{LinkPolicy, PasskeyLinks};
use send_passkey_link::http::{Api, ClaimNames};
use send_passkey_link::mail::MailRenderer;
use send_passkey_link::mailer::ses::SesMailer;
use send_passkey_link::registration::RegistrationPolicy;
use send_passkey_link::store::dynamodb::Table;
use send_passkey_link::telemetry::LogSettings;
use send_passkey_link::{aws, telemetry};
use serde_json::Value;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--check-config") {
        let checked = LogSettings::from_env()
            .and_then(|_| Config::from_env())
            .and_then(|config| RegistrationPolicy::from_config(&config));
        return match checked {
            Ok(_) => {
                println!("configuration ok");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("send-passkey-link: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("send-passkey-link: {e}");
            ExitCode::FAILURE
        }
    }
}

// One thread: Lambda gives an instance one event at a time, and a second worker only adds
// cross-thread wake-ups (make bench: about a quarter less CPU per call than the default runtime).
#[tokio::main(flavor = "current_thread")]
async fn serve() -> Result<(), Error> {
    // Bad log settings still need a logger to report them; a panic that
    // send_passkey_link::event catches would otherwise print plain text to stderr, outside
    // the JSON log stream and its request id.
    let config = telemetry::init_from_env()
        .and_then(|()| Config::from_env())
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let sdk = aws::load().await;
    let api = Api::new(
        PasskeyLinks {
            store: Table::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table_name),
            mailer: SesMailer::new(
                aws_sdk_sesv2::Client::new(&sdk),
                config.mail_from.clone(),
                config.ses_configuration_set.clone(),
            )
            .with_template(config.ses_template_name.clone()),
            policy: LinkPolicy {
                url_template: config.link_url_template.clone(),
                lifetime: config.link_lifetime,
                permissions: config.permissions.clone(),
                rate_limit: config.rate_limit,
                supersede: config.supersede_links,
                deployment_tag: config.mail_deployment_tag.clone(),
                text_allowed_hosts: config.text_allowed_hosts.clone(),
            },
            renderer: MailRenderer::new()?,
            registration: RegistrationPolicy::from_config(&config)?,
        },
        ClaimNames { user: config.user_claim.clone(), org: config.org_claim.clone() },
    );
    let api = std::sync::Arc::new(api);
    // Raw JSON in, not lambda_http's adapter: it panics or fails the invocation on events it
    // cannot read, before any handler code runs (see send_passkey_link::event).
    // run_concurrent, not run: it honours AWS_LAMBDA_MAX_CONCURRENCY (one event at a time when
    // unset or 1, as cargo-lambda sets it) where run only warns that it ignores it.
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<Value>| {
        let api = api.clone();
        async move {
            // Boxed: the request future nested in the runtime's is too deep for rustc's layout.
            let answer = Box::pin(api.handle_event(event.payload, Some(event.context))).await;
            Ok::<_, std::convert::Infallible>(answer)
        }
    }))
    .await
}
