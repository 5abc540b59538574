//! DynamoDB implementation of the store traits, and the table's administration.
//!
//! Success path cost: one `BatchGetItem` ([`SnapshotRead`]) and one `TransactWriteItems`
//! ([`LinkCommit`]); the mail's tags, not a later write, tie SES's events to the link. Nothing here depends on which
//! DynamoDB-compatible endpoint answers.

pub mod admin;
pub mod delivery;
pub mod item;
pub mod keys;
pub mod passkeys;
pub mod texts;

use std::time::Duration;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{Delete, KeysAndAttributes, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use chrono::SecondsFormat;

use self::item::{n, s, Item};
use crate::error::{error_chain, StoreError};
use crate::model::{OrgId, UserId};
use crate::store::{
    LinkCommit, LinkDelivery, LinkList, LinkRemoval, LinkRemove, LinkRevoke, NewLink, Snapshot, SnapshotRead,
    StoredLink, TextLevel, WindowChange,
};

/// ZITADEL's event type for a requested passwordless initialisation code.
pub const LINK_REQUESTED_EVENT: &str = "user.human.passwordless.initialization.code.requested";
/// ZITADEL's event for a code handed to the caller instead of mailed.
pub const LINK_ADDED_EVENT: &str = "user.human.passwordless.initialization.code.added";

/// The `delivery` attribute of links and their events: `mail` or `returned`.
pub fn delivery_name(delivery: LinkDelivery) -> &'static str {
    match delivery {
        LinkDelivery::Mail => "mail",
        LinkDelivery::Returned => "returned",
    }
}
/// Recorded when a caller revokes outstanding links (ZITADEL has no such call).
pub const LINKS_REVOKED_EVENT: &str = "user.human.passwordless.initialization.code.revoked";
/// Recorded when the link's e-mail could not be sent and the link was removed.
pub const LINK_SEND_FAILED_EVENT: &str = "user.human.passwordless.initialization.code.send.failed";

/// Unprocessed keys from `BatchGetItem` are retried this often before giving up as throttled.
const BATCH_GET_ATTEMPTS: u32 = 4;

#[derive(Debug, Clone)]
pub struct Table {
    client: Client,
    name: String,
}

impl Table {
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self { client, name: name.into() }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// Sorts SDK failures into "try again later" and "something is wrong with us".
pub(crate) fn classify<E>(op: &str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("unknown");
            let message = service.err().message().unwrap_or_default();
            let transient = matches!(
                code,
                "ThrottlingException"
                    | "ProvisionedThroughputExceededException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
                    | "TransactionInProgressException"
            ) || service.raw().status().is_server_error();
            let text = format!("{op}: {code}: {message}");
            if transient {
                StoreError::Unavailable(text)
            } else {
                StoreError::Internal(text)
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("{op}: {}", error_chain(&err)))
        }
        _ => StoreError::Internal(format!("{op}: {}", error_chain(&err))),
    }
}

impl SnapshotRead for Table {
    async fn read_snapshot(
        &self,
        caller: &UserId,
        org: &OrgId,
        user: &UserId,
    ) -> Result<Snapshot, StoreError> {
        let wanted = [
            keys::user(user),
            keys::org(org),
            keys::org_member(org, caller),
            keys::instance_member(caller),
            keys::texts(&TextLevel::Org(org.clone())),
            keys::user(caller),
            keys::texts(&TextLevel::Instance),
            keys::legacy_org_texts(org),
        ];
        // A caller acting on themself names one key twice, which BatchGetItem refuses.
        let mut unique: Vec<keys::Key> = Vec::with_capacity(wanted.len());
        for key in &wanted {
            if !unique.contains(key) {
                unique.push(key.clone());
            }
        }
        let found = self.batch_get(unique).await?;
        snapshot_from(&wanted, found)
    }
}

