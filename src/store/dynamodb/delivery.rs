//! SES's events on links and users: one `BatchGetItem` to read, one `TransactWriteItems` to
//! record; and the operator's clearing of an address's mark.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::item::{self, n, s, Item};
use super::{guarded_write_outcome, internal, keys, rfc3339, Table};
use crate::error::StoreError;
use crate::model::UserId;
use crate::store::{DeliveryChange, DeliveryStore, DeliveryView};

/// Recorded when an operator clears an address's undeliverable mark (ZITADEL has none).
pub const UNDELIVERABLE_CLEARED_EVENT: &str = "user.human.email.undeliverable.cleared";

/// The SES events' editor in the user's history: no person made them.
const SES_EDITOR: &str = "SES";

fn find<'a>(found: &'a [Item], key: &keys::Key) -> Option<&'a Item> {
    found
        .iter()
        .find(|item| item.get(keys::PK) == key.get(keys::PK) && item.get(keys::SK) == key.get(keys::SK))
}

impl DeliveryStore for Table {
    async fn read_delivery(
        &self,
        user: &UserId,
        code_id: &str,
        marker: &str,
    ) -> Result<DeliveryView, StoreError> {
        let user_key = keys::user(user);
        let link_key = keys::passkey_link(user, code_id);
        let marker_key = keys::delivery_marker(user, code_id, marker);
        let found = self.batch_get(vec![user_key.clone(), link_key.clone(), marker_key.clone()]).await?;
        Ok(DeliveryView {
            user: find(&found, &user_key).map(item::user_from_item).transpose()?,
            link: find(&found, &link_key).map(item::link_mail_from),
            seen: find(&found, &marker_key).is_some(),
        })
    }

    async fn commit_delivery(&self, change: &DeliveryChange) -> Result<(), StoreError> {
        let at = rfc3339(&change.at);
        let event = &change.event;
        let mut user = self.sequence_update(
            &change.user_id,
            &change.org_id,
            change.previous_sequence,
            change.sequence,
            &at,
        );
        // Appended: entries this version cannot read stay as they are.
        user = match &change.undeliverable {
            Some(mark) => user
                .update_expression(
                    "SET #seq = :next, changeDate = :now, \
                     undeliverableEmails = list_append(if_not_exists(undeliverableEmails, :none), :mark)",
                )
                .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
                .expression_attribute_values(":mark", item::undeliverable_list(std::slice::from_ref(mark))),
            None => user.update_expression("SET #seq = :next, changeDate = :now"),
        };

        let mut record: Item = keys::user_event(&change.user_id, change.sequence);
        record.extend([
            ("entity".to_owned(), s("EVENT")),
            ("eventType".to_owned(), s(event.status.state.event_type())),
            ("orgId".to_owned(), s(change.org_id.as_str())),
            ("sequence".to_owned(), n(change.sequence)),
            ("createdAt".to_owned(), s(&at)),
            ("editorUserId".to_owned(), s(SES_EDITOR)),
            ("codeId".to_owned(), s(&event.code_id)),
            ("messageId".to_owned(), s(&event.message_id)),
            ("sesEventType".to_owned(), s(&event.ses_type)),
            ("mailDelivery".to_owned(), item::delivery_status_value(&event.status)),
        ]);
        if let Some(mark) = &change.undeliverable {
            record.insert("undeliverableEmail".to_owned(), item::undeliverable_value(mark));
        }
        let mut marker: Item = keys::delivery_marker(&change.user_id, &event.code_id, &change.marker);
        marker.extend([
            ("entity".to_owned(), s("DELIVERY_EVENT")),
            ("sequence".to_owned(), n(change.sequence)),
            (keys::TTL_ATTRIBUTE.to_owned(), n(change.marker_expires_at)),
        ]);

        let mut request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(user.build().map_err(internal)?).build())
            .transact_items(TransactWriteItem::builder().put(self.put_new(record)?).build())
            .transact_items(TransactWriteItem::builder().put(self.put_new(marker)?).build());
        if change.link_exists {
            // The link is updated, or only required to be there, so that a link deleted since
            // the read (revoked, used) is re-read instead of written back; only its own mail's
            // events change its state.
            let link = Update::builder()
                .table_name(&self.name)
                .set_key(Some(keys::passkey_link(&change.user_id, &event.code_id)))
                .expression_attribute_values(":mid", s(&event.message_id));
            let link = match &change.link_status {
                Some(status) => link
                    .condition_expression(
                        "attribute_exists(pk) AND (attribute_not_exists(messageId) OR messageId = :mid)",
                    )
                    .update_expression("SET mailDelivery = :status, messageId = :mid")
                    .expression_attribute_values(":status", item::delivery_status_value(status)),
                None => link
                    .condition_expression("attribute_exists(pk)")
                    .update_expression("SET messageId = if_not_exists(messageId, :mid)"),
            };
            request = request
                .transact_items(TransactWriteItem::builder().update(link.build().map_err(internal)?).build());
        }
        guarded_write_outcome(request.send().await)
    }
}

impl Table {
    /// Removes the user's undeliverable marks with an audit event; how many there were.
    pub async fn clear_undeliverable(&self, user: &UserId, editor: &str) -> Result<usize, StoreError> {
        for _ in 0..crate::domain::MAX_COMMIT_ATTEMPTS {
            let Some(current) = self.user(user).await? else {
                return Ok(0);
            };
            let marks = current.undeliverable;
            if marks.is_empty() {
                return Ok(0);
            }
            let at = rfc3339(&chrono::Utc::now());
            let sequence = current.sequence + 1;
            let clear = self
                .sequence_update(user, &current.org_id, current.sequence, sequence, &at)
                .update_expression("SET #seq = :next, changeDate = :now REMOVE undeliverableEmails")
                .build()
                .map_err(internal)?;
            let mut record: Item = keys::user_event(user, sequence);
            record.extend([
                ("entity".to_owned(), s("EVENT")),
                ("eventType".to_owned(), s(UNDELIVERABLE_CLEARED_EVENT)),
                ("orgId".to_owned(), s(current.org_id.as_str())),
                ("sequence".to_owned(), n(sequence)),
                ("createdAt".to_owned(), s(&at)),
                ("editorUserId".to_owned(), s(editor)),
                ("undeliverableEmails".to_owned(), item::undeliverable_list(&marks)),
            ]);
            let written = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(clear).build())
                .transact_items(TransactWriteItem::builder().put(self.put_new(record)?).build())
                .send()
                .await;
            match guarded_write_outcome(written) {
                Err(StoreError::Conflict) => continue,
                outcome => return outcome.map(|()| marks.len()),
            }
        }
        Err(StoreError::Conflict)
    }
}
