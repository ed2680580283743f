//! `fintech`: the operator command line. Thin: parse flags, build a `Platform` from the one
//! `Config`, call it, print. The full command set grows with the CLI issue; this is the
//! foundation subset: set up the database, list tenants, verify a tenant's audit chain.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use fintech_core::{ErrorKind, Interface, Platform, Principal};
use fintech_providers::SimProviders;

#[derive(Parser)]
#[command(
    name = "fintech",
    version,
    about = "Operate the fintech platform: database, tenants, audit"
)]
struct Cli {
    /// Database URL (default: the SQLite file fintech.db in the working directory).
    #[arg(long, env = "FINTECH_DATABASE_URL", global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create and migrate the database, and a sandbox tenant.
    Init {
        /// Name of the tenant to create.
        #[arg(long, default_value = "sandbox")]
        tenant_name: String,
    },
    /// Apply database migrations.
    Migrate,
    /// List tenants.
    Tenants,
    /// Verify a tenant's hash-chained audit log.
    VerifyAudit {
        /// Tenant id (`ten_…`).
        #[arg(long)]
        tenant: String,
    },
}

async fn platform(cli: &Cli) -> fintech_core::Result<Platform> {
    let mut config = fintech_core::Config::load()?;
    if let Some(url) = &cli.database_url {
        config.database_url = url.clone();
    }
    Platform::builder(config)
        .with_providers(Arc::new(SimProviders::new()))
        .build()
        .await
}

async fn run(cli: Cli) -> fintech_core::Result<()> {
    let p = platform(&cli).await?;
    match &cli.command {
        Command::Init { tenant_name } => {
            let t = p.create_tenant(tenant_name, Interface::Cli).await?;
            println!("database ready; created tenant {} ({})", t.id, t.name);
        }
        Command::Migrate => {
            p.store().migrate().await?;
            println!("migrations applied");
        }
        Command::Tenants => {
            for t in p.tenants().await? {
                println!("{}\t{}\t{}", t.id, t.name, t.created_at.to_rfc3339());
            }
        }
        Command::VerifyAudit { tenant } => {
            let tenant = fintech_core::id::TenantId::parse(tenant)?;
            let principal = Principal::system(tenant, Interface::Cli);
            p.tenant(&principal).await?;
            let v = p.verify_audit(&principal).await?;
            match v.first_bad {
                None => println!("audit chain intact: {} records", v.records),
                Some(b) => {
                    return Err(fintech_core::Error::Conflict {
                        code: fintech_core::ConflictCode::InvalidState,
                        message: format!("audit chain broken at record {}: {}", b.seq, b.reason),
                    })
                }
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(match e.kind() {
                ErrorKind::Validation => 2,
                ErrorKind::Unauthenticated | ErrorKind::Forbidden => 3,
                ErrorKind::NotFound => 4,
                ErrorKind::Conflict | ErrorKind::Limit => 5,
                ErrorKind::Provider => 6,
                _ => 1,
            })
        }
    }
}
