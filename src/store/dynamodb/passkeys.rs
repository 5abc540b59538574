//! [`PasskeyStore`] on the table: ceremonies, passkeys, code checks and the page's limits.
//!
//! A verification is one `TransactWriteItems` of six writes in the user's partition (plus
//! the credential's index item), so a replayed or concurrent finish either finds every
//! condition still true or changes nothing.

use aws_sdk_dynamodb::types::{ReturnValue, TransactWriteItem, Update};

use super::item::{self, n, s, Item};
use super::{classify, guarded_write_outcome, internal, keys, rfc3339, Table};
use crate::error::StoreError;
use crate::model::UserId;
use crate::store::{
    Ceremony, CodeAttempt, LinkRecord, NewPasskey, PasskeyRemoval, PasskeyStore, StoredPasskey,
};

/// ZITADEL's event for a passkey whose registration was verified.
pub const PASSKEY_VERIFIED_EVENT: &str = "user.human.passwordless.token.verified";
/// ZITADEL's event for a removed passkey.
pub const PASSKEY_REMOVED_EVENT: &str = "user.human.passwordless.token.removed";

impl PasskeyStore for Table {
    async fn read_link(&self, user: &UserId, code_id: &str) -> Result<Option<LinkRecord>, StoreError> {
        self.get(keys::passkey_link(user, code_id))
            .await?
            .as_ref()
            .map(item::link_record_from_item)
            .transpose()
    }

