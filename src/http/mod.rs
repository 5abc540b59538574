//! The API Gateway adapter: finds the route, establishes the caller and the request's fields,
//! runs the domain call and shapes its outcome (or error) the way the route's API family
//! answers. No business rules here.
//!
//! One module per API family ([`management`], [`auth`], [`user_v2`]); the route table in
//! [`routes`] maps method + path template to their handlers.

mod auth;
mod family;
mod management;
mod page;
mod passkeys;
pub mod routes;
mod text;
mod user_v2;

use std::collections::HashMap;

use lambda_http::http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER};
use lambda_http::http::HeaderValue;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Context, Request, RequestExt, Response};
use serde_json::{Map, Value};
use tracing::{debug, info, warn, Instrument};

use crate::api_error::{ApiError, METHOD_NOT_ALLOWED, ROUTE_NOT_FOUND};
use crate::config::{DEFAULT_ORG_CLAIM, DEFAULT_USER_CLAIM};
use crate::deadline;
use crate::domain::PasskeyLinks;
use crate::error::Error;
use crate::event::{self, percent_decode, Origin};
use crate::mailer::Mailer;
use crate::model::{Caller, OrgId, UserId};
use crate::page::PageRenderer;
use crate::request_body::{self, BodyError, BodyProblem};
use crate::store::Store;
use routes::{Family, Routes};

pub const ORG_HEADER: &str = "x-zitadel-orgid";

pub struct Api<S, M> {
    pub links: PasskeyLinks<S, M>,
    pub claims: ClaimNames,
    routes: Routes,
    page: PageRenderer,
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

/// One routed request with its caller established: what every handler starts from.
pub(crate) struct Call<'r> {
    req: &'r Request,
    caller: Caller,
    params: HashMap<String, String>,
}

impl Call<'_> {
    /// The `{userId}` of the route's path, percent-decoded (API Gateway hands over the raw path).
    fn path_user_id(&self) -> Result<UserId, Error> {
        let raw = self.params.get("userId").ok_or(Error::InvalidUserId)?;
        percent_decode(raw).as_deref().and_then(UserId::parse).ok_or(Error::InvalidUserId)
    }

    /// The organisation the v1 management API acts in: `x-zitadel-orgid`, else the caller's.
    fn target_org(&self) -> Result<OrgId, Error> {
        match self.req.headers().get(ORG_HEADER) {
            None => Ok(self.caller.org_id.clone()),
            Some(value) => {
                value.to_str().ok().and_then(|v| OrgId::parse(v.trim())).ok_or(Error::InvalidOrgId)
            }
        }
    }

    /// Connect's `connect-protocol-version` header, when sent, must be `1`.
    fn connect_version(&self) -> Result<(), Error> {
        match self.req.headers().get("connect-protocol-version") {
            Some(v) if v != "1" => {
                Err(Error::InvalidField(crate::error::FieldProblem::ConnectProtocolVersion))
            }
            _ => Ok(()),
        }
    }

    /// The JSON object the body holds (`{}` for none), after the body rules.
    fn body(&self) -> Result<Map<String, Value>, Error> {
        json_body(self.req)
    }
}

/// The JSON object a request's body holds (`{}` for none), after the body rules.
fn json_body(req: &Request) -> Result<Map<String, Value>, Error> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => return Ok(Map::new()),
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => {
            return Err(Error::InvalidBody(BodyError::new(BodyProblem::NotJson, "unsupported body encoding")))
        }
    };
    let content_type = req.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap_or("(not visible ASCII)"));
    request_body::parse(bytes, content_type).map_err(Error::InvalidBody)
}

