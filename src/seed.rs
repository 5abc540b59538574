//! The seed file `passkey-admin seed` reads: organisations with their users and members,
//! and instance members. Applying it is an idempotent upsert (README.md, "Seed format").

use serde::Deserialize;

use crate::error::StoreError;
use crate::mail::OrgTexts;
use crate::model::{OrgId, OrgState, UserId, UserKind, UserState};
use crate::store::dynamodb::admin::UserProfile;
use crate::store::dynamodb::Table;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub instance_members: Vec<SeedMember>,
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
    #[serde(default)]
    pub members: Vec<SeedMember>,
    /// The organisation's sender name and per-language text overrides for the mail.
    #[serde(default)]
    pub mail_texts: Option<OrgTexts>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedUser {
    pub id: String,
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
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
    #[error("writing the seed failed: {0}")]
    Store(#[from] StoreError),
}

/// Counts of what a seed wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub orgs: usize,
    pub users: usize,
    pub members: usize,
}

fn user_id(raw: &str) -> Result<UserId, SeedError> {
    UserId::parse(raw).ok_or_else(|| SeedError::Invalid(format!("user id {raw:?}")))
}

impl Seed {
    pub fn from_json(text: &str) -> Result<Self, SeedError> {
        let seed: Seed = serde_json::from_str(text)?;
        seed.validate()?;
        Ok(seed)
    }

    /// Everything is checked before anything is written, so a bad file writes nothing.
    fn validate(&self) -> Result<(), SeedError> {
        for m in &self.instance_members {
            user_id(&m.user_id)?;
        }
        for org in &self.orgs {
            OrgId::parse(&org.id).ok_or_else(|| SeedError::Invalid(format!("org id {:?}", org.id)))?;
            for u in &org.users {
                user_id(&u.id)?;
                if let Some(email) = &u.email {
                    if !email.contains('@') || email.contains(['\r', '\n']) || email.len() > 254 {
                        return Err(SeedError::Invalid(format!("e-mail of user {:?}", u.id)));
                    }
                }
            }
            for m in &org.members {
                user_id(&m.user_id)?;
            }
        }
        Ok(())
    }

    pub async fn apply(&self, table: &Table) -> Result<Applied, SeedError> {
        let mut applied = Applied::default();
        for m in &self.instance_members {
            table.put_instance_member(&user_id(&m.user_id)?, &m.roles).await?;
            applied.members += 1;
        }
        for org in &self.orgs {
            let org_id =
                OrgId::parse(&org.id).ok_or_else(|| SeedError::Invalid(format!("org id {:?}", org.id)))?;
            table.upsert_org(&org_id, &org.name, org.state).await?;
            if let Some(texts) = &org.mail_texts {
                table.put_org_texts(&org_id, texts).await?;
            }
            applied.orgs += 1;
            for u in &org.users {
                let id = user_id(&u.id)?;
                table
                    .upsert_user(&UserProfile {
                        id: &id,
                        org_id: &org_id,
                        kind: u.kind,
                        state: u.state,
                        email: u.email.as_deref(),
                        display_name: u.display_name.as_deref(),
                        preferred_language: u.preferred_language.as_deref(),
                        user_name: u.user_name.as_deref(),
                    })
                    .await?;
                applied.users += 1;
            }
            for m in &org.members {
                table.put_org_member(&org_id, &user_id(&m.user_id)?, &m.roles).await?;
                applied.members += 1;
            }
        }
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_seed_parses() {
        let seed = Seed::from_json(include_str!("../seed/demo.json")).unwrap();
        assert!(!seed.orgs.is_empty());
    }

    #[test]
    fn bad_ids_and_unknown_fields_are_refused() {
        assert!(Seed::from_json(r#"{"orgs":[{"id":"a/b","name":"x"}]}"#).is_err());
        assert!(Seed::from_json(r#"{"orgs":[{"id":"o","name":"x","users":[{"id":"u","email":"no-at"}]}]}"#)
            .is_err());
        assert!(Seed::from_json(r#"{"orgz":[]}"#).is_err());
        assert!(Seed::from_json(r#"{"orgs":[{"id":"o","name":"x","users":[{"id":"u","type":"robot"}]}]}"#)
            .is_err());
    }
}
