//! The optional custom domain: its parameters come together (the Rules), the API is mapped on
//! it without the stage, and without a template of its own the link (and so the passkeys' relying
//! party id) is the function's page on it.

use super::*;
use send_passkey_link::config::Config;

const DOMAIN: &str = "passkeys.example.com";
const CERTIFICATE: &str =
    "arn:aws:acm:eu-central-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789";
const ZONE: &str = "Z0123456789ABCDEFGHIJ";
const LINK: &str = "https://login.example.com/ui/login/login/passwordless/init?userID={userID}&orgID={orgID}&codeID={codeID}&code={code}";

fn tag(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => Some((t.tag.to_string().trim_start_matches('!').to_owned(), &t.value)),
        _ => None,
    }
}

/// A parameter's value as the deploy sees it: the one given, else its default.
fn parameter(t: &Value, params: &[(&str, &str)], name: &str) -> String {
    match params.iter().find(|(n, _)| *n == name) {
        Some((_, value)) => (*value).to_owned(),
        None => match &t["Parameters"][name]["Default"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => panic!("parameter {name} has no value: {other:?}"),
        },
    }
}

/// A value as CloudFormation resolves it (`None` for `AWS::NoValue`): parameters, `!If`,
/// and `!Sub` of parameters.
fn resolve(t: &Value, params: &[(&str, &str)], v: &Value) -> Option<String> {
    match tag(v) {
        None => Some(v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}")).to_owned()),
        Some((name, inner)) => match name.as_str() {
            "Ref" if inner == "AWS::NoValue" => None,
            "Ref" => Some(parameter(t, params, inner.as_str().unwrap())),
            "If" => {
                let branch = if holds(t, params, &inner[0]) { &inner[1] } else { &inner[2] };
                resolve(t, params, branch)
            }
            "Sub" => {
                let mut text = inner.as_str().unwrap().to_owned();
                while let Some(start) = text.find("${") {
                    let end = start + text[start..].find('}').unwrap();
                    let value = parameter(t, params, &text[start + 2..end]);
                    text.replace_range(start..=end, &value);
                }
                Some(text)
            }
            other => panic!("cannot resolve !{other}"),
        },
    }
}

/// A condition, a rule's condition or an assertion, as CloudFormation evaluates it.
fn holds(t: &Value, params: &[(&str, &str)], v: &Value) -> bool {
    if let Value::String(condition) = v {
        return holds(t, params, &t["Conditions"][condition.as_str()]);
    }
    let (name, inner) = tag(v).unwrap_or_else(|| panic!("not a condition: {v:?}"));
    let all = || inner.as_sequence().unwrap().iter();
    match name.as_str() {
        "Equals" => resolve(t, params, &inner[0]) == resolve(t, params, &inner[1]),
        "Not" => !holds(t, params, &inner[0]),
        "And" => all().all(|c| holds(t, params, c)),
        "Or" => all().any(|c| holds(t, params, c)),
        "Condition" => holds(t, params, &t["Conditions"][inner.as_str().unwrap()]),
        other => panic!("unknown condition function !{other}"),
    }
}

/// The descriptions of the Rules' assertions the parameters break (empty: the deploy goes on).
fn broken_rules(t: &Value, params: &[(&str, &str)]) -> Vec<String> {
    let mut broken = Vec::new();
    for rule in t["Rules"].as_mapping().unwrap().values() {
        if rule.get("RuleCondition").is_some_and(|c| !holds(t, params, c)) {
            continue;
        }
        for assertion in rule["Assertions"].as_sequence().unwrap() {
            if !holds(t, params, &assertion["Assert"]) {
                broken.push(assertion["AssertDescription"].as_str().unwrap().to_owned());
            }
        }
    }
    broken
}

