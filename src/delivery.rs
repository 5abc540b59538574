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
mod tests {
    use super::*;
    use crate::model::{UserKind, UserState};
    use serde_json::json;

    fn envelope(detail_type: &str, detail: Value) -> Value {
        json!({"version": "0", "id": "e1", "detail-type": detail_type, "source": "aws.ses",
            "account": "123456789012", "time": "2026-12-02T10:00:05Z", "region": "eu-central-1",
            "resources": ["arn:aws:ses:eu-central-1:123456789012:configuration-set/links"], "detail": detail})
    }

    fn mail() -> Value {
        json!({"timestamp": "2026-12-02T10:00:00.000Z", "source": "no-reply@demo.example",
            "messageId": "0102018f-abc", "destination": ["alice@demo.example"],
            "tags": {"purpose": ["passkey-registration"], "org": ["1001"], "user": ["alice_40demo"],
                "code": ["c0a6d565-4b2e-4630-b479-e6b120612da2"], "ses:configuration-set": ["links"]}})
    }

    fn bounce(kind: &str) -> Value {
        envelope(
            "Email Bounced",
            json!({"eventType": "Bounce", "mail": mail(), "bounce": {
            "bounceType": kind, "bounceSubType": "General", "timestamp": "2026-12-02T10:00:03.500Z",
            "feedbackId": "fb-1", "bouncedRecipients": [{"emailAddress": "alice@demo.example",
            "action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 unknown\r\nuser"}]}}),
        )
    }

    fn event_of(envelope: &Value) -> MailEvent {
        match read(envelope).unwrap() {
            Read::Event(e) => *e,
            other => panic!("{other:?}"),
        }
    }

    fn user(email: &str) -> User {
        User {
            id: UserId::parse("alice@demo").unwrap(),
            org_id: OrgId::parse("1001").unwrap(),
            kind: UserKind::Human,
            state: UserState::Active,
            email: Some(email.into()),
            display_name: None,
            name: Default::default(),
            user_name: None,
            preferred_language: None,
            sequence: 4,
            recent_links: None,
            undeliverable: Vec::new(),
        }
    }

    #[test]
    fn reads_a_bounce_with_its_ids_type_and_cleaned_diagnostic() {
        let e = event_of(&bounce("Permanent"));
        assert_eq!(e.user_id.as_str(), "alice@demo");
        assert_eq!(e.org_id.as_str(), "1001");
        assert_eq!(e.code_id, "c0a6d565-4b2e-4630-b479-e6b120612da2");
        assert_eq!(e.status.state, MailState::Bounced);
        assert_eq!(e.status.at, "2026-12-02T10:00:03.500Z");
        assert_eq!(e.status.bounce_type.as_deref(), Some("Permanent"));
        assert_eq!(e.status.diagnostic.as_deref(), Some("smtp; 550 5.1.1 unknown  user"));
        let mut named = bounce("Permanent");
        named["detail"]["bounce"]["bouncedRecipients"][0]["diagnosticCode"] =
            json!("smtp; 550 5.1.1 <alice@demo.example>: no such user; forwarded to\tbob@other.example");
        assert_eq!(
            event_of(&named).status.diagnostic.as_deref(),
            Some("smtp; 550 5.1.1 <address> no such user; forwarded to <address>")
        );
        assert_eq!(e.undeliverable_reason(), Some(UndeliverableReason::Bounced));
        assert_eq!(event_of(&bounce("Transient")).undeliverable_reason(), None);
    }

    #[test]
    fn other_mail_and_other_event_types_are_ignored_not_failed() {
        let mut other = bounce("Permanent");
        other["detail"]["mail"]["tags"]["purpose"] = json!(["newsletter"]);
        assert!(matches!(read(&other), Ok(Read::Ignored(Ignored::NotALinkMail))));
        other["detail"]["mail"]["tags"].as_object_mut().unwrap().remove("purpose");
        assert!(matches!(read(&other), Ok(Read::Ignored(Ignored::NotALinkMail))));
        let open = envelope("Email Opened", json!({"eventType": "Open", "mail": mail(), "open": {}}));
        assert!(matches!(read(&open), Ok(Read::Ignored(Ignored::NotRecorded(t))) if t == "Open"));
        let odd = envelope("x", json!({"eventType": "alice@demo.example", "mail": mail()}));
        assert!(matches!(read(&odd), Ok(Read::Ignored(Ignored::NotRecorded(t))) if t == "(unreadable)"));
    }

