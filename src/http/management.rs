//! ZITADEL's management API v1 (`/management/v1/...`): acts in the organisation the
//! `x-zitadel-orgid` header names, else in the caller's own.

use serde_json::{json, Value};

use super::Call;
use crate::domain::{Authority, CreateLink, CreatedLink, Delivery, LinkTarget, PasskeyLinks, Scope};
use crate::error::Error;
use crate::mailer::Mailer;
use crate::store::Store;

/// `POST /management/v1/users/{userId}/passwordless/_send_link` (mail, `user.write`) and
/// `.../_link` (returned, `user.credential.write`).
pub(super) async fn create_link<S: Store, M: Mailer + Sync>(
    links: &PasskeyLinks<S, M>,
    call: &Call<'_>,
    permission: &'static str,
    delivery: Delivery,
) -> Result<Value, Error> {
    let user_id = call.path_user_id()?;
    let org = call.target_org()?;
    // The request message has no fields besides the path's: the body only has to be valid.
    call.body()?;
    let cmd = CreateLink {
        target: LinkTarget {
            caller: call.caller.clone(),
            scope: Scope::Org(org),
            user_id,
            authority: Authority::Permission(permission),
        },
        delivery,
    };
    Ok(v1_answer(links.create_link(&cmd).await?))
}

/// v1's answer: `{"details"}` for a mailed link, `{"details", "link", "expiration": "3600s"}`
/// for a returned one; the details of an addition, as ZITADEL's (no `changeDate`).
pub(super) fn v1_answer(created: CreatedLink) -> Value {
    let details = created.details.v1_added_json();
    match created.returned {
        None => json!({ "details": details }),
        Some(returned) => json!({
            "details": details,
            "link": returned.url,
            "expiration": format!("{}s", created.lifetime.as_secs()),
        }),
    }
}
