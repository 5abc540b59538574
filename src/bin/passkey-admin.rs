//! Operator tool: creates the table, seeds the directory, lists a user's links and creates
//! the SES stored template, through the same configuration (`TABLE_NAME`, `AWS_*`) as the
//! Lambda function.

use std::process::ExitCode;

use send_passkey_link::aws;
use send_passkey_link::config::{self, valid_template_name};
use send_passkey_link::mail::MailRenderer;
use send_passkey_link::mailer::ses::put_template;
use send_passkey_link::model::UserId;
use send_passkey_link::permissions::RolePermissions;
use send_passkey_link::seed::{Moves, Seed, SeedError};
use send_passkey_link::store::dynamodb::admin::LinkState;
use send_passkey_link::store::dynamodb::Table;

const USAGE: &str = "usage: passkey-admin create-table | seed [--allow-move] FILE.json |\n\
    links [--all] USER_ID | undeliverable [--clear] USER_ID | create-template NAME\n\
    links: the user's usable links (not used, not expired, not locked), newest first; --all adds\n\
    the others, each with its state.\n\
    Uses TABLE_NAME, ROLE_PERMISSIONS, PASSKEY_CODE_MAX_ATTEMPTS and the standard AWS_* variables\n\
    (AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION, ...).";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // A usage error is a usage error: scripts see it by the exit status, as with any command.
    if args.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let action = match parse(&args) {
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Action(action)) => action,
        Err(Refused::Usage(message)) => {
            eprintln!("passkey-admin: {message}");
            return ExitCode::from(2);
        }
        Err(Refused::Failed(message)) => {
            eprintln!("passkey-admin: {message}");
            return ExitCode::FAILURE;
        }
    };
    match run(action).await {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("passkey-admin: {message}");
            ExitCode::FAILURE
        }
    }
}

enum Parsed {
    Help,
    Action(Action),
}

/// Why a command line is not run: a usage error (exit 2) or a failure (exit 1, a seed file
/// that cannot be read or is refused).
enum Refused {
    Usage(String),
    Failed(String),
}

enum Action {
    CreateTable,
    Seed(Seed, Moves),
    /// The user's links, newest first, for support ("did the mail go out?", "why does the
    /// link not work?"): only the usable ones unless `all`.
    Links {
        user: UserId,
        all: bool,
    },
    /// Whether the user's address is marked as not taking mail (`--clear` removes the mark).
    Undeliverable {
        user: UserId,
        clear: bool,
    },
    /// The SES stored template for `SES_TEMPLATE_NAME`, made from the built-in templates.
    CreateTemplate(String),
}

fn parse(args: &[String]) -> Result<Parsed, Refused> {
    let command: Vec<&str> = args.iter().map(String::as_str).collect();
    let user_id = |raw: &str| {
        UserId::parse(raw).ok_or_else(|| Refused::Usage(format!("not a user id: {raw:?}\n{USAGE}")))
    };
    let read_seed = |path: &str| read_seed(path).map_err(Refused::Failed);
    Ok(Parsed::Action(match command.as_slice() {
        ["-h" | "--help" | "help"] => return Ok(Parsed::Help),
        ["create-table"] => Action::CreateTable,
        ["seed", path] => Action::Seed(read_seed(path)?, Moves::Refuse),
        ["seed", "--allow-move", path] | ["seed", path, "--allow-move"] => {
            Action::Seed(read_seed(path)?, Moves::Allow)
        }
        ["links", user] => Action::Links { user: user_id(user)?, all: false },
        ["links", "--all", user] | ["links", user, "--all"] => {
            Action::Links { user: user_id(user)?, all: true }
        }
        ["undeliverable", user] => Action::Undeliverable { user: user_id(user)?, clear: false },
        ["undeliverable", "--clear", user] | ["undeliverable", user, "--clear"] => {
            Action::Undeliverable { user: user_id(user)?, clear: true }
        }
        ["create-template", name] if valid_template_name(name) => Action::CreateTemplate((*name).to_owned()),
        ["create-template", name] => {
            return Err(Refused::Usage(format!("not a template name (1-64 of A-Z a-z 0-9 _ -): {name:?}")))
        }
        _ => return Err(Refused::Usage(USAGE.to_owned())),
    }))
}

