//! ZITADEL's passkey calls: v2's RegisterPasskey, VerifyPasskeyRegistration, ListPasskeys and
//! RemovePasskey (REST and Connect), and v1 management's passwordless `_search` and DELETE.

use chrono::SecondsFormat;
use serde_json::{json, Map, Value};

use super::family::Family;
use super::user_v2::{set, user_and_body};
use super::Call;
use crate::ceremony::Attachment;
use crate::domain::{Authority, LinkTarget, PasskeyLinks, Scope};
use crate::error::{Error, FieldProblem};
use crate::event::percent_decode;
use crate::mailer::Mailer;
use crate::permissions::{USER_CREDENTIAL_WRITE, USER_READ};
use crate::registration::{Actor, BeginRegistration, CodeProof, FinishRegistration};
use crate::store::{Store, StoredPasskey};

/// `POST /v2/users/{userId}/passkeys`: `{"code"?:{"id","code"}, "authenticator"?, "domain"?}`.
pub(super) async fn register_passkey<S: Store, M: Mailer + Sync>(
    links: &PasskeyLinks<S, M>,
    call: &Call<'_>,
    family: Family,
) -> Result<Value, Error> {
    let (user_id, body) = user_and_body(call, family)?;
    let begun = links
        .begin_registration(&BeginRegistration {
            actor: Actor::Caller(call.caller.clone()),
            user_id,
            code: code(&body)?,
            attachment: attachment(&body)?,
            domain: match set(&body, "domain", "domain")? {
                None => None,
                Some(Value::String(d)) => Some(d.clone()),
                Some(_) => return Err(Error::InvalidField(FieldProblem::Domain)),
            },
        })
        .await?;
    Ok(json!({
        "details": begun.details.v2_json(),
        "passkeyId": begun.passkey_id,
        "publicKeyCredentialCreationOptions": begun.options,
    }))
}

/// `POST /v2/users/{userId}/passkeys/{passkeyId}`: `{"publicKeyCredential", "passkeyName"}`.
pub(super) async fn verify_passkey_registration<S: Store, M: Mailer + Sync>(
    links: &PasskeyLinks<S, M>,
    call: &Call<'_>,
    family: Family,
) -> Result<Value, Error> {
    let (user_id, body) = user_and_body(call, family)?;
    let passkey_id = passkey_id(call, &body, family, Error::CeremonyNotFound)?;
    let (credential, name) = credential_and_name(&body)?;
    let details = links
        .finish_registration(&FinishRegistration {
            actor: Actor::Caller(call.caller.clone()),
            user_id,
            passkey_id,
            credential,
            name,
            code: None,
        })
        .await?;
    Ok(json!({ "details": details.v2_json() }))
}

/// `POST /v2/users/{userId}/passkeys/_search`: the user's passkeys (`user.read` or the user).
pub(super) async fn list_passkeys<S: Store, M: Mailer + Sync>(
    links: &PasskeyLinks<S, M>,
    call: &Call<'_>,
    family: Family,
) -> Result<Value, Error> {
    let (user_id, _) = user_and_body(call, family)?;
    let target = v2_target(call, user_id, Authority::PermissionOrSelf(USER_READ));
    let listed = links.list_passkeys(&target).await?;
    let mut details = Map::new();
    // uint64 as a decimal string; protobuf JSON omits zeros and empty lists.
    for (name, value) in
        [("totalResult", listed.passkeys.len() as u64), ("processedSequence", listed.sequence)]
    {
        if value != 0 {
            details.insert(name.into(), value.to_string().into());
        }
    }
    details.insert("timestamp".into(), listed.at.to_rfc3339_opts(SecondsFormat::Millis, true).into());
    let mut answer = json!({ "details": details });
    if let Some(result) = result_json(&listed.passkeys) {
        answer["result"] = result;
    }
    Ok(answer)
}

