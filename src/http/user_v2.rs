//! ZITADEL's user service v2, over REST (`/v2/users/{userId}/...`) and over Connect
//! (`/zitadel.user.v2.UserService/...`, the user id in the body). v2 has no org header: a
//! user is found wherever it lives, and permissions count in its organisation.

use chrono::SecondsFormat;
use serde_json::{json, Map, Value};

use super::family::Family;
use super::Call;
use crate::delivery::DeliveryStatus;
use crate::domain::{Authority, CreateLink, Delivery, LinkTarget, PasskeyLinks, Scope};
use crate::error::{Error, FieldProblem};
use crate::event::percent_decode;
use crate::link::UrlTemplate;
use crate::mailer::Mailer;
use crate::model::UserId;
use crate::permissions::{USER_CREDENTIAL_WRITE, USER_PASSKEY_WRITE, USER_WRITE};
use crate::store::Store;

/// CreatePasskeyRegistrationLink: `{"sendLink":{"urlTemplate"?}}` mails the link (the
/// default when no medium is set), `{"returnCode":{}}` answers the code instead.
pub(super) async fn create_passkey_registration_link<S, M>(
    links: &PasskeyLinks<S, M>,
    call: &Call<'_>,
    family: Family,
) -> Result<Value, Error>
where
    S: Store,
    M: Mailer + Sync,
{
    let (user_id, body) = user_and_body(call, family)?;
    let delivery = medium(&body)?;
    let created = links
        .create_link(&CreateLink {
            target: LinkTarget {
                caller: call.caller.clone(),
                scope: Scope::UsersOrg,
                user_id,
                authority: Authority::PermissionOrSelf(permission_for(&delivery)),
            },
            delivery,
        })
        .await?;
    let mut answer = json!({ "details": created.details.v2_json() });
    if let Some(returned) = created.returned {
        answer["code"] = json!({ "id": created.code_id, "code": returned.code.expose() });
    }
    Ok(answer)
}

/// `POST /v2/users/{userId}/passkeys/registration_links/_search`: the user's outstanding
/// links, oldest first; never a code or its hash. (ZITADEL has no such call; shaped as its v2
/// list calls are.)
pub(super) async fn list_registration_links<S: Store, M: Mailer + Sync>(
    links: &PasskeyLinks<S, M>,
    call: &Call<'_>,
) -> Result<Value, Error> {
    let target = links_target(call)?;
    // The body may carry list options later; today any object lists everything.
    call.body()?;
    let (outstanding, at) = links.list_links(&target).await?;
    let result: Vec<Value> = outstanding
        .iter()
        .map(|l| {
            let mut link = json!({
                "id": l.code_id,
                "creationDate": l.created_at,
                "expirationDate": epoch_rfc3339(l.expires_at),
                "creator": l.requested_by,
                "delivery": match l.delivery.as_str() {
                    "returned" => "REGISTRATION_LINK_DELIVERY_RETURNED",
                    _ => "REGISTRATION_LINK_DELIVERY_MAIL",
                },
                "state": "REGISTRATION_LINK_STATE_ACTIVE",
            });
            if let Some(message_id) = &l.message_id {
                link["messageId"] = message_id.as_str().into();
            }
            if l.delivery != "returned" {
                link["mailDelivery"] = mail_delivery_json(l.mail_delivery.as_ref());
            }
            link
        })
        .collect();
    Ok(json!({
        "details": {
            "totalResult": result.len().to_string(),
            "timestamp": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        },
        "result": result,
    }))
}

/// What SES reported about a link's mail, as v2 shapes enums: `ACCEPTED` until the first
/// event (SES took the mail; without delivery feedback it stays so).
fn mail_delivery_json(status: Option<&DeliveryStatus>) -> Value {
    let Some(status) = status else {
        return json!({ "state": "MAIL_DELIVERY_STATE_ACCEPTED" });
    };
    let mut out = json!({
        "state": format!("MAIL_DELIVERY_STATE_{}", status.state.name().to_ascii_uppercase()),
        "changeDate": status.at,
    });
    for (name, value) in [
        ("bounceType", &status.bounce_type),
        ("bounceSubType", &status.bounce_sub_type),
        ("diagnostic", &status.diagnostic),
    ] {
        if let Some(value) = value {
            out[name] = value.as_str().into();
        }
    }
    out
}

/// `DELETE /v2/users/{userId}/passkeys/registration_links/{codeId}` (one) and
/// `DELETE /v2/users/{userId}/passkeys/registration_links` (all outstanding).
pub(super) async fn revoke_registration_links<S: Store, M: Mailer + Sync>(
    links: &PasskeyLinks<S, M>,
    call: &Call<'_>,
) -> Result<Value, Error> {
    let target = links_target(call)?;
    call.body()?;
    let code_id = match call.params.get("codeId") {
        None => None,
        Some(raw) => Some(percent_decode(raw).ok_or(Error::LinkNotFound)?),
    };
    let details = links.revoke_links(&target, code_id.as_deref()).await?;
    Ok(json!({ "details": details.v2_json() }))
}

/// Links as objects need `user.write` in the user's organisation, wherever it lives.
fn links_target(call: &Call<'_>) -> Result<LinkTarget, Error> {
    Ok(LinkTarget {
        caller: call.caller.clone(),
        scope: Scope::UsersOrg,
        user_id: call.path_user_id()?,
        authority: Authority::Permission(USER_WRITE),
    })
}

