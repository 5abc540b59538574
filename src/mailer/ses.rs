//! SES v2 implementation of [`Mailer`]: one `SendEmail` per message, with the rendered
//! content or, in stored-template mode, the name of an SES template and its variables.

use aws_sdk_sesv2::config::http::HttpResponse;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::types::{
    Body, Content, Destination, EmailContent, EmailTemplateContent, Message, MessageTag, Template,
};
use aws_sdk_sesv2::Client;

use super::{Mail, Mailer};
use crate::error::{error_chain, MailError};
use crate::mail::SesTemplate;

#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    from: String,
    configuration_set: Option<String>,
    template: Option<String>,
}

impl SesMailer {
    pub fn new(client: Client, from: impl Into<String>, configuration_set: Option<String>) -> Self {
        Self { client, from: from.into(), configuration_set, template: None }
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
            .body(Body::builder().text(utf8(&mail.text)?).html(utf8(&mail.html)?).build())
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
            let text = format!("SendEmail: {code}: {}", service.err().message().unwrap_or_default());
            match code {
                "MessageRejected" | "MailFromDomainNotVerifiedException" | "BadRequestException" => {
                    MailError::Rejected(text)
                }
                _ => MailError::Unavailable(text),
            }
        }
        _ => MailError::Unavailable(format!("SendEmail: {}", error_chain(&err))),
    }
}