/// The function's configuration as it starts with the template's environment.
fn config(t: &Value, params: &[(&str, &str)]) -> Config {
    let variables = &resource(t, "Function")["Properties"]["Environment"]["Variables"];
    let env = |name: &str| match name {
        "TABLE_NAME" => Some("table".to_owned()),
        "MAIL_FROM" => Some("no-reply@example.com".to_owned()),
        "LINK_URL_TEMPLATE" | "WEBAUTHN_RP_ID" | "WEBAUTHN_ORIGINS" => resolve(t, params, &variables[name]),
        _ => None,
    };
    Config::from_lookup(env).unwrap()
}

fn with_domain<'a>(more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut params = vec![("DomainName", DOMAIN), ("CertificateArn", CERTIFICATE)];
    params.extend_from_slice(more);
    params
}

#[test]
fn a_domain_needs_a_certificate_and_a_link_without_one_needs_a_template() {
    let t = template();
    for (params, broken) in [
        (vec![("LinkUrlTemplate", LINK)], None),
        (with_domain(&[]), None),
        (with_domain(&[("HostedZoneId", ZONE)]), None),
        (with_domain(&[("LinkUrlTemplate", LINK)]), None),
        (vec![], Some("Without a DomainName, LinkUrlTemplate is required.")),
        (
            vec![("DomainName", DOMAIN)],
            Some("A DomainName needs a CertificateArn (ACM, in the stack's region)."),
        ),
        (
            vec![("LinkUrlTemplate", LINK), ("CertificateArn", CERTIFICATE)],
            Some("A CertificateArn is used only with a DomainName."),
        ),
        (
            vec![("LinkUrlTemplate", LINK), ("HostedZoneId", ZONE)],
            Some("A HostedZoneId is used only with a DomainName."),
        ),
    ] {
        let expected: Vec<String> = broken.into_iter().map(str::to_owned).collect();
        assert_eq!(broken_rules(&t, &params), expected, "{params:?}");
    }
    for name in ["LinkUrlTemplate", "DomainName", "CertificateArn", "HostedZoneId"] {
        assert_eq!(t["Parameters"][name]["Default"], "", "{name} is optional to CloudFormation");
    }
}

#[test]
fn the_domain_and_its_record_exist_only_when_asked_for() {
    let t = template();
    for (params, domain, record) in [
        (vec![("LinkUrlTemplate", LINK)], false, false),
        (with_domain(&[]), true, false),
        (with_domain(&[("HostedZoneId", ZONE)]), true, true),
    ] {
        assert_eq!(holds(&t, &params, &Value::from("HasDomain")), domain, "{params:?}");
        assert_eq!(holds(&t, &params, &Value::from("CreateDnsRecord")), record, "{params:?}");
    }
    for (name, condition) in [
        ("ApiDomain", "HasDomain"),
        ("ApiDomainMapping", "HasDomain"),
        ("ApiDomainRecord", "CreateDnsRecord"),
    ] {
        assert_eq!(resource(&t, name)["Condition"], condition, "{name}");
    }
    for output in ["DomainUrl", "RegionalDomainName", "RegionalHostedZoneId"] {
        assert_eq!(t["Outputs"][output]["Condition"], "HasDomain", "{output}");
    }
}

/// Regional (an edge-optimized domain needs its certificate in us-east-1 and puts CloudFront
/// in front of the page's per-source limits), TLS 1.2, and the stage mapped at the root: the
/// page's paths are ZITADEL's login paths with no `/<Stage>` before them.
#[test]
fn the_api_is_mapped_on_the_domain_at_the_root_of_its_stage() {
    let t = template();
    let domain = &resource(&t, "ApiDomain");
    assert_eq!(domain["Type"], "AWS::ApiGatewayV2::DomainName");
    assert!(is_ref(&domain["Properties"]["DomainName"], "DomainName"));
    let config = &domain["Properties"]["DomainNameConfigurations"];
    assert_eq!(config.as_sequence().unwrap().len(), 1);
    assert_eq!(config[0]["EndpointType"], "REGIONAL");
    assert_eq!(config[0]["SecurityPolicy"], "TLS_1_2");
    assert!(is_ref(&config[0]["CertificateArn"], "CertificateArn"));

    let mapping = &resource(&t, "ApiDomainMapping");
    assert_eq!(mapping["Type"], "AWS::ApiGatewayV2::ApiMapping");
    let mapping = &mapping["Properties"];
    assert!(is_ref(&mapping["DomainName"], "ApiDomain"));
    assert!(is_ref(&mapping["ApiId"], "HttpApi"));
    // SAM's name for the stage it generates: the mapping is created after the stage.
    assert!(is_ref(&mapping["Stage"], "HttpApi.Stage"));
    assert_eq!(mapping["ApiMappingKey"], "");
}

