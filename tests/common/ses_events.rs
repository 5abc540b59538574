//! SES's event-publishing events as EventBridge delivers them to the delivery-feedback
//! function: the envelope and `detail` shaped as SES's documentation shows them, about a
//! mail the local stack really sent (its message id from the SES emulator's mailbox).

use send_passkey_link::domain::tag_value;
use serde_json::{json, Value};

use super::{link_in, mails_to, Harness, ALICE, DEMO_ORG};

/// A link mail the handler sent.
#[derive(Debug, Clone)]
pub struct SentMail {
    pub user: String,
    pub org: String,
    pub code_id: String,
    pub message_id: String,
    pub to: String,
}

/// The demo admin sends Alice a link; the mail as the mailbox holds it.
pub async fn send_alice_a_link(h: &Harness) -> SentMail {
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 200, "{body}");
    let to = h.email_of("alice", "demo.example");
    let mail = mails_to(&to).pop().expect("the link mail");
    SentMail {
        user: ALICE.into(),
        org: DEMO_ORG.into(),
        code_id: link_in(&mail).0,
        message_id: mail["messageId"].as_str().unwrap().to_owned(),
        to,
    }
}

/// EventBridge's `detail-type` for SES's `eventType`.
fn detail_type(ses_type: &str) -> &'static str {
    match ses_type {
        "Send" => "Email Sent",
        "Delivery" => "Email Delivered",
        "Bounce" => "Email Bounced",
        "Complaint" => "Email Complaint Received",
        "DeliveryDelay" => "Email Delivery Delayed",
        "Reject" => "Email Rejected",
        "Rendering Failure" => "Email Rendering Failed",
        "Open" => "Email Opened",
        "Click" => "Email Clicked",
        _ => "Email Unknown",
    }
}

/// The event of `ses_type` about `sent`, its type's object being `body`.
pub fn ses_event(sent: &SentMail, ses_type: &str, body: Value) -> Value {
    let object = match ses_type {
        "Send" => "send",
        "Delivery" => "delivery",
        "Bounce" => "bounce",
        "Complaint" => "complaint",
        "DeliveryDelay" => "deliveryDelay",
        "Reject" => "reject",
        "Rendering Failure" => "failure",
        "Open" => "open",
        "Click" => "click",
        other => other,
    };
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": detail_type(ses_type),
        "source": "aws.ses",
        "account": "123456789012",
        "time": "2026-12-02T10:00:09Z",
        "region": "eu-central-1",
        "resources": ["arn:aws:ses:eu-central-1:123456789012:configuration-set/passkey-links"],
        "detail": {
            "eventType": ses_type,
            "mail": {
                "timestamp": "2026-12-02T10:00:00.000Z",
                "source": "Passkeys <no-reply@demo.example>",
                "sourceArn": "arn:aws:ses:eu-central-1:123456789012:identity/demo.example",
                "sendingAccountId": "123456789012",
                "messageId": sent.message_id,
                "destination": [sent.to],
                "headersTruncated": false,
                "headers": [
                    {"name": "From", "value": "Passkeys <no-reply@demo.example>"},
                    {"name": "To", "value": sent.to},
                    {"name": "Subject", "value": "Add a passkey to your account"},
                    {"name": "MIME-Version", "value": "1.0"}
                ],
                "commonHeaders": {
                    "from": ["Passkeys <no-reply@demo.example>"],
                    "to": [sent.to],
                    "messageId": sent.message_id,
                    "subject": "Add a passkey to your account"
                },
                "tags": {
                    "ses:configuration-set": ["passkey-links"],
                    "ses:source-ip": ["192.0.2.10"],
                    "ses:from-domain": ["demo.example"],
                    "ses:caller-identity": ["send-passkey-link-role"],
                    "ses:outgoing-ip": ["198.51.100.7"],
                    "purpose": ["passkey-registration"],
                    "org": [tag_value(&sent.org)],
                    "user": [tag_value(&sent.user)],
                    "code": [tag_value(&sent.code_id)]
                }
            },
            object: body,
        }
    })
}

pub fn send(sent: &SentMail) -> Value {
    ses_event(sent, "Send", json!({}))
}

pub fn delivery(sent: &SentMail, at: &str) -> Value {
    ses_event(
        sent,
        "Delivery",
        json!({
            "timestamp": at,
            "processingTimeMillis": 1133,
            "recipients": [sent.to],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "a8-70.smtp-out.amazonses.com"
        }),
    )
}

pub fn bounce(sent: &SentMail, bounce_type: &str, sub_type: &str, at: &str, feedback_id: &str) -> Value {
    ses_event(
        sent,
        "Bounce",
        json!({
            "feedbackId": feedback_id,
            "bounceType": bounce_type,
            "bounceSubType": sub_type,
            "bouncedRecipients": [{
                "emailAddress": sent.to,
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown"
            }],
            "timestamp": at,
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com"
        }),
    )
}

pub fn complaint(sent: &SentMail, at: &str, feedback_id: &str) -> Value {
    ses_event(
        sent,
        "Complaint",
        json!({
            "feedbackId": feedback_id,
            "complaintSubType": null,
            "complainedRecipients": [{"emailAddress": sent.to}],
            "timestamp": at,
            "userAgent": "Mozilla/5.0 (compatible; feedback loop)",
            "complaintFeedbackType": "abuse",
            "arrivalDate": at
        }),
    )
}

pub fn delay(sent: &SentMail, at: &str) -> Value {
    ses_event(
        sent,
        "DeliveryDelay",
        json!({
            "timestamp": at,
            "delayType": "TransientCommunicationFailure",
            "expirationTime": "2026-12-03T10:00:00.000Z",
            "delayedRecipients": [{
                "emailAddress": sent.to,
                "status": "4.4.1",
                "diagnosticCode": "smtp; 421 4.4.0 Unable to lookup DNS for demo.example"
            }]
        }),
    )
}
