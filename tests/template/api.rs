//! The HTTP API: its routes, authorizer, throttles and access log, and the function alias it
//! invokes.

use super::*;
use send_passkey_link::http::routes::{Family, ROUTES};

const INTEGRATION: &str = "#/components/x-amazon-apigateway-integrations/function";

/// The API's OpenAPI body: (METHOD, path, the method's definition) for every route.
fn api_routes(t: &Value) -> Vec<(String, String, &Value)> {
    let mut routes = Vec::new();
    for (path, item) in resource(t, "HttpApi")["Properties"]["DefinitionBody"]["paths"].as_mapping().unwrap()
    {
        for (method, definition) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if method != "parameters" {
                routes.push((method.to_uppercase(), path.as_str().unwrap().to_owned(), definition));
            }
        }
    }
    routes
}

#[test]
fn every_route_of_the_code_is_a_route_of_the_api_and_no_other() {
    let t = template();
    let mut deployed: Vec<(String, String)> = api_routes(&t).into_iter().map(|(m, p, _)| (m, p)).collect();
    let mut served: Vec<(String, String)> =
        ROUTES.iter().map(|r| (r.method.to_owned(), r.path.to_owned())).collect();
    deployed.sort();
    served.sort();
    assert_eq!(deployed, served);
    // Each HttpApi event would bring an AWS::Lambda::Permission of its own (scripts/sam_translate.py
    // checks the policy's size): the routes live in the API's body only.
    let events = &resource(&t, "Function")["Properties"]["Events"];
    assert!(events.as_mapping().is_none_or(|e| e.values().all(|e| e["Type"] != "HttpApi")), "{events:?}");
}

#[test]
fn the_page_routes_alone_are_anonymous_and_every_route_reaches_the_function_alias() {
    let t = template();
    let api = &resource(&t, "HttpApi")["Properties"];
    // Routes that name no security get the default authorizer (SAM's transform adds it).
    assert_eq!(api["Auth"]["DefaultAuthorizer"], "ZitadelJwt");
    let anonymous: Value = serde_yaml::from_str("[{NONE: []}]").unwrap();
    for (method, path, definition) in api_routes(&t) {
        let route = ROUTES.iter().find(|r| r.method == method && r.path == path).unwrap();
        if route.family == Family::Page {
            assert_eq!(definition["security"], anonymous, "{method} {path}");
        } else {
            assert!(definition.get("security").is_none(), "{method} {path}");
        }
        assert_eq!(definition["x-amazon-apigateway-integration"]["$ref"], INTEGRATION, "{method} {path}");
    }
    // Every path parameter is declared.
    for (path, item) in api["DefinitionBody"]["paths"].as_mapping().unwrap() {
        let path = path.as_str().unwrap();
        let named: Vec<&str> =
            path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect();
        let declared: Vec<&str> = item["parameters"]
            .as_sequence()
            .map(|p| p.iter().map(|p| p["name"].as_str().unwrap()).collect())
            .unwrap_or_default();
        assert_eq!(declared, named, "{path}");
    }
    let integration = &api["DefinitionBody"]["components"]["x-amazon-apigateway-integrations"]["function"];
    assert_eq!(integration["type"], "aws_proxy");
    assert_eq!(integration["payloadFormatVersion"], "2.0");
    let Value::Tagged(uri) = &integration["uri"] else { panic!("{integration:?}") };
    assert_eq!(uri.tag, "Sub");
    assert!(uri.value[0]
        .as_str()
        .unwrap()
        .ends_with(":lambda:path/2015-03-31/functions/${Alias}/invocations"));
    assert!(is_ref(&uri.value[1]["Alias"], "Function.Alias"));
}

/// One permission lets the API invoke the function, whatever the number of routes: Lambda refuses
/// a resource policy past 20 KB, which one permission per route came near.
#[test]
fn one_permission_lets_the_api_invoke_the_function_alias() {
    let t = template();
    let permissions: Vec<_> = t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Lambda::Permission")
        .map(|(name, r)| (name.as_str().unwrap(), &r["Properties"]))
        .collect();
    let [("ApiInvokePermission", permission)] = permissions[..] else { panic!("{permissions:?}") };
    assert!(is_ref(&permission["FunctionName"], "Function.Alias"));
    assert_eq!(permission["Principal"], "apigateway.amazonaws.com");
    assert_eq!(permission["Action"], "lambda:InvokeFunction");
    let Value::Tagged(source) = &permission["SourceArn"] else { panic!("{permission:?}") };
    assert_eq!(source.tag, "Sub");
    assert_eq!(
        source.value,
        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*"
    );
}

/// A bad release is rolled back by moving the alias `live` back (docs/deploying.md): each deploy
/// publishes a version, and CodeDeploy moves the API's function there, all at once or as a
/// canary that its errors alarm rolls back.
#[test]
fn the_functions_publish_an_alias_that_a_rollback_moves_back() {
    let t = template();
    for function in FUNCTIONS {
        let props = &resource(&t, function)["Properties"];
        assert_eq!(props["AutoPublishAlias"], "live", "{function}");
        // Else a change to, say, the Timeout would reach $LATEST and never the alias.
        assert_eq!(props["AutoPublishAliasAllProperties"], true, "{function}");
    }
    let preference = &resource(&t, "Function")["Properties"]["DeploymentPreference"];
    assert!(is_ref(&preference["Type"], "DeploymentType"));
    // The errors alarm judges the canary only: CodeDeploy does not start while it is in ALARM,
    // so with it all at once a fix could not be deployed during the errors it fixes.
    let (condition, canary, at_once) = if_parts(&preference["Alarms"]);
    assert_eq!(condition, "IsCanary");
    assert!(matches!(canary.as_sequence().unwrap()[..], [ref alarm] if is_ref(alarm, "FunctionErrorsAlarm")));
    assert_eq!(at_once.as_sequence().unwrap().len(), 0);
    let is_canary: Value =
        serde_yaml::from_str("!Equals [!Ref DeploymentType, Canary10Percent5Minutes]").unwrap();
    assert_eq!(t["Conditions"]["IsCanary"], is_canary);
    let parameter = &t["Parameters"]["DeploymentType"];
    assert_eq!(parameter["Default"], "AllAtOnce");
    let allowed: Value = serde_yaml::from_str("[AllAtOnce, Canary10Percent5Minutes]").unwrap();
    assert_eq!(parameter["AllowedValues"], allowed);
    // The translator would leave the feedback function's deployment group without the
    // function's condition, naming an alarm DeliveryFeedback=disabled leaves out.
    assert!(resource(&t, "DeliveryFeedbackFunction")["Properties"].get("DeploymentPreference").is_none());
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
    let page_routes: Vec<String> = ROUTES
        .iter()
        .filter(|r| r.family == Family::Page)
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
