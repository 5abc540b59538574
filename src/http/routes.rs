//! The route table: every operation the API serves, by method and ZITADEL's path template.
//! A new route is one line in [`ROUTES`] (and, for a new operation, one arm in [`dispatch`]).

use std::collections::HashMap;

use serde_json::Value;

pub use super::family::Family;
use super::text::TextCall;
use super::{auth, management, passkeys, text, user_v2, Call};
use crate::domain::{Delivery, PasskeyLinks};
use crate::error::Error;
use crate::mailer::Mailer;
use crate::permissions::{USER_CREDENTIAL_WRITE, USER_WRITE};
use crate::store::Store;

/// What a route does, named as ZITADEL names the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// ManagementService.SendPasswordlessRegistration
    SendPasswordlessRegistration,
    /// ManagementService.AddPasswordlessRegistration
    AddPasswordlessRegistration,
    /// AuthService.SendMyPasswordlessLink
    SendMyPasswordlessLink,
    /// AuthService.AddMyPasswordlessLink
    AddMyPasswordlessLink,
    /// zitadel.user.v2.UserService.CreatePasskeyRegistrationLink
    CreatePasskeyRegistrationLink,
    /// Ours (ZITADEL has none): a user's outstanding registration links.
    ListPasskeyRegistrationLinks,
    /// Ours: revoke one outstanding link, or all of them.
    RevokePasskeyRegistrationLinks,
    /// zitadel.user.v2.UserService.RegisterPasskey
    RegisterPasskey,
    /// zitadel.user.v2.UserService.VerifyPasskeyRegistration
    VerifyPasskeyRegistration,
    /// zitadel.user.v2.UserService.ListPasskeys
    ListPasskeys,
    /// zitadel.user.v2.UserService.RemovePasskey
    RemovePasskey,
    /// ManagementService.ListHumanPasswordless
    ListHumanPasswordless,
    /// ManagementService.RemoveHumanPasswordless
    RemoveHumanPasswordless,
    /// The passwordless registration message's text calls: management (`admin: false`,
    /// ManagementService) or admin (AdminService); [`TextCall`] names which.
    MessageText {
        admin: bool,
        call: TextCall,
    },
    /// The page a link opens (anonymous, the code is the proof), its script and style.
    RegistrationPage,
    PageScript,
    PageStyle,
    /// The page's RegisterPasskey and VerifyPasskeyRegistration, anonymous.
    PageBegin,
    PageFinish,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub operation: Operation,
    pub family: Family,
}

const fn post(path: &'static str, operation: Operation) -> Route {
    Route { method: "POST", path, operation, family: Family::Rest }
}

const fn delete(path: &'static str, operation: Operation) -> Route {
    Route { method: "DELETE", path, operation, family: Family::Rest }
}

const fn get(path: &'static str, operation: Operation) -> Route {
    Route { method: "GET", path, operation, family: Family::Rest }
}

const fn put(path: &'static str, operation: Operation) -> Route {
    Route { method: "PUT", path, operation, family: Family::Rest }
}

const fn text(admin: bool, call: TextCall) -> Operation {
    Operation::MessageText { admin, call }
}

const fn connect(path: &'static str, operation: Operation) -> Route {
    Route { method: "POST", path, operation, family: Family::Connect }
}

const fn page(method: &'static str, path: &'static str, operation: Operation) -> Route {
    Route { method, path, operation, family: Family::Page }
}

/// Where ZITADEL's login UI opens a passwordless registration link; the default link points
/// here.
pub const PAGE_PATH: &str = "/ui/login/login/passwordless/init";