    #[test]
    fn malformed_events_say_what_is_missing() {
        let mut cases = vec![json!(null), json!([]), json!({"source": "aws.ses"})];
        let mut e = bounce("Permanent");
        e["source"] = json!("aws.sns");
        cases.push(e);
        for (pointer, value) in [
            ("/detail/mail/tags/code", json!(["a", "b"])),
            ("/detail/mail/tags/user", json!(["a b"])),
            ("/detail/mail/tags/org", json!([])),
            ("/detail/mail/tags/code", json!(["../x"])),
            ("/detail/mail/messageId", json!(5)),
            ("/detail/bounce", json!("x")),
            ("/detail/bounce/bounceType", json!(null)),
            ("/detail/bounce/timestamp", json!("yesterday")),
            ("/detail/bounce/timestamp", json!(1764669603000u64)),
            ("/detail/bounce/timestamp", json!("9999-12-31T23:59:59-01:00")),
            ("/detail/bounce/timestamp", json!("1999-12-31T23:59:59Z")),
            ("/detail/bounce/feedbackId", json!(null)),
            ("/detail/mail/tags/code", json!(["C0A6D565-4B2E-4630-B479-E6B120612DA2"])),
            ("/detail/mail/tags/code", json!(["c0a6d565"])),
            ("/detail/mail/tags/user", json!(["alice_40demo", 5])),
            ("/detail/mail/tags/purpose", json!(["passkey-registration", 7])),
        ] {
            let mut e = bounce("Permanent");
            *e.pointer_mut(pointer).unwrap() = value;
            cases.push(e);
        }
        for case in cases {
            assert!(matches!(read(&case), Err(FeedbackError::Malformed(_))), "{case}");
        }
    }

    #[test]
    fn the_state_is_the_highest_rank_then_the_latest_whatever_the_order() {
        let status = |state, at: &str| DeliveryStatus {
            state,
            at: at.into(),
            bounce_type: None,
            bounce_sub_type: None,
            diagnostic: None,
        };
        let events = [
            status(MailState::Sent, "2026-01-01T00:00:00.000Z"),
            status(MailState::Delayed, "2026-01-01T00:00:01.000Z"),
            status(MailState::Delayed, "2026-01-01T00:00:02.000Z"),
            status(MailState::Delivered, "2026-01-01T00:00:03.000Z"),
            status(MailState::Complained, "2026-01-01T00:00:04.000Z"),
        ];
        // Every order of five events ends in the same state.
        let mut order: Vec<usize> = (0..events.len()).collect();
        let mut seen = 0;
        permute(&mut order, 0, &mut |order| {
            let mut current: Option<DeliveryStatus> = None;
            for &i in order {
                if current.as_ref().is_none_or(|c| events[i].supersedes(c)) {
                    current = Some(events[i].clone());
                }
            }
            assert_eq!(current.as_ref(), Some(&events[4]), "{order:?}");
            seen += 1;
        });
        assert_eq!(seen, 120);
        assert!(!events[2].supersedes(&events[2]));
    }

    fn permute(v: &mut Vec<usize>, k: usize, f: &mut impl FnMut(&[usize])) {
        if k == v.len() {
            return f(v);
        }
        for i in k..v.len() {
            v.swap(k, i);
            permute(v, k + 1, f);
            v.swap(k, i);
        }
    }

    #[test]
    fn only_the_address_the_user_still_has_is_marked() {
        let e = event_of(&bounce("Permanent"));
        let now = Utc::now();
        let fresh = LinkMail::default();
        let marked = plan(&e, &user("Alice@Demo.example"), Some(&fresh), e.marker(), now);
        let mark = marked.undeliverable.clone().unwrap();
        assert_eq!(mark.reason, UndeliverableReason::Bounced);
        assert_eq!(marked.sequence, 5);
        let moved = plan(&e, &user("alice@new.example"), Some(&fresh), e.marker(), now);
        assert!(moved.undeliverable.is_none());
        let mut again = user("alice@demo.example");
        again.undeliverable = vec![mark.clone()];
        assert!(plan(&e, &again, None, e.marker(), now).undeliverable.is_none());
        // A second address gets a mark of its own.
        let mut other = user("alice@new.example");
        other.undeliverable = vec![mark];
        let mut to_new = bounce("Permanent");
        to_new["detail"]["bounce"]["bouncedRecipients"][0]["emailAddress"] = json!("alice@new.example");
        let to_new = event_of(&to_new);
        let added = plan(&to_new, &other, None, to_new.marker(), now).undeliverable.unwrap();
        assert_eq!(added.address, "alice@new.example");
    }

