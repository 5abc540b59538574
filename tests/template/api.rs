//! The HTTP API: its routes, authorizer, throttles and access log.

use super::*;

#[test]
fn every_route_of_the_code_is_a_route_of_the_api_and_no_other() {
    let t = template();
    let mut deployed: Vec<(String, String)> = resource(&t, "Function")["Properties"]["Events"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|e| e["Type"] == "HttpApi")
        .map(|e| {
            let p = &e["Properties"];
            (p["Method"].as_str().unwrap().to_owned(), p["Path"].as_str().unwrap().to_owned())
        })
        .collect();
    let mut served: Vec<(String, String)> = send_passkey_link::http::routes::ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    deployed.sort();
    served.sort();
    assert_eq!(deployed, served);
}

/// ZITADEL's access tokens carry no scope claim: scopes on the authorizer (or on a route) would
/// answer every call 401; and SAM's transform refuses `AuthorizationScopes` that is not a list.
#[test]
fn the_authorizer_checks_issuer_and_audience_and_no_scopes() {
    let t = template();
    let authorizer = &resource(&t, "HttpApi")["Properties"]["Auth"]["Authorizers"]["ZitadelJwt"];
    assert!(authorizer.get("AuthorizationScopes").is_none(), "{authorizer:?}");
    assert!(is_ref(&authorizer["JwtConfiguration"]["issuer"], "JwtIssuer"));
    assert!(is_ref(&authorizer["JwtConfiguration"]["audience"], "JwtAudience"));
    assert!(t["Parameters"].get("JwtScopes").is_none());
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/infra/template.yaml")).unwrap();
    assert!(!text.contains("AuthorizationScopes:"), "no route asks for scopes either");
}

#[test]
fn api_has_a_jwt_authorizer_throttling_and_access_logs() {
    let t = template();
    let api = &resource(&t, "HttpApi")["Properties"];
    assert_eq!(api["Auth"]["DefaultAuthorizer"], "ZitadelJwt");
    assert!(!api["Auth"]["Authorizers"]["ZitadelJwt"]["JwtConfiguration"]["issuer"].is_null());
    assert!(api["DefaultRouteSettings"]["ThrottlingRateLimit"].as_u64().unwrap() > 0);
    assert!(!api["AccessLogSettings"]["DestinationArn"].is_null());
    for group in ["AccessLogGroup", "FunctionLogGroup"] {
        assert!(!resource(&t, group)["Properties"]["RetentionInDays"].is_null(), "{group} retention");
    }
}

/// API Gateway's regional quota for all of an account's APIs, requests a second.
const ACCOUNT_RATE_QUOTA: u64 = 10_000;

#[test]
fn the_anonymous_page_routes_throttle_only_as_a_cost_ceiling() {
    let t = template();
    let api = &resource(&t, "HttpApi")["Properties"];
    let settings = api["RouteSettings"].as_mapping().unwrap();
    let page_routes: Vec<String> = send_passkey_link::http::routes::ROUTES
        .iter()
        .filter(|r| r.family == send_passkey_link::http::routes::Family::Page)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let mut throttled: Vec<String> = settings.keys().map(|k| k.as_str().unwrap().to_owned()).collect();
    throttled.sort();
    let mut expected = page_routes.clone();
    expected.sort();
    assert_eq!(throttled, expected);
    // A route's bucket is shared by every caller: one client must not be able to empty it
    // (2/s once let three requests a second lock everyone out). The function's per-source
    // and per-link limits stop single clients; the route limit is only a ceiling on cost.
    let mut total = 0;
    for (route, s) in settings {
        let rate = s["ThrottlingRateLimit"].as_u64().unwrap();
        let burst = s["ThrottlingBurstLimit"].as_u64().unwrap();
        assert!(rate >= 1000, "{route:?}: {rate}/s is within one client's reach");
        assert!(burst >= rate, "{route:?}");
        total += rate;
    }
    assert!(total <= ACCOUNT_RATE_QUOTA / 2, "the page routes could take {total}/s of the account's quota");
    let env = &resource(&t, "Function")["Properties"]["Environment"]["Variables"];
    assert!(is_ref(&env["PAGE_RATE_LIMIT_PER_SOURCE"], "PageRateLimitPerSource"));
    assert!(is_ref(&env["PAGE_RATE_LIMIT_PER_CODE"], "PageRateLimitPerCode"));
    // Far below the route ceiling: the function's limits are the ones a client meets.
    for name in ["PageRateLimitPerSource", "PageRateLimitPerCode"] {
        let per_minute = t["Parameters"][name]["Default"].as_u64().unwrap();
        assert!(per_minute <= 60, "{name}: {per_minute} a minute");
    }
}

#[test]
fn the_page_edge_secret_hash_is_an_optional_parameter_passed_to_the_function() {
    let t = template();
    let parameter = &t["Parameters"]["PageEdgeSecretSha256"];
    assert_eq!(parameter["Type"], "String");
    // Off unless set; what config.rs takes: 64 lowercase hex digits.
    assert_eq!(parameter["Default"], "");
    assert_eq!(parameter["AllowedPattern"], "^([0-9a-f]{64})?$");
    let env = &resource(&t, "Function")["Properties"]["Environment"]["Variables"];
    assert!(is_ref(&env["PAGE_EDGE_SECRET_SHA256"], "PageEdgeSecretSha256"));
}
