//! Custom message texts: one item per level (organisation or instance) with every language,
//! so the send path reads them in its one `BatchGetItem`; each change is one transaction of
//! that item and the level's new events.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::item::{n, s, Item};
use super::{guarded_write_outcome, internal, keys, rfc3339, Table};
use crate::error::StoreError;
use crate::message_text::MESSAGE_TYPE;
use crate::store::{TextChange, TextCommit, TextLevel};

impl TextCommit for Table {
    async fn commit_texts(&self, change: &TextChange) -> Result<(), StoreError> {
        let json = serde_json::to_string(&change.texts).map_err(|e| StoreError::Internal(e.to_string()))?;
        let at = rfc3339(&change.at);
        let mut texts_item: Item = keys::texts(&change.level);
        texts_item.extend([
            ("entity".to_owned(), s("MAILTEXTS")),
            ("texts".to_owned(), s(json)),
            ("sequence".to_owned(), n(change.sequence())),
            ("changeDate".to_owned(), s(&at)),
        ]);
        if let TextLevel::Org(org) = &change.level {
            texts_item.insert("orgId".to_owned(), s(org.as_str()));
        }
        // Items the seed wrote before the text API have no sequence: they count as 0.
        let mut put_texts = Put::builder().table_name(&self.name).set_item(Some(texts_item));
        put_texts = match change.previous_sequence {
            None => put_texts.condition_expression("attribute_not_exists(pk)"),
            Some(previous) => put_texts
                .condition_expression(if previous == 0 {
                    "attribute_exists(pk) AND (attribute_not_exists(#seq) OR #seq = :prev)"
                } else {
                    "#seq = :prev"
                })
                .expression_attribute_names("#seq", "sequence")
                .expression_attribute_values(":prev", n(previous)),
        };
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put_texts.build().map_err(internal)?).build());
        for event in &change.events {
            let mut item: Item = keys::text_event(&change.level, event.sequence);
            item.extend([
                ("entity".to_owned(), s("EVENT")),
                ("eventType".to_owned(), s(&event.event_type)),
                ("sequence".to_owned(), n(event.sequence)),
                ("createdAt".to_owned(), s(&at)),
                ("editorUserId".to_owned(), s(&change.editor)),
                ("template".to_owned(), s(MESSAGE_TYPE)),
                ("language".to_owned(), s(&change.language)),
            ]);
            if let TextLevel::Org(org) = &change.level {
                item.insert("orgId".to_owned(), s(org.as_str()));
            }
            if let Some(key) = event.key {
                item.insert("key".to_owned(), s(key));
            }
            if let Some(text) = &event.text {
                item.insert("text".to_owned(), s(text));
            }
            request = request.transact_items(TransactWriteItem::builder().put(self.put_new(item)?).build());
        }
        guarded_write_outcome(request.send().await)
    }
}
