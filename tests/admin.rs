//! passkey-admin as an operator runs it: the real binary against the local stack.

mod common;

use std::process::Command;

use common::*;

fn admin(table: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_passkey-admin")).args(args).env("TABLE_NAME", table).output().unwrap()
}

#[tokio::test]
async fn usage_errors_exit_2_and_help_exits_0() {
    let out = admin("unused", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage:"));
    assert_eq!(admin("unused", &["--help"]).status.code(), Some(0));
    // A malformed command line is a usage error whatever is wrong with it.
    for args in [
        &["undeliverable"][..],
        &["undeliverable", "--clear"],
        &["links", "x/y"],
        &["links"],
        &["links", "--all"],
        &["links", "--every", ALICE],
    ] {
        let out = admin("unused", args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("usage:"), "{args:?}: {out:?}");
    }
}

/// The operator's view of a user's marks, and clearing them.
#[tokio::test]
async fn undeliverable_shows_and_clears_the_marks() {
    use common::ses_events::*;
    let h = Harness::new().await;
    let out = admin(h.table.name(), &["undeliverable", ALICE]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("no address marked"), "{out:?}");
    let sent = send_alice_a_link(&h).await;
    let event = bounce(&sent, "Permanent", "General", "2026-12-02T10:00:03.000Z", "fb-1");
    h.feedback().handle(&event).await.unwrap();
    let out = admin(h.table.name(), &["undeliverable", ALICE]);
    let marks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(marks[0]["address"], sent.to.as_str(), "{marks}");
    assert_eq!(marks[0]["reason"], "bounced");
    assert_eq!(marks[0]["codeId"], sent.code_id.as_str());
    assert_eq!(marks[0]["appliesToCurrentAddress"], true);
    let out = admin(h.table.name(), &["undeliverable", "--clear", ALICE]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 mark(s) cleared"), "{out:?}");
    assert_eq!(h.admin_sends_to_alice().await.0, 200);
    let out = admin(h.table.name(), &["undeliverable", "--clear", "999999999999999999"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

#[tokio::test]
async fn links_of_an_unknown_user_is_an_error_not_an_empty_list() {
    let h = Harness::new().await;
    let out = admin(h.table.name(), &["links", "999999999999999999"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user 999999999999999999"), "{out:?}");
    let out = admin(h.table.name(), &["links", ALICE]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
}

/// `links` lists what it says, the usable links, newest first, with their wrong codes; `--all`
/// adds the used, expired and locked ones, each labelled.
#[tokio::test]
async fn links_lists_the_usable_ones_newest_first_and_all_with_their_state() {
    use aws_sdk_dynamodb::types::AttributeValue::{N, S};
    let h = Harness::new().await;
    assert_eq!(h.admin_sends_to_alice().await.0, 200);
    let sent = h.items(ALICE, "PASSKEYLINK#").await[0].clone();
    let now = chrono::Utc::now().timestamp();
    // Copies of the sent link, one per state, the newest last-created.
    for (code_id, created, extra) in [
        ("used", "2026-12-01T10:00:00.000Z", ("usedAt", S("2026-12-01T10:05:00.000Z".into()))),
        ("expired", "2026-12-01T11:00:00.000Z", ("expiresAt", N((now - 1).to_string()))),
        ("locked", "2026-12-01T12:00:00.000Z", ("failedAttempts", N("5".into()))),
        ("tried", "2026-12-01T13:00:00.000Z", ("failedAttempts", N("3".into()))),
    ] {
        let mut item = sent.clone();
        item.insert("sk".into(), S(format!("PASSKEYLINK#{code_id}")));
        item.insert("codeId".into(), S(code_id.into()));
        item.insert("createdAt".into(), S(created.into()));
        item.insert(extra.0.into(), extra.1);
        h.table.client().put_item().table_name(h.table.name()).set_item(Some(item)).send().await.unwrap();
    }
    let sent_id = sent["codeId"].as_s().unwrap().as_str();
    let listed = |args: &[&str], max_attempts: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_passkey-admin"));
        command.args(args).env("TABLE_NAME", h.table.name()).env_remove("PASSKEY_CODE_MAX_ATTEMPTS");
        if let Some(max) = max_attempts {
            command.env("PASSKEY_CODE_MAX_ATTEMPTS", max);
        }
        let out = command.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        let links: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        links
            .iter()
            .map(|l| {
                (
                    l["codeId"].as_str().unwrap().to_owned(),
                    l["state"].as_str().unwrap().to_owned(),
                    l["failedAttempts"].as_u64().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let row = |id: &str, state: &str, failed: u64| (id.to_owned(), state.to_owned(), failed);
    assert_eq!(listed(&["links", ALICE], None), [row(sent_id, "usable", 0), row("tried", "usable", 3)]);
    assert_eq!(
        listed(&["links", "--all", ALICE], None),
        [
            row(sent_id, "usable", 0),
            row("tried", "usable", 3),
            row("locked", "locked", 5),
            row("expired", "expired", 0),
            row("used", "used", 0),
        ]
    );
    // The function's own limit decides what is locked.
    assert_eq!(listed(&["links", ALICE, "--all"], Some("3"))[1], row("tried", "locked", 3));
    assert_eq!(listed(&["links", ALICE], Some("3")), [row(sent_id, "usable", 0)]);
    let out = Command::new(env!("CARGO_BIN_EXE_passkey-admin"))
        .args(["links", ALICE])
        .env("TABLE_NAME", h.table.name())
        .env("PASSKEY_CODE_MAX_ATTEMPTS", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("PASSKEY_CODE_MAX_ATTEMPTS"), "{out:?}");
}

#[tokio::test]
async fn table_errors_name_the_table_and_the_endpoint() {
    let out = admin("no-such-table", &["links", ALICE]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap();
    assert!(stderr.contains(&format!("(table no-such-table, DynamoDB at {endpoint})")), "{stderr}");
    let closed = closed_port();
    let out = Command::new(env!("CARGO_BIN_EXE_passkey-admin"))
        .args(["create-table"])
        .env("TABLE_NAME", "t")
        .env("AWS_ENDPOINT_URL_DYNAMODB", &closed)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr.contains(&format!("(table t, DynamoDB at {closed})")), "{stderr}");
}