    async fn reserve_code_attempt(
        &self,
        user: &UserId,
        code_id: &str,
        max_attempts: u32,
    ) -> Result<CodeAttempt, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .set_key(Some(keys::passkey_link(user, code_id)))
            .update_expression("ADD failedAttempts :one")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(failedAttempts) OR failedAttempts < :max)",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max_attempts))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                Ok(CodeAttempt::Reserved(item::link_record_from_item(&out.attributes.unwrap_or_default())?))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Ok(match self.get(keys::passkey_link(user, code_id)).await? {
                    Some(_) => CodeAttempt::Locked,
                    None => CodeAttempt::Missing,
                })
            }
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    async fn release_code_attempt(&self, user: &UserId, code_id: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .set_key(Some(keys::passkey_link(user, code_id)))
            .update_expression("ADD failedAttempts :minus")
            .condition_expression("attribute_exists(pk) AND failedAttempts > :zero")
            .expression_attribute_values(":minus", n(-1))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Ok(())
            }
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    async fn list_passkeys(&self, user: &UserId) -> Result<Vec<StoredPasskey>, StoreError> {
        Ok(self.query_prefix(user, "PASSKEY#").await?.iter().map(item::stored_passkey_from_item).collect())
    }

    async fn credential_owner(&self, credential_id: &str) -> Result<Option<(String, String)>, StoreError> {
        let text =
            |item: &Item, name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        Ok(self
            .get(keys::credential(credential_id))
            .await?
            .map(|item| (text(&item, "userId"), text(&item, "passkeyId"))))
    }

    async fn save_ceremony(&self, c: &Ceremony) -> Result<(), StoreError> {
        let mut ceremony: Item = keys::ceremony(&c.user_id, &c.passkey_id);
        ceremony.extend([
            ("entity".to_owned(), s("PASSKEY_CEREMONY")),
            ("userId".to_owned(), s(c.user_id.as_str())),
            ("orgId".to_owned(), s(c.org_id.as_str())),
            ("passkeyId".to_owned(), s(&c.passkey_id)),
            ("rpId".to_owned(), s(&c.rp_id)),
            ("state".to_owned(), s(&c.state)),
            ("startedBy".to_owned(), s(c.started_by.as_str())),
            (keys::TTL_ATTRIBUTE.to_owned(), n(c.expires_at)),
        ]);
        if let Some(code_id) = &c.code_id {
            ceremony.insert("codeId".to_owned(), s(code_id));
        }
        self.client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(ceremony))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }

    async fn read_ceremony(&self, user: &UserId, passkey_id: &str) -> Result<Option<Ceremony>, StoreError> {
        self.get(keys::ceremony(user, passkey_id)).await?.as_ref().map(item::ceremony_from_item).transpose()
    }

    async fn commit_passkey(&self, p: &NewPasskey) -> Result<(), StoreError> {
        let at = rfc3339(&p.at);
        let mut passkey: Item = keys::passkey(&p.user_id, &p.passkey_id);
        passkey.extend([
            ("entity".to_owned(), s("PASSKEY")),
            ("userId".to_owned(), s(p.user_id.as_str())),
            ("orgId".to_owned(), s(p.org_id.as_str())),
            ("passkeyId".to_owned(), s(&p.passkey_id)),
            ("name".to_owned(), s(&p.name)),
            ("rpId".to_owned(), s(&p.rp_id)),
            ("credentialId".to_owned(), s(&p.credential_id)),
            ("publicKey".to_owned(), s(&p.public_key)),
            ("signCount".to_owned(), n(p.sign_count)),
            ("aaguid".to_owned(), s(&p.aaguid)),
            ("passkey".to_owned(), s(&p.passkey)),
            ("createdAt".to_owned(), s(&at)),
        ]);
        let mut index: Item = keys::credential(&p.credential_id);
        index.extend([
            ("entity".to_owned(), s("CREDENTIAL_INDEX")),
            ("userId".to_owned(), s(p.user_id.as_str())),
            ("passkeyId".to_owned(), s(&p.passkey_id)),
        ]);
        let mut event: Item = keys::user_event(&p.user_id, p.sequence);
        event.extend([
            ("entity".to_owned(), s("EVENT")),
            ("eventType".to_owned(), s(PASSKEY_VERIFIED_EVENT)),
            ("orgId".to_owned(), s(p.org_id.as_str())),
            ("sequence".to_owned(), n(p.sequence)),
            ("createdAt".to_owned(), s(&at)),
            ("editorUserId".to_owned(), s(p.editor.as_str())),
            ("passkeyId".to_owned(), s(&p.passkey_id)),
            ("name".to_owned(), s(&p.name)),
            ("credentialId".to_owned(), s(&p.credential_id)),
            ("aaguid".to_owned(), s(&p.aaguid)),
            ("rpId".to_owned(), s(&p.rp_id)),
        ]);
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .update(self.bump_sequence(
                        &p.user_id,
                        &p.org_id,
                        p.previous_sequence,
                        p.sequence,
                        &at,
                    )?)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().put(self.put_new(passkey)?).build())
            .transact_items(TransactWriteItem::builder().put(self.put_new(index)?).build())
            .transact_items(
                TransactWriteItem::builder()
                    .delete(self.delete_existing(keys::ceremony(&p.user_id, &p.passkey_id))?)
                    .build(),
            );
        if let Some((code_id, code_hash)) = &p.code {
            event.insert("codeId".to_owned(), s(code_id));
            // The code is spent here and nowhere else: unused, unexpired and unchanged.
            let consume = Update::builder()
                .table_name(&self.name)
                .set_key(Some(keys::passkey_link(&p.user_id, code_id)))
                .condition_expression(
                    "attribute_exists(pk) AND attribute_not_exists(usedAt) AND codeHash = :hash AND #ttl > :epoch \
                     AND (attribute_not_exists(failedAttempts) OR failedAttempts < :max)",
                )
                .update_expression("SET usedAt = :now, usedFor = :passkey")
                .expression_attribute_names("#ttl", keys::TTL_ATTRIBUTE)
                .expression_attribute_values(":hash", s(code_hash))
                .expression_attribute_values(":max", n(p.code_max_attempts))
                .expression_attribute_values(":epoch", n(p.at.timestamp()))
                .expression_attribute_values(":now", s(&at))
                .expression_attribute_values(":passkey", s(&p.passkey_id))
                .build()
                .map_err(internal)?;
            request = request.transact_items(TransactWriteItem::builder().update(consume).build());
        }
        let request = request.transact_items(TransactWriteItem::builder().put(self.put_new(event)?).build());
        guarded_write_outcome(request.send().await)
    }

    async fn remove_passkey(&self, r: &PasskeyRemoval) -> Result<(), StoreError> {
        let at = rfc3339(&r.at);
        let mut event: Item = keys::user_event(&r.user_id, r.sequence);
        event.extend([
            ("entity".to_owned(), s("EVENT")),
            ("eventType".to_owned(), s(PASSKEY_REMOVED_EVENT)),
            ("orgId".to_owned(), s(r.org_id.as_str())),
            ("sequence".to_owned(), n(r.sequence)),
            ("createdAt".to_owned(), s(&at)),
            ("editorUserId".to_owned(), s(r.removed_by.as_str())),
            ("passkeyId".to_owned(), s(&r.passkey_id)),
            ("credentialId".to_owned(), s(&r.credential_id)),
        ]);
        let request = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .update(self.bump_sequence(
                        &r.user_id,
                        &r.org_id,
                        r.previous_sequence,
                        r.sequence,
                        &at,
                    )?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .delete(self.delete_existing(keys::passkey(&r.user_id, &r.passkey_id))?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .delete(self.delete_existing(keys::credential(&r.credential_id))?)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().put(self.put_new(event)?).build());
        guarded_write_outcome(request.send().await)
    }

    async fn admit(
        &self,
        key: &str,
        window_start: i64,
        window_secs: i64,
        limit: u32,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .set_key(Some(keys::limit_window(key, window_start)))
            .update_expression("ADD hits :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(hits) OR hits < :limit")
            .expression_attribute_names("#ttl", keys::TTL_ATTRIBUTE)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            .expression_attribute_values(":ttl", n(window_start + 2 * window_secs))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Ok(false)
            }
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }
}
