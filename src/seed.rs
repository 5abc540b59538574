//! The seed file `passkey-admin seed` reads: organisations with their users and members,
//! and instance members. Applying it is an idempotent upsert, except that a members list
//! replaces the stored memberships (docs/data.md, "Seed format"):
//! a file that contradicts itself, names unknown roles or moves an existing user to another
//! organisation (unless allowed) is refused before anything is written.

mod members;

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use crate::domain::MAX_COMMIT_ATTEMPTS;
use crate::error::StoreError;
use crate::invisible::is_invisible;
use crate::message_text::{canonical_language, check_sender_name, MessageText, MAX_LANGUAGES};
use crate::model::{OrgId, OrgState, PersonName, UserId, UserKind, UserState};
use crate::permissions::RolePermissions;
use crate::store::dynamodb::admin::{MemberOf, UserProfile, Written};
use crate::store::dynamodb::Table;
use crate::store::{TextChange, TextCommit, TextLevel, TextsRecord};
use crate::text_links::first_host;
use crate::texts::set_change;
use chrono::Utc;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seed {
    /// The instance's members, all of them: stored ones it does not name are removed.
    /// Left out, the stored ones stay.
    #[serde(default)]
    pub instance_members: Option<Vec<SeedMember>>,
    /// The instance's texts, what every organisation without its own falls back to.
    #[serde(default)]
    pub instance_mail_texts: Option<SeedTexts>,
    #[serde(default)]
    pub orgs: Vec<SeedOrg>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedOrg {
    pub id: String,
    pub name: String,
    #[serde(default = "active_org")]
    pub state: OrgState,
    #[serde(default)]
    pub users: Vec<SeedUser>,
    /// The organisation's members, all of them: stored ones it does not name are removed.
    /// Left out, the stored ones stay.
    #[serde(default)]
    pub members: Option<Vec<SeedMember>>,
    /// The organisation's sender name and per-language texts for the mail.
    #[serde(default)]
    pub mail_texts: Option<SeedTexts>,
}

/// Texts as the text API sets them, per language tag; a language the file leaves out keeps
/// whatever the API set for it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedTexts {
    #[serde(default)]
    pub sender_name: Option<String>,
    #[serde(default)]
    pub languages: BTreeMap<String, MessageText>,
}

