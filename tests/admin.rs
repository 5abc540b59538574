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
    for args in [&["undeliverable"][..], &["undeliverable", "--clear"], &["links", "x/y"], &["links"]] {
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
