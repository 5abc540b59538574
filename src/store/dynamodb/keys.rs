//! The single-table layout. docs/data.md documents the same keys.
//!
//! | item              | pk               | sk                      |
//! |-------------------|------------------|-------------------------|
//! | organisation      | `ORG#<orgId>`    | `#ORG`                  |
//! | org mail texts    | `TEXTS#ORG#<orgId>` | `#MAILTEXTS`         |
//! | org text event    | `TEXTS#ORG#<orgId>` | `EVENT#<sequence, 20 digits>` |
//! | instance texts    | `TEXTS#INSTANCE` | `#MAILTEXTS`            |
//! | instance text event | `TEXTS#INSTANCE` | `EVENT#<sequence, 20 digits>` |
//! | org texts a seed wrote before the text API (read only) | `ORG#<orgId>` | `#MAILTEXTS` |
//! | org membership    | `ORG#<orgId>`    | `MEMBER#<userId>`       |
//! | instance member   | `INSTANCE`       | `MEMBER#<userId>`       |
//! | user              | `USER#<userId>`  | `#USER`                 |
//! | passkey link      | `USER#<userId>`  | `PASSKEYLINK#<codeId>`  |
//! | user event        | `USER#<userId>`  | `EVENT#<sequence, 20 digits>` |
//! | mail failure      | `USER#<userId>`  | `EVENT#<sequence, 20 digits>#MAILFAILED` |
//! | SES event recorded | `USER#<userId>` | `DELIVERY#<codeId>#<marker>` |
//! | passkey ceremony  | `USER#<userId>`  | `PASSKEYREG#<passkeyId>` |
//! | passkey           | `USER#<userId>`  | `PASSKEY#<passkeyId>`   |
//! | credential index  | `CREDENTIAL#<credentialId>` | `#CREDENTIAL` |
//! | rate-limit window | `LIMIT#<key>`    | `WINDOW#<start, epoch s>` |
//!
//! A user's links and events share its partition, so one transaction touches one partition;
//! user ids are unique in the instance (as in ZITADEL), the owning org is the `orgId` attribute.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::model::{OrgId, UserId};
use crate::store::TextLevel;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// Epoch seconds after which an item is gone; DynamoDB's TTL is enabled on it.
pub const TTL_ATTRIBUTE: &str = "expiresAt";

pub type Key = HashMap<String, AttributeValue>;

fn key(pk: String, sk: String) -> Key {
    HashMap::from([(PK.to_owned(), AttributeValue::S(pk)), (SK.to_owned(), AttributeValue::S(sk))])
}

pub fn org(org: &OrgId) -> Key {
    key(format!("ORG#{org}"), "#ORG".into())
}

/// The custom texts of `level` (an organisation or the instance): one item, so the send path
/// reads them in the batch it reads everything else in. In partitions of their own, so that
/// the function's IAM policy can let it write texts without letting it write organisations
/// or memberships.
pub fn texts(level: &TextLevel) -> Key {
    key(texts_pk(level), "#MAILTEXTS".into())
}

/// An event of a level's text history.
pub fn text_event(level: &TextLevel, sequence: u64) -> Key {
    key(texts_pk(level), format!("EVENT#{sequence:020}"))
}

fn texts_pk(level: &TextLevel) -> String {
    match level {
        TextLevel::Org(org) => format!("TEXTS#ORG#{org}"),
        TextLevel::Instance => "TEXTS#INSTANCE".into(),
    }
}

/// Where seeds wrote an organisation's texts before the text API: read until the first change
/// (API or seed) copies them to [`texts`], never written.
pub fn legacy_org_texts(org: &OrgId) -> Key {
    key(format!("ORG#{org}"), "#MAILTEXTS".into())
}

/// The sort keys of the memberships in an organisation's or the instance's partition.
pub const MEMBER_PREFIX: &str = "MEMBER#";

/// The partition of an organisation's memberships (`None`: of the instance's).
pub fn members_partition(org: Option<&OrgId>) -> String {
    org.map_or_else(|| "INSTANCE".to_owned(), |org| format!("ORG#{org}"))
}

pub fn org_member(org: &OrgId, user: &UserId) -> Key {
    key(members_partition(Some(org)), format!("{MEMBER_PREFIX}{user}"))
}

pub fn instance_member(user: &UserId) -> Key {
    key(members_partition(None), format!("{MEMBER_PREFIX}{user}"))
}

pub fn user(user: &UserId) -> Key {
    key(format!("USER#{user}"), "#USER".into())
}

pub fn passkey_link(user: &UserId, code_id: &str) -> Key {
    key(format!("USER#{user}"), format!("PASSKEYLINK#{code_id}"))
}

pub fn user_event(user: &UserId, sequence: u64) -> Key {
    // Zero-padded so events sort by sequence.
    key(format!("USER#{user}"), format!("EVENT#{sequence:020}"))
}

/// Sorts right after the event that requested the link whose mail failed.
pub fn mail_failure(user: &UserId, sequence: u64) -> Key {
    key(format!("USER#{user}"), format!("EVENT#{sequence:020}#MAILFAILED"))
}

/// Marks one SES event about a link's mail as recorded (see `delivery::MailEvent::marker`).
pub fn delivery_marker(user: &UserId, code_id: &str, marker: &str) -> Key {
    key(format!("USER#{user}"), format!("DELIVERY#{code_id}#{marker}"))
}

pub fn ceremony(user: &UserId, passkey_id: &str) -> Key {
    key(format!("USER#{user}"), format!("PASSKEYREG#{passkey_id}"))
}

pub fn passkey(user: &UserId, passkey_id: &str) -> Key {
    key(format!("USER#{user}"), format!("PASSKEY#{passkey_id}"))
}

/// Credential ids are unique across users (WebAuthn asks the RP to refuse a second owner).
pub fn credential(credential_id: &str) -> Key {
    key(format!("CREDENTIAL#{credential_id}"), "#CREDENTIAL".into())
}

pub fn limit_window(limit_key: &str, window_start: i64) -> Key {
    key(format!("LIMIT#{limit_key}"), format!("WINDOW#{window_start}"))
}