impl SeedTexts {
    /// The languages under their canonical tags, older field names and `{name}` upgraded,
    /// each checked as the text API checks it.
    pub fn languages(&self) -> Result<Vec<(String, MessageText)>, String> {
        let mut out: Vec<(String, MessageText)> = Vec::new();
        for (tag, text) in &self.languages {
            let language = canonical_language(tag).map_err(|e| format!("languages.{tag}: {e}"))?;
            if out.iter().any(|(l, _)| *l == language) {
                return Err(format!("languages.{tag}: {language} is listed twice"));
            }
            let mut text = text.clone().normalised();
            text.upgrade_legacy();
            text.check().map_err(|e| format!("languages.{tag}.{e}"))?;
            out.push((language, text));
        }
        if out.len() > MAX_LANGUAGES {
            return Err(format!("texts for {} languages, at most {MAX_LANGUAGES}", out.len()));
        }
        if let Some(name) = &self.sender_name {
            check_sender_name(name)?;
        }
        Ok(out)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedUser {
    pub id: String,
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    /// ZITADEL's v2 profile names; v1's `firstName` and `lastName` are read as the same.
    #[serde(default, alias = "firstName")]
    pub given_name: Option<String>,
    #[serde(default, alias = "lastName")]
    pub family_name: Option<String>,
    #[serde(default)]
    pub nick_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub preferred_language: Option<String>,
    #[serde(default = "active_user")]
    pub state: UserState,
    #[serde(default = "human", rename = "type")]
    pub kind: UserKind,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedMember {
    pub user_id: String,
    pub roles: Vec<String>,
}

fn active_org() -> OrgState {
    OrgState::Active
}
fn active_user() -> UserState {
    UserState::Active
}
fn human() -> UserKind {
    UserKind::Human
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("seed file is not valid: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("seed file is not valid: {0}")]
    Invalid(String),
    #[error(
        "user {user} already belongs to org {from}, the seed puts it in org {to}: nothing was written \
         (pass --allow-move to move it)"
    )]
    Move { user: String, from: String, to: String },
    #[error("writing the seed failed: {0}")]
    Store(#[from] StoreError),
}

/// Whether a seed may move a user that exists in the table to another organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moves {
    Refuse,
    Allow,
}

/// What a seed wrote: counts, and which items were new or differed from the stored ones
/// (e.g. `user 100000000000000011`); the rest were already as the file says.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub orgs: usize,
    pub users: usize,
    pub members: usize,
    pub created: Vec<String>,
    pub changed: Vec<String>,
    /// Stored memberships the file no longer names, deleted.
    pub removed: Vec<String>,
}

impl Applied {
    fn record(&mut self, written: Written, what: String) {
        match written {
            Written::Created => self.created.push(what),
            Written::Changed => self.changed.push(what),
            Written::Unchanged => {}
        }
    }
}

/// Writes a level's texts as the text API would, one language at a time (each with its own
/// events, editor `passkey-admin`), then the sender name; languages the seed leaves out stay.
async fn apply_texts(table: &Table, level: TextLevel, seed: &SeedTexts) -> Result<Written, SeedError> {
    let languages = seed.languages().map_err(SeedError::Invalid)?;
    let resource_owner = match &level {
        TextLevel::Org(org) => Some(org.to_string()),
        TextLevel::Instance => None,
    };
    let mut written = Written::Unchanged;
    for (language, text) in languages {
        let change = change_texts(table, &level, |record| {
            let (change, _) = set_change(
                &level,
                record,
                resource_owner.clone(),
                &language,
                &text,
                SEED_EDITOR.into(),
                Utc::now(),
            )
            .map_err(|e| SeedError::Invalid(format!("texts for {language}: {e}")))?;
            Ok(change)
        })
        .await?;
        written = written.and(change);
    }
    if let TextLevel::Org(_) = level {
        let sender = change_texts(table, &level, |record| {
            // Left out, it stays as it is; "" removes it.
            let Some(wanted) = &seed.sender_name else { return Ok(None) };
            let wanted = Some(wanted.clone()).filter(|n| !n.is_empty());
            let stored = record.and_then(|r| r.texts.sender_name.clone());
            if stored == wanted && record.is_some_and(|r| !r.legacy) {
                return Ok(None);
            }
            let mut texts = record.map(|r| r.texts.clone()).unwrap_or_default();
            texts.sender_name = wanted;
            Ok(Some(TextChange {
                level: level.clone(),
                texts,
                previous_sequence: TextsRecord::expected_sequence(record),
                events: Vec::new(),
                language: String::new(),
                editor: SEED_EDITOR.into(),
                at: Utc::now(),
            }))
        })
        .await?;
        written = written.and(sender);
    }
    Ok(written)
}

/// Reads a level's texts, plans a change from them and commits it; planned afresh when the
/// API changed them meanwhile, as the text API itself retries.
async fn change_texts(
    table: &Table,
    level: &TextLevel,
    plan: impl Fn(Option<&TextsRecord>) -> Result<Option<TextChange>, SeedError>,
) -> Result<Written, SeedError> {
    for attempt in 1..=MAX_COMMIT_ATTEMPTS {
        let record = table.texts_record(level).await?;
        let Some(change) = plan(record.as_ref())? else { return Ok(Written::Unchanged) };
        match table.commit_texts(&change).await {
            Ok(()) => return Ok(if record.is_none() { Written::Created } else { Written::Changed }),
            Err(StoreError::Conflict) if attempt < MAX_COMMIT_ATTEMPTS => {
                tokio::time::sleep(std::time::Duration::from_millis(10 * attempt as u64)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Conflict.into())
}

/// The editor the seed's text events name.
pub const SEED_EDITOR: &str = "passkey-admin";

fn user_id(raw: &str) -> Result<UserId, SeedError> {
    UserId::parse(raw).ok_or_else(|| SeedError::Invalid(format!("user id {raw:?}")))
}

/// Refuses a second occurrence of `id` in `seen`: a later entry would overwrite an earlier one.
fn once(seen: &mut HashSet<String>, id: &str, what: &str) -> Result<(), SeedError> {
    if seen.insert(id.to_owned()) {
        Ok(())
    } else {
        Err(SeedError::Invalid(format!("{what} {id} appears twice")))
    }
}

/// The longest given name, family name or nickname (ZITADEL's profile fields' limit).
const MAX_NAME_CHARS: usize = 200;

/// The names fill the mail's `{{.FirstName}}`, `{{.LastName}}` and `{{.NickName}}`: they may
/// not hide characters, break lines or name a host a mail client would link (the seed does not
/// know the link's host, so none is allowed).
fn check_person_name(name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(format!("{chars} characters, at most {MAX_NAME_CHARS} are allowed"));
    }
    if let Some(c) = name.chars().find(|c| c.is_control() || is_invisible(*c)) {
        return Err(format!("invisible or control character U+{:04X}", c as u32));
    }
    match first_host(name) {
        Some(host) => Err(format!("names the host {host:?}; a name may not hold a link or an address")),
        None => Ok(()),
    }
}

fn check_roles(member: &SeedMember, known: impl Fn(&str) -> bool, place: &str) -> Result<(), SeedError> {
    match member.roles.iter().find(|r| !known(r)) {
        Some(role) => Err(SeedError::Invalid(format!(
            "unknown role {role:?} for user {} in {place} (not in the role mapping)",
            member.user_id
        ))),
        None => Ok(()),
    }
}

impl Seed {
    /// Parses and checks a seed against ZITADEL's default roles.
    pub fn from_json(text: &str) -> Result<Self, SeedError> {
        Self::from_json_with(text, &RolePermissions::default())
    }

    /// Parses and checks a seed whose member roles must be roles of `roles`.
    pub fn from_json_with(text: &str, roles: &RolePermissions) -> Result<Self, SeedError> {
        let seed: Seed = serde_json::from_str(text)?;
        seed.validate(roles)?;
        Ok(seed)
    }

    /// Everything is checked before anything is written, so a bad file writes nothing.
    fn validate(&self, roles: &RolePermissions) -> Result<(), SeedError> {
        let mut instance_members = HashSet::new();
        for m in self.instance_members.iter().flatten() {
            user_id(&m.user_id)?;
            once(&mut instance_members, &m.user_id, "instance member")?;
            check_roles(m, |r| roles.knows_instance_role(r), "instanceMembers")?;
        }
        if let Some(texts) = &self.instance_mail_texts {
            if texts.sender_name.is_some() {
                return Err(SeedError::Invalid(
                    "instanceMailTexts: senderName is per organisation (mailTexts)".into(),
                ));
            }
            texts.languages().map_err(|reason| SeedError::Invalid(format!("instanceMailTexts: {reason}")))?;
        }
        let (mut orgs, mut users) = (HashSet::new(), HashSet::new());
        for org in &self.orgs {
            OrgId::parse(&org.id).ok_or_else(|| SeedError::Invalid(format!("org id {:?}", org.id)))?;
            once(&mut orgs, &org.id, "org")?;
            for u in &org.users {
                user_id(&u.id)?;
                once(&mut users, &u.id, "user")?;
                for (field, name) in
                    [("givenName", &u.given_name), ("familyName", &u.family_name), ("nickName", &u.nick_name)]
                {
                    if let Some(name) = name {
                        check_person_name(name).map_err(|reason| {
                            SeedError::Invalid(format!("{field} of user {:?}: {reason}", u.id))
                        })?;
                    }
                }
                if let Some(email) = &u.email {
                    if !email.contains('@') || email.contains(['\r', '\n']) || email.len() > 254 {
                        return Err(SeedError::Invalid(format!("e-mail of user {:?}", u.id)));
                    }
                }
            }
            if let Some(texts) = &org.mail_texts {
                texts
                    .languages()
                    .map_err(|reason| SeedError::Invalid(format!("mailTexts of org {}: {reason}", org.id)))?;
            }
            let mut members = HashSet::new();
            for m in org.members.iter().flatten() {
                user_id(&m.user_id)?;
                once(&mut members, &m.user_id, &format!("member of org {}", org.id))?;
                check_roles(m, |r| roles.knows_org_role(r), &format!("the members of org {}", org.id))?;
            }
        }
        Ok(())
    }

    /// Applies the seed, refusing to move an existing user to another organisation.
    pub async fn apply(&self, table: &Table) -> Result<Applied, SeedError> {
        self.apply_with(table, Moves::Refuse).await
    }

    pub async fn apply_with(&self, table: &Table, moves: Moves) -> Result<Applied, SeedError> {
        // Moves are found before the first write, so a refused move writes nothing.
        let mut moved = Vec::new();
        for org in &self.orgs {
            for u in &org.users {
                match table.user_org(&user_id(&u.id)?).await? {
                    Some(from) if from != org.id && moves == Moves::Refuse => {
                        return Err(SeedError::Move { user: u.id.clone(), from, to: org.id.clone() })
                    }
                    Some(from) if from != org.id => moved.push((u.id.as_str(), from)),
                    _ => {}
                }
            }
        }
        let mut applied = Applied::default();
        if let Some(instance_members) = &self.instance_members {
            for m in instance_members {
                let written = table.put_instance_member(&user_id(&m.user_id)?, &m.roles).await?;
                applied.record(written, format!("instance membership of user {}", m.user_id));
                applied.members += 1;
            }
            members::remove_unnamed(table, MemberOf::Instance, instance_members, &mut applied).await?;
        }
        if let Some(texts) = &self.instance_mail_texts {
            let written = apply_texts(table, TextLevel::Instance, texts).await?;
            applied.record(written, "instance mail texts".into());
        }
        for org in &self.orgs {
            let org_id =
                OrgId::parse(&org.id).ok_or_else(|| SeedError::Invalid(format!("org id {:?}", org.id)))?;
            let mut written = table.upsert_org(&org_id, &org.name, org.state).await?;
            if let Some(texts) = &org.mail_texts {
                written = written.and(apply_texts(table, TextLevel::Org(org_id.clone()), texts).await?);
            }
            applied.record(written, format!("org {}", org.id));
            applied.orgs += 1;
            for u in &org.users {
                let id = user_id(&u.id)?;
                let name = PersonName {
                    given_name: u.given_name.clone(),
                    family_name: u.family_name.clone(),
                    nick_name: u.nick_name.clone(),
                };
                let written = table
                    .upsert_user(&UserProfile {
                        id: &id,
                        org_id: &org_id,
                        kind: u.kind,
                        state: u.state,
                        email: u.email.as_deref(),
                        display_name: u.display_name.as_deref(),
                        name: &name,
                        preferred_language: u.preferred_language.as_deref(),
                        user_name: u.user_name.as_deref(),
                    })
                    .await?;
                let what = match moved.iter().find(|(user, _)| *user == u.id) {
                    Some((_, from)) => format!("user {} (moved from org {from} to org {})", u.id, org.id),
                    None => format!("user {}", u.id),
                };
                applied.record(written, what);
                applied.users += 1;
            }
            if let Some(org_members) = &org.members {
                for m in org_members {
                    let written = table.put_org_member(&org_id, &user_id(&m.user_id)?, &m.roles).await?;
                    applied.record(written, format!("membership of user {} in org {}", m.user_id, org.id));
                    applied.members += 1;
                }
                members::remove_unnamed(table, MemberOf::Org(&org_id), org_members, &mut applied).await?;
            }
        }
        Ok(applied)
    }
}

#[cfg(test)]
mod tests;