impl Table {
    /// The items of `keys` that exist (consistent reads), in any order; unprocessed keys
    /// are asked for again with a short backoff.
    async fn batch_get(&self, keys: Vec<keys::Key>) -> Result<Vec<Item>, StoreError> {
        let wanted = keys.len();
        let mut pending = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let mut found: Vec<Item> = Vec::with_capacity(wanted);
        for attempt in 0..BATCH_GET_ATTEMPTS {
            if attempt > 0 {
                let backoff = Duration::from_millis(25 << attempt);
                if !crate::deadline::allows(backoff) {
                    return Err(StoreError::Unavailable(
                        "BatchGetItem: keys unprocessed at the invocation's deadline".into(),
                    ));
                }
                tokio::time::sleep(backoff).await;
            }
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.name, pending)
                .send()
                .await
                .map_err(|e| classify("BatchGetItem", e))?;
            if let Some(items) = out.responses.and_then(|mut r| r.remove(&self.name)) {
                found.extend(items);
            }
            match out.unprocessed_keys.and_then(|mut u| u.remove(&self.name)) {
                Some(rest) if !rest.keys.is_empty() => pending = rest,
                _ => return Ok(found),
            }
        }
        Err(StoreError::Unavailable("BatchGetItem: keys stayed unprocessed".into()))
    }
}

fn snapshot_from(wanted: &[keys::Key; 8], found: Vec<Item>) -> Result<Snapshot, StoreError> {
    let find = |key: &keys::Key| {
        found
            .iter()
            .find(|item| item.get(keys::PK) == key.get(keys::PK) && item.get(keys::SK) == key.get(keys::SK))
    };
    let [user_key, org_key, org_member_key, instance_member_key, org_texts_key, caller_key, instance_texts_key, legacy_texts_key] =
        wanted;
    Ok(Snapshot {
        caller: find(caller_key).map(item::user_from_item).transpose()?,
        user: find(user_key).map(item::user_from_item).transpose()?,
        org: find(org_key).map(item::org_from_item).transpose()?,
        org_roles: find(org_member_key).map(item::roles_from_item).unwrap_or_default(),
        instance_roles: find(instance_member_key).map(item::roles_from_item).unwrap_or_default(),
        org_texts: match find(org_texts_key) {
            Some(texts) => Some(item::texts_from_item(texts, false)?),
            None => find(legacy_texts_key).map(|texts| item::texts_from_item(texts, true)).transpose()?,
        },
        instance_texts: find(instance_texts_key)
            .map(|texts| item::texts_from_item(texts, false))
            .transpose()?,
    })
}

/// A request the SDK's builder refused: our bug, not the caller's.
fn internal(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Internal(e.to_string())
}

fn rfc3339(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl LinkCommit for Table {
    async fn commit_link(&self, link: &NewLink) -> Result<(), StoreError> {
        let created = rfc3339(&link.created_at);
        let expires = link.expires_at.timestamp();

        let mut link_item: Item = keys::passkey_link(&link.user_id, &link.code_id);
        link_item.extend([
            ("entity".to_owned(), s("PASSKEY_LINK")),
            ("orgId".to_owned(), s(link.org_id.as_str())),
            ("codeId".to_owned(), s(&link.code_id)),
            ("codeHash".to_owned(), s(&link.code_hash)),
            ("createdAt".to_owned(), s(&created)),
            (keys::TTL_ATTRIBUTE.to_owned(), n(expires)),
            ("sequence".to_owned(), n(link.sequence)),
            ("requestedBy".to_owned(), s(link.requested_by.as_str())),
            ("delivery".to_owned(), s(delivery_name(link.delivery))),
        ]);
        let mut event_item: Item = keys::user_event(&link.user_id, link.sequence);
        event_item.extend([
            ("entity".to_owned(), s("EVENT")),
            (
                "eventType".to_owned(),
                s(match link.delivery {
                    LinkDelivery::Mail => LINK_REQUESTED_EVENT,
                    LinkDelivery::Returned => LINK_ADDED_EVENT,
                }),
            ),
            ("orgId".to_owned(), s(link.org_id.as_str())),
            ("sequence".to_owned(), n(link.sequence)),
            ("createdAt".to_owned(), s(&created)),
            ("editorUserId".to_owned(), s(link.requested_by.as_str())),
            ("codeId".to_owned(), s(&link.code_id)),
            ("linkExpiresAt".to_owned(), n(expires)),
            ("delivery".to_owned(), s(delivery_name(link.delivery))),
        ]);
        if !link.superseded.is_empty() {
            event_item.insert("supersededCodeIds".to_owned(), item::string_list(&link.superseded));
        }
        let put_new = |item: Item| {
            Put::builder()
                .table_name(&self.name)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(internal)
        };
        let mut bump_sequence = Update::builder()
            .table_name(&self.name)
            .set_key(Some(keys::user(&link.user_id)))
            .condition_expression(sequence_guard(link.previous_sequence))
            .expression_attribute_names("#seq", "sequence")
            .expression_attribute_values(":prev", n(link.previous_sequence))
            .expression_attribute_values(":next", n(link.sequence))
            .expression_attribute_values(":now", s(&created))
            .expression_attribute_values(":org", s(link.org_id.as_str()));
        let mut expression = String::from("SET #seq = :next, changeDate = :now");
        match &link.window {
            WindowChange::Create(links) => {
                expression.push_str(", recentLinks = :recent");
                bump_sequence =
                    bump_sequence.expression_attribute_values(":recent", item::recent_links_map(links));
            }
            WindowChange::Edit { add, expired } => {
                expression.push_str(", recentLinks.#add = :at");
                bump_sequence = bump_sequence
                    .expression_attribute_names("#add", &add.code_id)
                    .expression_attribute_values(":at", n(add.at_ms));
                for (i, code_id) in expired.iter().enumerate() {
                    expression.push_str(if i == 0 { " REMOVE " } else { ", " });
                    expression.push_str(&format!("recentLinks.#old{i}"));
                    bump_sequence = bump_sequence.expression_attribute_names(format!("#old{i}"), code_id);
                }
            }
        }
        let bump_sequence = bump_sequence.update_expression(expression).build().map_err(internal)?;

        let mut request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(bump_sequence).build())
            .transact_items(TransactWriteItem::builder().put(put_new(link_item)?).build())
            .transact_items(TransactWriteItem::builder().put(put_new(event_item)?).build());
        for code_id in &link.superseded {
            request = request.transact_items(
                TransactWriteItem::builder()
                    .delete(self.delete_existing(keys::passkey_link(&link.user_id, code_id))?)
                    .build(),
            );
        }
        guarded_write_outcome(request.send().await)
    }
}

