//! The registration page's routes: the page itself (`GET`, the link in the mail), its script
//! and style, and its two anonymous calls. Every answer carries a strict
//! Content-Security-Policy, `Referrer-Policy: no-referrer` (the page's URL holds the code)
//! and, for the page and calls, `Cache-Control: no-store`.

use std::net::{IpAddr, Ipv6Addr};

use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::http::HeaderValue;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tracing::info;

use super::routes::{Family, Operation, Route};
use super::{failure_response, json_body, json_response, passkeys};
use crate::ceremony::Attachment;
use crate::config::PAGE_EDGE_HEADER;
use crate::domain::PasskeyLinks;
use crate::error::{Error, FieldProblem};
use crate::event::Query;
use crate::mailer::Mailer;
use crate::model::UserId;
use crate::page::{PageRenderer, PageState, SCRIPT, STYLE};
use crate::registration::{
    checked_passkey_name, constant_time_eq, Actor, BeginRegistration, CodeProof, FinishRegistration,
    LinkState,
};
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
            &source(req, links.registration.page_limits.edge_secret_sha256),
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

/// `POST .../init/_begin`: RegisterPasskey for whoever holds the code, with the name the
/// passkey will get (`passkeyName`), checked as `_finish` checks it.
async fn begin<S: Store, M: Mailer + Sync>(
    links: &PasskeyLinks<S, M>,
    req: &Request,
) -> Result<Value, Error> {
    let body = json_body(req)?;
    let (user_id, proof) = proof_of(&body)?;
    // The name is checked before the browser makes a credential for it: refused only at
    // `_finish`, it would leave a passkey on the device that the service never stores.
    // `_finish` checks the name it is sent again; a page loaded before `_begin` took the name
    // sends none here.
    if let Some(name) = passkeys::passkey_name(&body)? {
        checked_passkey_name(&name)?;
    }
    links
        .admit_page_request(
            &source(req, links.registration.page_limits.edge_secret_sha256),
            Some((&user_id, &proof.id)),
        )
        .await?;
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
    links
        .admit_page_request(
            &source(req, links.registration.page_limits.edge_secret_sha256),
            Some((&user_id, &proof.id)),
        )
        .await?;
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

/// The viewer's address and port as CloudFront saw them.
const VIEWER_ADDRESS_HEADER: &str = "cloudfront-viewer-address";

/// The key the page's per-source limit counts under: the viewer's address CloudFront names,
/// on a request that carries the edge's secret (`PAGE_EDGE_SECRET_SHA256`), since API
/// Gateway sees only CloudFront's own addresses then; otherwise the client's address as API
/// Gateway saw it (behind a load balancer, the address it appended to `X-Forwarded-For`: the
/// last entry, earlier ones are the client's to write). An IPv6 address counts as its /64.
/// Anyone can send `CloudFront-Viewer-Address` straight to the API: without the secret it
/// would let a client pick its own bucket, so it is read only with it.
fn source(req: &Request, edge_secret_sha256: Option<[u8; 32]>) -> String {
    let viewer = edge_secret_sha256
        .filter(|hash| through_edge(req, hash))
        .and_then(|_| single_header(req, VIEWER_ADDRESS_HEADER))
        .and_then(|value| viewer_address(value.to_str().ok()?));
    if let Some(viewer) = viewer {
        return source_key(&viewer.to_string());
    }
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
    .map_or_else(|| "unknown".into(), |address| source_key(&address))
}

/// Whether the request carries the edge's secret: one `x-passkeys-edge` value whose SHA-256
/// is the configured one (compared in constant time; the value is never logged).
fn through_edge(req: &Request, secret_sha256: &[u8; 32]) -> bool {
    single_header(req, PAGE_EDGE_HEADER)
        .is_some_and(|secret| constant_time_eq(&Sha256::digest(secret.as_bytes()), secret_sha256))
}

/// A header sent exactly once; a repeated one is nobody's to trust.
fn single_header<'r>(req: &'r Request, name: &str) -> Option<&'r HeaderValue> {
    let mut values = req.headers().get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => Some(value),
        _ => None,
    }
}

