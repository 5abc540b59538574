//! Delivery feedback and the mail alarms.

use super::*;
use send_passkey_link::metrics;

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
