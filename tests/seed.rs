//! Seeding an existing table: what it reports, and the moves it refuses unless allowed,
//! through the library and through `passkey-admin seed` as an operator runs it.

mod common;

use std::process::Command;

use common::*;
use send_passkey_link::model::{OrgId, UserId};
use send_passkey_link::seed::{Moves, Seed, SeedError};
use send_passkey_link::store::dynamodb::admin::MemberOf;

/// Alice (of Demo Corp) listed in Other Org, next to a new user in a new org.
fn moving_alice() -> String {
    format!(
        r#"{{"orgs":[
            {{"id":"900000000000000001","name":"New Org","users":[{{"id":"900000000000000011"}}]}},
            {{"id":"{OTHER_ORG}","name":"Other Org","users":[{{"id":"{ALICE}","email":"alice@other.example"}}]}}
        ]}}"#
    )
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

#[tokio::test]
async fn reseeding_reports_nothing_created_or_changed_and_a_change_is_named() {
    let h = Harness::new().await;
    let seed = Seed::from_json(include_str!("../seed/demo.json")).unwrap();
    let again = seed.apply(&h.table).await.unwrap();
    assert!(again.created.is_empty(), "{again:?}");
    // The harness tagged every address, so the untagged demo file changes each user with one.
    assert!(again.changed.contains(&format!("user {ALICE}")), "{again:?}");
    let third = seed.apply(&h.table).await.unwrap();
    assert_eq!((third.created.len(), third.changed.len()), (0, 0), "{third:?}");
    assert_eq!((third.orgs, third.users, third.members), (again.orgs, again.users, again.members));

    let new = Seed::from_json(r#"{"orgs":[{"id":"900000000000000001","name":"New","users":[{"id":"900000000000000011"}],"members":[{"userId":"900000000000000011","roles":["ORG_OWNER"]}]}]}"#)
        .unwrap()
        .apply(&h.table)
        .await
        .unwrap();
    assert_eq!(
        new.created,
        [
            "org 900000000000000001",
            "user 900000000000000011",
            "membership of user 900000000000000011 in org 900000000000000001"
        ]
    );
    assert!(new.changed.is_empty());
}

#[tokio::test]
async fn moving_an_existing_user_is_refused_unless_allowed_and_nothing_is_written() {
    let h = Harness::new().await;
    let seed = Seed::from_json(&moving_alice()).unwrap();
    match seed.apply(&h.table).await {
        Err(SeedError::Move { user, from, to }) => {
            assert_eq!((user.as_str(), from.as_str(), to.as_str()), (ALICE, DEMO_ORG, OTHER_ORG))
        }
        other => panic!("expected a refused move, got {other:?}"),
    }
    assert_eq!(h.table.user_org(&user(ALICE)).await.unwrap().as_deref(), Some(DEMO_ORG));
    assert_eq!(h.table.user_org(&user("900000000000000011")).await.unwrap(), None, "nothing written");

    let applied = seed.apply_with(&h.table, Moves::Allow).await.unwrap();
    assert_eq!(h.table.user_org(&user(ALICE)).await.unwrap().as_deref(), Some(OTHER_ORG));
    assert!(
        applied.changed.contains(&format!("user {ALICE} (moved from org {DEMO_ORG} to org {OTHER_ORG})")),
        "{applied:?}"
    );
}

fn admin(table: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_passkey-admin")).args(args).env("TABLE_NAME", table).output().unwrap()
}

#[tokio::test]
async fn passkey_admin_seed_needs_allow_move_and_reports_the_change() {
    let h = Harness::new().await;
    let file = std::env::temp_dir().join(format!("seed-move-{}.json", h.tag));
    std::fs::write(&file, moving_alice()).unwrap();
    let path = file.to_str().unwrap();

    let out = admin(h.table.name(), &["seed", path]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr.contains(&format!("user {ALICE} already belongs to org {DEMO_ORG}")), "{stderr}");
    assert!(stderr.contains(&format!("org {OTHER_ORG}")) && stderr.contains("--allow-move"), "{stderr}");
    assert_eq!(h.table.user_org(&user(ALICE)).await.unwrap().as_deref(), Some(DEMO_ORG));

    let out = admin(h.table.name(), &["seed", "--allow-move", path]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout.starts_with(&format!(
            "seeded table {}: 2 orgs, 2 users, 0 memberships (2 created, 1 changed), 0 memberships removed",
            h.table.name()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("changed user {ALICE} (moved from org {DEMO_ORG} to org {OTHER_ORG})")),
        "{stdout}"
    );
    std::fs::remove_file(file).unwrap();
}

#[tokio::test]
async fn passkey_admin_seed_refuses_unknown_roles_and_permissions_before_writing() {
    let h = Harness::new().await;
    let file = std::env::temp_dir().join(format!("seed-role-{}.json", h.tag));
    std::fs::write(
        &file,
        r#"{"orgs":[{"id":"900000000000000001","name":"N","users":[{"id":"900000000000000011"}],
            "members":[{"userId":"900000000000000011","roles":["ORG_ONWER"]}]}]}"#,
    )
    .unwrap();
    let out = admin(h.table.name(), &["seed", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role \"ORG_ONWER\""), "{out:?}");
    assert_eq!(h.table.user_org(&user("900000000000000011")).await.unwrap(), None, "nothing written");

    let out = Command::new(env!("CARGO_BIN_EXE_passkey-admin"))
        .args(["seed", file.to_str().unwrap()])
        .env("TABLE_NAME", h.table.name())
        .env("ROLE_PERMISSIONS", r#"{"instance":{},"org":{"ORG_ONWER":["user.wirte"]}}"#)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown permission \"user.wirte\""), "{out:?}");
    std::fs::remove_file(file).unwrap();
}

