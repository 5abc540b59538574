//! Table administration for `passkey-admin`: creating the table and idempotent upserts of
//! the directory (organisations, users, memberships).

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};

use super::item::{enum_value, s, string_list, Item};
use super::{classify, keys, Table};
use crate::error::StoreError;
use crate::model::{OrgId, OrgState, PersonName, UserId, UserKind, UserState};
use crate::store::{LinkList, StoredLink, TextLevel, TextsRecord};

/// What a write did to the item it wrote, so a seed can report what it created and changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Created,
    Changed,
    Unchanged,
}

impl Written {
    /// An old item of nothing but its key counts as none: some emulators answer an update of
    /// a new item with its key rather than with no item.
    fn of(old: Option<&Item>, same: impl FnOnce(&Item) -> bool) -> Self {
        match old.filter(|old| old.keys().any(|k| k != keys::PK && k != keys::SK)) {
            None => Written::Created,
            Some(old) if same(old) => Written::Unchanged,
            Some(_) => Written::Changed,
        }
    }

    /// Two writes of one thing (an organisation and its mail texts) as one.
    pub fn and(self, other: Written) -> Written {
        match (self, other) {
            (Written::Created, _) | (_, Written::Created) => Written::Created,
            (Written::Unchanged, Written::Unchanged) => Written::Unchanged,
            _ => Written::Changed,
        }
    }
}

impl Table {
    /// Creates the table (on-demand, TTL on [`keys::TTL_ATTRIBUTE`]) unless it exists, and
    /// waits until it is active.
    pub async fn create(&self) -> Result<bool, StoreError> {
        let attr = |name: &str| {
            AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()
        };
        let key = |name: &str, kind| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
        let internal = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Internal(e.to_string());
        let created = match self
            .client
            .create_table()
            .table_name(&self.name)
            .attribute_definitions(attr(keys::PK).map_err(internal)?)
            .attribute_definitions(attr(keys::SK).map_err(internal)?)
            .key_schema(key(keys::PK, KeyType::Hash).map_err(internal)?)
            .key_schema(key(keys::SK, KeyType::Range).map_err(internal)?)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
        {
            Ok(_) => true,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => false,
            Err(e) => return Err(classify("CreateTable", e)),
        };
        self.wait_active().await?;
        if created {
            self.client
                .update_time_to_live()
                .table_name(&self.name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(keys::TTL_ATTRIBUTE)
                        .enabled(true)
                        .build()
                        .map_err(internal)?,
                )
                .send()
                .await
                .map_err(|e| classify("UpdateTimeToLive", e))?;
        }
        Ok(created)
    }