pub const ROUTES: &[Route] = &[
    post("/management/v1/users/{userId}/passwordless/_send_link", Operation::SendPasswordlessRegistration),
    post("/management/v1/users/{userId}/passwordless/_link", Operation::AddPasswordlessRegistration),
    post("/auth/v1/users/me/passwordless/_send_link", Operation::SendMyPasswordlessLink),
    post("/auth/v1/users/me/passwordless/_link", Operation::AddMyPasswordlessLink),
    post("/v2/users/{userId}/passkeys/registration_link", Operation::CreatePasskeyRegistrationLink),
    connect(
        "/zitadel.user.v2.UserService/CreatePasskeyRegistrationLink",
        Operation::CreatePasskeyRegistrationLink,
    ),
    post("/v2/users/{userId}/passkeys/registration_links/_search", Operation::ListPasskeyRegistrationLinks),
    delete(
        "/v2/users/{userId}/passkeys/registration_links/{codeId}",
        Operation::RevokePasskeyRegistrationLinks,
    ),
    delete("/v2/users/{userId}/passkeys/registration_links", Operation::RevokePasskeyRegistrationLinks),
    post("/v2/users/{userId}/passkeys", Operation::RegisterPasskey),
    connect("/zitadel.user.v2.UserService/RegisterPasskey", Operation::RegisterPasskey),
    post("/v2/users/{userId}/passkeys/{passkeyId}", Operation::VerifyPasskeyRegistration),
    connect("/zitadel.user.v2.UserService/VerifyPasskeyRegistration", Operation::VerifyPasskeyRegistration),
    post("/v2/users/{userId}/passkeys/_search", Operation::ListPasskeys),
    connect("/zitadel.user.v2.UserService/ListPasskeys", Operation::ListPasskeys),
    delete("/v2/users/{userId}/passkeys/{passkeyId}", Operation::RemovePasskey),
    connect("/zitadel.user.v2.UserService/RemovePasskey", Operation::RemovePasskey),
    post("/management/v1/users/{userId}/passwordless/_search", Operation::ListHumanPasswordless),
    delete("/management/v1/users/{userId}/passwordless/{tokenId}", Operation::RemoveHumanPasswordless),
    get(
        "/management/v1/text/default/message/passwordless_registration/{language}",
        text(false, TextCall::GetDefault),
    ),
    get("/management/v1/text/message/passwordless_registration/{language}", text(false, TextCall::GetCustom)),
    put("/management/v1/text/message/passwordless_registration/{language}", text(false, TextCall::Set)),
    delete("/management/v1/text/message/passwordless_registration/{language}", text(false, TextCall::Reset)),
    get(
        "/admin/v1/text/default/message/passwordless_registration/{language}",
        text(true, TextCall::GetDefault),
    ),
    get("/admin/v1/text/message/passwordless_registration/{language}", text(true, TextCall::GetCustom)),
    put("/admin/v1/text/message/passwordless_registration/{language}", text(true, TextCall::Set)),
    delete("/admin/v1/text/message/passwordless_registration/{language}", text(true, TextCall::Reset)),
    connect(
        "/zitadel.management.v1.ManagementService/GetDefaultPasswordlessRegistrationMessageText",
        text(false, TextCall::GetDefault),
    ),
    connect(
        "/zitadel.management.v1.ManagementService/GetCustomPasswordlessRegistrationMessageText",
        text(false, TextCall::GetCustom),
    ),
    connect(
        "/zitadel.management.v1.ManagementService/SetCustomPasswordlessRegistrationMessageCustomText",
        text(false, TextCall::Set),
    ),
    connect(
        "/zitadel.management.v1.ManagementService/ResetCustomPasswordlessRegistrationMessageTextToDefault",
        text(false, TextCall::Reset),
    ),
    connect(
        "/zitadel.admin.v1.AdminService/GetDefaultPasswordlessRegistrationMessageText",
        text(true, TextCall::GetDefault),
    ),
    connect(
        "/zitadel.admin.v1.AdminService/GetCustomPasswordlessRegistrationMessageText",
        text(true, TextCall::GetCustom),
    ),
    connect(
        "/zitadel.admin.v1.AdminService/SetDefaultPasswordlessRegistrationMessageText",
        text(true, TextCall::Set),
    ),
    connect(
        "/zitadel.admin.v1.AdminService/ResetCustomPasswordlessRegistrationMessageTextToDefault",
        text(true, TextCall::Reset),
    ),
    page("GET", PAGE_PATH, Operation::RegistrationPage),
    page("GET", "/ui/login/login/passwordless/init/page.js", Operation::PageScript),
    page("GET", "/ui/login/login/passwordless/init/page.css", Operation::PageStyle),
    page("POST", "/ui/login/login/passwordless/init/_begin", Operation::PageBegin),
    page("POST", "/ui/login/login/passwordless/init/_finish", Operation::PageFinish),
];

