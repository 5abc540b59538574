//! ZITADEL's text API for the passwordless registration message: who may read and change an
//! organisation's (management) or the instance's (admin) texts, what each call answers, and
//! what a change writes.
//!
//! As in ZITADEL: a level's custom text is answered as stored (its own fields only); without
//! one, the text it falls back to is answered with `isDefault`. Management's "default" is the
//! instance's text over the built-in one, admin's is the built-in one.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use tracing::info;

use crate::domain::{retry_conflicts, PasskeyLinks};
use crate::error::Error;
use crate::mailer::Mailer;
use crate::message_text::{canonical_language, CustomTexts, MessageText, StoredText, MAX_LANGUAGES};
use crate::model::{Caller, OrgId, OrgState, UserState};
use crate::permissions::{
    IAM_POLICY_DELETE, IAM_POLICY_READ, IAM_POLICY_WRITE, POLICY_DELETE, POLICY_READ, POLICY_WRITE,
};
use crate::store::{Store, TextChange, TextEvent, TextLevel, TextsRecord};
use crate::text_links::check_links;

/// ZITADEL's keys for the fields in its events, in [`FIELDS`] order.
const EVENT_KEYS: [&str; 7] = ["Title", "PreHeader", "Subject", "Greeting", "Text", "ButtonText", "Footer"];

/// Which API a text call came through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextApi {
    /// `/management/v1/text/...`, in this organisation.
    Management(OrgId),
    /// `/admin/v1/text/...`: the instance's texts.
    Admin,
}

/// One text call: who, through which API, for which language (as the path has it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRequest {
    pub caller: Caller,
    pub api: TextApi,
    pub language: String,
}

/// ZITADEL's `ObjectDetails` of a text: its last change. Texts of the instance have no
/// organisation, so no `resourceOwner`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TextDetails {
    #[serde(serialize_with = "as_decimal")]
    pub sequence: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<String>,
    pub change_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_owner: Option<String>,
}

fn as_decimal<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

/// ZITADEL's `MessageCustomText`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomTextAnswer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<TextDetails>,
    #[serde(flatten)]
    pub text: MessageText,
    /// Omitted when false, as protobuf's JSON omits it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_default: bool,
}

/// What a text call found, after the caller's permission was checked.
struct Level {
    level: TextLevel,
    record: Option<TextsRecord>,
    instance: Option<TextsRecord>,
    resource_owner: Option<String>,
}

