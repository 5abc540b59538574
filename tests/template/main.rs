//! infra/template.yaml (and infra/page-edge.yaml) and the code agree: key schema, TTL
//! attribute, environment variable names, binary names, routes, metric names; plus the policy
//! rules we hold the templates to (no wildcards, encryption, point-in-time recovery, retained
//! table). One module per part of the template; the readers they share are here.

mod api;
mod domain;
mod edge;
mod feedback;
mod functions;
mod ops;

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

/// The functions the template deploys.
const FUNCTIONS: [&str; 2] = ["Function", "DeliveryFeedbackFunction"];

/// A function's policy statements, optional ones (`!If [condition, statement, NoValue]`)
/// unwrapped.
fn statements<'a>(t: &'a Value, function: &str) -> Vec<&'a Value> {
    let statements =
        t["Resources"][function]["Properties"]["Policies"][0]["Statement"].as_sequence().unwrap();
    statements
        .iter()
        .map(|s| match s {
            Value::Tagged(t) if t.tag == "If" => &t.value[1],
            other => other,
        })
        .collect()
}

fn statement<'a>(t: &'a Value, function: &str, sid: &str) -> &'a Value {
    statements(t, function).into_iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("statement {sid}"))
}

fn is_ref(v: &Value, name: &str) -> bool {
    matches!(v, Value::Tagged(t) if t.tag == "Ref" && t.value == name)
}

/// `!If [condition, then, else]` as (condition, then, else).
fn if_parts(v: &Value) -> (&str, &Value, &Value) {
    match v {
        Value::Tagged(t) if t.tag == "If" => (t.value[0].as_str().unwrap(), &t.value[1], &t.value[2]),
        other => panic!("expected !If, got {other:?}"),
    }
}

/// The one wildcard resource allowed: in the SES sandbox, SES authorizes a send against each
/// recipient's identity too, which the template cannot name; the grant is `ses:SendEmail` alone,
/// still only from `SenderEmail` (tests/template/ops.rs checks it is optional).
const SANDBOX_RECIPIENTS: &str = "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*";

fn is_sandbox_recipients_grant(statement: &Value, resource: &str) -> bool {
    resource == SANDBOX_RECIPIENTS
        && statement["Sid"] == "SendMailToSandboxRecipients"
        && statement["Action"] == "ses:SendEmail"
        && is_ref(&statement["Condition"]["StringEquals"]["ses:FromAddress"], "SenderEmail")
}

/// A function's allowed actions, sorted, each once; no statement has a wildcard (but the
/// sandbox's recipients).
fn actions(t: &Value, function: &str) -> Vec<String> {
    let mut actions = Vec::new();
    for statement in statements(t, function) {
        assert_eq!(statement["Effect"], "Allow");
        for resource in strings(&statement["Resource"]) {
            assert!(
                !resource.contains('*') || is_sandbox_recipients_grant(statement, &resource),
                "wildcard resource {resource}"
            );
        }
        actions.extend(strings(&statement["Action"]));
    }
    for action in &actions {
        assert!(!action.contains('*'), "wildcard action {action}");
    }
    actions.sort();
    actions.dedup();
    actions
}

fn is_get_att(v: &Value, target: &str) -> bool {
    matches!(v, Value::Tagged(t) if t.tag == "GetAtt" && t.value == target)
}

/// `!If [CreateConfigurationSet, !Ref ConfigurationSet, !Ref SesConfigurationSet]`: the set
/// the stack creates, else the one given.
fn is_the_set_in_use(v: &Value) -> bool {
    let (condition, created, given) = if_parts(v);
    condition == "CreateConfigurationSet"
        && is_ref(created, "ConfigurationSet")
        && is_ref(given, "SesConfigurationSet")
}

fn page_edge() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/page-edge.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