    async fn wait_active(&self) -> Result<(), StoreError> {
        for _ in 0..120 {
            let out = self
                .client
                .describe_table()
                .table_name(&self.name)
                .send()
                .await
                .map_err(|e| classify("DescribeTable", e))?;
            if out.table.and_then(|t| t.table_status) == Some(TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(StoreError::Unavailable(format!("table {} did not become active within 60 s", self.name)))
    }

    pub async fn upsert_org(&self, id: &OrgId, name: &str, state: OrgState) -> Result<Written, StoreError> {
        let mut item: Item = keys::org(id);
        item.extend([
            ("entity".to_owned(), s("ORG")),
            ("orgId".to_owned(), s(id.as_str())),
            ("name".to_owned(), s(name)),
            ("state".to_owned(), enum_value(state)?),
        ]);
        self.replace(item).await
    }

    /// Creates or updates a user's profile; an existing user keeps its sequence and history.
    pub async fn upsert_user(&self, user: &UserProfile<'_>) -> Result<Written, StoreError> {
        let mut set: Vec<String> = [
            "entity = :entity",
            "userId = :id",
            "orgId = :org",
            "kind = :kind",
            "#state = :state",
            "#seq = if_not_exists(#seq, :zero)",
        ]
        .map(String::from)
        .to_vec();
        let mut remove = Vec::new();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.name)
            .set_key(Some(keys::user(user.id)))
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#seq", "sequence")
            .expression_attribute_values(":entity", s("USER"))
            .expression_attribute_values(":id", s(user.id.as_str()))
            .expression_attribute_values(":org", s(user.org_id.as_str()))
            .expression_attribute_values(":kind", enum_value(user.kind)?)
            .expression_attribute_values(":state", enum_value(user.state)?)
            .expression_attribute_values(":zero", super::item::n(0))
            .return_values(ReturnValue::AllOld);
        // Each attribute the update sets or removes, with its new value, to compare with the old.
        let mut written: Vec<(&str, Option<AttributeValue>)> = vec![
            ("entity", Some(s("USER"))),
            ("userId", Some(s(user.id.as_str()))),
            ("orgId", Some(s(user.org_id.as_str()))),
            ("kind", Some(enum_value(user.kind)?)),
            ("state", Some(enum_value(user.state)?)),
        ];
        for (attribute, value) in [
            ("email", user.email),
            ("displayName", user.display_name),
            ("givenName", user.name.given_name.as_deref()),
            ("familyName", user.name.family_name.as_deref()),
            ("nickName", user.name.nick_name.as_deref()),
            ("preferredLanguage", user.preferred_language),
            ("userName", user.user_name),
        ] {
            match value {
                Some(v) => {
                    set.push(format!("{attribute} = :{attribute}"));
                    request = request.expression_attribute_values(format!(":{attribute}"), s(v));
                }
                None => remove.push(attribute),
            }
            written.push((attribute, value.map(s)));
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let out =
            request.update_expression(expression).send().await.map_err(|e| classify("UpdateItem", e))?;
        Ok(Written::of(out.attributes.as_ref(), |old| {
            written.iter().all(|(name, value)| old.get(*name) == value.as_ref())
        }))
    }

    /// The organisation a stored user belongs to, if the user exists.
    pub async fn user_org(&self, user: &UserId) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(keys::user(user)))
            .projection_expression("orgId")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(out.item.map(|item| item.get("orgId").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()))
    }

    /// A level's stored texts, read consistently (the seed changes them as the API does);
    /// an organisation's from where older seeds wrote them when it has none yet.
    pub async fn texts_record(&self, level: &TextLevel) -> Result<Option<TextsRecord>, StoreError> {
        if let Some(item) = self.get(keys::texts(level)).await? {
            return super::item::texts_from_item(&item, false).map(Some);
        }
        match level {
            TextLevel::Org(org) => self
                .get(keys::legacy_org_texts(org))
                .await?
                .map(|item| super::item::texts_from_item(&item, true))
                .transpose(),
            TextLevel::Instance => Ok(None),
        }
    }

    pub async fn put_org_member(
        &self,
        org: &OrgId,
        user: &UserId,
        roles: &[String],
    ) -> Result<Written, StoreError> {
        let mut item: Item = keys::org_member(org, user);
        item.extend([
            ("entity".to_owned(), s("MEMBER")),
            ("orgId".to_owned(), s(org.as_str())),
            ("userId".to_owned(), s(user.as_str())),
            ("roles".to_owned(), string_list(roles)),
        ]);
        self.replace(item).await
    }

    pub async fn put_instance_member(&self, user: &UserId, roles: &[String]) -> Result<Written, StoreError> {
        let mut item: Item = keys::instance_member(user);
        item.extend([
            ("entity".to_owned(), s("MEMBER")),
            ("userId".to_owned(), s(user.as_str())),
            ("roles".to_owned(), string_list(roles)),
        ]);
        self.replace(item).await
    }

    /// The users holding a membership of `of`, as stored.
    pub async fn member_ids(&self, of: MemberOf<'_>) -> Result<Vec<UserId>, StoreError> {
        let items = self.query_partition(&keys::members_partition(of.org()), keys::MEMBER_PREFIX).await?;
        items
            .iter()
            .map(|item| {
                let sk = item.get(keys::SK).and_then(|v| v.as_s().ok()).map_or("", String::as_str);
                sk.strip_prefix(keys::MEMBER_PREFIX)
                    .and_then(UserId::parse)
                    .ok_or_else(|| StoreError::Internal(format!("membership item with sort key {sk:?}")))
            })
            .collect()
    }

