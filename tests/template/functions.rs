//! The table, the functions, their policies and their build.

use super::*;
use send_passkey_link::config;
use send_passkey_link::store::dynamodb::keys;
use send_passkey_link::store::TextLevel;

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
    // Always encrypted: the customer key when given, else DynamoDB's AWS-owned key (SSEEnabled
    // false); never the AWS-managed aws/dynamodb key, which KMS bills per request.
    let (condition, with_key, without) = if_parts(&table["Properties"]["SSESpecification"]["SSEEnabled"]);
    assert_eq!((condition, with_key, without), ("HasKmsKey", &Value::Bool(true), &Value::Bool(false)));
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
    assert!(is_ref(&env["MAIL_FROM"], "SenderEmail"), "the bare address: {:?}", env["MAIL_FROM"]);
    let (condition, name, unset) = if_parts(&env["MAIL_FROM_NAME"]);
    assert_eq!(condition, "HasSenderName");
    assert!(is_ref(name, "SenderName"));
    assert!(is_ref(unset, "AWS::NoValue"));
}

/// The function quotes and encodes the name itself: the pattern keeps out only what
/// `MAIL_FROM_NAME` refuses (control characters, more than 64 characters).
#[test]
fn the_sender_name_may_hold_commas_quotes_and_umlauts_but_no_line_break() {
    let t = template();
    let pattern = t["Parameters"]["SenderName"]["AllowedPattern"].as_str().unwrap();
    assert_eq!(pattern, r"^[^\x00-\x1F\x7F]{0,64}$");
    let name_ok = |name: &str| {
        send_passkey_link::mail::sender::Sender::parse("no-reply@example.com", Some(name)).is_ok()
    };
    for name in ["Acme, Inc.", "Anmeldung für Passkeys", r#"Say "hi" \o/"#, "=?x?=", &"ü".repeat(64)] {
        assert!(name_ok(name), "{name:?}");
    }
    for name in ["a\r\nBcc: x@y", "tab\there", &"x".repeat(65)] {
        assert!(!name_ok(name), "{name:?}");
    }
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
