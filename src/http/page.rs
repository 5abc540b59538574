//! The registration page's routes: the page itself (`GET`, the link in the mail), its script
//! and style, and its two anonymous calls. Every answer carries a strict
//! Content-Security-Policy, `Referrer-Policy: no-referrer` (the page's URL holds the code)
//! and, for the page and calls, `Cache-Control: no-store`.

use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::http::HeaderValue;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Map, Value};
use tracing::info;

use super::routes::{Family, Operation, Route};
use super::{failure_response, json_body, json_response, passkeys};
use crate::ceremony::Attachment;
use crate::domain::PasskeyLinks;
use crate::error::{Error, FieldProblem};
use crate::event::Query;
use crate::mailer::Mailer;
use crate::model::UserId;
use crate::page::{PageRenderer, PageState, SCRIPT, STYLE};
use crate::registration::{Actor, BeginRegistration, CodeProof, FinishRegistration, LinkState};
use crate::store::Store;

const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; \
base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub(super) async fn serve<S: Store, M: Mailer + Sync>(
    route: Route,
    links: &PasskeyLinks<S, M>,
    renderer: &PageRenderer,
    req: &Request,
) -> Response<Body> {
    let mut response = match route.operation {
        Operation::PageScript => asset(SCRIPT, "text/javascript; charset=utf-8"),
        Operation::PageStyle => asset(STYLE, "text/css; charset=utf-8"),
        Operation::RegistrationPage => page(links, renderer, req).await,
        Operation::PageBegin | Operation::PageFinish => {
            let outcome = match route.operation {
                Operation::PageBegin => begin(links, req).await,
                _ => finish(links, req).await,
            }
            .map_err(as_unknown_link);
            match outcome {
                Ok(body) => {
                    info!(status = 200, operation = ?route.operation, "done");
                    no_store(json_response(200, &body))
                }
                Err(e) => no_store(failure_response(e, Family::Rest).await),
            }
        }
        _ => failure_response(Error::Internal("not a page route".into()), Family::Rest).await,
    };
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CSP),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A wrong code answers as an unknown link does (it still counted against the link), as the
/// page itself shows both: the anonymous calls tell no one which link ids exist.
fn as_unknown_link(e: Error) -> Error {
    match e {
        Error::CodeInvalid => Error::CodeNotFound,
        other => other,
    }
}

fn asset(body: &'static str, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_owned()));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.headers_mut().insert("cache-control", HeaderValue::from_static("public, max-age=300"));
    response
}

fn no_store(mut response: Response<Body>) -> Response<Body> {
    response.headers_mut().insert("cache-control", HeaderValue::from_static("no-store"));
    response
}

/// `GET /ui/login/login/passwordless/init?userID&orgID&codeID&code`: shows who registers, or
/// why the link cannot be used. Never spends the code (mail scanners open links).
async fn page<S: Store, M: Mailer + Sync>(
    links: &PasskeyLinks<S, M>,
    renderer: &PageRenderer,
    req: &Request,
) -> Response<Body> {
    let query = req.extensions().get::<Query>().cloned().unwrap_or_default();
    let accept = req.headers().get("accept-language").and_then(|v| v.to_str().ok());
    let user_id = query.get("userID").and_then(UserId::parse);
    let proof = match (query.get("codeID"), query.get("code")) {
        (Some(id), Some(code)) if !id.is_empty() && !code.is_empty() => {
            Some(CodeProof { id: id.to_owned(), code: code.to_owned() })
        }
        _ => None,
    };
    let admitted = links
        .admit_page_request(
            &source(req),
            user_id.as_ref().zip(proof.as_ref()).map(|(u, p)| (u, p.id.as_str())),
        )
        .await;
    let (state, user, org, retry) = match (admitted, user_id, proof) {
        (Err(Error::PageRateLimited { retry_after_secs }), _, _) => {
            (PageState::Limited, None, None, Some(retry_after_secs))
        }
        (Err(e), _, _) => return no_store(failure_response(e, Family::Rest).await),
        (Ok(()), Some(user_id), Some(proof)) => match links.view_link(&user_id, &proof).await {
            Ok(view) => {
                let state = match view.state {
                    LinkState::Ready => PageState::Ready,
                    LinkState::Used => PageState::Used,
                    LinkState::Expired => PageState::Expired,
                    LinkState::Unknown => PageState::Unknown,
                    LinkState::Locked => PageState::Locked,
                };
                (state, view.user, view.org, None)
            }
            Err(e) => return no_store(failure_response(e, Family::Rest).await),
        },
        (Ok(()), _, _) => (PageState::Unknown, None, None, None),
    };
    let lang = renderer.language(user.as_ref().and_then(|u| u.preferred_language.as_deref()), accept);
    let display_name =
        user.as_ref().map(|u| u.display_name.clone().or_else(|| u.email.clone()).unwrap_or_default());
    let rendered = renderer.render(
        lang,
        state,
        display_name.as_deref().unwrap_or_default(),
        org.as_ref().map(|o| o.name.as_str()).unwrap_or_default(),
    );
    let html = match rendered {
        Ok(html) => html,
        Err(e) => return no_store(failure_response(Error::Internal(e.to_string()), Family::Rest).await),
    };
    info!(status = state.http_status(), state = state.name(), "page");
    let mut response = Response::new(Body::Text(html));
    *response.status_mut() = lambda_http::http::StatusCode::from_u16(state.http_status())
        .unwrap_or(lambda_http::http::StatusCode::OK);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response.headers_mut().insert("content-language", HeaderValue::from_static(lang));
    if let Some(secs) = retry {
        response.headers_mut().insert("retry-after", secs.into());
    }
    no_store(response)
}

