//! The rules of the call: who may send a link to whom, what is written, what is sent.
//!
//! Talks to the outside only through the [`crate::store`] and [`crate::mailer`] traits.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::config::RateLimit;
use crate::error::{Error, MailError};
use crate::link::{LinkSecret, UrlTemplate};
use crate::mail::{LinkMail, MailRenderer};
use crate::mailer::Mailer;
use crate::metrics;
use crate::model::{
    valid_recipient, Caller, Details, Org, OrgId, OrgState, RecentLink, User, UserId, UserKind, UserState,
};
use crate::permissions::{RolePermissions, USER_READ};
use crate::registration::RegistrationPolicy;
use crate::store::{LinkDelivery, LinkRemoval, NewLink, Store, StoredLink, TextsRecord, WindowChange};

/// What storing a link and sending its mail need of the invocation's time at the least: SES
/// answers in well under it, and a send is cut at the deadline anyway.
const SEND_RESERVE: Duration = Duration::from_secs(1);
/// How often a write that lost a sequence race is re-read and retried before answering
/// `Aborted`: enough for bursts of concurrent admin actions on one user (and more than the
/// default rate limit, so a burst against the limit ends in 429s, not 409s), bounded so a
/// hot user cannot hold a Lambda for long (each attempt is two round trips).
pub const MAX_COMMIT_ATTEMPTS: usize = 8;

/// Links one revoke removes: a transaction holds 100 writes, two are the sequence and event.
pub const MAX_LINKS_PER_REVOKE: usize = 98;

/// Where the target user is looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// In this organisation only (v1: the `x-zitadel-orgid` header, else the caller's org).
    Org(OrgId),
    /// Wherever the user lives (v2 has no org header); permissions count in the user's org.
    UsersOrg,
}

/// What entitles the caller to act on the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    /// This permission in the user's organisation.
    Permission(&'static str),
    /// This permission, or being the user (ZITADEL's v2 user service lets users manage
    /// their own credentials).
    PermissionOrSelf(&'static str),
    /// Being the user; no permission needed (the auth API's `/me` calls).
    OwnUser,
}

/// How the link reaches the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Mailed to the user's address, built from this template (v2 `sendLink.urlTemplate`)
    /// or the configured one.
    Mail(Option<UrlTemplate>),
    /// Handed to the caller instead, for out-of-band delivery (v1 `_link`, v2 `returnCode`).
    Return,
}

/// Whose links, found where, by what right: what every link call starts from. The HTTP
/// adapter has established every field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTarget {
    pub caller: Caller,
    pub scope: Scope,
    pub user_id: UserId,
    pub authority: Authority,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateLink {
    pub target: LinkTarget,
    pub delivery: Delivery,
}

/// The target user and its organisation, read and checked.
pub(crate) struct Resolved {
    pub(crate) org: Org,
    pub(crate) user: User,
    org_texts: Option<TextsRecord>,
    instance_texts: Option<TextsRecord>,
}

/// A stored (and, for [`Delivery::Mail`], mailed) link.
#[derive(Debug)]
pub struct CreatedLink {
    pub details: Details,
    pub code_id: String,
    pub lifetime: Duration,
    /// Only for [`Delivery::Return`]: the link and its secret, for the caller.
    pub returned: Option<ReturnedLink>,
}

#[derive(Debug)]
pub struct ReturnedLink {
    pub url: String,
    pub code: LinkSecret,
}

/// The link settings the domain applies to every call.
#[derive(Debug, Clone)]
pub struct LinkPolicy {
    pub url_template: UrlTemplate,
    pub lifetime: Duration,
    pub permissions: RolePermissions,
    pub rate_limit: RateLimit,
    /// Revoke the user's outstanding links when a new one is created.
    pub supersede: bool,
    /// The `deployment` tag of every mail (`MAIL_DEPLOYMENT_TAG`).
    pub deployment_tag: Option<String>,
    /// Hosts custom texts may name besides the link's own (`TEXT_ALLOWED_HOSTS`).
    pub text_allowed_hosts: Vec<String>,
}