fn date(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl<S, M> PasskeyLinks<S, M>
where
    S: Store,
    M: Mailer + Sync,
{
    /// `GET .../text/default/message/passwordless_registration/{language}`.
    pub async fn default_text(&self, req: &TextRequest) -> Result<CustomTextAnswer, Error> {
        let level = self.text_level(req, POLICY_READ, IAM_POLICY_READ).await?;
        let language = language(&req.language)?;
        Ok(match level.level {
            TextLevel::Org(_) => self.fallback_text(&language, &[(level.instance.as_ref(), None)]),
            TextLevel::Instance => self.fallback_text(&language, &[]),
        })
    }

    /// `GET .../text/message/passwordless_registration/{language}`: the level's own text for
    /// exactly this tag; without one, what its readers are mailed (for `de-CH`, the level's
    /// `de` text first), marked `isDefault`.
    pub async fn custom_text(&self, req: &TextRequest) -> Result<CustomTextAnswer, Error> {
        let level = self.text_level(req, POLICY_READ, IAM_POLICY_READ).await?;
        let language = language(&req.language)?;
        let own = level.record.as_ref().and_then(|r| r.texts.languages.get(&language));
        Ok(match own {
            Some(stored) => CustomTextAnswer {
                details: Some(stored_details(stored, level.resource_owner.clone())),
                text: stored.text.clone(),
                is_default: false,
            },
            None => match level.level {
                TextLevel::Org(_) => self.fallback_text(
                    &language,
                    &[(level.record.as_ref(), level.resource_owner.clone()), (level.instance.as_ref(), None)],
                ),
                TextLevel::Instance => self.fallback_text(&language, &[(level.record.as_ref(), None)]),
            },
        })
    }

    /// `PUT .../text/message/passwordless_registration/{language}`: the language's custom text
    /// becomes exactly `text` (an empty field is not customised). Unchanged fields write
    /// nothing; a call that changes nothing answers the stored details. The caller's right is
    /// checked before the input, so a caller without it learns nothing from the answer.
    pub async fn set_custom_text(&self, req: &TextRequest, text: MessageText) -> Result<TextDetails, Error> {
        let text = text.normalised();
        texts_conflict(
            retry_conflicts(|| async {
                let level = self.text_level(req, POLICY_WRITE, IAM_POLICY_WRITE).await?;
                let language = language(&req.language)?;
                text.check().map_err(Error::InvalidText)?;
                let (_, link_host) = self.policy.url_template.origin();
                check_links(&text, &link_host, &self.policy.text_allowed_hosts)
                    .map_err(Error::InvalidText)?;
                let editor = req.caller.user_id.to_string();
                let (change, details) = set_change(
                    &level.level,
                    level.record.as_ref(),
                    level.resource_owner.clone(),
                    &language,
                    &text,
                    editor,
                    Utc::now(),
                )?;
                if let Some(change) = change {
                    self.store.commit_texts(&change).await?;
                    info!(
                        language,
                        events = change.events.len(),
                        sequence = change.sequence(),
                        "message text set"
                    );
                }
                Ok(details)
            })
            .await,
        )
    }

    /// `DELETE .../text/message/passwordless_registration/{language}`: back to the default.
    pub async fn reset_custom_text(&self, req: &TextRequest) -> Result<TextDetails, Error> {
        texts_conflict(
            retry_conflicts(|| async {
                let level = self.text_level(req, POLICY_DELETE, IAM_POLICY_DELETE).await?;
                let language = language(&req.language)?;
                let record = level.record.clone().unwrap_or_default();
                let mut texts = record.texts.clone();
                if texts.languages.remove(&language).is_none() {
                    return Err(Error::TextNotFound(level.level.clone()));
                }
                let now = Utc::now();
                let change = TextChange {
                    events: vec![TextEvent {
                        sequence: record.sequence + 1,
                        event_type: event_type(&level.level, "template.removed"),
                        key: None,
                        text: None,
                    }],
                    level: level.level.clone(),
                    texts,
                    previous_sequence: TextsRecord::expected_sequence(level.record.as_ref()),
                    language: language.clone(),
                    editor: req.caller.user_id.to_string(),
                    at: now,
                };
                self.store.commit_texts(&change).await?;
                info!(language, sequence = change.sequence(), "message text reset");
                Ok(TextDetails {
                    sequence: change.sequence(),
                    creation_date: None,
                    change_date: date(&now),
                    resource_owner: level.resource_owner,
                })
            })
            .await,
        )
    }

    /// The built-in text for `language` with `layers` over it, first one on top, field by
    /// field; each layer's text for the tag or its language. `details` are the top text's.
    fn fallback_text(
        &self,
        language: &str,
        layers: &[(Option<&TextsRecord>, Option<String>)],
    ) -> CustomTextAnswer {
        let mut text = self.renderer.built_in(language).message.clone();
        let mut details = None;
        for (record, owner) in layers.iter().rev() {
            let stored = record.and_then(|r| r.texts.for_language(language));
            if let Some(stored) = stored {
                text = stored.text.or(&text);
                details = Some(stored_details(stored, owner.clone()));
            }
        }
        CustomTextAnswer { details, text, is_default: true }
    }

    /// Reads the caller, its memberships, the organisation and both levels' texts in one
    /// round trip, and checks the caller and its permission: `org_permission` in the
    /// organisation (management), `instance_permission` from instance roles (admin).
    async fn text_level(
        &self,
        req: &TextRequest,
        org_permission: &'static str,
        instance_permission: &'static str,
    ) -> Result<Level, Error> {
        let org = match &req.api {
            TextApi::Management(org) => org,
            TextApi::Admin => &req.caller.org_id,
        };
        let snap = self.store.read_snapshot(&req.caller.user_id, org, &req.caller.user_id).await?;
        snap.caller
            .as_ref()
            .filter(|c| c.state == UserState::Active && c.org_id == req.caller.org_id)
            .ok_or(Error::CallerNotActive)?;
        let permissions = &self.policy.permissions;
        match &req.api {
            TextApi::Management(org) => {
                if !permissions.grants(&snap.instance_roles, &snap.org_roles, org_permission) {
                    return Err(Error::PermissionDenied);
                }
                let found = snap.org.ok_or(Error::OrgNotFound)?;
                if found.state != OrgState::Active {
                    return Err(Error::OrgInactive);
                }
                Ok(Level {
                    level: TextLevel::Org(org.clone()),
                    record: snap.org_texts,
                    instance: snap.instance_texts,
                    resource_owner: Some(org.to_string()),
                })
            }
            TextApi::Admin => {
                if !permissions.grants(&snap.instance_roles, &[], instance_permission) {
                    return Err(Error::PermissionDenied);
                }
                Ok(Level {
                    level: TextLevel::Instance,
                    record: snap.instance_texts.clone(),
                    instance: snap.instance_texts,
                    resource_owner: None,
                })
            }
        }
    }
}

/// A level that stayed contended through every retry is not "the user changed".
fn texts_conflict<T>(outcome: Result<T, Error>) -> Result<T, Error> {
    outcome.map_err(|e| match e {
        Error::Conflict => Error::TextConflict,
        e => e,
    })
}

fn language(raw: &str) -> Result<String, Error> {
    canonical_language(raw).map_err(Error::InvalidLanguage)
}

fn event_type(level: &TextLevel, action: &str) -> String {
    match level {
        TextLevel::Org(_) => format!("org.customtext.{action}"),
        TextLevel::Instance => format!("instance.customtext.{action}"),
    }
}

fn stored_details(stored: &StoredText, resource_owner: Option<String>) -> TextDetails {
    TextDetails {
        sequence: stored.sequence,
        creation_date: Some(stored.creation_date.clone()).filter(|d| !d.is_empty()),
        change_date: stored.change_date.clone(),
        resource_owner,
    }
}

/// What setting `text` for `language` writes (nothing when every field is as stored) and
/// what the call answers.
pub(crate) fn set_change(
    level: &TextLevel,
    stored_record: Option<&TextsRecord>,
    resource_owner: Option<String>,
    language: &str,
    text: &MessageText,
    editor: String,
    now: DateTime<Utc>,
) -> Result<(Option<TextChange>, TextDetails), Error> {
    let record = stored_record.cloned().unwrap_or_default();
    let stored = record.texts.languages.get(language);
    let old = stored.map(|s| s.text.clone()).unwrap_or_default();
    let mut sequence = record.sequence;
    let mut events = Vec::new();
    for (((_, new), (_, before)), key) in text.fields().into_iter().zip(old.fields()).zip(EVENT_KEYS) {
        if new == before {
            continue;
        }
        sequence += 1;
        events.push(match new {
            Some(value) => TextEvent {
                sequence,
                event_type: event_type(level, "set"),
                key: Some(key),
                text: Some(value.to_owned()),
            },
            None => {
                TextEvent { sequence, event_type: event_type(level, "removed"), key: Some(key), text: None }
            }
        });
    }
    if events.is_empty() {
        let details = match stored {
            Some(stored) => {
                TextDetails { creation_date: None, ..stored_details(stored, resource_owner.clone()) }
            }
            None => TextDetails {
                sequence: record.sequence,
                creation_date: None,
                change_date: date(&now),
                resource_owner: resource_owner.clone(),
            },
        };
        return Ok((None, details));
    }
    let mut texts: CustomTexts = record.texts.clone();
    if text.is_empty() {
        texts.languages.remove(language);
    } else {
        if stored.is_none() && texts.languages.len() >= MAX_LANGUAGES {
            return Err(Error::TooManyLanguages);
        }
        let creation_date = stored.map_or_else(|| date(&now), |s| s.creation_date.clone());
        texts.languages.insert(
            language.to_owned(),
            StoredText { text: text.clone(), sequence, creation_date, change_date: date(&now) },
        );
    }
    let change = TextChange {
        level: level.clone(),
        texts,
        previous_sequence: TextsRecord::expected_sequence(stored_record),
        events,
        language: language.to_owned(),
        editor,
        at: now,
    };
    let details = TextDetails { sequence, creation_date: None, change_date: date(&now), resource_owner };
    Ok((Some(change), details))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message_text::FIELDS;

    fn plan(
        record: Option<&TextsRecord>,
        language: &str,
        text: &MessageText,
    ) -> Result<(Option<TextChange>, TextDetails), Error> {
        let level = TextLevel::Org(OrgId::parse("o1").unwrap());
        set_change(&level, record, Some("o1".into()), language, text, "u".into(), Utc::now())
    }

    #[test]
    fn a_set_records_one_event_per_field_it_changes() {
        let text =
            MessageText { subject: Some("S".into()), footer_text: Some("F".into()), ..Default::default() };
        let (change, details) = plan(None, "de", &text).unwrap();
        let change = change.unwrap();
        assert_eq!(change.previous_sequence, None);
        let events: Vec<_> =
            change.events.iter().map(|e| (e.sequence, e.event_type.as_str(), e.key)).collect();
        assert_eq!(
            events,
            [(1, "org.customtext.set", Some("Subject")), (2, "org.customtext.set", Some("Footer"))]
        );
        assert_eq!(details.sequence, 2);

        let record = TextsRecord { texts: change.texts, sequence: 2, legacy: false };
        let same = plan(Some(&record), "de", &text).unwrap();
        assert!(same.0.is_none(), "nothing changed, nothing written");
        assert_eq!(same.1.sequence, 2);

        let less = MessageText { subject: Some("S".into()), ..Default::default() };
        let (change, _) = plan(Some(&record), "de", &less).unwrap();
        let change = change.unwrap();
        assert_eq!(change.events.len(), 1);
        assert_eq!(
            (change.events[0].sequence, change.events[0].event_type.as_str()),
            (3, "org.customtext.removed")
        );
        assert_eq!(change.previous_sequence, Some(2));
    }

    #[test]
    fn a_twenty_first_language_is_refused() {
        let mut texts = CustomTexts::default();
        for i in 0..MAX_LANGUAGES {
            let tag = format!("l{}", (b'a' + i as u8) as char);
            texts.languages.insert(tag, StoredText::default());
        }
        let record = TextsRecord { texts, sequence: 20, legacy: false };
        let text = MessageText { subject: Some("S".into()), ..Default::default() };
        let refused = plan(Some(&record), "zz", &text);
        assert!(matches!(refused, Err(Error::TooManyLanguages)));
    }

    #[test]
    fn event_keys_follow_the_fields() {
        assert_eq!(EVENT_KEYS.len(), FIELDS.len());
    }
}
