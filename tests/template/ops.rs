//! What a first day in AWS needs to work and to be seen: alarms that reach someone, sends the
//! SES sandbox lets through, log levels Lambda keeps, the dashboard, the access log, CORS.

use super::*;
use send_passkey_link::metrics;

/// Every alarm of the template.
fn alarms(t: &Value) -> Vec<(&str, &Value)> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(name, r)| (name.as_str().unwrap(), r))
        .collect()
}

/// The raw (not unwrapped) policy statement of `function` with this Sid, inside its `!If`.
fn optional_statement<'a>(t: &'a Value, function: &str, sid: &str) -> (&'a str, &'a Value, &'a Value) {
    let statement = t["Resources"][function]["Properties"]["Policies"][0]["Statement"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| matches!(s, Value::Tagged(t) if t.tag == "If" && t.value[1]["Sid"] == sid))
        .unwrap_or_else(|| panic!("no optional statement {sid}"));
    if_parts(statement)
}

#[test]
fn alarms_reach_the_topic_which_cloudwatch_may_publish_to() {
    let t = template();
    let topic = resource(&t, "AlarmTopic");
    assert_eq!(topic["Condition"], "HasAlarmEmail");
    // alias/aws/sns's key policy cannot admit CloudWatch: a topic under it takes no alarm.
    assert!(!strings(topic).iter().any(|s| s.starts_with("alias/aws/")));
    let (condition, key, none) = if_parts(&topic["Properties"]["KmsMasterKeyId"]);
    assert_eq!(condition, "HasKmsKey");
    assert!(is_ref(key, "KmsKeyArn"));
    assert!(is_ref(none, "AWS::NoValue"));

    let policy = resource(&t, "AlarmTopicPolicy");
    assert_eq!(policy["Type"], "AWS::SNS::TopicPolicy");
    assert_eq!(policy["Condition"], "HasAlarmEmail");
    assert!(is_ref(&policy["Properties"]["Topics"][0], "AlarmTopic"));
    let grants = policy["Properties"]["PolicyDocument"]["Statement"].as_sequence().unwrap();
    assert_eq!(grants.len(), 1);
    let grant = &grants[0];
    assert_eq!(grant["Effect"], "Allow");
    assert_eq!(grant["Principal"]["Service"], "cloudwatch.amazonaws.com");
    assert_eq!(grant["Action"], "sns:Publish");
    assert!(is_ref(&grant["Resource"], "AlarmTopic"));
    assert!(is_ref(&grant["Condition"]["StringEquals"]["aws:SourceAccount"], "AWS::AccountId"));

    // Every alarm notifies the topic when there is one, and nothing otherwise.
    let all = alarms(&t);
    for name in
        ["Api4xxAlarm", "ApiLatencyAlarm", "TableThrottlesAlarm", "TableSystemErrorsAlarm", "Api5xxAlarm"]
    {
        assert!(all.iter().any(|(n, _)| *n == name), "{name}");
    }
    for (name, alarm) in all {
        let (condition, actions, none) = if_parts(&alarm["Properties"]["AlarmActions"]);
        assert_eq!(condition, "HasAlarmEmail", "{name}");
        assert!(is_ref(&actions[0], "AlarmTopic"), "{name}");
        assert!(is_ref(none, "AWS::NoValue"), "{name}");
        assert_eq!(alarm["Properties"]["TreatMissingData"], "notBreaching", "{name}");
    }
    let email = t["Parameters"]["AlarmEmail"]["Description"].as_str().unwrap();
    assert!(email.contains("no alarm action at all"), "{email}");
}

