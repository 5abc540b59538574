//! SES v2 implementation of [`Mailer`]: one `SendEmail` per message.

use aws_sdk_sesv2::config::http::HttpResponse;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};
use aws_sdk_sesv2::Client;

use super::{Mail, Mailer};
use crate::error::{error_chain, MailError};

#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    from: String,
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(client: Client, from: impl Into<String>, configuration_set: Option<String>) -> Self {
        Self {
            client,
            from: from.into(),
            configuration_set,
        }
    }
}

fn utf8(text: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| MailError::Rejected(format!("content: {e}")))
}

impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        let message = Message::builder()
            .subject(utf8(&mail.subject)?)
            .body(
                Body::builder()
                    .text(utf8(&mail.text)?)
                    .html(utf8(&mail.html)?)
                    .build(),
            )
            .build();
        let tags = mail
            .tags
            .iter()
            .map(|(name, value)| MessageTag::builder().name(name).value(value).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| MailError::Rejected(format!("tag: {e}")))?;
        let out = self
            .client
            .send_email()
            .from_email_address(match &mail.sender_name {
                Some(name) => crate::mail::from_with_name(&self.from, name),
                None => self.from.clone(),
            })
            .set_email_tags(Some(tags))
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(classify)?;
        Ok(out.message_id.unwrap_or_default())
    }
}

fn classify<E>(err: SdkError<E, HttpResponse>) -> MailError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("unknown");
            let text = format!(
                "SendEmail: {code}: {}",
                service.err().message().unwrap_or_default()
            );
            match code {
                "MessageRejected"
                | "MailFromDomainNotVerifiedException"
                | "BadRequestException" => MailError::Rejected(text),
                _ => MailError::Unavailable(text),
            }
        }
        _ => MailError::Unavailable(format!("SendEmail: {}", error_chain(&err))),
    }
}
