//! The API Gateway adapter: turns an event into a [`SendLink`] command and an outcome into
//! the grpc-gateway JSON response. No business rules here.

use lambda_http::http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER};
use lambda_http::http::HeaderValue;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Context, Request, RequestExt, Response};
use serde_json::Value;
use tracing::{debug, info, warn, Instrument};

use crate::api_error::{ApiError, METHOD_NOT_ALLOWED, ROUTE_NOT_FOUND};
use crate::config::{DEFAULT_ORG_CLAIM, DEFAULT_USER_CLAIM};
use crate::domain::{PasskeyLinks, SendLink};
use crate::error::Error;
use crate::event::{self, Origin};
use crate::mailer::Mailer;
use crate::model::{Caller, OrgId, UserId};
use crate::request_body::{self, BodyError, BodyProblem};
use crate::store::{LinkCommit, LinkRevoke, LinkSent, SnapshotRead};

pub const ORG_HEADER: &str = "x-zitadel-orgid";

pub struct Api<S, M> {
    pub links: PasskeyLinks<S, M>,
    pub claims: ClaimNames,
}

/// Which authorizer claims name the caller and its organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    pub user: String,
    pub org: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self { user: DEFAULT_USER_CLAIM.to_owned(), org: DEFAULT_ORG_CLAIM.to_owned() }
    }
}

impl<S, M> Api<S, M>
where
    S: SnapshotRead + LinkCommit + LinkSent + LinkRevoke + Sync,
    M: Mailer + Sync,
{
    /// Answers one raw Lambda event in its source's response shape; never fails, never
    /// panics: an event that is no readable HTTP request gets the catalogue's 400.
    pub async fn handle_event(&self, event: Value, context: Option<Context>) -> Value {
        let origin = Origin::of(&event);
        let response = match event::request_from(event) {
            Ok(req) => {
                let req = match context {
                    Some(context) => req.with_lambda_context(context),
                    None => req,
                };
                self.handle(req).await
            }
            Err(e) => {
                let request_id = context.map(|c| c.request_id).unwrap_or_default();
                failure_response(e).instrument(tracing::info_span!("request", %request_id)).await
            }
        };
        event::response_for(origin, response)
    }

    /// Answers one API Gateway request; never fails, every error becomes a response.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        let span = tracing::info_span!("request", request_id = %request_id(&req));
        async move {
            debug!(method = %req.method(), path = req.uri().path(), "request");
            let outcome = match parse(&req, &self.claims) {
                Ok(cmd) => self.links.send_link(&cmd).await.map_err(Outcome::Failed),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(details) => {
                    info!(status = 200, "done");
                    json_response(200, &serde_json::json!({ "details": details }))
                }
                Err(Outcome::NoRoute(api)) => {
                    info!(status = api.http_status(), error_id = api.id, "not routed");
                    json_response(api.http_status(), &api.body())
                }
                Err(Outcome::WrongMethod(api)) => {
                    info!(status = api.http_status(), error_id = api.id, "wrong method");
                    let mut response = json_response(api.http_status(), &api.body());
                    response.headers_mut().insert(ALLOW, HeaderValue::from_static("POST"));
                    response
                }
                Err(Outcome::Failed(e)) => failure_response(e).await,
            }
        }
        .instrument(span)
        .await
    }
}

/// The catalogue's answer to `e`, logged. Async only so that it runs inside the caller's span.
async fn failure_response(e: Error) -> Response<Body> {
    let api = ApiError::from(&e);
    if api.http_status() >= 500 {
        warn!(status = api.http_status(), error_id = api.id, cause = %e, "failed");
    } else {
        info!(status = api.http_status(), error_id = api.id, cause = %e, "refused");
    }
    let mut response = json_response(api.http_status(), &api.body());
    if let Error::RateLimited { retry_after_secs } = e {
        response.headers_mut().insert(RETRY_AFTER, retry_after_secs.into());
    }
    response
}

enum Outcome {
    NoRoute(ApiError),
    WrongMethod(ApiError),
    Failed(Error),
}

impl From<Error> for Outcome {
    fn from(e: Error) -> Self {
        Outcome::Failed(e)
    }
}

fn request_id(req: &Request) -> String {
    if let Some(ctx) = req.lambda_context_ref() {
        return ctx.request_id.clone();
    }
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
    .unwrap_or_default()
}

fn parse(req: &Request, claims: &ClaimNames) -> Result<SendLink, Outcome> {
    let raw_user_id = route_user_id(req).ok_or(Outcome::NoRoute(ROUTE_NOT_FOUND))?;
    if req.method() != lambda_http::http::Method::POST {
        return Err(Outcome::WrongMethod(METHOD_NOT_ALLOWED));
    }
    let caller = caller(req, claims).ok_or(Error::Unauthenticated)?;
    let user_id = UserId::parse(&raw_user_id).ok_or(Error::InvalidUserId)?;
    let target_org = match req.headers().get(ORG_HEADER) {
        None => caller.org_id.clone(),
        Some(value) => value.to_str().ok().and_then(|v| OrgId::parse(v.trim())).ok_or(Error::InvalidOrgId)?,
    };
    check_body(req)?;
    Ok(SendLink { caller, target_org, user_id })
}

/// The `{userId}` of `.../management/v1/users/{userId}/passwordless/_send_link`, from the
/// path parameters API Gateway extracted, else from the path itself (stage prefixes and
/// custom domain base paths allowed).
fn route_user_id(req: &Request) -> Option<String> {
    let path = req.raw_http_path();
    let path = if path.is_empty() { req.uri().path() } else { path };
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let from_path = match segments.as_slice() {
        [.., "management", "v1", "users", user, "passwordless", "_send_link"] => Some((*user).to_owned()),
        _ => None,
    }?;
    Some(req.path_parameters_ref().and_then(|p| p.first("userId")).map_or(from_path, str::to_owned))
}

/// Identity comes only from the authorizer's part of the request context, which API Gateway
/// fills and clients cannot set; headers and body are never consulted.
fn caller(req: &Request, names: &ClaimNames) -> Option<Caller> {
    let claim = |name: &str| -> Option<String> {
        match req.request_context_ref()? {
            RequestContext::ApiGatewayV2(ctx) => {
                ctx.authorizer.as_ref()?.jwt.as_ref()?.claims.get(name).cloned()
            }
            RequestContext::ApiGatewayV1(ctx) => {
                let fields = &ctx.authorizer.fields;
                // Cognito user pool authorizers nest the token's claims; Lambda authorizers
                // put their context keys (and principalId) at the top level.
                let value = match fields.get("claims") {
                    Some(Value::Object(claims)) => claims.get(name),
                    _ => fields
                        .get(name)
                        .or_else(|| (name == names.user).then(|| fields.get("principalId")).flatten()),
                }?;
                value.as_str().map(str::to_owned)
            }
            _ => None,
        }
    };
    Some(Caller { user_id: UserId::parse(&claim(&names.user)?)?, org_id: OrgId::parse(&claim(&names.org)?)? })
}

fn check_body(req: &Request) -> Result<(), Error> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => return Ok(()),
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => {
            return Err(Error::InvalidBody(BodyError::new(BodyProblem::NotJson, "unsupported body encoding")))
        }
    };
    let content_type = req.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap_or("(not visible ASCII)"));
    request_body::check(bytes, content_type).map_err(Error::InvalidBody)
}

fn json_response(status: u16, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = lambda_http::http::StatusCode::from_u16(status)
        .unwrap_or(lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