#[test]
fn in_the_ses_sandbox_the_function_may_name_the_recipients_identities() {
    let t = template();
    // The sender's own identity, always.
    let send = statement(&t, "Function", "SendMail");
    assert!(strings(&send["Resource"])[0].ends_with(":identity/${SenderIdentity}"));
    // Any identity of the account while in the sandbox (the default: a new account is), still
    // only from the sender address; nothing more once production access is granted.
    let (condition, grant, none) = optional_statement(&t, "Function", "SendMailToSandboxRecipients");
    assert_eq!(condition, "InSesSandbox");
    assert!(is_ref(none, "AWS::NoValue"));
    assert_eq!(strings(&grant["Resource"]), [SANDBOX_RECIPIENTS]);
    assert!(is_sandbox_recipients_grant(grant, SANDBOX_RECIPIENTS));
    assert_eq!(t["Parameters"]["SesSandbox"]["Default"], "true");
    assert_eq!(strings(&t["Conditions"]["InSesSandbox"]), ["SesSandbox", "true"]);
    // The exception is that statement alone: the same resource under another Sid or action,
    // or without the sender condition, is still a wildcard.
    let mut other = grant.clone();
    other["Sid"] = Value::from("SendAnything");
    assert!(!is_sandbox_recipients_grant(&other, SANDBOX_RECIPIENTS));
    let mut other = grant.clone();
    other["Condition"] = Value::Null;
    assert!(!is_sandbox_recipients_grant(&other, SANDBOX_RECIPIENTS));
    assert!(!is_sandbox_recipients_grant(grant, "arn:${AWS::Partition}:ses:*"));
}

#[test]
fn lambda_passes_on_the_log_level_the_functions_log_at() {
    let t = template();
    let levels: Vec<String> = strings(&t["Parameters"]["LogLevel"]["AllowedValues"]);
    assert_eq!(levels, ["error", "warn", "info", "debug"]);
    let map = &t["Mappings"]["LambdaLogLevels"];
    for level in &levels {
        // Lambda's names of tracing's levels, which the JSON lines carry as "level".
        assert_eq!(map[level.as_str()]["Application"], level.to_uppercase(), "{level}");
        // The platform's REPORT lines (duration, memory, init) stay at INFO, DEBUG adds more.
        let system = if level == "debug" { "DEBUG" } else { "INFO" };
        assert_eq!(map[level.as_str()]["System"], system, "{level}");
    }
    for function in FUNCTIONS {
        let props = &resource(&t, function)["Properties"];
        assert!(is_ref(&props["Environment"]["Variables"]["RUST_LOG"], "LogLevel"), "{function}");
        for (key, column) in [("ApplicationLogLevel", "Application"), ("SystemLogLevel", "System")] {
            let Value::Tagged(find) = &props["LoggingConfig"][key] else { panic!("{function} {key}") };
            assert_eq!(find.tag, "FindInMap", "{function} {key}");
            assert_eq!(find.value[0], "LambdaLogLevels");
            assert!(is_ref(&find.value[1], "LogLevel"));
            assert_eq!(find.value[2], column);
        }
    }
}

#[test]
fn the_retained_table_has_the_stacks_name_so_a_new_stack_cannot_replace_it_silently() {
    let t = template();
    let table = resource(&t, "Table");
    assert_eq!(table["DeletionPolicy"], "Retain");
    let Value::Tagged(name) = &table["Properties"]["TableName"] else { panic!("TableName must be set") };
    assert_eq!(name.tag, "Sub");
    assert_eq!(name.value, "${AWS::StackName}-passkeys");
    // The deployer's permissions name tables send-passkey-link-*, the stacks' prefix.
    let deploying =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/deploying.md"))
            .unwrap();
    assert!(deploying.contains("table/send-passkey-link-*"));
    assert!(deploying.contains("--change-set-type IMPORT"));
}

