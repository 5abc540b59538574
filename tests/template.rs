//! infra/template.yaml and the code agree: key schema, TTL attribute, environment variable
//! names, binary name, route, metric names; plus the policy rules we hold the template to
//! (no wildcards, encryption, point-in-time recovery, retained table).

use send_passkey_link::store::dynamodb::keys;
use send_passkey_link::{config, metrics};
use serde_yaml::Value;

fn template() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn resource<'a>(t: &'a Value, name: &str) -> &'a Value {
    &t["Resources"][name]
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        Value::Mapping(map) => map.values().flat_map(strings).collect(),
        Value::Tagged(tagged) => strings(&tagged.value),
        _ => Vec::new(),
    }
}

#[test]
fn table_matches_the_keys_the_code_writes() {
    let t = template();
    let table = resource(&t, "Table");
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    let schema = &table["Properties"]["KeySchema"];
    assert_eq!(schema[0]["AttributeName"], keys::PK);
    assert_eq!(schema[0]["KeyType"], "HASH");
    assert_eq!(schema[1]["AttributeName"], keys::SK);
    assert_eq!(schema[1]["KeyType"], "RANGE");
    let ttl = &table["Properties"]["TimeToLiveSpecification"];
    assert_eq!(ttl["AttributeName"], keys::TTL_ATTRIBUTE);
    assert_eq!(ttl["Enabled"], true);
    assert_eq!(table["Properties"]["BillingMode"], "PAY_PER_REQUEST");
}

#[test]
fn table_is_encrypted_recoverable_and_retained() {
    let t = template();
    let table = resource(&t, "Table");
    assert_eq!(table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true);
    assert_eq!(table["Properties"]["SSESpecification"]["SSEEnabled"], true);
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
    assert!(!table["Properties"]["DeletionProtectionEnabled"].is_null());
}

#[test]
fn function_is_the_binary_with_the_environment_the_code_reads() {
    let t = template();
    let function = resource(&t, "Function");
    let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
    assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda");
    assert!(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("src/bin/{binary}.rs")).exists(),
        "binary {binary} exists"
    );
    let props = &function["Properties"];
    assert_eq!(props["Runtime"], "provided.al2023");
    assert_eq!(props["Architectures"][0], "arm64");
    assert_eq!(props["Tracing"], "Active");
    assert_eq!(props["LoggingConfig"]["LogFormat"], "JSON");
    assert!(props["Timeout"].as_u64().unwrap() > 3, "longer than one AWS operation's budget");

    let env = props["Environment"]["Variables"].as_mapping().unwrap();
    let names: Vec<&str> = env.keys().map(|k| k.as_str().unwrap()).collect();
    for name in &names {
        assert!(config::VARIABLES.contains(name), "{name} is set but the code never reads it");
    }
    for required in ["TABLE_NAME", "MAIL_FROM", "LINK_URL_TEMPLATE"] {
        assert!(names.contains(&required), "{required} is not set");
    }

    let route = &props["Events"]["SendLink"]["Properties"];
    assert_eq!(route["Path"], "/management/v1/users/{userId}/passwordless/_send_link");
    assert_eq!(route["Method"], "POST");
}

#[test]
fn policies_are_least_privilege() {
    let t = template();
    let statements =
        t["Resources"]["Function"]["Properties"]["Policies"][0]["Statement"].as_sequence().unwrap();
    let mut actions = Vec::new();
    // Optional statements are `!If [condition, statement, !Ref AWS::NoValue]`.
    let statements = statements.iter().map(|s| match s {
        Value::Tagged(t) if t.tag == "If" => &t.value[1],
        other => other,
    });
    for statement in statements {
        assert_eq!(statement["Effect"], "Allow");
        for resource in strings(&statement["Resource"]) {
            assert!(!resource.contains('*'), "wildcard resource {resource}");
        }
        actions.extend(strings(&statement["Action"]));
    }
    for action in &actions {
        assert!(!action.contains('*'), "wildcard action {action}");
    }
    actions.sort();
    actions.dedup();
    assert_eq!(
        actions,
        [
            "dynamodb:BatchGetItem",
            "dynamodb:DeleteItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "ses:SendEmail"
        ]
    );
}

#[test]
fn the_mail_failure_alarm_watches_the_metric_the_code_emits() {
    let t = template();
    let alarm = &resource(&t, "MailSendFailuresAlarm")["Properties"];
    assert_eq!(alarm["Namespace"], metrics::NAMESPACE);
    assert_eq!(alarm["MetricName"], metrics::MAIL_SEND_FAILURES);
    assert_eq!(alarm["Dimensions"][0]["Name"], "Service");
    assert_eq!(alarm["Dimensions"][0]["Value"], metrics::SERVICE);
    for name in ["FunctionErrorsAlarm", "FunctionThrottlesAlarm", "Api5xxAlarm"] {
        assert_eq!(resource(&t, name)["Type"], "AWS::CloudWatch::Alarm", "{name}");
    }
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
