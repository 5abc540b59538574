//! Delivery feedback: what SES says happened to a link's mail after it accepted it (sent,
//! delayed, delivered, bounced, complained, rejected), as EventBridge delivers SES's events,
//! recorded on the link, as the user's audit event and, for an address that bounced for good
//! or whose owner reported the mail as spam, on the user.
//!
//! SES publishes at least once and in no particular order: each event is recorded once (a
//! marker per event, written in the same transaction), and a link's state is the event with
//! the highest rank, then the latest time, whatever order they arrive in.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::domain::{retry_conflicts, tag_id};
use crate::error::Error;
use crate::model::{OrgId, Undeliverable, UndeliverableReason, User, UserId};
use crate::registration::hidden_or_control;
use crate::store::{DeliveryChange, DeliveryStore, LinkMail};

/// The `purpose` tag every link mail carries; EventBridge's rule passes only these.
pub const PURPOSE: &str = "passkey-registration";

/// Longest diagnostic or detail kept: a remote server's answer can be long, and the link
/// item holds it.
pub const MAX_DETAIL_CHARS: usize = 1000;

/// How long an event's marker stays: SES repeats an event within hours, not weeks.
pub const MARKER_LIFETIME_SECS: i64 = 30 * 24 * 3600;

/// What SES last said about a link's mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MailState {
    /// SES handed the mail to its sending pipeline.
    Sent,
    /// The receiving server answered with a temporary failure; SES keeps trying.
    Delayed,
    Delivered,
    /// SES refused to send it (virus).
    Rejected,
    /// SES could not render the stored template.
    Failed,
    Bounced,
    /// The recipient reported it as spam (after it was delivered).
    Complained,
}

impl MailState {
    pub fn name(self) -> &'static str {
        match self {
            MailState::Sent => "sent",
            MailState::Delayed => "delayed",
            MailState::Delivered => "delivered",
            MailState::Rejected => "rejected",
            MailState::Failed => "failed",
            MailState::Bounced => "bounced",
            MailState::Complained => "complained",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            MailState::Sent,
            MailState::Delayed,
            MailState::Delivered,
            MailState::Rejected,
            MailState::Failed,
            MailState::Bounced,
            MailState::Complained,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }

    /// The user's audit event for it (ZITADEL's own name for `sent`).
    pub fn event_type(self) -> &'static str {
        match self {
            MailState::Sent => "user.human.passwordless.initialization.code.sent",
            MailState::Delayed => "user.human.passwordless.initialization.code.delivery.delayed",
            MailState::Delivered => "user.human.passwordless.initialization.code.delivered",
            MailState::Rejected => "user.human.passwordless.initialization.code.rejected",
            MailState::Failed => "user.human.passwordless.initialization.code.rendering.failed",
            MailState::Bounced => "user.human.passwordless.initialization.code.bounced",
            MailState::Complained => "user.human.passwordless.initialization.code.complained",
        }
    }
}

/// A link's delivery as stored and shown: the state, when SES saw it, and for bounces what
/// the receiving side said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryStatus {
    pub state: MailState,
    /// When the event happened at SES (RFC 3339, milliseconds).
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounce_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounce_sub_type: Option<String>,
    /// The receiving server's answer (bounce, delay), the complaint's feedback type
    /// (`abuse`, `not-spam`, ...) or SES's reason (reject, failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostic: Option<String>,
}

impl DeliveryStatus {
    /// Order of precedence: a later stage outranks an earlier one, whatever arrives last. A
    /// bounce outranks a delivery (a server may bounce after accepting), a permanent bounce a
    /// transient one (the link keeps the evidence of a mark), a complaint all.
    fn rank(&self) -> u8 {
        match self.state {
            MailState::Sent => 0,
            MailState::Delayed => 1,
            MailState::Delivered => 2,
            MailState::Rejected | MailState::Failed => 3,
            MailState::Bounced if self.bounce_type.as_deref() == Some(PERMANENT) => 5,
            MailState::Bounced => 4,
            // The recipient saying the mail is not spam: proof of delivery, no more.
            MailState::Complained if self.is_not_spam() => 2,
            MailState::Complained => 6,
        }
    }

    fn is_not_spam(&self) -> bool {
        self.state == MailState::Complained
            && self.diagnostic.as_deref().is_some_and(|kind| kind.eq_ignore_ascii_case("not-spam"))
    }

