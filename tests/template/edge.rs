//! infra/page-edge.yaml: the page's optional CloudFront and WAF edge.

use super::*;

/// The web ACL's rule `name`, optional ones (`!If [condition, rule, NoValue]`) unwrapped.
fn waf_rule<'a>(t: &'a Value, name: &str) -> &'a Value {
    resource(t, "WebAcl")["Properties"]["Rules"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| match r {
            Value::Tagged(_) => if_parts(r).1,
            rule => rule,
        })
        .find(|r| r["Name"] == name)
        .unwrap_or_else(|| panic!("rule {name}"))
}

/// A byte match on the URI path for the prefix every page route starts with.
fn matches_the_page_paths(statement: &Value) {
    let matched = &statement["ByteMatchStatement"];
    assert!(matched["FieldToMatch"]["UriPath"].is_mapping(), "{statement:?}");
    assert_eq!(matched["PositionalConstraint"], "STARTS_WITH");
    let prefix = matched["SearchString"].as_str().unwrap();
    assert_eq!(prefix, "/ui/login/login/passwordless/init");
    let page_routes: Vec<_> = send_passkey_link::http::routes::ROUTES
        .iter()
        .filter(|r| r.family == send_passkey_link::http::routes::Family::Page)
        .collect();
    assert_eq!(page_routes.len(), 5);
    for route in page_routes {
        assert!(route.path.starts_with(prefix), "{}", route.path);
    }
}

#[test]
fn the_page_edge_rate_limits_the_page_paths_per_viewer_ip_and_passes_nothing_else() {
    let t = page_edge();
    let acl = resource(&t, "WebAcl");
    assert_eq!(acl["Type"], "AWS::WAFv2::WebACL");
    assert_eq!(acl["Properties"]["Scope"], "CLOUDFRONT");
    let rate = waf_rule(&t, "RatePerIp");
    assert!(rate["Action"]["Block"].is_mapping());
    let limit = &rate["Statement"]["RateBasedStatement"];
    assert_eq!(limit["AggregateKeyType"], "IP");
    assert_eq!(limit["EvaluationWindowSec"], 300);
    assert!(is_ref(&limit["Limit"], "RateLimitPer5Minutes"));
    let default = t["Parameters"]["RateLimitPer5Minutes"]["Default"].as_u64().unwrap();
    assert!((10..=1000).contains(&default), "{default} a viewer in 5 minutes");
    matches_the_page_paths(&limit["ScopeDownStatement"]);
    // Anything else is blocked at the edge: the authenticated API keeps its own endpoint.
    let page_only = waf_rule(&t, "PageOnly");
    assert_eq!(page_only["Priority"], 0);
    assert!(page_only["Action"]["Block"].is_mapping());
    matches_the_page_paths(&page_only["Statement"]["NotStatement"]["Statement"]);
    // The managed rule groups, on unless turned off.
    assert_eq!(t["Parameters"]["ManagedRules"]["Default"], "enabled");
    let bad_inputs = waf_rule(&t, "KnownBadInputs");
    assert_eq!(
        bad_inputs["Statement"]["ManagedRuleGroupStatement"]["Name"],
        "AWSManagedRulesKnownBadInputsRuleSet"
    );
}

#[test]
fn the_page_edge_distribution_carries_the_web_acl_the_secret_and_the_viewer_address() {
    let t = page_edge();
    let config = &resource(&t, "Distribution")["Properties"]["DistributionConfig"];
    assert!(is_get_att(&config["WebACLId"], "WebAcl.Arn"));
    let origins = config["Origins"].as_sequence().unwrap();
    assert_eq!(origins.len(), 1);
    let origin = &origins[0];
    assert!(is_ref(&origin["DomainName"], "ApiDomain"));
    assert_eq!(origin["CustomOriginConfig"]["OriginProtocolPolicy"], "https-only");
    // The header the function checks, holding the secret it has the hash of.
    let headers = origin["OriginCustomHeaders"].as_sequence().unwrap();
    let secret = headers
        .iter()
        .find(|h| h["HeaderName"] == send_passkey_link::config::PAGE_EDGE_HEADER)
        .expect("the edge secret header");
    assert!(is_ref(&secret["HeaderValue"], "EdgeSecret"));
    assert_eq!(t["Parameters"]["EdgeSecret"]["NoEcho"], true);
    assert!(t["Parameters"]["EdgeSecret"]["MinLength"].as_u64().unwrap() >= 32);

    let behavior = &config["DefaultCacheBehavior"];
    assert_eq!(behavior["TargetOriginId"], origin["Id"]);
    assert!(config["CacheBehaviors"].is_null(), "one behaviour, the page's");
    assert_eq!(behavior["ViewerProtocolPolicy"], "https-only");
    // Managed CachingDisabled.
    assert_eq!(behavior["CachePolicyId"], "4135ea2d-6df8-44a3-9df3-4b5a84be39ad");
    let methods = strings(&behavior["AllowedMethods"]);
    for route in send_passkey_link::http::routes::ROUTES
        .iter()
        .filter(|r| r.family == send_passkey_link::http::routes::Family::Page)
    {
        assert!(methods.iter().any(|m| m == route.method), "{}", route.method);
    }
    // The viewer's address reaches the function; Host stays the API's own.
    assert!(is_ref(&behavior["OriginRequestPolicyId"], "OriginRequestPolicy"));
    let request = &resource(&t, "OriginRequestPolicy")["Properties"]["OriginRequestPolicyConfig"];
    assert_eq!(request["HeadersConfig"]["HeaderBehavior"], "whitelist");
    let forwarded: Vec<String> =
        strings(&request["HeadersConfig"]["Headers"]).iter().map(|h| h.to_ascii_lowercase()).collect();
    for needed in ["cloudfront-viewer-address", "accept-language", "content-type"] {
        assert!(forwarded.iter().any(|h| h == needed), "{needed} is not forwarded");
    }
    for never in ["host", send_passkey_link::config::PAGE_EDGE_HEADER] {
        assert!(!forwarded.iter().any(|h| h == never), "{never} is forwarded from the viewer");
    }
    assert_eq!(request["QueryStringsConfig"]["QueryStringBehavior"], "all");
    // No access logs: CloudFront's record the query string, which carries the link's code.
    assert!(config["Logging"].is_null());
    assert!(t["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .all(|r| r["Type"] != "AWS::WAFv2::LoggingConfiguration"));

    assert!(is_get_att(&t["Outputs"]["DistributionDomainName"]["Value"], "Distribution.DomainName"));
}