pub struct PasskeyLinks<S, M> {
    pub store: S,
    pub mailer: M,
    pub policy: LinkPolicy,
    pub renderer: MailRenderer,
    pub registration: RegistrationPolicy,
}

impl<S, M> PasskeyLinks<S, M>
where
    S: Store,
    M: Mailer + Sync,
{
    pub async fn create_link(&self, cmd: &CreateLink) -> Result<CreatedLink, Error> {
        retry_conflicts(|| self.try_create_link(cmd)).await
    }

    /// The user's outstanding links (not expired), oldest first, and the time they were read.
    pub async fn list_links(&self, target: &LinkTarget) -> Result<(Vec<StoredLink>, DateTime<Utc>), Error> {
        let Resolved { user, .. } = self.resolve(target).await?;
        let now = Utc::now();
        let mut links = self.store.list_links(&user.id).await?;
        links.retain(|l| is_outstanding(l, now));
        links.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok((links, now))
    }

    /// Revokes one outstanding link (`Some(code id)`) or all of them. Revoking all when
    /// there are none changes nothing and answers the user's current sequence.
    pub async fn revoke_links(&self, target: &LinkTarget, code_id: Option<&str>) -> Result<Details, Error> {
        retry_conflicts(|| self.try_revoke_links(target, code_id)).await
    }

    async fn try_revoke_links(&self, target: &LinkTarget, code_id: Option<&str>) -> Result<Details, Error> {
        let Resolved { user, .. } = self.resolve(target).await?;
        let now = Utc::now();
        let mut outstanding = self.outstanding_codes(&user.id, now).await?;
        if let Some(code_id) = code_id {
            outstanding.retain(|c| c == code_id);
            if outstanding.is_empty() {
                return Err(Error::LinkNotFound);
            }
        }
        if outstanding.is_empty() {
            return Ok(Details { sequence: user.sequence, event_date: now, resource_owner: user.org_id });
        }
        // One transaction holds at most 100 writes: the sequence, the event and 98 links.
        outstanding.truncate(MAX_LINKS_PER_REVOKE);
        let removal = LinkRemoval {
            user_id: user.id.clone(),
            org_id: user.org_id.clone(),
            code_ids: outstanding,
            previous_sequence: user.sequence,
            sequence: user.sequence + 1,
            removed_by: target.caller.user_id.clone(),
            at: now,
        };
        self.store.remove_links(&removal).await?;
        info!(codes = removal.code_ids.len(), sequence = removal.sequence, "passkey links revoked");
        Ok(Details { sequence: removal.sequence, event_date: now, resource_owner: removal.org_id })
    }

    /// The ids of the user's links that can still be used.
    async fn outstanding_codes(&self, user: &UserId, now: DateTime<Utc>) -> Result<Vec<String>, Error> {
        let links = self.store.list_links(user).await?;
        Ok(links.into_iter().filter(|l| is_outstanding(l, now)).map(|l| l.code_id).collect())
    }

    /// Reads the caller, the user and its org (a second read when v2 finds the user in another
    /// org than the caller's) and checks, in this order, the caller's own account, the
    /// authority, the org and that the user lives in it.
    pub(crate) async fn resolve(&self, t: &LinkTarget) -> Result<Resolved, Error> {
        let mut target_org = match &t.scope {
            Scope::Org(org) => org.clone(),
            // Most callers act in their own organisation: one read then, two otherwise.
            Scope::UsersOrg => t.caller.org_id.clone(),
        };
        let mut snap = self.store.read_snapshot(&t.caller.user_id, &target_org, &t.user_id).await?;
        if t.scope == Scope::UsersOrg {
            if let Some(owner) = snap.user.as_ref().map(|u| u.org_id.clone()).filter(|o| *o != target_org) {
                snap = self.store.read_snapshot(&t.caller.user_id, &owner, &t.user_id).await?;
                target_org = owner;
            }
        }

        // A token outlives the account it was issued to: a locked, deleted or vanished caller,
        // or one whose claim names another org than its own, acts on nothing (as in ZITADEL).
        snap.caller
            .as_ref()
            .filter(|c| c.state == UserState::Active && c.org_id == t.caller.org_id)
            .ok_or(Error::CallerNotActive)?;
        // Permission next, so a caller without it learns nothing about the org or its users.
        let is_self = t.caller.user_id == t.user_id;
        let entitled = match t.authority {
            Authority::Permission(p) => {
                self.policy.permissions.grants(&snap.instance_roles, &snap.org_roles, p)
            }
            Authority::PermissionOrSelf(p) => {
                is_self || self.policy.permissions.grants(&snap.instance_roles, &snap.org_roles, p)
            }
            Authority::OwnUser => is_self,
        };
        if !entitled {
            // v2 names no org: answering 403 for a user of another org and 404 for none would
            // tell a caller without the permission which user ids exist, and where. Whoever
            // may see the user anyway (the user itself, a holder of user.read in its org) hears
            // the real reason.
            let sees_user = is_self
                || (snap.user.as_ref().is_some_and(|u| u.org_id == target_org)
                    && self.policy.permissions.grants(&snap.instance_roles, &snap.org_roles, USER_READ));
            return Err(match t.scope {
                Scope::UsersOrg if !sees_user => Error::UserNotFound,
                _ => Error::PermissionDenied,
            });
        }
        let org = snap.org.ok_or(Error::OrgNotFound)?;
        if org.state != OrgState::Active {
            return Err(Error::OrgInactive);
        }
        let user = snap.user.filter(|u| u.org_id == target_org).ok_or(Error::UserNotFound)?;
        Ok(Resolved { org, user, org_texts: snap.org_texts, instance_texts: snap.instance_texts })
    }

    async fn try_create_link(&self, cmd: &CreateLink) -> Result<CreatedLink, Error> {
        let Resolved { org, user, org_texts, instance_texts } = self.resolve(&cmd.target).await?;
        if user.kind == UserKind::Machine {
            return Err(Error::MachineUser);
        }
        // Deleted users answer like inactive ones (issue 10): the caller holds the permission
        // in this org, so their existence is no secret to it.
        if !matches!(user.state, UserState::Active | UserState::Initial) {
            return Err(Error::UserNotActive);
        }
        // A returned link needs no address: the caller delivers it.
        let email = match cmd.delivery {
            Delivery::Mail(_) => {
                let email = user.email.as_deref().filter(|e| !e.is_empty()).ok_or(Error::UserWithoutEmail)?;
                if !valid_recipient(email) {
                    return Err(Error::InvalidEmail);
                }
                // SES said this address does not take mail: sending again only hurts the
                // sender's reputation (SES pauses senders with too many bounces).
                if user.undeliverable.iter().any(|mark| mark.applies_to(email)) {
                    return Err(Error::EmailUndeliverable);
                }
                Some(email)
            }
            Delivery::Return => None,
        };
        let now = Utc::now();
        let code_id = uuid::Uuid::new_v4().to_string();
        let window = admit(
            self.policy.rate_limit,
            user.recent_links.as_deref(),
            RecentLink { code_id: code_id.clone(), at_ms: now.timestamp_millis() },
        )?;

        // Listed only when configured: it costs a Query per call.
        let superseded = if self.policy.supersede {
            let mut codes = self.outstanding_codes(&user.id, now).await?;
            // The transaction's 100 writes: sequence, link, event and 97 older links.
            codes.truncate(MAX_LINKS_PER_REVOKE - 1);
            codes
        } else {
            Vec::new()
        };

        let secret = LinkSecret::generate().map_err(|e| Error::Internal(format!("CSPRNG: {e}")))?;
        let lifetime = chrono::Duration::from_std(self.policy.lifetime)
            .map_err(|e| Error::Internal(format!("lifetime: {e}")))?;
        let link = NewLink {
            user_id: user.id.clone(),
            org_id: user.org_id.clone(),
            code_id,
            code_hash: secret.hash(),
            created_at: now,
            expires_at: now + lifetime,
            previous_sequence: user.sequence,
            sequence: user.sequence + 1,
            requested_by: cmd.target.caller.user_id.clone(),
            window,
            superseded,
            delivery: match cmd.delivery {
                Delivery::Mail(_) => LinkDelivery::Mail,
                Delivery::Return => LinkDelivery::Returned,
            },
        };
        let template = match &cmd.delivery {
            Delivery::Mail(Some(template)) => template,
            _ => &self.policy.url_template,
        };
        let url = template.render(&link.user_id, &link.org_id, &link.code_id, &secret);
        let created = |returned| CreatedLink {
            details: Details {
                sequence: link.sequence,
                event_date: now,
                resource_owner: link.org_id.clone(),
            },
            code_id: link.code_id.clone(),
            lifetime: self.policy.lifetime,
            returned,
        };
        let Some(email) = email else {
            self.store.commit_link(&link).await?;
            info!(code_id = %link.code_id, sequence = link.sequence, "passkey link returned to the caller");
            return Ok(created(Some(ReturnedLink { url, code: secret })));
        };

        // Rendered before anything is written: a mail that cannot be built must leave no link.
        let mut message = self
            .renderer
            .render(&LinkMail {
                to: email,
                display_name: user.display_name.as_deref(),
                name: &user.name,
                user_name: user.user_name.as_deref(),
                preferred_language: user.preferred_language.as_deref(),
                org_name: &org.name,
                org_texts: org_texts.as_ref().map(|r| &r.texts),
                instance_texts: instance_texts.as_ref().map(|r| &r.texts),
                link: &url,
                lifetime: self.policy.lifetime,
            })
            .map_err(|e| Error::Internal(e.to_string()))?;
        // SES puts a message's tags on every event it publishes about it (delivery, bounce,
        // complaint): they lead back to the link, so no write after the send is needed.
        message.tags = vec![
            ("purpose".to_owned(), crate::delivery::PURPOSE.to_owned()),
            ("org".to_owned(), tag_value(link.org_id.as_str())),
            ("user".to_owned(), tag_value(link.user_id.as_str())),
            ("code".to_owned(), tag_value(&link.code_id)),
        ];
        if let Some(deployment) = &self.policy.deployment_tag {
            message.tags.push(("deployment".to_owned(), deployment.clone()));
        }
        // A link stored now would be revoked again if the send cannot fit before the
        // invocation's deadline: two writes and two events for nothing.
        if !crate::deadline::has_left(SEND_RESERVE) {
            return Err(Error::OutOfTime("no time left to store the link and send its mail".into()));
        }
        self.store.commit_link(&link).await?;
        match self.mailer.send(&message).await {
            Ok(message_id) => {
                info!(code_id = %link.code_id, sequence = link.sequence, %message_id, "passkey link sent");
            }
            Err(e @ MailError::OutcomeUnknown(_)) => {
                // The user may hold the mail, so the link stays (and keeps its rate-limit
                // slot); sending again could deliver a second copy.
                warn!(code_id = %link.code_id, error = %e, "mail outcome unknown, link kept");
                metrics::mail_send_failed();
                return Err(e.into());
            }
            Err(e) => {
                warn!(code_id = %link.code_id, error = %e, "mail not sent, revoking the link");
                metrics::mail_send_failed();
                if let Err(revoke) = self.store.revoke_link(&link, &e.to_string()).await {
                    // The link stays stored but its secret was never delivered to anyone,
                    // and it expires by itself.
                    warn!(code_id = %link.code_id, error = %revoke, "revoking the unsent link failed");
                }
                return Err(e.into());
            }
        }
        Ok(created(None))
    }
}