    /// Whether this status replaces `old` on the link: higher rank, or same rank and later.
    /// Times compare as text: [`read`] writes them all in one form, years 2000 to 9999.
    pub fn supersedes(&self, old: &DeliveryStatus) -> bool {
        (self.rank(), self.at.as_str()) > (old.rank(), old.at.as_str())
    }
}

const PERMANENT: &str = "Permanent";

/// One of SES's events about a link mail, read from EventBridge's envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailEvent {
    /// SES's `eventType` (`Bounce`, `Delivery`, ...).
    pub ses_type: String,
    /// The event's time as SES wrote it (the status has it normalised to milliseconds).
    pub raw_at: String,
    pub status: DeliveryStatus,
    pub message_id: String,
    pub user_id: UserId,
    pub org_id: OrgId,
    pub code_id: String,
    /// The recipients the event is about.
    pub recipients: Vec<String>,
    /// Bounces and complaints carry SES's id of the feedback.
    pub feedback_id: Option<String>,
}

impl MailEvent {
    /// Names the event whichever envelope it arrives in again: its type, its mail, its time
    /// as SES wrote it and SES's feedback id, hashed to a key of fixed length.
    pub fn marker(&self) -> String {
        let raw = format!(
            "{}\n{}\n{}\n{}",
            self.ses_type,
            self.message_id,
            self.raw_at,
            self.feedback_id.as_deref().unwrap_or("")
        );
        Sha256::digest(raw.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    /// Whether the address can no longer take mail: a permanent bounce or a complaint.
    /// A complaint of type `not-spam` is the recipient saying the opposite: no mark.
    pub fn undeliverable_reason(&self) -> Option<UndeliverableReason> {
        match self.status.state {
            MailState::Bounced if self.status.bounce_type.as_deref() == Some(PERMANENT) => {
                Some(UndeliverableReason::Bounced)
            }
            MailState::Complained if !self.status.is_not_spam() => Some(UndeliverableReason::Complained),
            _ => None,
        }
    }
}

/// Why an event was read but not recorded (answered as handled: retrying changes nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// Not one of our mails (no `purpose` tag of ours).
    NotALinkMail,
    /// An SES event type that says nothing about delivery (open, click, subscription).
    NotRecorded(String),
    UserGone,
    /// The user now belongs to another organisation than the one the mail was sent in.
    OtherOrg,
}

/// What became of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Recorded {
        state: MailState,
        /// The link's state changed (false: an older or lower event, recorded as history only).
        link_changed: bool,
        /// The user's address was marked undeliverable.
        marked: bool,
    },
    Duplicate,
    Ignored(Ignored),
}

impl Ignored {
    /// The reason as answered and logged.
    pub fn name(&self) -> String {
        match self {
            Ignored::NotALinkMail => "not-a-link-mail".into(),
            Ignored::NotRecorded(ses_type) => format!("not-recorded: {ses_type}"),
            Ignored::UserGone => "user-gone".into(),
            Ignored::OtherOrg => "other-org".into(),
        }
    }
}

impl Outcome {
    pub fn to_json(&self) -> Value {
        match self {
            Outcome::Recorded { state, link_changed, marked } => serde_json::json!({
                "recorded": state.name(), "linkChanged": link_changed, "addressMarked": marked,
            }),
            Outcome::Duplicate => serde_json::json!({ "duplicate": true }),
            Outcome::Ignored(why) => serde_json::json!({ "ignored": why.name() }),
        }
    }
}

/// An event that cannot be processed; Lambda retries it, then the dead-letter queue keeps it.
#[derive(Debug, thiserror::Error)]
pub enum FeedbackError {
    #[error("malformed SES event: {0}")]
    Malformed(String),
    #[error("event not recorded: {0}")]
    Store(Error),
}

fn malformed(what: impl Into<String>) -> FeedbackError {
    FeedbackError::Malformed(what.into())
}

/// What [`read`] found in an envelope.
#[derive(Debug)]
pub enum Read {
    Event(Box<MailEvent>),
    Ignored(Ignored),
}

