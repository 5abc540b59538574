//! The Lambda function: builds configuration and AWS clients once, then serves requests.
//!
//! `send-passkey-link --check-config` validates the environment and exits (0 valid, 1 not),
//! so scripts can refuse a bad configuration before starting the function under an emulator.

use std::process::ExitCode;

use send_passkey_link::config::Config;
use send_passkey_link::domain::{LinkPolicy, PasskeyLinks};
use send_passkey_link::http::{Api, ClaimNames};
use send_passkey_link::mail::MailRenderer;
use send_passkey_link::mailer::ses::SesMailer;
use send_passkey_link::store::dynamodb::Table;
use send_passkey_link::{aws, telemetry};

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--check-config") {
        return match Config::from_env() {
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

#[tokio::main]
async fn serve() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let sdk = aws::load().await;
    let api = Api {
        links: PasskeyLinks {
            store: Table::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table_name),
            mailer: SesMailer::new(
                aws_sdk_sesv2::Client::new(&sdk),
                &config.mail_from,
                config.ses_configuration_set.clone(),
            )
            .with_template(config.ses_template_name.clone()),
            policy: LinkPolicy {
                url_template: config.link_url_template.clone(),
                lifetime: config.link_lifetime,
                permissions: config.permissions.clone(),
                rate_limit: config.rate_limit,
            },
            renderer: MailRenderer::new()?,
        },
        claims: ClaimNames { user: config.user_claim.clone(), org: config.org_claim.clone() },
    };
    let api = &api;
    lambda_http::run(lambda_http::service_fn(move |req| async move {
        Ok::<_, std::convert::Infallible>(api.handle(req).await)
    }))
    .await
}
