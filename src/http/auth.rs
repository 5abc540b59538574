//! ZITADEL's auth API v1 (`/auth/v1/users/me/...`): the caller acts on their own user, in
//! their own organisation, with no permission needed.

use serde_json::Value;

use super::management::v1_answer;
use super::Call;
use crate::domain::{Authority, CreateLink, Delivery, LinkTarget, PasskeyLinks, Scope};
use crate::error::Error;
use crate::mailer::Mailer;
use crate::store::Store;

/// `POST /auth/v1/users/me/passwordless/_send_link` (mail) and `.../_link` (returned).
pub(super) async fn create_my_link<S: Store, M: Mailer + Sync>(
    links: &PasskeyLinks<S, M>,
    call: &Call<'_>,
    delivery: Delivery,
) -> Result<Value, Error> {
    call.body()?;
    let cmd = CreateLink {
        target: LinkTarget {
            caller: call.caller.clone(),
            // The org header means nothing here: a user lives in exactly one organisation.
            scope: Scope::Org(call.caller.org_id.clone()),
            user_id: call.caller.user_id.clone(),
            authority: Authority::OwnUser,
        },
        delivery,
    };
    Ok(v1_answer(links.create_link(&cmd).await?))
}
