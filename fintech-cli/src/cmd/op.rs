//! `fintech op`: any operation of the catalog (`fintech_core::catalog`) by name, with its
//! arguments as JSON — the CLI's rendering of every operation, including ones that have no
//! dedicated subcommand yet. `fintech op` alone lists the operations the caller may run.

use std::io::Read;

use fintech_core::catalog::{self, Operation};
use fintech_core::{Error, Platform, Principal};

use crate::output::{show, Format};

/// The arguments of `fintech op`.
#[derive(clap::Args)]
pub struct OpArgs {
    /// The operation (snake_case, as `fintech op` lists it); absent: list the operations.
    pub name: Option<String>,
    /// Its arguments as a JSON object (`-`: read them from standard input). Default `{}`.
    #[arg(long)]
    pub json: Option<String>,
    /// Idempotency key of a change: a retry with the same key and arguments answers the first
    /// result (noted as replayed) and changes nothing more.
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

/// Lists the operations, or runs one and prints its JSON result.
pub async fn run(
    platform: &Platform,
    principal: &Principal,
    args: &OpArgs,
    fmt: Format,
) -> fintech_core::Result<()> {
    let Some(name) = &args.name else {
        list(principal, fmt);
        return Ok(());
    };
    let op = catalog::visible(name, principal).ok_or_else(|| {
        Error::validation(
            "operation",
            format!("no operation {name:?} for this caller; `fintech op` lists them"),
        )
    })?;
    let raw = match args.json.as_deref() {
        None => "{}".to_owned(),
        Some("-") => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map_err(|e| {
                Error::validation("json", format!("cannot read standard input: {e}"))
            })?;
            s
        }
        Some(s) => s.to_owned(),
    };
    let value: serde_json::Value = fintech_core::json::from_slice(raw.as_bytes())
        .map_err(|e| Error::validation("json", format!("not JSON: {e}")))?;
    let result = op
        .call(platform, principal, value, args.idempotency_key.clone())
        .await?;
    if result.replayed {
        note!("replayed: an earlier request with this idempotency key ran it");
    }
    crate::output::line(
        serde_json::to_string_pretty(&result.value).unwrap_or_else(|_| "null".into()),
    );
    Ok(())
}

fn list(principal: &Principal, fmt: Format) {
    let ops: Vec<&Operation> = catalog::for_principal(principal).collect();
    let json: Vec<serde_json::Value> = ops
        .iter()
        .map(|op| {
            serde_json::json!({
                "name": op.name,
                "title": op.title,
                "scope": op.scope,
                "method": op.method.as_str(),
                "path": op.path,
                "moves_money": op.moves_money,
                "read_only": op.effect.read_only,
            })
        })
        .collect();
    let rows = ops
        .iter()
        .map(|op| {
            vec![
                op.name.to_owned(),
                op.scope.map(|s| s.as_str()).unwrap_or("-").to_owned(),
                format!("{} {}", op.method.as_str(), op.path),
                op.title.to_owned(),
            ]
        })
        .collect();
    show(fmt, &json, &["NAME", "SCOPE", "REST", "TITLE"], rows);
}