#[test]
fn the_feedback_function_cannot_take_the_apis_concurrency() {
    let t = template();
    let function = resource(&t, "DeliveryFeedbackFunction");
    let (condition, reserved, unset) = if_parts(&function["Properties"]["ReservedConcurrentExecutions"]);
    assert_eq!(condition, "HasFeedbackConcurrency");
    assert!(is_ref(reserved, "DeliveryFeedbackConcurrency"));
    assert!(is_ref(unset, "AWS::NoValue"));
    let parameter = &t["Parameters"]["DeliveryFeedbackConcurrency"];
    assert_eq!(parameter["Default"], 2);
    assert_eq!(parameter["MinValue"], -1);
    assert_eq!(strings(&t["Conditions"]["HasFeedbackConcurrency"]), ["DeliveryFeedbackConcurrency", "-1"]);
    // checkov's concurrency check now holds: no skip for it.
    let skipped = strings(&function["Metadata"]["checkov"]["skip"]);
    assert!(!skipped.iter().any(|s| s == "CKV_AWS_115"), "{skipped:?}");
}

#[test]
fn the_api_alarms_watch_4xx_and_p99_latency() {
    let t = template();
    let api = |metric: &Value| {
        assert_eq!(metric["Namespace"], "AWS/ApiGateway");
        assert_eq!(metric["Dimensions"][0]["Name"], "ApiId");
        assert!(is_ref(&metric["Dimensions"][0]["Value"], "HttpApi"));
        assert_eq!(metric["Dimensions"][1]["Name"], "Stage");
        assert!(is_ref(&metric["Dimensions"][1]["Value"], "Stage"));
    };
    let four = &resource(&t, "Api4xxAlarm")["Properties"];
    let metrics = four["Metrics"].as_sequence().unwrap();
    let by_id = |id: &str| metrics.iter().find(|m| m["Id"] == id).unwrap();
    assert_eq!(by_id("rate")["ReturnData"], true);
    let expression = by_id("rate")["Expression"].as_str().unwrap();
    assert!(expression.contains("errors / requests"), "{expression}");
    for (id, name) in [("errors", "4xx"), ("requests", "Count")] {
        let metric = &by_id(id)["MetricStat"]["Metric"];
        api(metric);
        assert_eq!(metric["MetricName"], name);
        assert_eq!(by_id(id)["ReturnData"], false);
    }
    assert!(four["Threshold"].as_f64().unwrap() < 100.0);

    let latency = &resource(&t, "ApiLatencyAlarm")["Properties"];
    api(latency);
    assert_eq!(latency["MetricName"], "Latency");
    assert_eq!(latency["ExtendedStatistic"], "p99");
    assert!(is_ref(&latency["Threshold"], "ApiLatencyAlarmMs"));
    assert!(t["Parameters"]["ApiLatencyAlarmMs"]["Default"].as_u64().unwrap() < 10_000);
}

/// The DynamoDB operations the code calls (`.get_item()` ...), as CloudWatch names them.
fn operations_the_code_calls() -> Vec<String> {
    fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for call in [
                    "batch_get_item",
                    "batch_write_item",
                    "delete_item",
                    "get_item",
                    "put_item",
                    "query",
                    "scan",
                    "transact_get_items",
                    "transact_write_items",
                    "update_item",
                ] {
                    if text.contains(&format!(".{call}()")) {
                        found.push(call.split('_').map(|w| w[..1].to_uppercase() + &w[1..]).collect());
                    }
                }
            }
        }
    }
    let mut found = Vec::new();
    walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut found);
    found.sort();
    found.dedup();
    found
}

#[test]
fn the_table_alarms_sum_every_operation_the_code_calls() {
    let t = template();
    let operations = operations_the_code_calls();
    assert!(operations.contains(&"TransactWriteItems".to_owned()), "{operations:?}");
    for (alarm, name) in
        [("TableThrottlesAlarm", "ThrottledRequests"), ("TableSystemErrorsAlarm", "SystemErrors")]
    {
        let props = &resource(&t, alarm)["Properties"];
        let metrics = props["Metrics"].as_sequence().unwrap();
        let total = metrics.iter().find(|m| m["ReturnData"] == true).unwrap();
        let expression = total["Expression"].as_str().unwrap();
        let mut watched = Vec::new();
        for m in metrics.iter().filter(|m| m["ReturnData"] == false) {
            let stat = &m["MetricStat"];
            assert_eq!(stat["Stat"], "Sum", "{alarm}");
            let metric = &stat["Metric"];
            assert_eq!(metric["Namespace"], "AWS/DynamoDB", "{alarm}");
            assert_eq!(metric["MetricName"], name, "{alarm}");
            assert_eq!(metric["Dimensions"][0]["Name"], "TableName");
            assert!(is_ref(&metric["Dimensions"][0]["Value"], "Table"));
            assert_eq!(metric["Dimensions"][1]["Name"], "Operation");
            assert!(expression.contains(m["Id"].as_str().unwrap()), "{alarm}: {expression}");
            watched.push(metric["Dimensions"][1]["Value"].as_str().unwrap().to_owned());
        }
        watched.sort();
        assert_eq!(watched, operations, "{alarm}");
        assert_eq!(props["Threshold"], 1);
    }
}

