//! ZITADEL's management API v1 (`/management/v1/...`): acts in the organisation the
//! `x-zitadel-orgid` header names, else in the caller's own.

use serde_json::{json, Value};

use super::Call;
use crate::domain::{Authority, CreateLink, CreatedLink, Delivery, PasskeyLinks, Scope};
use crate::error::Error;
use crate::mailer::Mailer;
use crate::permissions::{USER_CREDENTIAL_WRITE, USER_WRITE};
use crate::store::{LinkCommit, LinkRevoke, LinkSent, SnapshotRead};

/// `POST /management/v1/users/{userId}/passwordless/_send_link`: mails the link.
pub(super) async fn send_passwordless_registration<S, M>(
    links: &PasskeyLinks<S, M>,
    call: &Call<'_>,
) -> Result<Value, Error>
where
    S: SnapshotRead + LinkCommit + LinkSent + LinkRevoke + Sync,
    M: Mailer + Sync,
{
    let created = links.create_link(&command(call, USER_WRITE, Delivery::Mail(None))?).await?;
    Ok(json!({ "details": created.details }))
}

/// `POST /management/v1/users/{userId}/passwordless/_link`: answers the link, mails nothing.
pub(super) async fn add_passwordless_registration<S, M>(
    links: &PasskeyLinks<S, M>,
    call: &Call<'_>,
) -> Result<Value, Error>
where
    S: SnapshotRead + LinkCommit + LinkSent + LinkRevoke + Sync,
    M: Mailer + Sync,
{
    let created = links.create_link(&command(call, USER_CREDENTIAL_WRITE, Delivery::Return)?).await?;
    link_response(created)
}

fn command(call: &Call<'_>, permission: &'static str, delivery: Delivery) -> Result<CreateLink, Error> {
    let user_id = call.path_user_id()?;
    let org = call.target_org()?;
    // The request message has no fields besides the path's: the body only has to be valid.
    call.body()?;
    Ok(CreateLink {
        caller: call.caller.clone(),
        scope: Scope::Org(org),
        user_id,
        authority: Authority::Permission(permission),
        delivery,
    })
}

/// v1's answer to a returned link: `{"details", "link", "expiration": "3600s"}`.
pub(super) fn link_response(created: CreatedLink) -> Result<Value, Error> {
    let returned = created.returned.ok_or_else(|| Error::Internal("returned link missing".into()))?;
    Ok(json!({
        "details": created.details,
        "link": returned.url,
        "expiration": format!("{}s", created.lifetime.as_secs()),
    }))
}
