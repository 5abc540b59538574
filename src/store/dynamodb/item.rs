//! Conversions between DynamoDB items and the models.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::keys;
use crate::delivery::{DeliveryStatus, MailState};
use crate::error::StoreError;
use crate::message_text::CustomTexts;
use crate::model::{
    Org, OrgId, OrgState, PersonName, RecentLink, Undeliverable, UndeliverableReason, User, UserId, UserKind,
    UserState,
};
use crate::store::{Ceremony, LinkRecord, StoredLink, StoredPasskey};
use crate::store::{LinkMail, TextsRecord};

pub type Item = HashMap<String, AttributeValue>;

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn string_list(values: &[String]) -> AttributeValue {
    AttributeValue::L(values.iter().map(|v| s(v.as_str())).collect())
}

fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn get_n(item: &Item, name: &str) -> Result<Option<u64>, StoreError> {
    item.get(name)
        .map(|v| {
            v.as_n()
                .ok()
                .and_then(|raw| raw.parse().ok())
                .ok_or_else(|| StoreError::Internal(format!("attribute {name} is not an unsigned number")))
        })
        .transpose()
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Internal(format!("stored item is corrupt: {what}"))
}

fn parse_enum<T: serde::de::DeserializeOwned>(item: &Item, name: &str) -> Result<T, StoreError> {
    let raw = get_s(item, name).ok_or_else(|| corrupt(name))?;
    serde_json::from_value(serde_json::Value::String(raw.to_owned())).map_err(|_| corrupt(name))
}

/// A model enum as the string its serde name gives (the form `parse_enum` reads back).
pub fn enum_value<T: serde::Serialize>(v: T) -> Result<AttributeValue, StoreError> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(text)) => Ok(s(text)),
        other => Err(StoreError::Internal(format!("not a string enum: {other:?}"))),
    }
}

pub fn user_from_item(item: &Item) -> Result<User, StoreError> {
    let id = get_s(item, "userId").and_then(UserId::parse).ok_or_else(|| corrupt("userId"))?;
    let org_id = get_s(item, "orgId").and_then(OrgId::parse).ok_or_else(|| corrupt("orgId"))?;
    Ok(User {
        id,
        org_id,
        kind: parse_enum::<UserKind>(item, "kind")?,
        state: parse_enum::<UserState>(item, "state")?,
        email: get_s(item, "email").map(str::to_owned),
        display_name: get_s(item, "displayName").map(str::to_owned),
        name: PersonName {
            given_name: get_s(item, "givenName").map(str::to_owned),
            family_name: get_s(item, "familyName").map(str::to_owned),
            nick_name: get_s(item, "nickName").map(str::to_owned),
        },
        user_name: get_s(item, "userName").map(str::to_owned),
        preferred_language: get_s(item, "preferredLanguage").map(str::to_owned),
        sequence: get_n(item, "sequence")?.unwrap_or(0),
        recent_links: recent_links_from(item),
        undeliverable: undeliverable_from(item),
    })
}

/// The user's `undeliverableEmails`, a list of maps; an entry that cannot be read counts as
/// none (a mark that cannot be read must not block sends for good).
fn undeliverable_from(item: &Item) -> Vec<Undeliverable> {
    let Some(Ok(list)) = item.get("undeliverableEmails").map(AttributeValue::as_l) else {
        return Vec::new();
    };
    list.iter().filter_map(|entry| entry.as_m().ok()).filter_map(mark_from).collect()
}

fn mark_from(map: &Item) -> Option<Undeliverable> {
    Some(Undeliverable {
        address: get_s(map, "address")?.to_owned(),
        reason: serde_json::from_value(serde_json::Value::String(get_s(map, "reason")?.to_owned())).ok()?,
        at: get_s(map, "at").unwrap_or_default().to_owned(),
        code_id: get_s(map, "codeId").unwrap_or_default().to_owned(),
    })
}

pub fn undeliverable_list(marks: &[Undeliverable]) -> AttributeValue {
    AttributeValue::L(marks.iter().map(undeliverable_value).collect())
}

pub fn undeliverable_value(mark: &Undeliverable) -> AttributeValue {
    let reason = match mark.reason {
        UndeliverableReason::Bounced => "bounced",
        UndeliverableReason::Complained => "complained",
    };
    AttributeValue::M(HashMap::from([
        ("address".to_owned(), s(&mark.address)),
        ("reason".to_owned(), s(reason)),
        ("at".to_owned(), s(&mark.at)),
        ("codeId".to_owned(), s(&mark.code_id)),
    ]))
}

/// What a link item knows of its mail.
pub fn link_mail_from(item: &Item) -> LinkMail {
    LinkMail { status: delivery_status_from(item), message_id: get_s(item, "messageId").map(str::to_owned) }
}

/// A link's `mailDelivery` map; none when absent or unreadable.
fn delivery_status_from(item: &Item) -> Option<DeliveryStatus> {
    let map = item.get("mailDelivery")?.as_m().ok()?;
    let text = |name: &str| get_s(map, name).map(str::to_owned);
    Some(DeliveryStatus {
        state: MailState::parse(get_s(map, "state")?)?,
        at: text("at")?,
        bounce_type: text("bounceType"),
        bounce_sub_type: text("bounceSubType"),
        diagnostic: text("diagnostic"),
    })
}

