//! ZITADEL's text API for the passwordless registration message: management
//! (`/management/v1/text/...`, the organisation of `x-zitadel-orgid` or the caller's) and
//! admin (`/admin/v1/text/...`, the instance), over REST (the language in the path) and over
//! Connect as ZITADEL's SDKs call them (the language in the body).

use serde_json::{json, Map, Value};

use super::family::Family;
use super::user_v2::set;
use super::Call;
use crate::domain::PasskeyLinks;
use crate::error::Error;
use crate::event::percent_decode;
use crate::mailer::Mailer;
use crate::message_text::{shorten, MessageText, FIELDS};
use crate::store::Store;
use crate::texts::{TextApi, TextRequest};

/// What a text route does, in the management or the admin service (ZITADEL's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextCall {
    /// GetDefaultPasswordlessRegistrationMessageText
    GetDefault,
    /// GetCustomPasswordlessRegistrationMessageText
    GetCustom,
    /// SetCustomPasswordlessRegistrationMessageCustomText (management),
    /// SetDefaultPasswordlessRegistrationMessageText (admin)
    Set,
    /// ResetCustomPasswordlessRegistrationMessageTextToDefault
    Reset,
}

pub(super) async fn handle<S: Store, M: Mailer + Sync>(
    links: &PasskeyLinks<S, M>,
    call: &Call<'_>,
    admin: bool,
    what: TextCall,
    family: Family,
) -> Result<Value, Error> {
    let api = if admin { TextApi::Admin } else { TextApi::Management(call.target_org()?) };
    let body = call.body()?;
    let language = match family {
        Family::Connect => {
            call.connect_version()?;
            match set(&body, "language", "language")? {
                None => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(_) => return Err(Error::InvalidLanguage("language must be a string".into())),
            }
        }
        Family::Rest | Family::Page => {
            // The router names an empty segment `%`: an empty language, not a broken escape.
            match call.params.get("language").map(String::as_str).unwrap_or_default() {
                "%" => String::new(),
                raw => percent_decode(raw)
                    .ok_or_else(|| Error::InvalidLanguage("not valid percent-encoding".into()))?,
            }
        }
    };
    let req = TextRequest { caller: call.caller.clone(), api, language };
    Ok(match what {
        TextCall::GetDefault => json!({ "customText": links.default_text(&req).await? }),
        TextCall::GetCustom => json!({ "customText": links.custom_text(&req).await? }),
        TextCall::Set => json!({ "details": links.set_custom_text(&req, message_text(&body)?).await? }),
        TextCall::Reset => json!({ "details": links.reset_custom_text(&req).await? }),
    })
}

/// The PUT body's fields, by JSON or proto name (ZITADEL's `SetCustom...Request`). The path's
/// `language` wins over the body's (as grpc-gateway fills path parameters last). Any other
/// field is refused before anything is read or written: the text becomes exactly the fields
/// given, so a misspelt one (`subjet`) would otherwise remove what was set.
fn message_text(body: &Map<String, Value>) -> Result<MessageText, Error> {
    if let Some(unknown) = body.keys().find(|k| !known_field(k)) {
        return Err(Error::InvalidText(format!(
            "{:?} is not a field of this message text; the fields are language, {}",
            shorten(unknown),
            FIELDS.map(|f| f.name).join(", ")
        )));
    }
    if body.get("language").is_some_and(|l| !l.is_null() && !l.is_string()) {
        return Err(Error::InvalidLanguage("language must be a string".into()));
    }
    let field = |json_name: &str, proto_name: &str| -> Result<Option<String>, Error> {
        match set(body, json_name, proto_name)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Error::InvalidText(format!("{json_name} must be a string"))),
        }
    };
    Ok(MessageText {
        title: field("title", "title")?,
        pre_header: field("preHeader", "pre_header")?,
        subject: field("subject", "subject")?,
        greeting: field("greeting", "greeting")?,
        text: field("text", "text")?,
        button_text: field("buttonText", "button_text")?,
        footer_text: field("footerText", "footer_text")?,
    })
}

/// `language` and the text's fields, by JSON or proto name.
fn known_field(name: &str) -> bool {
    const PROTO_NAMES: [&str; 3] = ["pre_header", "button_text", "footer_text"];
    name == "language" || FIELDS.iter().any(|f| f.name == name) || PROTO_NAMES.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn fields_by_json_or_proto_name_strings_only() {
        let text = message_text(&body(json!({"pre_header":"p","buttonText":"b","language":"xx"}))).unwrap();
        assert_eq!(text.pre_header.as_deref(), Some("p"));
        assert_eq!(text.button_text.as_deref(), Some("b"));
        assert!(matches!(message_text(&body(json!({"title":5}))), Err(Error::InvalidText(_))));
        assert!(matches!(
            message_text(&body(json!({"footerText":"a","footer_text":"b"}))),
            Err(Error::InvalidField(_))
        ));
    }

    #[test]
    fn unknown_fields_are_named_and_refused() {
        let Err(Error::InvalidText(reason)) = message_text(&body(json!({"subject":"a","subjet":"x"}))) else {
            panic!("accepted");
        };
        assert!(reason.starts_with("\"subjet\" is not a field"), "{reason}");
        assert!(reason.ends_with("buttonText, footerText"), "{reason}");
        assert!(matches!(message_text(&body(json!({"language":5}))), Err(Error::InvalidLanguage(_))));
    }
}
