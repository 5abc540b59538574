//! infra/template.yaml and the code agree: key schema, TTL attribute, environment variable
//! names, binary name, route, metric names; plus the policy rules we hold the template to
//! (no wildcards, encryption, point-in-time recovery, retained table).

use send_passkey_link::store::dynamodb::keys;
use send_passkey_link::store::TextLevel;
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
}

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

/// A function's allowed actions, sorted, each once; no statement has a wildcard.
fn actions(t: &Value, function: &str) -> Vec<String> {
    let mut actions = Vec::new();
    for statement in statements(t, function) {
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
    actions
}

#[test]
fn policies_are_least_privilege() {
    let t = template();
    assert_eq!(
        actions(&t, "Function"),
        [
            "dynamodb:BatchGetItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:Encrypt",
            "kms:GenerateDataKey",
            "ses:SendEmail"
        ]
    );
    // The feedback function records what SES reports; it sends nothing.
    assert_eq!(
        actions(&t, "DeliveryFeedbackFunction"),
        [
            "dynamodb:BatchGetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:Encrypt",
            "kms:GenerateDataKey"
        ]
    );
}

#[test]
fn writes_and_queries_are_limited_to_the_key_prefix_the_code_writes() {
    let t = template();
    let write = statement(&t, "Function", "UserPartitionsOnly");
    let prefixes = strings(&write["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]);
    assert_eq!(prefixes, ["USER#*", "CREDENTIAL#*", "LIMIT#*", "TEXTS#*"]);
    // Every key the function writes starts with one of those prefixes.
    let user = send_passkey_link::model::UserId::parse("u1").unwrap();
    let org = send_passkey_link::model::OrgId::parse("o1").unwrap();
    for key in [
        keys::user(&user),
        keys::passkey_link(&user, "c1"),
        keys::user_event(&user, 1),
        keys::mail_failure(&user, 1),
        keys::ceremony(&user, "p1"),
        keys::passkey(&user, "p1"),
        keys::credential("cred"),
        keys::limit_window("source#127.0.0.1", 60),
        keys::texts(&TextLevel::Org(org.clone())),
        keys::text_event(&TextLevel::Org(org), 1),
        keys::texts(&TextLevel::Instance),
        keys::text_event(&TextLevel::Instance, 1),
    ] {
        let pk = key[keys::PK].as_s().unwrap();
        assert!(prefixes.iter().any(|p| pk.starts_with(p.trim_end_matches('*'))), "{pk}");
    }
    // Only writes carry the condition; no other statement grants a write.
    for s in statements(&t, "Function") {
        let actions = strings(&s["Action"]);
        if actions.iter().any(|a| a.starts_with("dynamodb:") && a != "dynamodb:BatchGetItem") {
            assert_eq!(s["Sid"], "UserPartitionsOnly");
        }
    }

    // The feedback function touches the user's partition only, reads included: every
    // DynamoDB action it has is in the one statement that carries the condition.
    let feedback = statement(&t, "DeliveryFeedbackFunction", "RecordOnUserPartitionsOnly");
    let prefixes = strings(&feedback["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]);
    assert_eq!(prefixes, ["USER#*"]);
    for key in [keys::user(&user), keys::passkey_link(&user, "c1"), keys::user_event(&user, 1)] {
        assert!(key[keys::PK].as_s().unwrap().starts_with("USER#"));
    }
    for s in statements(&t, "DeliveryFeedbackFunction") {
        if strings(&s["Action"]).iter().any(|a| a.starts_with("dynamodb:")) {
            assert_eq!(s["Sid"], "RecordOnUserPartitionsOnly");
        }
    }
}

#[test]
fn mail_may_only_come_from_the_sender_address() {
    let t = template();
    for s in statements(&t, "Function") {
        if strings(&s["Action"]) == ["ses:SendEmail"] {
            assert!(
                is_ref(&s["Condition"]["StringEquals"]["ses:FromAddress"], "SenderEmail"),
                "{:?}",
                s["Sid"]
            );
        }
    }
    let env = &resource(&t, "Function")["Properties"]["Environment"]["Variables"];
    let (condition, _, bare) = if_parts(&env["MAIL_FROM"]);
    assert_eq!(condition, "HasSenderName");
    assert!(is_ref(bare, "SenderEmail"));
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
fn reserved_concurrency_is_a_parameter_unreserved_by_default() {
    let t = template();
    let (condition, reserved, unset) =
        if_parts(&resource(&t, "Function")["Properties"]["ReservedConcurrentExecutions"]);
    assert_eq!(condition, "HasReservedConcurrency");
    assert!(is_ref(reserved, "ReservedConcurrency"));
    assert!(is_ref(unset, "AWS::NoValue"));
    assert_eq!(t["Parameters"]["ReservedConcurrency"]["Default"], -1);
}

#[test]
fn a_customer_managed_key_covers_the_table_and_every_log_group() {
    let t = template();
    let sse = &resource(&t, "Table")["Properties"]["SSESpecification"];
    assert_eq!(if_parts(&sse["SSEType"]).0, "HasKmsKey");
    assert!(is_ref(if_parts(&sse["KMSMasterKeyId"]).1, "KmsKeyArn"));
    let resources = t["Resources"].as_mapping().unwrap();
    let log_groups: Vec<_> = resources.iter().filter(|(_, r)| r["Type"] == "AWS::Logs::LogGroup").collect();
    assert!(log_groups.len() >= 2);
    for (name, group) in log_groups {
        let (condition, key, _) = if_parts(&group["Properties"]["KmsKeyId"]);
        assert_eq!(condition, "HasKmsKey", "{name:?}");
        assert!(is_ref(key, "KmsKeyArn"), "{name:?}");
    }
    // Each function may use the key only through DynamoDB (and SQS, the feedback function's
    // dead-letter queue), and only when one is set.
    for function in FUNCTIONS {
        let mut kms = 0;
        for s in t["Resources"][function]["Properties"]["Policies"][0]["Statement"].as_sequence().unwrap() {
            if !strings(s).iter().any(|v| v.starts_with("kms:")) {
                continue;
            }
            kms += 1;
            let (condition, grant, _) = if_parts(s);
            assert_eq!(condition, "HasKmsKey", "{function}");
            assert!(is_ref(&grant["Resource"], "KmsKeyArn"), "{function}");
            assert!(!grant["Condition"]["StringEquals"]["kms:ViaService"].is_null(), "{function}");
        }
        assert!(kms > 0, "{function}");
    }
    let queue = &resource(&t, "DeliveryFeedbackDeadLetterQueue")["Properties"];
    assert!(is_ref(if_parts(&queue["KmsMasterKeyId"]).1, "KmsKeyArn"));
    // Not alias/aws/sqs: EventBridge cannot use the AWS-managed key.
    assert_eq!(if_parts(&queue["SqsManagedSseEnabled"]).2, &Value::Bool(true));
}

#[test]
fn every_function_is_one_the_policy_tests_check() {
    let t = template();
    let mut functions: Vec<&str> = t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(name, _)| name.as_str().unwrap())
        .collect();
    functions.sort();
    let mut checked = FUNCTIONS.to_vec();
    checked.sort();
    assert_eq!(functions, checked);
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

#[test]
fn the_release_profile_names_unwind_so_cargo_lambda_keeps_it() {
    // send_passkey_link::event turns lambda_http's panics on odd events into 400s with
    // catch_unwind; `panic = "abort"` would make each of them a crashed function instead.
    // cargo-lambda, which builds the deployed bootstrap, adds panic = "abort" to a release
    // profile that names no strategy, so leaving cargo's default implicit is not enough.
    let manifest =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let mut section = String::new();
    let mut release_panic = Vec::new();
    for line in manifest.lines() {
        // TOML: a comment runs from '#' to the end of the line (no '#' in this manifest's strings).
        let line: String = line.split('#').next().unwrap().chars().filter(|c| !c.is_whitespace()).collect();
        if line.starts_with('[') {
            section = line.clone();
        }
        if section == "[profile.release]" && line.starts_with("panic=") {
            release_panic.push(line.replace('\'', "\""));
        }
    }
    assert_eq!(release_panic, ["panic=\"unwind\""], "[profile.release] must say panic = \"unwind\"");
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

#[test]
fn the_feedback_function_is_the_delivery_feedback_binary_with_its_table() {
    let t = template();
    assert_eq!(t["Parameters"]["DeliveryFeedback"]["Default"], "enabled");
    let function = resource(&t, "DeliveryFeedbackFunction");
    assert_eq!(function["Condition"], "FeedbackOn");
    assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda");
    assert_eq!(function["Metadata"]["BuildProperties"]["Binary"], "delivery-feedback");
    assert!(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin/delivery-feedback.rs").exists());
    let props = &function["Properties"];
    assert_eq!(props["Runtime"], "provided.al2023");
    assert_eq!(props["Architectures"][0], "arm64");
    assert_eq!(props["Tracing"], "Active");
    assert_eq!(props["LoggingConfig"]["LogFormat"], "JSON");
    assert!(is_ref(&props["LoggingConfig"]["LogGroup"], "DeliveryFeedbackLogGroup"));
    let env = props["Environment"]["Variables"].as_mapping().unwrap();
    let mut names: Vec<&str> = env.keys().map(|k| k.as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["RUST_LOG", "TABLE_NAME"]);
    assert!(is_ref(&props["Environment"]["Variables"]["TABLE_NAME"], "Table"));
    // Nothing but the rule invokes it.
    let events = props["Events"].as_mapping().unwrap();
    assert_eq!(events.len(), 1);
    assert!(events.values().all(|e| e["Type"] == "EventBridgeRule"));
}

#[test]
fn the_feedback_function_may_not_send_mail() {
    let t = template();
    for action in actions(&t, "DeliveryFeedbackFunction") {
        assert!(!action.starts_with("ses:"), "{action}");
    }
}

#[test]
fn the_rule_takes_the_link_mails_ses_events_and_no_other() {
    let t = template();
    let rule = &resource(&t, "DeliveryFeedbackFunction")["Properties"]["Events"]["SesEvents"]["Properties"];
    // No EventBusName: the default bus, the one SES publishes to.
    assert!(rule["EventBusName"].is_null());
    let pattern = &rule["Pattern"];
    assert_eq!(strings(&pattern["source"]), ["aws.ses"]);
    // The tag the send function puts on every link mail.
    assert_eq!(
        strings(&pattern["detail"]["mail"]["tags"]["purpose"]),
        [send_passkey_link::delivery::PURPOSE]
    );
    // Only this stack's mails: the deployment tag the send function puts on each is the
    // stack's name; on a configuration set stacks share, each adds a destination named after
    // its stack id (names must be shorter than 64 characters).
    assert!(is_ref(&pattern["detail"]["mail"]["tags"]["deployment"][0], "AWS::StackName"));
    let send_env = &resource(&t, "Function")["Properties"]["Environment"]["Variables"];
    assert!(is_ref(&send_env["MAIL_DEPLOYMENT_TAG"], "AWS::StackName"));
    let name = &resource(&t, "DeliveryEventDestination")["Properties"]["EventDestination"]["Name"];
    let Value::Tagged(name) = name else { panic!("{name:?}") };
    assert_eq!(name.tag, "Sub");
    assert_eq!(name.value[0], "passkeys-${StackUuid}");
    let uuid = serde_yaml::to_string(&name.value[1]["StackUuid"]).unwrap();
    assert!(uuid.contains("AWS::StackId"), "{uuid}");

    // The detail types of exactly the event types the configuration set publishes.
    let destination = &resource(&t, "DeliveryEventDestination");
    assert_eq!(destination["Condition"], "FeedbackOn");
    let destination = &destination["Properties"]["EventDestination"];
    assert_eq!(destination["Enabled"], true);
    let bus = strings(&destination["EventBridgeDestination"]["EventBusArn"]);
    assert!(bus[0].ends_with(":event-bus/default"), "{bus:?}");
    let detail_type = |event_type: &str| match event_type {
        "send" => "Email Sent",
        "delivery" => "Email Delivered",
        "bounce" => "Email Bounced",
        "complaint" => "Email Complaint Received",
        "deliveryDelay" => "Email Delivery Delayed",
        "reject" => "Email Rejected",
        "renderingFailure" => "Email Rendering Failed",
        other => panic!("no detail type known for {other}"),
    };
    let mut published: Vec<&str> = destination["MatchingEventTypes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| detail_type(e.as_str().unwrap()))
        .collect();
    let mut matched = strings(&pattern["detail-type"]);
    published.sort();
    matched.sort();
    assert_eq!(matched, published);
    assert_eq!(matched.len(), 7);
}

#[test]
fn failed_events_reach_the_dead_letter_queue_from_the_function_and_from_the_rule() {
    let t = template();
    let queue = resource(&t, "DeliveryFeedbackDeadLetterQueue");
    assert_eq!(queue["Type"], "AWS::SQS::Queue");
    assert_eq!(queue["Properties"]["MessageRetentionPeriod"], 14 * 24 * 3600);
    let arn = "DeliveryFeedbackDeadLetterQueue.Arn";
    let props = &resource(&t, "DeliveryFeedbackFunction")["Properties"];
    // Failed invocations, after Lambda's retries.
    assert_eq!(props["DeadLetterQueue"]["Type"], "SQS");
    assert!(is_get_att(&props["DeadLetterQueue"]["TargetArn"], arn));
    assert_eq!(props["EventInvokeConfig"]["MaximumRetryAttempts"], 2);
    // Events EventBridge could not hand to Lambda.
    let rule = &props["Events"]["SesEvents"]["Properties"];
    assert!(is_get_att(&rule["DeadLetterConfig"]["Arn"], arn));
    assert!(rule["RetryPolicy"]["MaximumRetryAttempts"].as_u64().is_some());
    // SAM gives an existing queue no policy: ours lets EventBridge send from that rule only
    // (SAM names the rule after the function and the event).
    let policy = &resource(&t, "DeliveryFeedbackDeadLetterQueuePolicy")["Properties"];
    assert!(is_ref(&policy["Queues"][0], "DeliveryFeedbackDeadLetterQueue"));
    let grants = policy["PolicyDocument"]["Statement"].as_sequence().unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["Principal"]["Service"], "events.amazonaws.com");
    assert_eq!(grants[0]["Action"], "sqs:SendMessage");
    assert!(is_get_att(&grants[0]["Resource"], arn));
    assert!(is_get_att(
        &grants[0]["Condition"]["ArnEquals"]["aws:SourceArn"],
        "DeliveryFeedbackFunctionSesEvents.Arn"
    ));
    // Someone hears of it.
    let alarm = &resource(&t, "DeadLetterQueueAlarm")["Properties"];
    assert_eq!(alarm["MetricName"], "ApproximateNumberOfMessagesVisible");
    assert!(is_get_att(&alarm["Dimensions"][0]["Value"], "DeliveryFeedbackDeadLetterQueue.QueueName"));
    assert_eq!(alarm["Threshold"], 1);
    let errors = &resource(&t, "DeliveryFeedbackErrorsAlarm")["Properties"];
    assert!(is_ref(&errors["Dimensions"][0]["Value"], "DeliveryFeedbackFunction"));
}

#[test]
fn the_send_function_uses_the_created_or_the_given_configuration_set() {
    let t = template();
    assert_eq!(resource(&t, "ConfigurationSet")["Condition"], "CreateConfigurationSet");
    assert!(is_the_set_in_use(
        &resource(&t, "DeliveryEventDestination")["Properties"]["ConfigurationSetName"]
    ));
    // Named in the variable and the IAM statement whenever one is in use, absent otherwise.
    let env = &resource(&t, "Function")["Properties"]["Environment"]["Variables"];
    let (condition, set, none) = if_parts(&env["SES_CONFIGURATION_SET"]);
    assert_eq!(condition, "UsesConfigurationSet");
    assert!(is_the_set_in_use(set));
    assert!(is_ref(none, "AWS::NoValue"));
    let (condition, grant, none) = if_parts(
        t["Resources"]["Function"]["Properties"]["Policies"][0]["Statement"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|s| matches!(s, Value::Tagged(t) if t.value[1]["Sid"] == "SendMailWithConfigurationSet"))
            .unwrap(),
    );
    assert_eq!(condition, "UsesConfigurationSet");
    assert!(is_ref(none, "AWS::NoValue"));
    let Value::Tagged(sub) = &grant["Resource"] else { panic!("expected !Sub") };
    assert_eq!(sub.tag, "Sub");
    assert!(sub.value[0].as_str().unwrap().ends_with(":configuration-set/${Name}"));
    assert!(is_the_set_in_use(&sub.value[1]["Name"]));
    assert!(is_ref(&grant["Condition"]["StringEquals"]["ses:FromAddress"], "SenderEmail"));
    // In use: the given set, or feedback's own.
    assert_eq!(
        strings(&t["Conditions"]["UsesConfigurationSet"]),
        strings(&serde_yaml::from_str::<Value>("[HasConfigurationSet, FeedbackOn]").unwrap())
    );
    assert!(is_the_set_in_use(&t["Outputs"]["ConfigurationSetName"]["Value"]));
}

#[test]
fn the_reputation_alarms_fire_before_ses_reviews_the_account() {
    let t = template();
    let bounce = resource(&t, "BounceRateAlarm");
    // The account's rate, which the link mails count toward with or without feedback: one
    // stack of an account keeps these alarms.
    assert_eq!(bounce["Condition"], "HasReputationAlarms");
    assert_eq!(t["Parameters"]["ReputationAlarms"]["Default"], "enabled");
    let bounce = &bounce["Properties"];
    assert_eq!(bounce["Namespace"], "AWS/SES");
    assert_eq!(bounce["MetricName"], "Reputation.BounceRate");
    assert!(is_ref(&bounce["Threshold"], "BounceRateAlarmThreshold"));
    let threshold = &t["Parameters"]["BounceRateAlarmThreshold"];
    // SES reviews an account at 5% bounces.
    assert!(threshold["Default"].as_f64().unwrap() < 0.05);
    assert!(threshold["MaxValue"].as_f64().unwrap() <= 0.1);
    let complaint = &resource(&t, "ComplaintRateAlarm")["Properties"];
    assert_eq!(complaint["Namespace"], "AWS/SES");
    assert_eq!(complaint["MetricName"], "Reputation.ComplaintRate");
    assert!(complaint["Threshold"].as_f64().unwrap() <= 0.001);
    for name in
        ["BounceRateAlarm", "ComplaintRateAlarm", "DeadLetterQueueAlarm", "DeliveryFeedbackErrorsAlarm"]
    {
        let props = &resource(&t, name)["Properties"];
        assert_eq!(if_parts(&props["AlarmActions"]).0, "HasAlarmEmail", "{name}");
        assert_eq!(props["TreatMissingData"], "notBreaching", "{name}");
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

fn page_edge() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/page-edge.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

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

    assert!(is_get_att(&t["Outputs"]["DistributionDomainName"]["Value"], "Distribution.DomainName"));
}
