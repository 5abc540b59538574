//! SES v2 implementation of [`Mailer`]: one `SendEmail` per message, with the rendered
//! content or, in stored-template mode, the name of an SES template and its variables.

use std::time::Duration;

use aws_sdk_sesv2::config::http::HttpResponse;
use aws_sdk_sesv2::config::retry::RetryConfig;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::types::{
    Body, Content, Destination, EmailContent, EmailTemplateContent, Message, MessageTag, Template,
};
use aws_sdk_sesv2::Client;

use super::{Mail, Mailer};
use crate::deadline;
use crate::error::{error_chain, MailError};
use crate::mail::sender::Sender;
use crate::mail::SesTemplate;

#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    from: Sender,
    configuration_set: Option<String>,
    template: Option<String>,
}

impl SesMailer {
    pub fn new(client: Client, from: Sender, configuration_set: Option<String>) -> Self {
        Self { client, from, configuration_set, template: None }
    }

    /// Sends through the SES template `name` (see [`put_template`]) instead of the content.
    pub fn with_template(mut self, name: Option<String>) -> Self {
        self.template = name;
        self
    }
}

/// Creates or replaces the SES stored template `name`; `Ok(true)` when it was created.
pub async fn put_template(client: &Client, name: &str, t: &SesTemplate) -> Result<bool, String> {
    let content = EmailTemplateContent::builder().subject(&t.subject).html(&t.html).text(&t.text).build();
    // Looked up first rather than inferred from CreateEmailTemplate's error: error types are
    // what SES-compatible endpoints differ in most.
    let exists = client.get_email_template().template_name(name).send().await.is_ok();
    if exists {
        client
            .update_email_template()
            .template_name(name)
            .template_content(content)
            .send()
            .await
            .map_err(|e| format!("UpdateEmailTemplate: {}", error_chain(&e)))?;
    } else {
        client
            .create_email_template()
            .template_name(name)
            .template_content(content)
            .send()
            .await
            .map_err(|e| format!("CreateEmailTemplate: {}", error_chain(&e)))?;
    }
    Ok(!exists)
}

/// How often SES is asked again when it answered "too many requests": the only refusal that
/// is both certain (SES said it did not take the message) and likely to pass soon.
const THROTTLED_ATTEMPTS: u32 = 3;

fn throttled_backoff(attempt: u32) -> Duration {
    Duration::from_millis(100 << (attempt - 1))
}

impl Mailer for SesMailer {
    /// At most one message per call: SendEmail is not idempotent, so the SDK's own retries are
    /// off and only a throttled attempt, which SES refused before accepting, is made again.
    ///
    /// The invocation's deadline cuts the wait for an answer: the message may have gone out,
    /// so that is an unknown outcome, like the SDK's own timeout.
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        let mut attempt = 1;
        loop {
            if !deadline::allows(Duration::ZERO) {
                return Err(MailError::Unavailable(
                    "SendEmail: no time left before the invocation's deadline".into(),
                ));
            }
            let outcome = deadline::bounded(self.send_once(mail)).await.unwrap_or_else(|e| {
                Err(Refusal::Other(MailError::OutcomeUnknown(format!("SendEmail: no answer, {e}"))))
            });
            match outcome {
                Err(Refusal::Throttled(text))
                    if attempt < THROTTLED_ATTEMPTS && deadline::allows(throttled_backoff(attempt)) =>
                {
                    tracing::info!(attempt, reason = %text, "SES throttled the send, trying again");
                    tokio::time::sleep(throttled_backoff(attempt)).await;
                    attempt += 1;
                }
                Err(Refusal::Throttled(text)) => return Err(MailError::Unavailable(text)),
                Err(Refusal::Other(e)) => return Err(e),
                Ok(id) => return Ok(id),
            }
        }
    }
}

enum Refusal {
    Throttled(String),
    Other(MailError),
}

impl SesMailer {
    async fn send_once(&self, mail: &Mail) -> Result<String, Refusal> {
        let rejected = |e: String| Refusal::Other(MailError::Rejected(e));
        let message = Message::builder()
            .subject(utf8(&mail.subject).map_err(rejected)?)
            .body(
                Body::builder()
                    .text(utf8(&mail.text).map_err(rejected)?)
                    .html(utf8(&mail.html).map_err(rejected)?)
                    .build(),
            )
            .build();
        let tags = mail
            .tags
            .iter()
            .map(|(name, value)| MessageTag::builder().name(name).value(value).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| rejected(format!("tag: {e}")))?;
        let out = self
            .client
            .send_email()
            .from_email_address(match &mail.sender_name {
                Some(name) => self.from.header_with_org_name(name),
                None => self.from.header(),
            })
            .set_email_tags(Some(tags))
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .content(match &self.template {
                None => EmailContent::builder().simple(message).build(),
                Some(name) => EmailContent::builder()
                    .template(
                        Template::builder()
                            .template_name(name)
                            .template_data(mail.variables.template_data().to_string())
                            .build(),
                    )
                    .build(),
            })
            .set_configuration_set_name(self.configuration_set.clone())
            .customize()
            .config_override(aws_sdk_sesv2::config::Builder::default().retry_config(RetryConfig::disabled()))
            .send()
            .await
            .map_err(classify)?;
        Ok(out.message_id.unwrap_or_default())
    }
}

fn utf8(text: &str) -> Result<Content, String> {
    Content::builder().data(text).charset("UTF-8").build().map_err(|e| format!("content: {e}"))
}

/// Sorts a failed send by what SES did with the message: refused it (nothing sent), or
/// perhaps took it without the answer reaching us (sent or not: never send it again).
///
/// Of a refusal only SES's error code is kept, never its message: that names addresses (the
/// sandbox's "identities failed the check ...: alice@example.com"), and the text goes to the
/// logs and into the user's stored `code.send.failed` event.
fn classify<E>(err: SdkError<E, HttpResponse>) -> Refusal
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or_default();
            let text = match code {
                "" => format!("SendEmail: HTTP {status} without an error code"),
                _ => format!("SendEmail: {code}"),
            };
            match code {
                "MessageRejected" | "MailFromDomainNotVerifiedException" | "BadRequestException" => {
                    Refusal::Other(MailError::Rejected(text))
                }
                "TooManyRequestsException" | "ThrottlingException" | "Throttling" => Refusal::Throttled(text),
                _ if status == 429 => Refusal::Throttled(text),
                // A 5xx (SES's InternalFailure, or a proxy's 502/504) does not say the message
                // was not taken: it may be on its way, so it must not be sent again.
                _ if service.raw().status().is_server_error() => {
                    Refusal::Other(MailError::OutcomeUnknown(text))
                }
                // The documented 4xx refusals (sending paused, account suspended, limits...).
                _ => Refusal::Other(MailError::Unavailable(text)),
            }
        }
        SdkError::ConstructionFailure(_) => {
            Refusal::Other(MailError::Unavailable(format!("SendEmail: {}", error_chain(&err))))
        }
        SdkError::DispatchFailure(_) if connection_refused(&err) => {
            Refusal::Other(MailError::Unavailable(format!("SendEmail: {}", error_chain(&err))))
        }
        _ => Refusal::Other(MailError::OutcomeUnknown(format!("SendEmail: {}", error_chain(&err)))),
    }
}

/// A refused TCP connection is the one dispatch failure where SES certainly got nothing.
fn connection_refused(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return true;
        }
        cause = e.source();
    }
    false
}