async fn run(action: Action) -> Result<String, String> {
    let sdk = aws::load().await;
    match action {
        Action::CreateTemplate(name) => {
            let template = MailRenderer::new().and_then(|r| r.ses_template()).map_err(|e| e.to_string())?;
            let created = put_template(&aws_sdk_sesv2::Client::new(&sdk), &name, &template).await?;
            Ok(format!("SES template {name} {}", if created { "created" } else { "updated" }))
        }
        Action::CreateTable => {
            let table = table(&sdk)?;
            let created = table.create().await.map_err(|e| at(&sdk, &table, e))?;
            Ok(format!("table {} {}", table.name(), if created { "created" } else { "already exists" }))
        }
        Action::Links { user, all } => {
            let max_attempts =
                config::code_max_attempts(std::env::var("PASSKEY_CODE_MAX_ATTEMPTS").ok().as_deref())
                    .map_err(|e| e.to_string())?;
            let table = table(&sdk)?;
            // An empty list must mean "no usable link", never "no such user".
            if !table.user_exists(&user).await.map_err(|e| at(&sdk, &table, e))? {
                return Err(format!("no user {user} in table {}", table.name()));
            }
            let mut links = table
                .operator_links(&user, chrono::Utc::now().timestamp(), max_attempts)
                .await
                .map_err(|e| at(&sdk, &table, e))?;
            if !all {
                links.retain(|l| l.state == LinkState::Usable);
            }
            serde_json::to_string_pretty(&links).map_err(|e| e.to_string())
        }
        Action::Undeliverable { user, clear } => {
            let table = table(&sdk)?;
            let found = table.user(&user).await.map_err(|e| at(&sdk, &table, e))?;
            let found = found.ok_or_else(|| format!("no user {user} in table {}", table.name()))?;
            if clear {
                let cleared = table
                    .clear_undeliverable(&user, "passkey-admin")
                    .await
                    .map_err(|e| at(&sdk, &table, e))?;
                return Ok(match cleared {
                    0 => format!("user {user}: no mark to clear"),
                    n => {
                        format!("user {user}: {n} mark(s) cleared; links are mailed to those addresses again")
                    }
                });
            }
            if found.undeliverable.is_empty() {
                return Ok(format!("user {user}: no address marked undeliverable"));
            }
            // Whether each mark stops mail now: only one about the user's current address does.
            let current = found.email.as_deref().unwrap_or_default();
            let marks: Vec<serde_json::Value> = found
                .undeliverable
                .iter()
                .map(|mark| {
                    let mut shown = serde_json::to_value(mark).unwrap_or_default();
                    shown["appliesToCurrentAddress"] = mark.applies_to(current).into();
                    shown
                })
                .collect();
            serde_json::to_string_pretty(&marks).map_err(|e| e.to_string())
        }
        Action::Seed(seed, moves) => {
            let table = table(&sdk)?;
            let applied = seed.apply_with(&table, moves).await.map_err(|e| match e {
                SeedError::Store(e) => at(&sdk, &table, e),
                e => e.to_string(),
            })?;
            let mut report = format!(
                "seeded table {}: {} orgs, {} users, {} memberships ({} created, {} changed), \
                 {} memberships removed",
                table.name(),
                applied.orgs,
                applied.users,
                applied.members,
                applied.created.len(),
                applied.changed.len(),
                applied.removed.len()
            );
            // Only changes and removals are listed one by one: they are what overwrote something.
            for what in &applied.changed {
                report.push_str(&format!("\nchanged {what}"));
            }
            for what in &applied.removed {
                report.push_str(&format!("\nremoved {what}"));
            }
            Ok(report)
        }
    }
}

/// A DynamoDB failure with the table and the endpoint it concerns: "table not found" or
/// "connection refused" alone does not say which of an operator's environments is meant.
fn at(sdk: &aws_config::SdkConfig, table: &Table, error: impl std::fmt::Display) -> String {
    let endpoint = ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|url| !url.trim().is_empty()))
        .unwrap_or_else(|| match sdk.region() {
            Some(region) => format!("the AWS endpoint of {region}"),
            None => "the AWS endpoint of no region (AWS_REGION is not set)".to_owned(),
        });
    format!("{error} (table {}, DynamoDB at {endpoint})", table.name())
}

/// Roles are checked against the mapping the function will use (`ROLE_PERMISSIONS`).
fn read_seed(path: &str) -> Result<Seed, String> {
    let roles = match std::env::var("ROLE_PERMISSIONS") {
        Ok(raw) if !raw.trim().is_empty() => RolePermissions::from_json(&raw)
            .map_err(|e| format!("invalid configuration: ROLE_PERMISSIONS: {e}"))?,
        _ => RolePermissions::default(),
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    Seed::from_json_with(&text, &roles).map_err(|e| format!("{path}: {e}"))
}

fn table(sdk: &aws_config::SdkConfig) -> Result<Table, String> {
    let name = std::env::var("TABLE_NAME")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or("invalid configuration: TABLE_NAME: must be set")?;
    Ok(Table::new(aws_sdk_dynamodb::Client::new(sdk), name))
}