pub fn delivery_status_value(status: &DeliveryStatus) -> AttributeValue {
    let mut map =
        HashMap::from([("state".to_owned(), s(status.state.name())), ("at".to_owned(), s(&status.at))]);
    for (name, value) in [
        ("bounceType", &status.bounce_type),
        ("bounceSubType", &status.bounce_sub_type),
        ("diagnostic", &status.diagnostic),
    ] {
        if let Some(value) = value {
            map.insert(name.to_owned(), s(value));
        }
    }
    AttributeValue::M(map)
}

/// The rate-limit window, a map of code id to epoch milliseconds. An absent window, or the
/// list of bare timestamps older versions wrote, reads as `None`: the next link replaces it.
fn recent_links_from(item: &Item) -> Option<Vec<RecentLink>> {
    let map = item.get("recentLinks")?.as_m().ok()?;
    Some(
        map.iter()
            .filter_map(|(code_id, at)| {
                Some(RecentLink { code_id: code_id.clone(), at_ms: at.as_n().ok()?.parse().ok()? })
            })
            .collect(),
    )
}

pub fn recent_links_map(links: &[RecentLink]) -> AttributeValue {
    AttributeValue::M(links.iter().map(|l| (l.code_id.clone(), n(l.at_ms))).collect())
}

pub fn org_from_item(item: &Item) -> Result<Org, StoreError> {
    Ok(Org {
        id: get_s(item, "orgId").and_then(OrgId::parse).ok_or_else(|| corrupt("orgId"))?,
        name: get_s(item, "name").unwrap_or_default().to_owned(),
        state: parse_enum::<OrgState>(item, "state")?,
    })
}

/// A level's texts; items written before the text API (seed only) lack the sequence and use
/// the old field names, which [`CustomTexts`] still reads.
pub fn texts_from_item(item: &Item, legacy: bool) -> Result<TextsRecord, StoreError> {
    let raw = get_s(item, "texts").ok_or_else(|| corrupt("texts"))?;
    let mut texts: CustomTexts = serde_json::from_str(raw).map_err(|_| corrupt("texts"))?;
    if legacy {
        for stored in texts.languages.values_mut() {
            stored.text.upgrade_legacy();
        }
    }
    let sequence = match item.get("sequence") {
        None => 0,
        Some(v) => v.as_n().ok().and_then(|n| n.parse().ok()).ok_or_else(|| corrupt("sequence"))?,
    };
    Ok(TextsRecord { texts, sequence, legacy })
}

pub fn roles_from_item(item: &Item) -> Vec<String> {
    item.get("roles")
        .and_then(|v| v.as_l().ok())
        .map(|l| l.iter().filter_map(|r| r.as_s().ok().cloned()).collect())
        .unwrap_or_default()
}

/// A link item as [`StoredLink`]: never its hash.
pub fn stored_link_from_item(item: &Item) -> StoredLink {
    let text = |name: &str| get_s(item, name).unwrap_or_default().to_owned();
    StoredLink {
        code_id: text("codeId"),
        org_id: text("orgId"),
        created_at: text("createdAt"),
        expires_at: item
            .get(keys::TTL_ATTRIBUTE)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        requested_by: text("requestedBy"),
        delivery: get_s(item, "delivery").unwrap_or("mail").to_owned(),
        message_id: get_s(item, "messageId").map(str::to_owned),
        used_at: get_s(item, "usedAt").map(str::to_owned),
        failed_attempts: item
            .get("failedAttempts")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok())
            .map_or(0, |n| n.min(u64::from(u32::MAX)) as u32),
        mail_delivery: delivery_status_from(item),
    }
}

/// A link item as the code check reads it.
pub fn link_record_from_item(item: &Item) -> Result<LinkRecord, StoreError> {
    Ok(LinkRecord {
        org_id: get_s(item, "orgId").and_then(OrgId::parse).ok_or_else(|| corrupt("orgId"))?,
        code_hash: get_s(item, "codeHash").ok_or_else(|| corrupt("codeHash"))?.to_owned(),
        expires_at: get_n(item, keys::TTL_ATTRIBUTE)?.ok_or_else(|| corrupt(keys::TTL_ATTRIBUTE))? as i64,
        used: item.contains_key("usedAt"),
        failed_attempts: get_n(item, "failedAttempts")?.unwrap_or(0).min(u64::from(u32::MAX)) as u32,
    })
}

pub fn ceremony_from_item(item: &Item) -> Result<Ceremony, StoreError> {
    let text = |name: &str| get_s(item, name).map(str::to_owned).ok_or_else(|| corrupt(name));
    Ok(Ceremony {
        user_id: get_s(item, "userId").and_then(UserId::parse).ok_or_else(|| corrupt("userId"))?,
        org_id: get_s(item, "orgId").and_then(OrgId::parse).ok_or_else(|| corrupt("orgId"))?,
        passkey_id: text("passkeyId")?,
        rp_id: text("rpId")?,
        state: text("state")?,
        code_id: get_s(item, "codeId").map(str::to_owned),
        started_by: get_s(item, "startedBy").and_then(UserId::parse).ok_or_else(|| corrupt("startedBy"))?,
        expires_at: get_n(item, keys::TTL_ATTRIBUTE)?.ok_or_else(|| corrupt(keys::TTL_ATTRIBUTE))? as i64,
    })
}

pub fn stored_passkey_from_item(item: &Item) -> StoredPasskey {
    let text = |name: &str| get_s(item, name).unwrap_or_default().to_owned();
    StoredPasskey {
        id: text("passkeyId"),
        name: text("name"),
        credential_id: text("credentialId"),
        created_at: text("createdAt"),
    }
}