/// `DELETE /v2/users/{userId}/passkeys/{passkeyId}` (`user.credential.write` or the user: a
/// user manager must not strip an owner of the keys it signs in with).
pub(super) async fn remove_passkey<S: Store, M: Mailer + Sync>(
    links: &PasskeyLinks<S, M>,
    call: &Call<'_>,
    family: Family,
) -> Result<Value, Error> {
    let (user_id, body) = user_and_body(call, family)?;
    let passkey_id = passkey_id(call, &body, family, Error::PasskeyNotFound)?;
    let target = v2_target(call, user_id, Authority::PermissionOrSelf(USER_CREDENTIAL_WRITE));
    let details = links.remove_passkey(&target, &passkey_id).await?;
    Ok(json!({ "details": details.v2_json() }))
}

/// `POST /management/v1/users/{userId}/passwordless/_search` (`user.read` in the org).
pub(super) async fn list_human_passwordless<S: Store, M: Mailer + Sync>(
    links: &PasskeyLinks<S, M>,
    call: &Call<'_>,
) -> Result<Value, Error> {
    let target = v1_target(call, USER_READ)?;
    call.body()?;
    let listed = links.list_passkeys(&target).await?;
    // v1 answers no list details here, as ZITADEL does.
    Ok(result_json(&listed.passkeys).map_or_else(|| json!({}), |result| json!({ "result": result })))
}

/// `DELETE /management/v1/users/{userId}/passwordless/{tokenId}` (`user.credential.write` in
/// the org, as v2's RemovePasskey).
pub(super) async fn remove_human_passwordless<S: Store, M: Mailer + Sync>(
    links: &PasskeyLinks<S, M>,
    call: &Call<'_>,
) -> Result<Value, Error> {
    let target = v1_target(call, USER_CREDENTIAL_WRITE)?;
    call.body()?;
    let token_id =
        call.params.get("tokenId").and_then(|raw| percent_decode(raw)).ok_or(Error::PasskeyNotFound)?;
    let details = links.remove_passkey(&target, &token_id).await?;
    Ok(json!({ "details": details.v1_changed_json() }))
}

/// The passkeys as ZITADEL's `Passkey` (v2) and `WebAuthNToken` (v1), the same three fields;
/// none for an empty list, which protobuf JSON omits.
fn result_json(passkeys: &[StoredPasskey]) -> Option<Value> {
    let result: Vec<Value> = passkeys
        .iter()
        .map(|p| json!({ "id": p.id, "state": "AUTH_FACTOR_STATE_READY", "name": p.name }))
        .collect();
    (!result.is_empty()).then(|| result.into())
}

fn v2_target(call: &Call<'_>, user_id: crate::model::UserId, authority: Authority) -> LinkTarget {
    LinkTarget { caller: call.caller.clone(), scope: Scope::UsersOrg, user_id, authority }
}

fn v1_target(call: &Call<'_>, permission: &'static str) -> Result<LinkTarget, Error> {
    Ok(LinkTarget {
        caller: call.caller.clone(),
        scope: Scope::Org(call.target_org()?),
        user_id: call.path_user_id()?,
        authority: Authority::Permission(permission),
    })
}

/// The passkey id: from the path over REST, from the body over Connect. A path id that does not
/// decode names nothing: `unknown` says what the call found no such thing of.
fn passkey_id(
    call: &Call<'_>,
    body: &Map<String, Value>,
    family: Family,
    unknown: Error,
) -> Result<String, Error> {
    match family {
        Family::Connect => match set(body, "passkeyId", "passkey_id")? {
            Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
            _ => Err(Error::InvalidField(FieldProblem::PasskeyIdMissing)),
        },
        _ => call.params.get("passkeyId").and_then(|raw| percent_decode(raw)).ok_or(unknown),
    }
}