/// The link's user and code from a page call's body: `{"userId","codeId","code"}`.
fn proof_of(body: &Map<String, Value>) -> Result<(UserId, CodeProof), Error> {
    let text = |name: &str| body.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
    let user_id = match text("userId") {
        None => return Err(Error::InvalidField(FieldProblem::UserIdMissing)),
        Some(raw) => UserId::parse(raw).ok_or(Error::InvalidUserId)?,
    };
    match (text("codeId"), text("code")) {
        (Some(id), Some(code)) => Ok((user_id, CodeProof { id: id.to_owned(), code: code.to_owned() })),
        _ => Err(Error::InvalidField(FieldProblem::Code)),
    }
}

/// `POST .../init/_begin`: RegisterPasskey for whoever holds the code.
async fn begin<S: Store, M: Mailer + Sync>(
    links: &PasskeyLinks<S, M>,
    req: &Request,
) -> Result<Value, Error> {
    let body = json_body(req)?;
    let (user_id, proof) = proof_of(&body)?;
    links.admit_page_request(&source(req), Some((&user_id, &proof.id))).await?;
    let begun = links
        .begin_registration(&BeginRegistration {
            actor: Actor::LinkHolder,
            user_id,
            code: Some(proof),
            attachment: Attachment::Any,
            domain: None,
        })
        .await?;
    Ok(json!({ "passkeyId": begun.passkey_id, "publicKeyCredentialCreationOptions": begun.options }))
}

/// `POST .../init/_finish`: VerifyPasskeyRegistration for whoever holds the code.
async fn finish<S: Store, M: Mailer + Sync>(
    links: &PasskeyLinks<S, M>,
    req: &Request,
) -> Result<Value, Error> {
    let body = json_body(req)?;
    let (user_id, proof) = proof_of(&body)?;
    links.admit_page_request(&source(req), Some((&user_id, &proof.id))).await?;
    let passkey_id = match body.get("passkeyId").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => return Err(Error::InvalidField(FieldProblem::PasskeyIdMissing)),
    };
    let (credential, name) = passkeys::credential_and_name(&body)?;
    let details = links
        .finish_registration(&FinishRegistration {
            actor: Actor::LinkHolder,
            user_id,
            passkey_id,
            credential,
            name,
            code: Some(proof),
        })
        .await?;
    Ok(json!({ "details": details.v2_json() }))
}

/// The client's address as API Gateway saw it; behind a load balancer, the address it
/// appended to `X-Forwarded-For` (the last entry: earlier ones are the client's to write).
fn source(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.source_ip.clone(),
        Some(RequestContext::Alb(_)) => req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|v| !v.is_empty())
            .map(str::to_owned),
        _ => None,
    }
    .unwrap_or_else(|| "unknown".into())
}