/// Reads EventBridge's envelope around SES's event. Anything missing that a link mail's
/// event must have is [`FeedbackError::Malformed`]; an event about another mail, or of a type
/// that says nothing about delivery, is [`Read::Ignored`].
pub fn read(envelope: &Value) -> Result<Read, FeedbackError> {
    if envelope.get("source").and_then(Value::as_str) != Some("aws.ses") {
        return Err(malformed("source is not aws.ses"));
    }
    let detail =
        envelope.get("detail").filter(|d| d.is_object()).ok_or_else(|| malformed("no detail object"))?;
    let ses_type = text(detail, "/eventType").ok_or_else(|| malformed("detail.eventType missing"))?;
    let mail =
        detail.get("mail").filter(|m| m.is_object()).ok_or_else(|| malformed("detail.mail missing"))?;
    let tags = mail.get("tags").and_then(Value::as_object);
    // SES writes each tag as a list of strings; anything else is not SES's.
    let tag = |name: &str| -> Result<Option<Vec<&str>>, FeedbackError> {
        let Some(values) = tags.and_then(|t| t.get(name)) else {
            return Ok(None);
        };
        values
            .as_array()
            .and_then(|values| values.iter().map(Value::as_str).collect::<Option<Vec<&str>>>())
            .map(Some)
            .ok_or_else(|| malformed(format!("tag {name} is not a list of strings")))
    };
    if !tag("purpose")?.is_some_and(|values| values.contains(&PURPOSE)) {
        return Ok(Read::Ignored(Ignored::NotALinkMail));
    }
    let id_tag = |name: &str| -> Result<String, FeedbackError> {
        match tag(name)?.as_deref() {
            Some([value]) => tag_id(value)
                .filter(|id| !id.is_empty())
                .ok_or_else(|| malformed(format!("tag {name} is not an id"))),
            _ => Err(malformed(format!("tag {name} missing or not one value"))),
        }
    };
    let user_id = UserId::parse(&id_tag("user")?).ok_or_else(|| malformed("tag user is not a user id"))?;
    let org_id = OrgId::parse(&id_tag("org")?).ok_or_else(|| malformed("tag org is not an org id"))?;
    let code_id = id_tag("code")?;
    if !is_code_id(&code_id) {
        return Err(malformed("tag code is not a code id"));
    }
    let message_id = text(mail, "/messageId")
        .filter(|id| (1..=200).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| malformed("detail.mail.messageId missing or not printable ASCII"))?;
    let destination: Vec<String> = strings(mail.get("destination"));

    let (state, object) = match ses_type.as_str() {
        "Send" => (MailState::Sent, "send"),
        "Delivery" => (MailState::Delivered, "delivery"),
        "DeliveryDelay" => (MailState::Delayed, "deliveryDelay"),
        "Bounce" => (MailState::Bounced, "bounce"),
        "Complaint" => (MailState::Complained, "complaint"),
        "Reject" => (MailState::Rejected, "reject"),
        "Rendering Failure" => (MailState::Failed, "failure"),
        // The type is logged: only a name of SES's kind, never whatever an event carries.
        other
            if (1..=40).contains(&other.len())
                && other.chars().all(|c| c.is_ascii_alphabetic() || c == ' ') =>
        {
            return Ok(Read::Ignored(Ignored::NotRecorded(other.to_owned())))
        }
        _ => return Ok(Read::Ignored(Ignored::NotRecorded("(unreadable)".to_owned()))),
    };
    let body = detail
        .get(object)
        .filter(|b| b.is_object())
        .ok_or_else(|| malformed(format!("detail.{object} missing")))?;
    // Send, Reject and Rendering Failure carry no time of their own: the mail's is theirs.
    let (raw_at, field) = match state {
        MailState::Sent | MailState::Rejected | MailState::Failed => (text(mail, "/timestamp"), "mail"),
        _ => (text(body, "/timestamp"), object),
    };
    let raw_at = raw_at.ok_or_else(|| malformed(format!("detail.{field}.timestamp missing")))?;
    let parsed = DateTime::parse_from_rfc3339(&raw_at)
        .map_err(|_| malformed(format!("detail.{field}.timestamp is not RFC 3339")))?
        .with_timezone(&Utc);
    // Stored times stay comparable as text (four-digit years), and none from the future can
    // pin a link's state: a day of clock skew is allowed.
    if parsed.timestamp() < EARLIEST || parsed > Utc::now() + chrono::Duration::days(1) {
        return Err(malformed(format!("detail.{field}.timestamp is not a time SES could have written")));
    }
    let at = parsed.to_rfc3339_opts(SecondsFormat::Millis, true);

    let first = |list: &str, field: &str| {
        body.get(list)
            .and_then(Value::as_array)
            .and_then(|l| l.first())
            .and_then(|r| r.get(field))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let listed = |list: &str| -> Vec<String> {
        body.get(list)
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|r| r.get("emailAddress").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut status = DeliveryStatus { state, at, bounce_type: None, bounce_sub_type: None, diagnostic: None };
    let recipients = match state {
        MailState::Bounced => {
            let kind =
                text(body, "/bounceType").ok_or_else(|| malformed("detail.bounce.bounceType missing"))?;
            status.bounce_type = Some(printable(&kind, 40));
            status.bounce_sub_type = text(body, "/bounceSubType").map(|s| printable(&s, 60));
            status.diagnostic = first("bouncedRecipients", "diagnosticCode").map(|d| diagnostic(&d));
            listed("bouncedRecipients")
        }
        MailState::Complained => {
            status.diagnostic = text(body, "/complaintFeedbackType").map(|d| printable(&d, 60));
            listed("complainedRecipients")
        }
        MailState::Delayed => {
            status.diagnostic = first("delayedRecipients", "diagnosticCode")
                .or_else(|| text(body, "/delayType"))
                .map(|d| diagnostic(&d));
            listed("delayedRecipients")
        }
        MailState::Delivered => strings(body.get("recipients")),
        MailState::Rejected => {
            status.diagnostic = text(body, "/reason").map(|d| diagnostic(&d));
            Vec::new()
        }
        MailState::Failed => {
            status.diagnostic = text(body, "/errorMessage").map(|d| diagnostic(&d));
            Vec::new()
        }
        MailState::Sent => Vec::new(),
    };
    let feedback_id = text(body, "/feedbackId").map(|f| printable(&f, 200));
    // SES gives every bounce and complaint one; without it two such events could be one.
    if matches!(state, MailState::Bounced | MailState::Complained) && feedback_id.is_none() {
        return Err(malformed(format!("detail.{object}.feedbackId missing")));
    }
    Ok(Read::Event(Box::new(MailEvent {
        ses_type,
        raw_at,
        status,
        message_id,
        user_id,
        org_id,
        code_id,
        recipients: if recipients.is_empty() { destination } else { recipients },
        feedback_id,
    })))
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer).and_then(Value::as_str).map(str::to_owned)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// 2000-01-01T00:00:00Z: no SES event is older.
const EARLIEST: i64 = 946_684_800;

/// Text from outside (a remote server's answer) as stored and shown to admins: control
/// characters become spaces, bidi and invisible ones go, at most `max` characters.
fn printable(raw: &str, max: usize) -> String {
    raw.chars()
        .filter(|c| c.is_control() || !hidden_or_control(*c))
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A remote server's diagnostic as stored and shown: [`printable`], and every word with an `@`
/// in it (mail servers quote the recipient, or where it forwards to) replaced by `<address>`,
/// since admins read these and logs must name no address.
fn diagnostic(raw: &str) -> String {
    let words: Vec<&str> = raw
        .split(char::is_whitespace)
        .map(|word| if word.contains('@') { "<address>" } else { word })
        .collect();
    printable(&words.join(" "), MAX_DETAIL_CHARS)
}

/// Link ids are the send path's UUIDs, lower-case.
fn is_code_id(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        })
}

/// Records SES's events about link mails.
pub struct DeliveryFeedback<S> {
    pub store: S,
}

impl<S: DeliveryStore + Sync> DeliveryFeedback<S> {
    /// The Lambda invocation: the outcome as JSON, or the error the runtime reports, logged
    /// first with EventBridge's event id (the way to find the event in the dead-letter queue).
    pub async fn invoke(&self, envelope: &Value) -> Result<Value, FeedbackError> {
        self.invoke_within(envelope, None).await
    }

    /// [`Self::invoke`] under the invocation's deadline (`crate::deadline`): an event still
    /// being recorded near it fails the invocation, which Lambda retries, rather than
    /// running into the function's timeout.
    pub async fn invoke_within(
        &self,
        envelope: &Value,
        context: Option<&lambda_http::Context>,
    ) -> Result<Value, FeedbackError> {
        let handled = crate::deadline::run(context, Box::pin(self.handle(envelope)))
            .await
            .unwrap_or_else(|e| Err(FeedbackError::Store(Error::OutOfTime(e.to_string()))));
        match handled {
            Ok(outcome) => Ok(outcome.to_json()),
            Err(e) => {
                // EventBridge's ids are UUIDs: anything else is not logged.
                let event_id = envelope
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|id| {
                        (1..=64).contains(&id.len())
                            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    })
                    .unwrap_or("(unreadable)");
                tracing::error!(
                    event_id = %event_id,
                    error = %e,
                    "SES event not recorded: Lambda retries it, then the dead-letter queue keeps it"
                );
                Err(e)
            }
        }
    }

    /// One EventBridge event. `Err` only for what a retry might fix or a person must look
    /// at: the Lambda runtime reports it, and after the retries the event waits in the
    /// dead-letter queue.
    pub async fn handle(&self, envelope: &Value) -> Result<Outcome, FeedbackError> {
        let event = match read(envelope)? {
            Read::Ignored(why) => {
                info!(reason = %why.name(), "SES event ignored");
                return Ok(Outcome::Ignored(why));
            }
            Read::Event(event) => event,
        };
        let outcome = retry_conflicts(|| self.record(&event)).await.map_err(FeedbackError::Store)?;
        match &outcome {
            Outcome::Recorded { state, link_changed, marked } => info!(
                code_id = %event.code_id,
                user_id = %event.user_id,
                message_id = %event.message_id,
                state = state.name(),
                link_changed,
                marked,
                "delivery event recorded"
            ),
            Outcome::Duplicate => {
                info!(code_id = %event.code_id, ses_type = %event.ses_type, "delivery event already recorded")
            }
            Outcome::Ignored(why) => {
                warn!(code_id = %event.code_id, user_id = %event.user_id, reason = %why.name(), "delivery event ignored")
            }
        }
        Ok(outcome)
    }

    async fn record(&self, event: &MailEvent) -> Result<Outcome, Error> {
        let marker = event.marker();
        let view = self.store.read_delivery(&event.user_id, &event.code_id, &marker).await?;
        if view.seen {
            return Ok(Outcome::Duplicate);
        }
        let Some(user) = view.user else {
            return Ok(Outcome::Ignored(Ignored::UserGone));
        };
        if user.org_id != event.org_id {
            return Ok(Outcome::Ignored(Ignored::OtherOrg));
        }
        let change = plan(event, &user, view.link.as_ref(), marker, Utc::now());
        self.store.commit_delivery(&change).await?;
        Ok(Outcome::Recorded {
            state: event.status.state,
            link_changed: change.link_status.is_some(),
            marked: change.undeliverable.is_some(),
        })
    }
}