/// The condition every write of a user's history puts on the user: its sequence is still
/// `previous` (a user without history may lack the attribute) and it is still in its org.
fn sequence_guard(previous: u64) -> &'static str {
    if previous == 0 {
        "(attribute_not_exists(#seq) OR #seq = :prev) AND orgId = :org"
    } else {
        "#seq = :prev AND orgId = :org"
    }
}

type TransactResult = Result<
    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput,
    SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, HttpResponse>,
>;

/// A guarded transaction's outcome: a failed condition or a concurrent transaction is
/// [`StoreError::Conflict`] (the caller re-reads and tries again).
fn guarded_write_outcome(result: TransactResult) -> Result<(), StoreError> {
    match result {
        Ok(_) => Ok(()),
        Err(SdkError::ServiceError(service)) if service.err().is_transaction_canceled_exception() => {
            let reasons: Vec<&str> = match service.err() {
                aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => {
                    c.cancellation_reasons().iter().filter_map(|r| r.code()).collect()
                }
                _ => Vec::new(),
            };
            if reasons.iter().any(|c| matches!(*c, "ConditionalCheckFailed" | "TransactionConflict")) {
                Err(StoreError::Conflict)
            } else {
                Err(StoreError::Unavailable(format!("TransactWriteItems cancelled: {reasons:?}")))
            }
        }
        Err(e) => Err(classify("TransactWriteItems", e)),
    }
}

impl Table {
    /// A user's items whose sort key starts with `prefix`, every page of them.
    async fn query_prefix(&self, user: &UserId, prefix: &str) -> Result<Vec<Item>, StoreError> {
        self.query_partition(&format!("USER#{user}"), prefix).await
    }