/// The dashboard's body as CloudFormation would resolve it, with FeedbackOn as given; each
/// `${...}` becomes its own name.
fn dashboard_body(t: &Value, feedback: bool) -> serde_json::Value {
    fn eval(v: &Value, feedback: bool) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Tagged(t) if t.tag == "Join" => {
                let separator = t.value[0].as_str().unwrap();
                t.value[1]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .map(|p| eval(p, feedback))
                    .collect::<Vec<_>>()
                    .join(separator)
            }
            Value::Tagged(t) if t.tag == "If" => {
                assert_eq!(t.value[0], "FeedbackOn");
                eval(&t.value[if feedback { 1 } else { 2 }], feedback)
            }
            Value::Tagged(t) if t.tag == "Sub" => {
                let mut text = t.value.as_str().unwrap().to_owned();
                while let Some(start) = text.find("${") {
                    let end = start + text[start..].find('}').unwrap();
                    let name = text[start + 2..end].to_owned();
                    text.replace_range(start..=end, &name);
                }
                text
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let body = eval(&resource(t, "Dashboard")["Properties"]["DashboardBody"], feedback);
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("feedback {feedback}: {e}\n{body}"))
}

/// Each graphed metric as "namespace metric dimension-values stat", each search expression.
fn graphed(body: &serde_json::Value) -> Vec<String> {
    let mut graphed = Vec::new();
    for widget in body["widgets"].as_array().unwrap() {
        let props = &widget["properties"];
        assert!(props["title"].is_string());
        for line in props["metrics"].as_array().unwrap() {
            let line = line.as_array().unwrap();
            if let Some(expression) = line[0]["expression"].as_str() {
                graphed.push(expression.to_owned());
                continue;
            }
            let stat = line.last().unwrap()["stat"].as_str().or(props["stat"].as_str()).unwrap();
            let mut words: Vec<&str> = line.iter().filter_map(|w| w.as_str()).collect();
            words.push(stat);
            graphed.push(words.join(" "));
        }
    }
    graphed
}