/// What recording `event` writes, given the user and the link (`None`: no longer stored).
pub fn plan(
    event: &MailEvent,
    user: &User,
    link: Option<&LinkMail>,
    marker: String,
    now: DateTime<Utc>,
) -> DeliveryChange {
    let link_status = link.and_then(|link| {
        // Once a link knows its mail, only that mail's events move it.
        let same_mail = link.message_id.as_deref().is_none_or(|id| id == event.message_id);
        let newer = link.status.as_ref().is_none_or(|current| event.status.supersedes(current));
        (same_mail && newer).then(|| event.status.clone())
    });
    // Only the address the user still has: one that changed since the mail is not marked.
    let undeliverable = event.undeliverable_reason().and_then(|reason| {
        let email = user.email.as_deref()?;
        let concerned = event.recipients.iter().any(|r| r.eq_ignore_ascii_case(email));
        let already = user.undeliverable.iter().any(|m| m.applies_to(email));
        (concerned && !already).then(|| Undeliverable {
            address: email.to_owned(),
            reason,
            at: event.status.at.clone(),
            code_id: event.code_id.clone(),
        })
    });
    DeliveryChange {
        user_id: user.id.clone(),
        org_id: user.org_id.clone(),
        previous_sequence: user.sequence,
        sequence: user.sequence + 1,
        at: now,
        event: event.clone(),
        link_exists: link.is_some(),
        link_status,
        undeliverable,
        marker,
        marker_expires_at: now.timestamp() + MARKER_LIFETIME_SECS,
    }
}

#[cfg(test)]
mod tests;