    /// The items of partition `pk` whose sort key starts with `prefix`, every page of them.
    async fn query_partition(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.name)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| classify("Query", e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(items),
            }
        }
    }

    async fn get(&self, key: keys::Key) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(out.item)
    }

    fn bump_sequence(
        &self,
        user: &UserId,
        org: &crate::model::OrgId,
        previous: u64,
        next: u64,
        at: &str,
    ) -> Result<Update, StoreError> {
        self.sequence_update(user, org, previous, next, at)
            .update_expression("SET #seq = :next, changeDate = :now")
            .build()
            .map_err(internal)
    }

    /// The user's update from `previous` to `next`, guarded by [`sequence_guard`], with the
    /// values `#seq`, `:next` and `:now` for the caller's update expression.
    fn sequence_update(
        &self,
        user: &UserId,
        org: &crate::model::OrgId,
        previous: u64,
        next: u64,
        at: &str,
    ) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        Update::builder()
            .table_name(&self.name)
            .set_key(Some(keys::user(user)))
            .condition_expression(sequence_guard(previous))
            .expression_attribute_names("#seq", "sequence")
            .expression_attribute_values(":prev", n(previous))
            .expression_attribute_values(":next", n(next))
            .expression_attribute_values(":now", s(at))
            .expression_attribute_values(":org", s(org.as_str()))
    }

    fn put_new(&self, item: Item) -> Result<Put, StoreError> {
        Put::builder()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(internal)
    }

    fn delete_existing(&self, key: keys::Key) -> Result<Delete, StoreError> {
        Delete::builder()
            .table_name(&self.name)
            .set_key(Some(key))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(internal)
    }
}

impl LinkList for Table {
    async fn list_links(&self, user: &UserId) -> Result<Vec<StoredLink>, StoreError> {
        Ok(self.query_prefix(user, "PASSKEYLINK#").await?.iter().map(item::stored_link_from_item).collect())
    }
}

impl LinkRemove for Table {
    async fn remove_links(&self, removal: &LinkRemoval) -> Result<(), StoreError> {
        let at = rfc3339(&removal.at);
        let bump_sequence = self.bump_sequence(
            &removal.user_id,
            &removal.org_id,
            removal.previous_sequence,
            removal.sequence,
            &at,
        )?;
        let mut event: Item = keys::user_event(&removal.user_id, removal.sequence);
        event.extend([
            ("entity".to_owned(), s("EVENT")),
            ("eventType".to_owned(), s(LINKS_REVOKED_EVENT)),
            ("orgId".to_owned(), s(removal.org_id.as_str())),
            ("sequence".to_owned(), n(removal.sequence)),
            ("createdAt".to_owned(), s(&at)),
            ("editorUserId".to_owned(), s(removal.removed_by.as_str())),
            ("codeIds".to_owned(), item::string_list(&removal.code_ids)),
        ]);
        let put_event = Put::builder()
            .table_name(&self.name)
            .set_item(Some(event))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(internal)?;
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(bump_sequence).build())
            .transact_items(TransactWriteItem::builder().put(put_event).build());
        for code_id in &removal.code_ids {
            request = request.transact_items(
                TransactWriteItem::builder()
                    .delete(self.delete_existing(keys::passkey_link(&removal.user_id, code_id))?)
                    .build(),
            );
        }
        guarded_write_outcome(request.send().await)
    }
}

impl LinkRevoke for Table {
    async fn revoke_link(&self, link: &NewLink, reason: &str) -> Result<(), StoreError> {
        let mut record: Item = keys::mail_failure(&link.user_id, link.sequence);
        record.extend([
            ("entity".to_owned(), s("EVENT")),
            ("eventType".to_owned(), s(LINK_SEND_FAILED_EVENT)),
            ("orgId".to_owned(), s(link.org_id.as_str())),
            ("createdAt".to_owned(), s(rfc3339(&chrono::Utc::now()))),
            ("codeId".to_owned(), s(&link.code_id)),
            ("reason".to_owned(), s(reason)),
        ]);
        let delete = Delete::builder()
            .table_name(&self.name)
            .set_key(Some(keys::passkey_link(&link.user_id, &link.code_id)))
            .build()
            .map_err(internal)?;
        let put = Put::builder().table_name(&self.name).set_item(Some(record)).build().map_err(internal)?;
        // Only this link's own entry: other calls may have changed the window meanwhile.
        let release_slot = Update::builder()
            .table_name(&self.name)
            .set_key(Some(keys::user(&link.user_id)))
            .update_expression("REMOVE recentLinks.#code")
            .expression_attribute_names("#code", &link.code_id)
            .build()
            .map_err(internal)?;
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(delete).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().update(release_slot).build())
            .send()
            .await
            .map_err(|e| classify("TransactWriteItems", e))?;
        Ok(())
    }
}