/// Unexpired (TTL deletes late, emulators never) and not yet spent on a passkey.
fn is_outstanding(link: &StoredLink, now: DateTime<Utc>) -> bool {
    link.expires_at > now.timestamp() && link.used_at.is_none()
}

/// Runs `attempt` again while it loses a sequence race, up to [`MAX_COMMIT_ATTEMPTS`] times
/// and while the invocation's deadline leaves time for another.
pub(crate) async fn retry_conflicts<T, F, Fut>(attempt: F) -> Result<T, Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    for n in 1..=MAX_COMMIT_ATTEMPTS {
        match attempt().await {
            Err(Error::Conflict) if n < MAX_COMMIT_ATTEMPTS => {
                let backoff = conflict_backoff(n);
                if !crate::deadline::allows(backoff) {
                    return Err(Error::OutOfTime(format!(
                        "sequence conflict on attempt {n}, no time for another"
                    )));
                }
                info!(attempt = n, "sequence conflict, re-reading");
                tokio::time::sleep(backoff).await;
            }
            outcome => return outcome,
        }
    }
    Err(Error::Conflict)
}

/// SES tag values allow `[A-Za-z0-9_-]` only; ids may also hold `.`, `@` and `_`. Every
/// other byte becomes `_` and two hex digits, so the value decodes back to the id.
pub fn tag_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("_{byte:02X}"));
        }
    }
    out
}