    #[test]
    fn a_link_follows_only_its_own_mail_and_keeps_a_permanent_bounce() {
        let e = event_of(&bounce("Permanent"));
        let now = Utc::now();
        let other_mail = LinkMail { status: None, message_id: Some("another-message".into()) };
        assert!(plan(&e, &user("alice@demo.example"), Some(&other_mail), e.marker(), now)
            .link_status
            .is_none());
        let permanent = LinkMail { status: Some(e.status.clone()), message_id: Some(e.message_id.clone()) };
        let mut later = bounce("Transient");
        later["detail"]["bounce"]["timestamp"] = json!("2026-12-02T10:00:09.000Z");
        later["detail"]["bounce"]["feedbackId"] = json!("fb-2");
        let later = event_of(&later);
        assert!(plan(&later, &user("alice@demo.example"), Some(&permanent), later.marker(), now)
            .link_status
            .is_none());
        assert!(e.status.supersedes(&later.status));
    }

    #[test]
    fn a_not_spam_report_marks_nothing() {
        let complaint = |kind: &str| {
            envelope(
                "Email Complaint Received",
                json!({"eventType": "Complaint", "mail": mail(), "complaint": {
                "feedbackId": "fb-c", "complainedRecipients": [{"emailAddress": "alice@demo.example"}],
                "timestamp": "2026-12-02T11:00:00.000Z", "complaintFeedbackType": kind}}),
            )
        };
        assert_eq!(
            event_of(&complaint("abuse")).undeliverable_reason(),
            Some(UndeliverableReason::Complained)
        );
        assert_eq!(event_of(&complaint("not-spam")).undeliverable_reason(), None);
        assert_eq!(event_of(&complaint("Not-Spam")).undeliverable_reason(), None);
        // Proof of delivery, no more: it does not hide a permanent bounce.
        let bounced = event_of(&bounce("Permanent")).status;
        assert!(!event_of(&complaint("not-spam")).status.supersedes(&bounced));
        assert!(event_of(&complaint("abuse")).status.supersedes(&bounced));
    }

    #[test]
    fn outside_text_loses_bidi_and_invisible_characters() {
        assert_eq!(printable("550\u{202E}evil\u{200B} x\r\ny", 100), "550evil x  y");
        assert_eq!(printable("abcdef", 3), "abc");
        let mut e = bounce("Permanent");
        e["detail"]["mail"]["messageId"] = json!("\u{202E}mid");
        assert!(matches!(read(&e), Err(FeedbackError::Malformed(_))));
    }

    #[test]
    fn markers_name_the_event_not_its_delivery() {
        let a = event_of(&bounce("Permanent"));
        let mut again = bounce("Permanent");
        again["id"] = json!("another-eventbridge-id");
        again["time"] = json!("2026-12-02T11:00:00Z");
        assert_eq!(a.marker(), event_of(&again).marker());
        let mut other = bounce("Permanent");
        other["detail"]["bounce"]["feedbackId"] = json!("fb-2");
        assert_ne!(a.marker(), event_of(&other).marker());
        // Below the millisecond, or another mail: another event.
        let mut finer = bounce("Permanent");
        finer["detail"]["bounce"]["timestamp"] = json!("2026-12-02T10:00:03.5001Z");
        assert_ne!(a.marker(), event_of(&finer).marker());
        let mut other_mail = bounce("Permanent");
        other_mail["detail"]["mail"]["messageId"] = json!("0102018f-def");
        assert_ne!(a.marker(), event_of(&other_mail).marker());
        assert_eq!(a.marker().len(), 32);
    }
}
