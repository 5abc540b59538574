//! Operator tool: creates the table and seeds the directory, through the same configuration
//! (`TABLE_NAME`, `AWS_*`) as the Lambda function.

use std::process::ExitCode;

use send_passkey_link::aws;
use send_passkey_link::seed::Seed;
use send_passkey_link::store::dynamodb::Table;

const USAGE: &str = "usage: passkey-admin create-table | seed FILE.json\n\
    Uses TABLE_NAME and the standard AWS_* variables (AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION, ...).";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
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

async fn run(args: &[String]) -> Result<String, String> {
    let command: Vec<&str> = args.iter().map(String::as_str).collect();
    if matches!(command.as_slice(), [] | ["-h" | "--help" | "help"]) {
        return Ok(USAGE.to_owned());
    }
    let seed = match command.as_slice() {
        ["create-table"] => None,
        ["seed", path] => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            Some(Seed::from_json(&text).map_err(|e| format!("{path}: {e}"))?)
        }
        _ => return Err(USAGE.to_owned()),
    };
    let table_name = std::env::var("TABLE_NAME")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or("invalid configuration: TABLE_NAME: must be set")?;
    let sdk = aws::load().await;
    let table = Table::new(aws_sdk_dynamodb::Client::new(&sdk), table_name);
    match seed {
        None => {
            let created = table.create().await.map_err(|e| e.to_string())?;
            Ok(format!(
                "table {} {}",
                table.name(),
                if created { "created" } else { "already exists" }
            ))
        }
        Some(seed) => {
            let applied = seed.apply(&table).await.map_err(|e| e.to_string())?;
            Ok(format!(
                "seeded table {}: {} orgs, {} users, {} memberships",
                table.name(),
                applied.orgs,
                applied.users,
                applied.members
            ))
        }
    }
}