    /// Deletes a membership; `false` when there was none.
    pub async fn delete_member(&self, of: MemberOf<'_>, user: &UserId) -> Result<bool, StoreError> {
        let key = match of.org() {
            Some(org) => keys::org_member(org, user),
            None => keys::instance_member(user),
        };
        let out = self
            .client
            .delete_item()
            .table_name(&self.name)
            .set_key(Some(key))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify("DeleteItem", e))?;
        Ok(out.attributes.is_some())
    }

    /// Writes `item` whole, reporting against the item it replaced.
    async fn replace(&self, item: Item) -> Result<Written, StoreError> {
        let new = item.clone();
        let old = self.put(item).await?;
        Ok(Written::of(old.as_ref(), |old| *old == new))
    }

    /// Writes `item` whole and returns the item it replaced.
    async fn put(&self, item: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(out.attributes)
    }
}

/// Whose memberships: an organisation's or the instance's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberOf<'a> {
    Org(&'a OrgId),
    Instance,
}

impl<'a> MemberOf<'a> {
    fn org(self) -> Option<&'a OrgId> {
        match self {
            MemberOf::Org(org) => Some(org),
            MemberOf::Instance => None,
        }
    }
}

/// A user's directory data as an operator seeds it.
#[derive(Debug, Clone, Copy)]
pub struct UserProfile<'a> {
    pub id: &'a UserId,
    pub org_id: &'a OrgId,
    pub kind: UserKind,
    pub state: UserState,
    pub email: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub name: &'a PersonName,
    pub preferred_language: Option<&'a str>,
    pub user_name: Option<&'a str>,
}

impl Table {
    pub async fn user_exists(&self, user: &UserId) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(keys::user(user)))
            .projection_expression("pk")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(out.item.is_some())
    }

    /// The user as stored, if there is one.
    pub async fn user(&self, user: &UserId) -> Result<Option<crate::model::User>, StoreError> {
        self.get(keys::user(user)).await?.as_ref().map(super::item::user_from_item).transpose()
    }

    /// Every stored link of the user, newest first, each with its state at `now` (epoch
    /// seconds) for a link that locks after `max_attempts` wrong codes.
    pub async fn operator_links(
        &self,
        user: &UserId,
        now: i64,
        max_attempts: u32,
    ) -> Result<Vec<OperatorLink>, StoreError> {
        let mut links: Vec<OperatorLink> = self
            .list_links(user)
            .await?
            .into_iter()
            .map(|link| OperatorLink { state: LinkState::of(&link, now, max_attempts), link })
            .collect();
        // createdAt is RFC 3339 in one fixed form (UTC, milliseconds): its text sorts as its time.
        links.sort_by(|a, b| {
            b.link.created_at.cmp(&a.link.created_at).then(a.link.code_id.cmp(&b.link.code_id))
        });
        Ok(links)
    }
}

/// Whether a link's code can still register a passkey, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    Usable,
    /// Its code registered a passkey.
    Used,
    /// Past its lifetime (TTL deletes it late; emulators never do).
    Expired,
    /// Its wrong codes reached `PASSKEY_CODE_MAX_ATTEMPTS`.
    Locked,
}

impl LinkState {
    /// The first reason that applies, in the order a user would meet them: a used code stays
    /// used, and a link past its lifetime is expired whatever was tried with it.
    pub fn of(link: &StoredLink, now: i64, max_attempts: u32) -> Self {
        if link.used_at.is_some() {
            LinkState::Used
        } else if link.expires_at <= now {
            LinkState::Expired
        } else if link.failed_attempts >= max_attempts {
            LinkState::Locked
        } else {
            LinkState::Usable
        }
    }
}

/// A stored link as `passkey-admin links` shows it: with its state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperatorLink {
    #[serde(flatten)]
    pub link: StoredLink,
    pub state: LinkState,
}
