//! ZITADEL's auth API v1 (`/auth/v1/users/me/...`): the caller acts on their own user, in
//! their own organisation, with no permission needed.

use serde_json::{json, Value};

use super::management::link_response;
use super::Call;
use crate::domain::{Authority, CreateLink, Delivery, PasskeyLinks, Scope};
use crate::error::Error;
use crate::mailer::Mailer;
use crate::store::{LinkCommit, LinkRevoke, LinkSent, SnapshotRead};

/// `POST /auth/v1/users/me/passwordless/_send_link`: mails the link to the caller.
pub(super) async fn send_my_passwordless_link<S, M>(
    links: &PasskeyLinks<S, M>,
    call: &Call<'_>,
) -> Result<Value, Error>
where
    S: SnapshotRead + LinkCommit + LinkSent + LinkRevoke + Sync,
    M: Mailer + Sync,
{
    let created = links.create_link(&command(call, Delivery::Mail(None))?).await?;
    Ok(json!({ "details": created.details }))
}

/// `POST /auth/v1/users/me/passwordless/_link`: answers the caller's link, mails nothing.
pub(super) async fn add_my_passwordless_link<S, M>(
    links: &PasskeyLinks<S, M>,
    call: &Call<'_>,
) -> Result<Value, Error>
where
    S: SnapshotRead + LinkCommit + LinkSent + LinkRevoke + Sync,
    M: Mailer + Sync,
{
    let created = links.create_link(&command(call, Delivery::Return)?).await?;
    link_response(created)
}

fn command(call: &Call<'_>, delivery: Delivery) -> Result<CreateLink, Error> {
    call.body()?;
    Ok(CreateLink {
        caller: call.caller.clone(),
        // The org header means nothing here: a user lives in exactly one organisation.
        scope: Scope::Org(call.caller.org_id.clone()),
        user_id: call.caller.user_id.clone(),
        authority: Authority::OwnUser,
        delivery,
    })
}