impl<S, M> Api<S, M>
where
    S: Store,
    M: Mailer + Sync,
{
    pub fn new(links: PasskeyLinks<S, M>, claims: ClaimNames) -> Self {
        // The page's template and texts are constants; unit tests render every state.
        let page = PageRenderer::new().unwrap_or_else(|e| panic!("page template: {e}"));
        Self { links, claims, routes: Routes::new(), page }
    }

    /// Answers one raw Lambda event in its source's response shape; never fails, never
    /// panics: an event that is no readable HTTP request gets the catalogue's 400. The
    /// context's deadline bounds the work (`crate::deadline`): a call still running near it
    /// is answered 503 rather than left for Lambda to kill.
    pub async fn handle_event(&self, event: Value, context: Option<Context>) -> Value {
        let origin = Origin::of(&event);
        let response = match event::request_from(event) {
            Ok(req) => {
                let family = self.routes.find(request_path(&req)).map_or(Family::Rest, |f| f.family());
                let req = match context.clone() {
                    Some(context) => req.with_lambda_context(context),
                    None => req,
                };
                let span = tracing::info_span!("request", request_id = %request_id(&req));
                // Boxed: the handler's future is large, and the deadline's wrappers would
                // otherwise move it about on the stack (a test thread's 2 MB overflowed).
                match deadline::run(context.as_ref(), Box::pin(self.handle(req))).await {
                    Ok(response) => response,
                    Err(e) => {
                        failure_response(Error::OutOfTime(e.to_string()), family).instrument(span).await
                    }
                }
            }
            Err(e) => {
                let request_id = context.map(|c| c.request_id).unwrap_or_default();
                failure_response(e, Family::Rest)
                    .instrument(tracing::info_span!("request", %request_id))
                    .await
            }
        };
        event::response_for(origin, response)
    }

    /// Answers one API Gateway request; never fails, every error becomes a response.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        let span = tracing::info_span!("request", request_id = %request_id(&req));
        async move {
            debug!(method = %req.method(), path = req.uri().path(), "request");
            let path = request_path(&req);
            let Some(found) = self.routes.find(path) else {
                info!(status = ROUTE_NOT_FOUND.http_status(), error_id = ROUTE_NOT_FOUND.id, "not routed");
                return json_response(ROUTE_NOT_FOUND.http_status(), &ROUTE_NOT_FOUND.body());
            };
            let Some(route) = found.route_for(req.method().as_str()) else {
                let api = METHOD_NOT_ALLOWED;
                info!(status = api.http_status(), error_id = api.id, "wrong method");
                let body = match found.family() {
                    Family::Rest | Family::Page => api.body(),
                    Family::Connect => api.connect_body(),
                };
                let mut response = json_response(api.http_status(), &body);
                if let Ok(allow) = HeaderValue::from_str(&found.allowed_methods()) {
                    response.headers_mut().insert(ALLOW, allow);
                }
                return response;
            };
            if route.family == Family::Page {
                return page::serve(route, &self.links, &self.page, &req).await;
            }
            let outcome = match caller(&req, &self.claims) {
                Ok(caller) => {
                    let call = Call { req: &req, caller, params: found.params };
                    routes::dispatch(route, &self.links, &call).await
                }
                Err(e) => Err(e),
            };
            match outcome {
                Ok(body) => {
                    info!(status = 200, operation = ?route.operation, "done");
                    json_response(200, &body)
                }
                Err(e) => failure_response(e, route.family).await,
            }
        }
        .instrument(span)
        .await
    }
}

/// The catalogue's answer to `e`, logged. Async only so that it runs inside the caller's span.
async fn failure_response(e: Error, family: Family) -> Response<Body> {
    let api = ApiError::from(&e);
    if api.http_status() >= 500 {
        warn!(status = api.http_status(), error_id = api.id, cause = %e, "failed");
    } else {
        info!(status = api.http_status(), error_id = api.id, cause = %e, "refused");
    }
    let body = match family {
        Family::Rest | Family::Page => api.body(),
        Family::Connect => api.connect_body(),
    };
    let mut response = json_response(api.http_status(), &body);
    if let Error::RateLimited { retry_after_secs } | Error::PageRateLimited { retry_after_secs } = e {
        response.headers_mut().insert(RETRY_AFTER, retry_after_secs.into());
    }
    response
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

/// The path as the client sent it (API Gateway's raw path when it has one).
fn request_path(req: &Request) -> &str {
    let path = req.raw_http_path();
    if path.is_empty() {
        req.uri().path()
    } else {
        path
    }
}

/// Identity comes only from the authorizer's part of the request context, which API Gateway
/// fills and clients cannot set; headers and body are never consulted.
fn caller(req: &Request, names: &ClaimNames) -> Result<Caller, Error> {
    let user = authorizer_claim(req, names, &names.user)
        .flatten()
        .and_then(|v| UserId::parse(&v))
        .ok_or(Error::Unauthenticated)?;
    let org = match authorizer_claim(req, names, &names.org) {
        // Present but not text, or malformed, is no identity; only an absent claim has a
        // known cause worth naming.
        Some(value) => value.as_deref().and_then(OrgId::parse).ok_or(Error::Unauthenticated)?,
        None => return Err(Error::MissingOrgClaim(names.org.clone())),
    };
    Ok(Caller { user_id: user, org_id: org })
}

/// One claim of the authorizer's context: `None` when absent, `Some(None)` when present but
/// not a string.
fn authorizer_claim(req: &Request, names: &ClaimNames, name: &str) -> Option<Option<String>> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => {
            let authorizer = ctx.authorizer.as_ref()?;
            match &authorizer.jwt {
                Some(jwt) => jwt.claims.get(name).cloned().map(Some),
                // A Lambda authorizer's context (simple or IAM-policy responses alike).
                None => authorizer.fields.get(name).map(|v| v.as_str().map(str::to_owned)),
            }
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
            Some(value.as_str().map(str::to_owned))
        }
        _ => None,
    }
}

fn json_response(status: u16, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = lambda_http::http::StatusCode::from_u16(status)
        .unwrap_or(lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