/// The address of a `CloudFront-Viewer-Address` value, `address:port`: `198.51.100.10:46532`,
/// and for IPv6 the address unbracketed, `2001:db8::8a2e:370:7334:46532`, so the port is what
/// follows the last colon (a bracketed `[2001:db8::1]:443` is taken too). Anything else,
/// a missing port included, is no address.
fn viewer_address(value: &str) -> Option<IpAddr> {
    let (address, port) = value.trim().rsplit_once(':')?;
    if !port.bytes().all(|b| b.is_ascii_digit()) || port.parse::<u16>().is_err() {
        return None;
    }
    match address.strip_prefix('[') {
        Some(bracketed) => bracketed.strip_suffix(']')?.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        None => address.parse().ok(),
    }
}

/// An IPv4 address as it is; an IPv6 address as its /64: a network (a home's, a server's) has
/// at least a whole /64 and its hosts take any address in it at will, so counting per address
/// would let one client through; anything else (not an address) as it is.
fn source_key(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => address.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{source_key, viewer_address};

    fn viewer(value: &str) -> Option<String> {
        viewer_address(value).map(|ip| ip.to_string())
    }

    #[test]
    fn a_viewer_address_is_the_address_before_the_port() {
        assert_eq!(viewer("198.51.100.10:46532").as_deref(), Some("198.51.100.10"));
        assert_eq!(viewer(" 198.51.100.10:1 ").as_deref(), Some("198.51.100.10"));
        // CloudFront writes IPv6 unbracketed: the port follows the last colon.
        assert_eq!(viewer("2001:db8::8a2e:370:7334:46532").as_deref(), Some("2001:db8::8a2e:370:7334"));
        assert_eq!(viewer("2001:db8::1:443").as_deref(), Some("2001:db8::1"));
        assert_eq!(viewer("0000:0000:0000:0000:0000:0000:0000:0001:52325").as_deref(), Some("::1"));
        assert_eq!(viewer("[2001:db8::1]:443").as_deref(), Some("2001:db8::1"));
        assert_eq!(viewer("::ffff:198.51.100.7:443").as_deref(), Some("::ffff:198.51.100.7"));
    }

    #[test]
    fn a_malformed_viewer_address_is_none() {
        for bad in [
            "",
            "198.51.100.10",
            "198.51.100.10:",
            "198.51.100.10:65536",
            "198.51.100.10:+443",
            "198.51.100.10:44 3",
            "198.51.100:443",
            "198.51.100.10:443, 203.0.113.9:443",
            "[198.51.100.10]:443",
            "[2001:db8::1:443",
            "2001:db8:1:2:3:4:5:6",
            "fe80::1%eth0:443",
            "unknown:443",
            ":443",
        ] {
            assert_eq!(viewer(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_viewer_address_is_keyed_as_a_source_address_is() {
        let key = |value: &str| source_key(&viewer_address(value).unwrap().to_string());
        assert_eq!(key("198.51.100.10:46532"), "198.51.100.10");
        assert_eq!(key("2001:db8:1:2::8a2e:443"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff::1:50000"), "2001:db8:1:2::/64");
        assert_eq!(key("::ffff:198.51.100.7:443"), "198.51.100.7");
    }

    #[test]
    fn an_ipv4_address_is_its_own_key() {
        assert_eq!(source_key("198.51.100.7"), "198.51.100.7");
        assert_ne!(source_key("198.51.100.7"), source_key("198.51.100.8"));
    }

    #[test]
    fn ipv6_addresses_are_keyed_on_their_64() {
        assert_eq!(source_key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(source_key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_eq!(source_key("2001:DB8:1:2:a:b:c:d"), "2001:db8:1:2::/64");
        assert_eq!(source_key("2001:db8:1:3::1"), "2001:db8:1:3::/64");
        assert_eq!(source_key("::1"), "::/64");
    }

    #[test]
    fn an_ipv4_mapped_address_is_the_ipv4_address() {
        assert_eq!(source_key("::ffff:198.51.100.7"), "198.51.100.7");
    }

    #[test]
    fn what_is_no_address_stays_as_it_is() {
        assert_eq!(source_key("unknown"), "unknown");
        assert_eq!(source_key(""), "");
    }
}