pub(crate) async fn dispatch<S: Store, M: Mailer + Sync>(
    route: Route,
    links: &PasskeyLinks<S, M>,
    call: &Call<'_>,
) -> Result<Value, Error> {
    use Delivery::{Mail, Return};
    match route.operation {
        Operation::SendPasswordlessRegistration => {
            management::create_link(links, call, USER_WRITE, Mail(None)).await
        }
        Operation::AddPasswordlessRegistration => {
            management::create_link(links, call, USER_CREDENTIAL_WRITE, Return).await
        }
        Operation::SendMyPasswordlessLink => auth::create_my_link(links, call, Mail(None)).await,
        Operation::AddMyPasswordlessLink => auth::create_my_link(links, call, Return).await,
        Operation::CreatePasskeyRegistrationLink => {
            user_v2::create_passkey_registration_link(links, call, route.family).await
        }
        Operation::ListPasskeyRegistrationLinks => user_v2::list_registration_links(links, call).await,
        Operation::RevokePasskeyRegistrationLinks => user_v2::revoke_registration_links(links, call).await,
        Operation::RegisterPasskey => passkeys::register_passkey(links, call, route.family).await,
        Operation::VerifyPasskeyRegistration => {
            passkeys::verify_passkey_registration(links, call, route.family).await
        }
        Operation::ListPasskeys => passkeys::list_passkeys(links, call, route.family).await,
        Operation::RemovePasskey => passkeys::remove_passkey(links, call, route.family).await,
        Operation::ListHumanPasswordless => passkeys::list_human_passwordless(links, call).await,
        Operation::RemoveHumanPasswordless => passkeys::remove_human_passwordless(links, call).await,
        Operation::MessageText { admin, call: what } => {
            text::handle(links, call, admin, what, route.family).await
        }
        Operation::RegistrationPage
        | Operation::PageScript
        | Operation::PageStyle
        | Operation::PageBegin
        | Operation::PageFinish => Err(Error::Internal("page routes are served by http::page".into())),
    }
}

/// [`ROUTES`] in a radix tree (matchit, as axum uses), built once at cold start.
pub struct Routes(matchit::Router<Vec<Route>>);

/// The routes of one path, and the path's parameters.
pub struct Found<'r> {
    routes: &'r [Route],
    pub params: HashMap<String, String>,
}

impl Found<'_> {
    pub fn route_for(&self, method: &str) -> Option<Route> {
        self.routes.iter().copied().find(|r| r.method == method)
    }

    /// How the path's routes frame errors (one path, one family).
    pub fn family(&self) -> Family {
        self.routes.first().map_or(Family::Rest, |r| r.family)
    }

    /// The `Allow` header of a 405.
    pub fn allowed_methods(&self) -> String {
        self.routes.iter().map(|r| r.method).collect::<Vec<_>>().join(", ")
    }
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

impl Routes {
    pub fn new() -> Self {
        let mut paths: Vec<(&str, Vec<Route>)> = Vec::new();
        for route in ROUTES {
            match paths.iter_mut().find(|(path, _)| *path == route.path) {
                Some((_, routes)) => routes.push(*route),
                None => paths.push((route.path, vec![*route])),
            }
        }
        let mut router = matchit::Router::new();
        for (path, routes) in paths {
            // The table is constant; tests build it, so a bad template never ships.
            router.insert(path, routes).unwrap_or_else(|e| panic!("route {path}: {e}"));
        }
        Self(router)
    }

