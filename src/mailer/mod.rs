//! What the request path needs to send mail, plus the SES v2 adapter.

pub mod ses;

use std::future::Future;

use crate::error::MailError;

/// One message to one recipient, already rendered.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Replaces the display name of the configured sender (the address stays).
    pub sender_name: Option<String>,
    /// Provider message tags (SES: name and value of `[A-Za-z0-9_-]`).
    pub tags: Vec<(String, String)>,
    /// The same content as variables, for a template stored at the provider.
    pub variables: crate::mail::MailVariables,
}

/// The body carries the link secret, so `Debug` shows only where the mail goes.
impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail")
            .field("to", &"<redacted>")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Sends one message; returns the provider's message id. A [`MailError`]'s text is logged
/// and stored with the user's events: it names the provider's error code, never the
/// provider's message, which may name the recipient.
pub trait Mailer {
    fn send(&self, mail: &Mail) -> impl Future<Output = Result<String, MailError>> + Send;
}
