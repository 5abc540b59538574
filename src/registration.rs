//! Redeeming a link: registering a passkey with its code (ZITADEL's `RegisterPasskey` and
//! `VerifyPasskeyRegistration`, and the page the link opens), listing and removing passkeys.
//!
//! A code is checked (hash, constant-time) whenever it is presented, but spent only by the
//! verification's one transaction: opening the page or starting a ceremony leaves it usable,
//! so mail scanners and failed attempts do not burn it. Wrong codes count against the link
//! and lock it after [`RegistrationPolicy::code_max_attempts`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tracing::info;

use crate::ceremony::{Attachment, CeremonyError, RelyingParties};
use crate::config::{Config, ConfigError, PageLimits};
use crate::domain::{retry_conflicts, Authority, LinkTarget, PasskeyLinks, Scope};
use crate::error::Error;
use crate::link::hash_code;
use crate::mailer::Mailer;
use crate::model::{Caller, Details, Org, OrgState, User, UserId, UserKind, UserState};
use crate::permissions::USER_CREDENTIAL_WRITE;
use crate::store::{Ceremony, CodeAttempt, LinkRecord, NewPasskey, PasskeyRemoval, Store, StoredPasskey};

/// How long a started ceremony waits for its verification: webauthn-rs's authenticator
/// timeout, which the options announce to the browser.
pub const CEREMONY_LIFETIME: Duration = Duration::from_secs(300);
/// Longest passkey name, as ZITADEL's API allows.
pub const MAX_PASSKEY_NAME: usize = 200;
/// The page's rate-limit window.
const PAGE_WINDOW_SECS: i64 = 60;

pub struct RegistrationPolicy {
    pub parties: RelyingParties,
    pub code_max_attempts: u32,
    pub page_limits: PageLimits,
}

impl RegistrationPolicy {
    /// Builds the relying parties (webauthn-rs checks the ids and origins once more).
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        Ok(Self {
            parties: RelyingParties::new(&config.relying_parties)
                .map_err(|reason| ConfigError { variable: "WEBAUTHN_ORIGINS", reason })?,
            code_max_attempts: config.code_max_attempts,
            page_limits: config.page_limits,
        })
    }
}

/// A link's id and code as the user presents them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeProof {
    pub id: String,
    pub code: String,
}

/// Who starts or finishes a ceremony: an API caller, or whoever opened the link (the code
/// is then the only proof).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Caller(Caller),
    LinkHolder,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeginRegistration {
    pub actor: Actor,
    pub user_id: UserId,
    pub code: Option<CodeProof>,
    pub attachment: Attachment,
    pub domain: Option<String>,
}

pub struct Begun {
    pub details: Details,
    pub passkey_id: String,
    pub options: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FinishRegistration {
    pub actor: Actor,
    pub user_id: UserId,
    pub passkey_id: String,
    pub credential: Value,
    pub name: String,
    /// The page presents the code again; API callers are bound by the ceremony instead.
    pub code: Option<CodeProof>,
}

/// A user's passkeys as read, with the sequence of the user's last event.
pub struct PasskeyList {
    pub passkeys: Vec<StoredPasskey>,
    pub sequence: u64,
    pub at: DateTime<Utc>,
}

/// What the page shows for a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Ready,
    Used,
    Expired,
    Unknown,
    Locked,
}

pub struct LinkView {
    pub state: LinkState,
    pub user: Option<User>,
    pub org: Option<Org>,
}

/// The checks of a presented code, in the order that reveals least: an unknown link, a
/// locked one, a wrong code (counted), then used and expired.
fn check_code(
    link: Option<&LinkRecord>,
    proof: &CodeProof,
    max_attempts: u32,
    now: i64,
) -> Result<(), Error> {
    let link = link.ok_or(Error::CodeNotFound)?;
    if link.failed_attempts >= max_attempts {
        return Err(Error::CodeLocked);
    }
    if !constant_time_eq(hash_code(&proof.code).as_bytes(), link.code_hash.as_bytes()) {
        return Err(Error::CodeInvalid);
    }
    if link.used {
        return Err(Error::CodeUsed);
    }
    if link.expires_at <= now {
        return Err(Error::CodeExpired);
    }
    Ok(())
}

/// Characters that would let a name hide or reorder text where admins read it: controls and
/// what [`crate::invisible::is_invisible`] names.
pub(crate) fn hidden_or_control(c: char) -> bool {
    c.is_control() || crate::invisible::is_invisible(c)
}