#[test]
fn the_dashboard_shows_the_api_the_functions_the_table_and_the_mail() {
    let t = template();
    assert!(is_ref(&resource(&t, "Dashboard")["Properties"]["DashboardName"], "AWS::StackName"));
    for feedback in [false, true] {
        let graphed = graphed(&dashboard_body(&t, feedback));
        let api = "ApiId HttpApi Stage Stage";
        let mail = format!(
            "{} {} Service {} Sum",
            metrics::NAMESPACE,
            metrics::MAIL_SEND_FAILURES,
            metrics::SERVICE
        );
        let mut expected = vec![
            format!("AWS/ApiGateway Count {api} Sum"),
            format!("AWS/ApiGateway 4xx {api} Sum"),
            format!("AWS/ApiGateway 5xx {api} Sum"),
            format!("AWS/ApiGateway Latency {api} p50"),
            format!("AWS/ApiGateway Latency {api} p99"),
            "AWS/Lambda Duration FunctionName Function p50".to_owned(),
            "AWS/Lambda Duration FunctionName Function p99".to_owned(),
            "AWS/Lambda Errors FunctionName Function Sum".to_owned(),
            "AWS/Lambda Throttles FunctionName Function Sum".to_owned(),
            "AWS/Lambda ConcurrentExecutions FunctionName Function Maximum".to_owned(),
            mail,
        ];
        if feedback {
            expected.extend([
                "AWS/Lambda Errors FunctionName DeliveryFeedbackFunction Sum".to_owned(),
                "AWS/Lambda Throttles FunctionName DeliveryFeedbackFunction Sum".to_owned(),
                "AWS/SQS ApproximateNumberOfMessagesVisible QueueName DeliveryFeedbackDeadLetterQueue.QueueName Maximum"
                    .to_owned(),
            ]);
        }
        for line in &expected {
            assert!(graphed.contains(line), "feedback {feedback}: {line} not in {graphed:#?}");
        }
        for metric in ["ThrottledRequests", "SystemErrors"] {
            assert!(
                graphed.iter().any(|g| g.starts_with("SEARCH(")
                    && g.contains(&format!("MetricName=\"{metric}\""))
                    && g.contains("TableName=\"Table\"")),
                "{metric}: {graphed:#?}"
            );
        }
        // Without feedback the body names nothing of it (CloudFormation would refuse the ref).
        if !feedback {
            assert!(!graphed.iter().any(|g| g.contains("DeliveryFeedback")), "{graphed:#?}");
        }
    }
}

#[test]
fn the_access_log_is_one_json_line_with_the_integrations_side() {
    let t = template();
    let format = resource(&t, "HttpApi")["Properties"]["AccessLogSettings"]["Format"].as_str().unwrap();
    assert!(!format.contains('\n'));
    let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(format).unwrap();
    for (field, variable) in [
        ("requestId", "$context.requestId"),
        ("ip", "$context.identity.sourceIp"),
        ("requestTime", "$context.requestTime"),
        ("routeKey", "$context.routeKey"),
        ("status", "$context.status"),
        ("latency", "$context.responseLatency"),
        ("integrationError", "$context.integrationErrorMessage"),
        ("authorizerError", "$context.authorizer.error"),
        ("sub", "$context.authorizer.claims.sub"),
        ("integrationRequestId", "$context.integration.requestId"),
        ("integrationLatency", "$context.integrationLatency"),
        ("integrationErrorDetail", "$context.integration.error"),
    ] {
        assert_eq!(fields[field], variable, "{field}");
    }
}

#[test]
fn cors_is_off_unless_origins_are_given_and_then_covers_the_routes() {
    let t = template();
    assert_eq!(t["Parameters"]["CorsAllowedOrigins"]["Default"], "");
    assert_eq!(strings(&t["Conditions"]["HasCors"]), ["CorsAllowedOrigins", ""]);
    let (condition, cors, none) = if_parts(&resource(&t, "HttpApi")["Properties"]["CorsConfiguration"]);
    assert_eq!(condition, "HasCors");
    assert!(is_ref(none, "AWS::NoValue"));
    let Value::Tagged(split) = &cors["AllowOrigins"] else { panic!("AllowOrigins") };
    assert_eq!(split.tag, "Split");
    assert_eq!(split.value[0], ",");
    assert!(is_ref(&split.value[1], "CorsAllowedOrigins"));
    // A caller on another origin may read when to try again and what a 405 takes.
    assert_eq!(strings(&cors["ExposeHeaders"]), ["retry-after", "allow"]);
    // No credentials (cookies): callers send a bearer token.
    assert!(cors["AllowCredentials"].is_null());
    let headers = strings(&cors["AllowHeaders"]);
    for header in [
        "authorization",
        "content-type",
        send_passkey_link::http::ORG_HEADER,
        "connect-protocol-version",
        "connect-timeout-ms",
    ] {
        assert!(headers.iter().any(|h| h == header), "{header}");
    }
    let methods = strings(&cors["AllowMethods"]);
    for route in send_passkey_link::http::routes::ROUTES {
        assert!(methods.iter().any(|m| m == route.method), "{}", route.method);
    }
}