/// Demo Corp with only these members (`(user, role)`).
fn demo_corp_members(members: &[(&str, &str)]) -> String {
    let members: Vec<String> =
        members.iter().map(|(user, role)| format!(r#"{{"userId":"{user}","roles":["{role}"]}}"#)).collect();
    format!(r#"{{"orgs":[{{"id":"{DEMO_ORG}","name":"Demo Corp","members":[{}]}}]}}"#, members.join(","))
}

fn send_to_alice_as(caller: &str, caller_org: &str) -> serde_json::Value {
    event(Some((caller, caller_org)), ALICE, Some(DEMO_ORG))
}

/// Re-seeding without a member used to leave the membership, and its rights, in place.
#[tokio::test]
async fn a_member_the_file_no_longer_names_is_removed_and_loses_its_rights() {
    let h = Harness::new().await;
    let demo = OrgId::parse(DEMO_ORG).unwrap();
    let two =
        Seed::from_json(&demo_corp_members(&[(DEMO_ADMIN, "ORG_OWNER"), (HELPDESK, "ORG_USER_MANAGER")]))
            .unwrap()
            .apply(&h.table)
            .await
            .unwrap();
    // The demo file's third member of Demo Corp is not in this file either.
    assert_eq!(two.removed, [format!("membership of user 100000000000000018 in org {DEMO_ORG}")]);
    let (status, body) = h.call(&send_to_alice_as(HELPDESK, DEMO_ORG)).await;
    assert_eq!(status, 200, "a member with user.write may send: {body}");

    let file = std::env::temp_dir().join(format!("seed-members-{}.json", h.tag));
    std::fs::write(&file, demo_corp_members(&[(DEMO_ADMIN, "ORG_OWNER")])).unwrap();
    let out = admin(h.table.name(), &["seed", file.to_str().unwrap()]);
    std::fs::remove_file(file).unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let (status, body) = h.call(&send_to_alice_as(HELPDESK, DEMO_ORG)).await;
    assert_eq!((status, error_id(&body)), (403, "AUTH-5mWD2"), "{body}");
    let (status, body) = h.call(&send_to_alice_as(DEMO_ADMIN, DEMO_ORG)).await;
    assert_eq!(status, 200, "the member the file names keeps its rights: {body}");
    assert_eq!(h.table.member_ids(MemberOf::Org(&demo)).await.unwrap(), [user(DEMO_ADMIN)]);

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with(&format!(
            "seeded table {}: 1 orgs, 0 users, 1 memberships (0 created, 0 changed), 1 memberships removed",
            h.table.name()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("\nremoved membership of user {HELPDESK} in org {DEMO_ORG}")),
        "{stdout}"
    );
}

/// Only the lists a file gives replace the stored ones: an org it leaves out, an org without
/// `members` and a file without `instanceMembers` keep their memberships.
#[tokio::test]
async fn memberships_a_file_does_not_cover_stay_and_an_empty_list_removes_them() {
    let h = Harness::new().await;
    let other = OrgId::parse(OTHER_ORG).unwrap();
    let seed = |text: &str| Seed::from_json(text).unwrap();
    let kept = seed(&format!(r#"{{"orgs":[{{"id":"{OTHER_ORG}","name":"Other Org"}}]}}"#))
        .apply(&h.table)
        .await
        .unwrap();
    assert!(kept.removed.is_empty(), "{kept:?}");
    assert_eq!(h.table.member_ids(MemberOf::Org(&other)).await.unwrap(), [user(OTHER_OWNER)]);
    assert_eq!(h.table.member_ids(MemberOf::Instance).await.unwrap(), [user(INSTANCE_OWNER)]);
    let (status, body) = h.call(&send_to_alice_as(INSTANCE_OWNER, INSTANCE_ORG)).await;
    assert_eq!(status, 200, "the instance owner may send in any org: {body}");

    let emptied = seed(r#"{"instanceMembers":[]}"#).apply(&h.table).await.unwrap();
    assert_eq!(emptied.removed, [format!("instance membership of user {INSTANCE_OWNER}")]);
    assert!(h.table.member_ids(MemberOf::Instance).await.unwrap().is_empty());
    let (status, body) = h.call(&send_to_alice_as(INSTANCE_OWNER, INSTANCE_ORG)).await;
    assert_eq!((status, error_id(&body)), (403, "AUTH-5mWD2"), "{body}");
    assert_eq!(h.table.member_ids(MemberOf::Org(&other)).await.unwrap(), [user(OTHER_OWNER)]);
}