/// The id a [`tag_value`] stands for; `None` for a value `tag_value` cannot have made.
pub fn tag_id(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'_' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                let byte = u8::from_str_radix(hex, 16).ok()?;
                // Only what tag_value escapes, in its upper-case spelling: one id, one value.
                if byte.is_ascii_alphanumeric() || byte == b'-' || hex != format!("{byte:02X}") {
                    return None;
                }
                out.push(byte);
                i += 3;
            }
            b if b.is_ascii_alphanumeric() || b == b'-' => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

/// Up to 10 ms per attempt so far, at random: callers that collided do not collide again in
/// lockstep.
fn conflict_backoff(attempt: usize) -> Duration {
    let mut byte = [0u8; 1];
    let jitter = getrandom::fill(&mut byte).map_or(128, |()| u64::from(byte[0]));
    Duration::from_micros(jitter * 40 * attempt as u64)
}

/// How `link` enters the rate-limit window `recent` (`None`: none stored yet), or
/// `RateLimited` when the window already holds the limit. Entries that left the window are
/// dropped, so the stored window never grows past the limit.
fn admit(limit: RateLimit, recent: Option<&[RecentLink]>, link: RecentLink) -> Result<WindowChange, Error> {
    let window_ms = i64::try_from(limit.window.as_millis()).unwrap_or(i64::MAX);
    // An entry from the future is another clock's skew (counted as now) or, beyond a window
    // ahead, corrupt: kept, it would lock the user out for good.
    let inside_window = |r: &&RecentLink| {
        r.at_ms <= link.at_ms.saturating_add(window_ms) && link.at_ms.saturating_sub(r.at_ms) < window_ms
    };
    let (mut inside, expired): (Vec<&RecentLink>, Vec<&RecentLink>) =
        recent.unwrap_or_default().iter().partition(inside_window);
    inside.sort_unstable_by_key(|r| r.at_ms);
    if inside.len() >= limit.links {
        let oldest_relevant = inside[inside.len() - limit.links].at_ms.min(link.at_ms);
        let retry_after_ms = (window_ms - link.at_ms.saturating_sub(oldest_relevant)).clamp(0, window_ms);
        return Err(Error::RateLimited { retry_after_secs: (retry_after_ms as u64).div_ceil(1000) });
    }
    Ok(match recent {
        None => WindowChange::Create(vec![link]),
        Some(_) => WindowChange::Edit {
            add: link,
            expired: expired.into_iter().map(|r| r.code_id.clone()).collect(),
        },
    })
}

#[cfg(test)]
mod tests;