    /// The routes of `path`. A stage name or a custom domain's base path may come before
    /// the API's own path (`/prod/management/v1/...`), and a trailing slash after it.
    pub fn find(&self, path: &str) -> Option<Found<'_>> {
        // An empty segment where an id belongs is a bad id (400), not an unknown route: it
        // becomes `%`, which no id decodes from. A trailing slash is such a segment first
        // (`.../registration_links/` names an empty link id, not all links), and only
        // failing that the slash after a complete path.
        let mut path = path.to_owned();
        while path.contains("//") {
            path = path.replace("//", "/%/");
        }
        if path.len() > 1 && path.ends_with('/') {
            let with_empty_id = format!("{path}%");
            if let Some(found) = self.find_exact(&with_empty_id) {
                return Some(found);
            }
            path.pop();
        }
        self.find_exact(&path)
    }

    fn find_exact(&self, path: &str) -> Option<Found<'_>> {
        let starts = std::iter::once(0).chain(path.match_indices('/').map(|(i, _)| i).filter(|&i| i > 0));
        starts.take(4).find_map(|start| {
            let matched = self.0.at(&path[start..]).ok()?;
            // `_` starts ZITADEL's verbs (`_send_link`, `_search`), never an id: a mistyped
            // verb is an unknown route, not an id for another method's route.
            if matched.params.iter().any(|(k, v)| k != "userId" && v.starts_with('_')) {
                return None;
            }
            let params = matched.params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            Some(Found { routes: matched.value, params })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_reachable_with_and_without_a_prefix() {
        let routes = Routes::new();
        for route in ROUTES {
            let path =
                route.path.replace("{userId}", "u1").replace("{codeId}", "c1").replace("{language}", "de");
            // With a trailing slash, a path that another route extends by an id names that
            // route with an empty id instead.
            let extended = ROUTES.iter().any(|r| r.path.starts_with(&format!("{}/{{", route.path)));
            let mut candidates = vec![path.clone(), format!("/prod{path}")];
            if !extended {
                candidates.push(format!("/api/v1{path}/"));
            }
            for candidate in candidates {
                let found = routes.find(&candidate).unwrap_or_else(|| panic!("{candidate}"));
                assert_eq!(found.route_for(route.method), Some(*route), "{candidate}");
                if route.path.contains("{userId}") {
                    assert_eq!(found.params["userId"], "u1");
                }
            }
        }
    }

    #[test]
    fn unknown_paths_and_methods_are_told_apart() {
        let routes = Routes::new();
        assert!(routes.find("/management/v1/users/u1/passwordless/t1/_nope").is_none());
        assert!(routes.find("/management/v1/users/u1/passwordless/_send_lnk").is_none());
        assert!(routes.find("/v2/users/u1/passkeys/_searc").is_none());
        assert!(routes.find("/management//v1/users/u1/passwordless/_send_link").is_none());
        let empty_id = routes.find("/management/v1/users//passwordless/_send_link").unwrap();
        assert_eq!(empty_id.params["userId"], "%");
        // A trailing slash after "all links" names an empty link id, never all of them.
        for path in
            ["/v2/users/u1/passkeys/registration_links/", "/v2/users/u1/passkeys/registration_links//"]
        {
            assert_eq!(
                routes.find(path).unwrap().params.get("codeId").map(String::as_str),
                Some("%"),
                "{path}"
            );
        }
        assert!(routes.find("/").is_none());
        let found = routes.find("/management/v1/users/u1/passwordless/_send_link").unwrap();
        assert_eq!(found.route_for("GET"), None);
        assert_eq!(found.allowed_methods(), "POST");
    }
}