/// A passkey's name as stored: trimmed, 1-[`MAX_PASSKEY_NAME`] characters, none of them
/// [`hidden_or_control`].
pub fn checked_passkey_name(raw: &str) -> Result<&str, Error> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_PASSKEY_NAME || name.chars().any(hidden_or_control) {
        return Err(Error::InvalidField(crate::error::FieldProblem::PasskeyName));
    }
    Ok(name)
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Ids that become key parts: UUIDs in practice; anything else is unknown.
fn valid_key_part(raw: &str) -> bool {
    (1..=64).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn user_can_register(user: &User) -> Result<(), Error> {
    if user.kind == UserKind::Machine {
        return Err(Error::MachineUser);
    }
    if !matches!(user.state, UserState::Active | UserState::Initial) {
        return Err(Error::UserNotActive);
    }
    Ok(())
}

impl<S, M> PasskeyLinks<S, M>
where
    S: Store,
    M: Mailer + Sync,
{
    /// Checks a presented code. The check is reserved on the link first (a right code gives
    /// it back, a wrong one keeps it), so no number of concurrent guesses gets more than
    /// `code_max_attempts` comparisons.
    async fn redeem(&self, user: &UserId, proof: &CodeProof) -> Result<LinkRecord, Error> {
        if !valid_key_part(&proof.id) {
            return Err(Error::CodeNotFound);
        }
        let max = self.registration.code_max_attempts;
        let link = match self.store.reserve_code_attempt(user, &proof.id, max).await? {
            CodeAttempt::Missing => return Err(Error::CodeNotFound),
            CodeAttempt::Locked => return Err(Error::CodeLocked),
            CodeAttempt::Reserved(link) => link,
        };
        match check_code(Some(&link), proof, max, Utc::now().timestamp()) {
            Err(Error::CodeInvalid) => {
                info!(code_id = %proof.id, "wrong registration code");
                Err(Error::CodeInvalid)
            }
            checked => {
                self.store.release_code_attempt(user, &proof.id).await?;
                checked.map(|()| link)
            }
        }
    }

    /// The user and org of a link, for whoever holds its code: no caller, no permission.
    async fn link_holders_user(&self, user_id: &UserId, link: &LinkRecord) -> Result<(User, Org), Error> {
        let snap = self.store.read_snapshot(user_id, &link.org_id, user_id).await?;
        let org = snap.org.filter(|o| o.state == OrgState::Active).ok_or(Error::CodeNotFound)?;
        let user = snap.user.filter(|u| u.org_id == link.org_id).ok_or(Error::CodeNotFound)?;
        Ok((user, org))
    }

    /// What the page shows for a link; never consumes the code.
    pub async fn view_link(&self, user_id: &UserId, proof: &CodeProof) -> Result<LinkView, Error> {
        let unknown = LinkView { state: LinkState::Unknown, user: None, org: None };
        let link = match self.redeem(user_id, proof).await {
            Ok(link) => link,
            Err(Error::CodeNotFound | Error::CodeInvalid) => return Ok(unknown),
            Err(Error::CodeLocked) => return Ok(LinkView { state: LinkState::Locked, ..unknown }),
            Err(e @ (Error::CodeUsed | Error::CodeExpired)) => {
                let state = if matches!(e, Error::CodeUsed) { LinkState::Used } else { LinkState::Expired };
                // The right code was shown: the names may help the person, nothing else.
                let Some(link) = self.store.read_link(user_id, &proof.id).await? else {
                    return Ok(unknown);
                };
                let (user, org) = self
                    .link_holders_user(user_id, &link)
                    .await
                    .map_or((None, None), |(u, o)| (Some(u), Some(o)));
                return Ok(LinkView { state, user, org });
            }
            Err(e) => return Err(e),
        };
        match self.link_holders_user(user_id, &link).await {
            Ok((user, org)) if user_can_register(&user).is_ok() => {
                Ok(LinkView { state: LinkState::Ready, user: Some(user), org: Some(org) })
            }
            Ok(_) | Err(Error::CodeNotFound) => Ok(unknown),
            Err(e) => Err(e),
        }
    }

    /// Counts one anonymous page request from `source` (and for `code_id`), refusing it once
    /// either exceeds its per-minute limit.
    pub async fn admit_page_request(&self, source: &str, link: Option<(&UserId, &str)>) -> Result<(), Error> {
        let now = Utc::now().timestamp();
        let window = now - now.rem_euclid(PAGE_WINDOW_SECS);
        let retry =
            |_| Error::PageRateLimited { retry_after_secs: (window + PAGE_WINDOW_SECS - now).max(1) as u64 };
        let limits = self.registration.page_limits;
        if !self.store.admit(&format!("source#{source}"), window, PAGE_WINDOW_SECS, limits.per_source).await?
        {
            return Err(retry(()));
        }
        if let Some((user, code_id)) = link.filter(|(_, c)| valid_key_part(c)) {
            let key = format!("code#{user}#{code_id}");
            if !self.store.admit(&key, window, PAGE_WINDOW_SECS, limits.per_code).await? {
                return Err(retry(()));
            }
        }
        Ok(())
    }

    /// RegisterPasskey: checks the code (if any) without spending it and starts a ceremony.
    pub async fn begin_registration(&self, cmd: &BeginRegistration) -> Result<Begun, Error> {
        let (user, org, link, started_by) = match (&cmd.actor, &cmd.code) {
            (Actor::LinkHolder, None) => return Err(Error::CodeNotFound),
            (Actor::LinkHolder, Some(proof)) => {
                let link = self.redeem(&cmd.user_id, proof).await?;
                let (user, org) = self.link_holders_user(&cmd.user_id, &link).await?;
                (user, org, Some(proof.id.clone()), cmd.user_id.clone())
            }
            (Actor::Caller(caller), code) => {
                // A code proves the link reached someone, not that the caller may act for the
                // user: a caller enrols its own authenticator on the user's account, so it must
                // be the user or hold user.credential.write in the user's organisation, with or
                // without a code (user.passkey.write, which user managers hold, only mails).
                let authority = Authority::PermissionOrSelf(USER_CREDENTIAL_WRITE);
                let resolved = self.resolve(&self.target(caller, &cmd.user_id, authority)).await?;
                if let Some(proof) = code {
                    let link = self.redeem(&cmd.user_id, proof).await?;
                    if link.org_id != resolved.user.org_id {
                        return Err(Error::CodeNotFound);
                    }
                }
                (resolved.user, resolved.org, code.as_ref().map(|p| p.id.clone()), caller.user_id.clone())
            }
        };
        user_can_register(&user)?;
        let (rp_id, _) =
            self.registration.parties.party(cmd.domain.as_deref()).ok_or(Error::DomainNotAllowed)?;
        let existing: Vec<String> =
            self.store.list_passkeys(&user.id).await?.into_iter().map(|p| p.credential_id).collect();
        // webauthn-rs refuses empty names: a blank stored value falls back to the next one.
        let present = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
        let name = present(&user.email).unwrap_or_else(|| user.id.to_string());
        let display = present(&user.display_name).unwrap_or_else(|| name.clone());
        let started = self
            .registration
            .parties
            .start(rp_id, user.id.as_str(), &name, &display, &existing, cmd.attachment)
            .map_err(Error::Internal)?;
        let now = Utc::now();
        let passkey_id = uuid::Uuid::new_v4().to_string();
        self.store
            .save_ceremony(&Ceremony {
                user_id: user.id.clone(),
                org_id: user.org_id.clone(),
                passkey_id: passkey_id.clone(),
                rp_id: rp_id.to_owned(),
                state: started.state,
                code_id: link,
                started_by,
                expires_at: now.timestamp() + CEREMONY_LIFETIME.as_secs() as i64,
            })
            .await?;
        info!(%passkey_id, "passkey registration started");
        Ok(Begun {
            details: Details { sequence: user.sequence, event_date: now, resource_owner: org.id },
            passkey_id,
            options: started.options,
        })
    }

    /// VerifyPasskeyRegistration: verifies the attestation and, in one transaction, stores the
    /// passkey and spends the code. Of concurrent or replayed finishes exactly one wins; the
    /// others find the ceremony gone.
    pub async fn finish_registration(&self, cmd: &FinishRegistration) -> Result<Details, Error> {
        let name = checked_passkey_name(&cmd.name)?;
        retry_conflicts(|| self.try_finish(cmd, name)).await
    }

    async fn try_finish(&self, cmd: &FinishRegistration, name: &str) -> Result<Details, Error> {
        // An API caller's permission first, whoever started the ceremony: a caller without it
        // learns nothing of the user's ceremonies, and a permission revoked in between or a
        // ceremony id that reached another caller must not put a key on the account.
        let checked_caller = match &cmd.actor {
            Actor::Caller(caller) => {
                let authority = Authority::PermissionOrSelf(USER_CREDENTIAL_WRITE);
                let resolved = self.resolve(&self.target(caller, &cmd.user_id, authority)).await?;
                Some((resolved.user, caller.user_id.clone()))
            }
            Actor::LinkHolder => None,
        };
        if !valid_key_part(&cmd.passkey_id) {
            return Err(Error::CeremonyNotFound);
        }
        let now = Utc::now();
        let ceremony = self
            .store
            .read_ceremony(&cmd.user_id, &cmd.passkey_id)
            .await?
            .filter(|c| c.expires_at > now.timestamp())
            .ok_or(Error::CeremonyNotFound)?;
        let (user, editor) = match checked_caller {
            Some(checked) => checked,
            None => {
                let proof = cmd.code.as_ref().ok_or(Error::CeremonyNotFound)?;
                if ceremony.code_id.as_deref() != Some(proof.id.as_str()) {
                    return Err(Error::CeremonyNotFound);
                }
                let link = self.redeem(&cmd.user_id, proof).await?;
                (self.link_holders_user(&cmd.user_id, &link).await?.0, cmd.user_id.clone())
            }
        };
        user_can_register(&user)?;
        if user.org_id != ceremony.org_id {
            return Err(Error::CeremonyNotFound);
        }
        // The code's state now, for a precise answer; the transaction checks it again.
        let code = match &ceremony.code_id {
            None => None,
            Some(code_id) => {
                let link = self.store.read_link(&user.id, code_id).await?.ok_or(Error::CodeNotFound)?;
                if link.failed_attempts >= self.registration.code_max_attempts {
                    return Err(Error::CodeLocked);
                }
                if link.used {
                    return Err(Error::CodeUsed);
                }
                if link.expires_at <= now.timestamp() {
                    return Err(Error::CodeExpired);
                }
                Some((code_id.clone(), link.code_hash))
            }
        };
        let registered =
            self.registration.parties.finish(&ceremony.rp_id, &ceremony.state, &cmd.credential).map_err(
                |e| match e {
                    CeremonyError::State(m) => Error::Internal(m),
                    other => Error::AttestationRefused(other.to_string()),
                },
            )?;
        match self.store.credential_owner(&registered.credential_id).await? {
            // A concurrent finish of this very ceremony won meanwhile.
            Some((owner, passkey)) if owner == user.id.as_str() && passkey == cmd.passkey_id => {
                return Err(Error::CeremonyNotFound)
            }
            Some(_) => return Err(Error::CredentialExists),
            None => {}
        }
        let passkey = NewPasskey {
            user_id: user.id.clone(),
            org_id: user.org_id.clone(),
            passkey_id: cmd.passkey_id.clone(),
            name: name.to_owned(),
            rp_id: ceremony.rp_id.clone(),
            credential_id: registered.credential_id,
            public_key: registered.public_key,
            sign_count: registered.sign_count,
            aaguid: registered.aaguid,
            passkey: registered.passkey,
            code,
            code_max_attempts: self.registration.code_max_attempts,
            previous_sequence: user.sequence,
            sequence: user.sequence + 1,
            editor,
            at: now,
        };
        self.store.commit_passkey(&passkey).await?;
        info!(passkey_id = %passkey.passkey_id, sequence = passkey.sequence, "passkey registered");
        Ok(Details { sequence: passkey.sequence, event_date: now, resource_owner: passkey.org_id })
    }

    /// The user's passkeys, oldest first, the user's sequence and when they were read.
    pub async fn list_passkeys(&self, target: &LinkTarget) -> Result<PasskeyList, Error> {
        let resolved = self.resolve(target).await?;
        let mut passkeys = self.store.list_passkeys(&resolved.user.id).await?;
        passkeys.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(PasskeyList { passkeys, sequence: resolved.user.sequence, at: Utc::now() })
    }

    pub async fn remove_passkey(&self, target: &LinkTarget, passkey_id: &str) -> Result<Details, Error> {
        retry_conflicts(|| self.try_remove_passkey(target, passkey_id)).await
    }

    async fn try_remove_passkey(&self, target: &LinkTarget, passkey_id: &str) -> Result<Details, Error> {
        let resolved = self.resolve(target).await?;
        let user = resolved.user;
        let found = self
            .store
            .list_passkeys(&user.id)
            .await?
            .into_iter()
            .find(|p| p.id == passkey_id)
            .ok_or(Error::PasskeyNotFound)?;
        let now = Utc::now();
        let removal = PasskeyRemoval {
            user_id: user.id.clone(),
            org_id: user.org_id.clone(),
            passkey_id: found.id,
            credential_id: found.credential_id,
            previous_sequence: user.sequence,
            sequence: user.sequence + 1,
            removed_by: target.caller.user_id.clone(),
            at: now,
        };
        self.store.remove_passkey(&removal).await?;
        info!(passkey_id, sequence = removal.sequence, "passkey removed");
        Ok(Details { sequence: removal.sequence, event_date: now, resource_owner: removal.org_id })
    }

    fn target(&self, caller: &Caller, user_id: &UserId, authority: Authority) -> LinkTarget {
        LinkTarget { caller: caller.clone(), scope: Scope::UsersOrg, user_id: user_id.clone(), authority }
    }
}

#[cfg(test)]
mod tests;