#[test]
fn the_record_is_an_alias_of_the_domain_s_regional_target() {
    let t = template();
    let record = &resource(&t, "ApiDomainRecord");
    assert_eq!(record["Type"], "AWS::Route53::RecordSet");
    let record = &record["Properties"];
    assert!(is_ref(&record["HostedZoneId"], "HostedZoneId"));
    assert!(is_ref(&record["Name"], "DomainName"));
    assert_eq!(record["Type"], "A");
    assert!(is_get_att(&record["AliasTarget"]["DNSName"], "ApiDomain.RegionalDomainName"));
    assert!(is_get_att(&record["AliasTarget"]["HostedZoneId"], "ApiDomain.RegionalHostedZoneId"));
    assert!(is_get_att(&t["Outputs"]["RegionalDomainName"]["Value"], "ApiDomain.RegionalDomainName"));
    assert!(is_get_att(&t["Outputs"]["RegionalHostedZoneId"]["Value"], "ApiDomain.RegionalHostedZoneId"));
}

#[test]
fn without_a_template_the_link_is_the_page_on_the_domain_and_passkeys_are_bound_to_it() {
    let t = template();
    let config = config(&t, &with_domain(&[]));
    let link = config.link_url_template.origin();
    assert_eq!(link, (format!("https://{DOMAIN}"), DOMAIN.to_owned()));
    assert_eq!(config.relying_parties.ids, [DOMAIN]);
    let origins: Vec<&str> = config.relying_parties.origins.iter().map(|o| o.as_str()).collect();
    assert_eq!(origins, [format!("https://{DOMAIN}/")]);

    let link = resolve(
        &t,
        &with_domain(&[]),
        &resource(&t, "Function")["Properties"]["Environment"]["Variables"]["LINK_URL_TEMPLATE"],
    )
    .unwrap();
    let (page, query) = link.strip_prefix(&format!("https://{DOMAIN}")).unwrap().split_once('?').unwrap();
    assert!(
        send_passkey_link::http::routes::ROUTES.iter().any(|r| r.method == "GET" && r.path == page),
        "{page} is the function's page"
    );
    assert_eq!(query, "userID={userID}&orgID={orgID}&codeID={codeID}&code={code}");
}

/// ZITADEL's login shares the passkeys when the RP id is a suffix both hosts share.
#[test]
fn a_shared_rp_id_keeps_the_page_s_origin_on_the_domain() {
    let t = template();
    let config = config(&t, &with_domain(&[("WebAuthnRpId", "example.com")]));
    assert_eq!(config.relying_parties.ids, ["example.com"]);
    let origins: Vec<&str> = config.relying_parties.origins.iter().map(|o| o.as_str()).collect();
    assert_eq!(origins, [format!("https://{DOMAIN}/")]);
}

#[test]
fn a_given_template_wins_over_the_domain_and_is_the_link_without_one() {
    let t = template();
    for params in [with_domain(&[("LinkUrlTemplate", LINK)]), vec![("LinkUrlTemplate", LINK)]] {
        let config = config(&t, &params);
        assert_eq!(config.link_url_template.origin().1, "login.example.com", "{params:?}");
        assert_eq!(config.relying_parties.ids, ["login.example.com"], "{params:?}");
    }
}