/// `code`: `{"id","code"}`, both strings, or unset.
pub(super) fn code(body: &Map<String, Value>) -> Result<Option<CodeProof>, Error> {
    let bad = Error::InvalidField(FieldProblem::Code);
    match set(body, "code", "code")? {
        None => Ok(None),
        Some(Value::Object(code)) => match (code.get("id"), code.get("code")) {
            (Some(Value::String(id)), Some(Value::String(code))) if !id.is_empty() && !code.is_empty() => {
                Ok(Some(CodeProof { id: id.clone(), code: code.clone() }))
            }
            _ => Err(bad),
        },
        Some(_) => Err(bad),
    }
}

/// `authenticator`: the enum by name or number, as protobuf JSON allows.
fn attachment(body: &Map<String, Value>) -> Result<Attachment, Error> {
    match set(body, "authenticator", "authenticator")? {
        None => Ok(Attachment::Any),
        Some(v) => match (v.as_str(), v.as_i64()) {
            (Some("PASSKEY_AUTHENTICATOR_UNSPECIFIED"), _) | (_, Some(0)) => Ok(Attachment::Any),
            (Some("PASSKEY_AUTHENTICATOR_PLATFORM"), _) | (_, Some(1)) => Ok(Attachment::Platform),
            (Some("PASSKEY_AUTHENTICATOR_CROSS_PLATFORM"), _) | (_, Some(2)) => Ok(Attachment::CrossPlatform),
            _ => Err(Error::InvalidField(FieldProblem::Authenticator)),
        },
    }
}

/// `publicKeyCredential` (an object) and `passkeyName` (a string; the domain checks it).
pub(super) fn credential_and_name(body: &Map<String, Value>) -> Result<(Value, String), Error> {
    let credential = match set(body, "publicKeyCredential", "public_key_credential")? {
        Some(v @ Value::Object(_)) => v.clone(),
        _ => return Err(Error::InvalidField(FieldProblem::PublicKeyCredential)),
    };
    let name = passkey_name(body)?.ok_or(Error::InvalidField(FieldProblem::PasskeyName))?;
    Ok((credential, name))
}

/// `passkeyName` if set: a string (the domain checks it).
pub(super) fn passkey_name(body: &Map<String, Value>) -> Result<Option<String>, Error> {
    match set(body, "passkeyName", "passkey_name")? {
        None => Ok(None),
        Some(Value::String(name)) => Ok(Some(name.clone())),
        Some(_) => Err(Error::InvalidField(FieldProblem::PasskeyName)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: Value) -> Map<String, Value> {
        json.as_object().unwrap().clone()
    }

    #[test]
    fn fields_read_as_protobuf_json_does() {
        assert_eq!(code(&body(json!({}))).unwrap(), None);
        assert_eq!(
            code(&body(json!({"code":{"id":"c1","code":"s"}}))).unwrap(),
            Some(CodeProof { id: "c1".into(), code: "s".into() })
        );
        for bad in [
            json!({"code":"x"}),
            json!({"code":{"id":"c1"}}),
            json!({"code":{"id":1,"code":"s"}}),
            json!({"code":{"id":"","code":"s"}}),
        ] {
            assert!(matches!(code(&body(bad)), Err(Error::InvalidField(FieldProblem::Code))));
        }
        assert_eq!(
            attachment(&body(json!({"authenticator":"PASSKEY_AUTHENTICATOR_PLATFORM"}))).unwrap(),
            Attachment::Platform
        );
        assert_eq!(attachment(&body(json!({"authenticator":2}))).unwrap(), Attachment::CrossPlatform);
        assert_eq!(attachment(&body(json!({"authenticator":null}))).unwrap(), Attachment::Any);
        assert!(attachment(&body(json!({"authenticator":"PLATFORM"}))).is_err());
        assert!(credential_and_name(&body(json!({"publicKeyCredential":{},"passkey_name":"Phone"}))).is_ok());
        assert!(credential_and_name(&body(json!({"publicKeyCredential":"x","passkeyName":"Phone"}))).is_err());
        assert!(credential_and_name(&body(json!({"publicKeyCredential":{}}))).is_err());
    }
}