fn epoch_rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// `user.passkey.write` lets a caller have the link mailed to the user's own address. A code
/// in the caller's hands (`returnCode`), or a link pointing wherever the caller chose
/// (`urlTemplate`), lets whoever holds it register a passkey for the user: that takes
/// `user.credential.write`, as v1's `_link` does. (ZITADEL asks only for `user.passkey.write`,
/// which its user managers hold: a user manager could take over an instance owner's account.)
fn permission_for(delivery: &Delivery) -> &'static str {
    match delivery {
        Delivery::Mail(None) => USER_PASSKEY_WRITE,
        Delivery::Mail(Some(_)) | Delivery::Return => USER_CREDENTIAL_WRITE,
    }
}

/// The target user (from the path over REST, from the body over Connect) and the body.
pub(super) fn user_and_body(call: &Call<'_>, family: Family) -> Result<(UserId, Map<String, Value>), Error> {
    match family {
        Family::Rest | Family::Page => {
            let user_id = call.path_user_id()?;
            Ok((user_id, call.body()?))
        }
        Family::Connect => {
            call.connect_version()?;
            let body = call.body()?;
            let user_id = match set(&body, "userId", "user_id")? {
                None => return Err(Error::InvalidField(FieldProblem::UserIdMissing)),
                Some(Value::String(raw)) if raw.is_empty() => {
                    return Err(Error::InvalidField(FieldProblem::UserIdMissing))
                }
                Some(Value::String(raw)) => UserId::parse(raw).ok_or(Error::InvalidUserId)?,
                Some(_) => return Err(Error::InvalidUserId),
            };
            Ok((user_id, body))
        }
    }
}

/// A field that is set, by its JSON name or its proto name (protobuf JSON accepts both;
/// both at once is an error); `null` is unset.
pub(super) fn set<'a>(
    body: &'a Map<String, Value>,
    json_name: &str,
    proto_name: &str,
) -> Result<Option<&'a Value>, Error> {
    let get = |name: &str| body.get(name).filter(|v| !v.is_null());
    if json_name == proto_name {
        return Ok(get(json_name));
    }
    match (get(json_name), get(proto_name)) {
        (Some(_), Some(_)) => Err(Error::InvalidField(FieldProblem::SameFieldTwice)),
        (json, proto) => Ok(json.or(proto)),
    }
}

/// The `medium` oneof.
fn medium(body: &Map<String, Value>) -> Result<Delivery, Error> {
    match (set(body, "sendLink", "send_link")?, set(body, "returnCode", "return_code")?) {
        (Some(_), Some(_)) => Err(Error::InvalidField(FieldProblem::MediumConflict)),
        (Some(Value::Object(send)), None) => match set(send, "urlTemplate", "url_template")? {
            None => Ok(Delivery::Mail(None)),
            Some(Value::String(raw)) => UrlTemplate::from_request(raw)
                .map(|t| Delivery::Mail(Some(t)))
                .map_err(Error::InvalidUrlTemplate),
            Some(_) => Err(Error::InvalidField(FieldProblem::UrlTemplateNotString)),
        },
        (Some(_), None) => Err(Error::InvalidField(FieldProblem::SendLinkNotObject)),
        (None, Some(Value::Object(_))) => Ok(Delivery::Return),
        (None, Some(_)) => Err(Error::InvalidField(FieldProblem::ReturnCodeNotObject)),
        (None, None) => Ok(Delivery::Mail(None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: Value) -> Map<String, Value> {
        json.as_object().unwrap().clone()
    }

    #[test]
    fn the_medium_oneof_reads_as_protobuf_json_does() {
        assert_eq!(medium(&body(json!({}))).unwrap(), Delivery::Mail(None));
        assert_eq!(medium(&body(json!({"sendLink":{}}))).unwrap(), Delivery::Mail(None));
        assert_eq!(medium(&body(json!({"sendLink":null,"returnCode":{}}))).unwrap(), Delivery::Return);
        assert!(matches!(
            medium(&body(json!({"sendLink":{"urlTemplate":"https://a.example/{{.Code}}"}}))).unwrap(),
            Delivery::Mail(Some(_))
        ));
        let problem = |json| match medium(&body(json)) {
            Err(Error::InvalidField(p)) => Some(p),
            _ => None,
        };
        assert_eq!(problem(json!({"sendLink":{},"returnCode":{}})), Some(FieldProblem::MediumConflict));
        assert_eq!(problem(json!({"sendLink":"x"})), Some(FieldProblem::SendLinkNotObject));
        assert_eq!(problem(json!({"sendLink":{"urlTemplate":5}})), Some(FieldProblem::UrlTemplateNotString));
        assert_eq!(problem(json!({"returnCode":true})), Some(FieldProblem::ReturnCodeNotObject));
        // Proto names too, as protobuf JSON reads them; one field under both names is refused.
        assert_eq!(medium(&body(json!({"return_code":{}}))).unwrap(), Delivery::Return);
        assert!(matches!(
            medium(&body(json!({"send_link":{"url_template":"https://a.example/{{.Code}}"}}))).unwrap(),
            Delivery::Mail(Some(_))
        ));
        assert_eq!(problem(json!({"returnCode":{},"return_code":{}})), Some(FieldProblem::SameFieldTwice));
        assert!(matches!(
            medium(&body(json!({"sendLink":{"urlTemplate":"http://a.example/{{.Code}}"}}))),
            Err(Error::InvalidUrlTemplate(_))
        ));
    }
}
