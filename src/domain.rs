//! The rules of the call: who may send a link to whom, what is written, what is sent.
//!
//! Talks to the outside only through the [`crate::store`] and [`crate::mailer`] traits.

use std::time::Duration;

use chrono::Utc;
use tracing::{info, warn};

use crate::error::Error;
use crate::link::{LinkSecret, UrlTemplate};
use crate::mail::{self, LinkMail};
use crate::mailer::Mailer;
use crate::model::{Caller, Details, OrgId, OrgState, UserId, UserKind, UserState};
use crate::permissions::{RolePermissions, USER_WRITE};
use crate::store::{LinkCommit, LinkRevoke, NewLink, SnapshotRead};

/// How often a write that lost a sequence race is re-read and retried before answering
/// `Aborted`: enough for bursts of concurrent admin actions on one user, bounded so a hot
/// user cannot hold a Lambda for long.
pub const MAX_COMMIT_ATTEMPTS: usize = 5;

/// A validated request: the HTTP adapter has established every field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendLink {
    pub caller: Caller,
    pub target_org: OrgId,
    pub user_id: UserId,
}

/// The link settings the domain applies to every call.
#[derive(Debug, Clone)]
pub struct LinkPolicy {
    pub url_template: UrlTemplate,
    pub lifetime: Duration,
    pub permissions: RolePermissions,
}

pub struct PasskeyLinks<S, M> {
    pub store: S,
    pub mailer: M,
    pub policy: LinkPolicy,
}

impl<S, M> PasskeyLinks<S, M>
where
    S: SnapshotRead + LinkCommit + LinkRevoke + Sync,
    M: Mailer + Sync,
{
    pub async fn send_link(&self, cmd: &SendLink) -> Result<Details, Error> {
        for attempt in 1..=MAX_COMMIT_ATTEMPTS {
            match self.try_send_link(cmd).await {
                Err(Error::Conflict) if attempt < MAX_COMMIT_ATTEMPTS => {
                    info!(attempt, "sequence conflict, re-reading the user");
                }
                outcome => return outcome,
            }
        }
        Err(Error::Conflict)
    }

    async fn try_send_link(&self, cmd: &SendLink) -> Result<Details, Error> {
        let snap = self
            .store
            .read_snapshot(&cmd.caller.user_id, &cmd.target_org, &cmd.user_id)
            .await?;

        // Permission first, so a caller without it learns nothing about the org or its users.
        if !self
            .policy
            .permissions
            .grants(&snap.instance_roles, &snap.org_roles, USER_WRITE)
        {
            return Err(Error::PermissionDenied);
        }
        let org = snap.org.ok_or(Error::OrgNotFound)?;
        if org.state != OrgState::Active {
            return Err(Error::OrgInactive);
        }
        let user = snap
            .user
            .filter(|u| u.org_id == cmd.target_org)
            .ok_or(Error::UserNotFound)?;
        if user.state == UserState::Deleted {
            return Err(Error::UserNotFound);
        }
        if user.kind == UserKind::Machine {
            return Err(Error::MachineUser);
        }
        if !matches!(user.state, UserState::Active | UserState::Initial) {
            return Err(Error::UserNotActive);
        }
        let email = user
            .email
            .as_deref()
            .filter(|e| !e.is_empty())
            .ok_or(Error::UserWithoutEmail)?;

        let secret = LinkSecret::generate().map_err(|e| Error::Internal(format!("CSPRNG: {e}")))?;
        let now = Utc::now();
        let lifetime = chrono::Duration::from_std(self.policy.lifetime)
            .map_err(|e| Error::Internal(format!("lifetime: {e}")))?;
        let link = NewLink {
            user_id: user.id.clone(),
            org_id: cmd.target_org.clone(),
            code_id: uuid::Uuid::new_v4().to_string(),
            code_hash: secret.hash(),
            created_at: now,
            expires_at: now + lifetime,
            previous_sequence: user.sequence,
            sequence: user.sequence + 1,
            requested_by: cmd.caller.user_id.clone(),
        };
        self.store.commit_link(&link).await?;

        let url =
            self.policy
                .url_template
                .render(&link.user_id, &link.org_id, &link.code_id, &secret);
        let message = mail::render(&LinkMail {
            to: email,
            display_name: user.display_name.as_deref(),
            link: &url,
            lifetime: self.policy.lifetime,
        });
        match self.mailer.send(&message).await {
            Ok(message_id) => {
                info!(code_id = %link.code_id, sequence = link.sequence, %message_id, "passkey link sent");
            }
            Err(e) => {
                warn!(code_id = %link.code_id, error = %e, "mail not sent, revoking the link");
                if let Err(revoke) = self.store.revoke_link(&link).await {
                    // The link stays stored but its secret was never delivered to anyone,
                    // and it expires by itself.
                    warn!(code_id = %link.code_id, error = %revoke, "revoking the unsent link failed");
                }
                return Err(e.into());
            }
        }

        Ok(Details {
            sequence: link.sequence,
            event_date: now,
            resource_owner: link.org_id,
        })
    }
}
