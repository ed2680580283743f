//! `fintech-server`: the HTTP API on the configured database and providers.
//!
//! With no configuration it listens on 127.0.0.1:8080, uses the SQLite file `fintech.db` and
//! the simulated providers, and on first start creates a sandbox tenant with demo data and
//! prints a bootstrap admin key once.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use fintech_core::payments::NewPayment;
use fintech_core::platform::NewApiKey;
use fintech_core::policy::KeyLimits;
use fintech_core::trading::{OrderRequest, OrderSide, OrderType, TimeInForce};
use fintech_core::{Config, Interface, Money, Platform, Principal, Scope};
use fintech_server::{app, AppState, ServerOptions};
use tracing_subscriber::EnvFilter;

/// Serve the fintech HTTP API.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on. Binding beyond loopback exposes the API: put TLS in front.
    #[arg(long, env = "FINTECH_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Address of the Prometheus `/metrics` listener, apart from the API's; `off` disables it.
    /// Loopback by default: expose it to a scraper on a private interface, never publicly.
    #[arg(long, env = "FINTECH_METRICS_ADDR", default_value = "127.0.0.1:9464")]
    metrics_addr: MetricsAddr,
    /// Label metrics with API key and user ids (`fintech_api_key_requests_total{key}`); off by
    /// default so metrics carry no tenant, key or user identifiers.
    #[arg(long, env = "FINTECH_METRICS_ID_LABELS")]
    metrics_id_labels: bool,
    /// Database URL (default: the SQLite file fintech.db in the working directory).
    #[arg(long, env = "FINTECH_DATABASE_URL")]
    database_url: Option<String>,
    /// Requests per second per API key (0: unlimited).
    #[arg(long, env = "FINTECH_RATE_LIMIT", default_value_t = 100)]
    rate_limit: u32,
    /// Origins allowed by CORS, comma-separated (default: CORS off).
    #[arg(long, env = "FINTECH_CORS_ORIGINS", value_delimiter = ',')]
    cors_origin: Vec<String>,
    /// Let webhook endpoints target private/loopback addresses and plain http (local
    /// development only).
    #[arg(long, env = "FINTECH_WEBHOOKS_ALLOW_PRIVATE")]
    allow_private_webhooks: bool,
    /// Extra Host values accepted on the MCP endpoints (name or name:port), comma-separated;
    /// loopback names are always accepted.
    #[arg(long, env = "FINTECH_MCP_ALLOWED_HOSTS", value_delimiter = ',')]
    mcp_allowed_host: Vec<String>,
    /// Browser Origins accepted on the MCP endpoints, comma-separated.
    #[arg(long, env = "FINTECH_MCP_ALLOWED_ORIGINS", value_delimiter = ',')]
    mcp_allowed_origin: Vec<String>,
    /// OIDC issuer URL (as in its tokens' `iss`) to accept sign-ins from; off when absent.
    #[arg(long, env = "FINTECH_OIDC_ISSUER")]
    oidc_issuer: Option<String>,
    /// The audience (client id) its ID tokens must carry.
    #[arg(long, env = "FINTECH_OIDC_AUDIENCE", requires = "oidc_issuer")]
    oidc_audience: Option<String>,
    /// Tenant its users sign in to (default: the first tenant).
    #[arg(long, env = "FINTECH_OIDC_TENANT")]
    oidc_tenant: Option<String>,
    /// Claim holding the user's roles or groups.
    #[arg(long, env = "FINTECH_OIDC_ROLE_CLAIM", default_value = "roles")]
    oidc_role_claim: String,
    /// Claim values to roles, e.g. `fintech-admins=admin,ops=operator` (unmapped values are
    /// taken as role names).
    #[arg(long, env = "FINTECH_OIDC_ROLE_MAP", default_value = "")]
    oidc_role_map: String,
    /// Accept OIDC tokens whose `email_verified` is missing or false (providers that never
    /// send it); off by default.
    #[arg(long, env = "FINTECH_OIDC_ALLOW_UNVERIFIED_EMAIL")]
    oidc_allow_unverified_email: bool,
    /// Log as JSON lines.
    #[arg(long, env = "FINTECH_JSON_LOGS")]
    json_logs: bool,
    /// Mint a new admin key for the first tenant and print it once (when the one printed at
    /// first start is lost).
    #[arg(long)]
    new_admin_key: bool,
    /// Do not create the sandbox tenant and demo data on an empty database.
    #[arg(long)]
    no_demo: bool,
}

/// Where `/metrics` is served: an address, or `off`.
#[derive(Debug, Clone, Copy)]
enum MetricsAddr {
    Off,
    At(SocketAddr),
}

impl std::str::FromStr for MetricsAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "off" | "none" | "" => Ok(MetricsAddr::Off),
            a => a
                .parse()
                .map(MetricsAddr::At)
                .map_err(|e| format!("{a:?}: {e} (an address like 127.0.0.1:9464, or `off`)")),
        }
    }
}

/// Binds `addr` with TCP_NODELAY on every accepted connection.
async fn listen(
    addr: SocketAddr,
    what: &str,
) -> anyhow::Result<impl axum::serve::Listener<Addr = SocketAddr>> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the {what} address {addr}"))?;
    // Without TCP_NODELAY, small streamed responses (SSE) wait ~40 ms for delayed ACKs.
    Ok(axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logging(args.json_logs);

    let mut config = Config::load()?;
    if let Some(url) = &args.database_url {
        config.database_url = url.clone();
    }
    let providers = fintech_providers::from_env().context("provider configuration")?;
    tracing::info!(providers = %providers.describe(), "providers");
    let platform = Platform::builder(config)
        .with_providers(Arc::new(fintech_server::instrument::Instrumented(
            Arc::new(providers),
        )))
        .build()
        .await
        .context("opening the database")?;
    bootstrap(&platform, &args).await?;

    let mut mcp = fintech_mcp::http::HttpOptions::default();
    mcp.allowed_hosts
        .extend(args.mcp_allowed_host.iter().cloned());
    mcp.allowed_origins = args.mcp_allowed_origin.clone();
    let mcp_shutdown = mcp.shutdown.clone();
    let oidc = oidc_config(&args, &platform).await?;
    let inbound = fintech_providers::inbound::InboundVerifier::from_env()
        .context("provider webhook configuration")?;
    let options = ServerOptions {
        inbound: Some(Arc::new(inbound)),
        oidc,
        mcp,
        rate_limit_per_second: args.rate_limit,
        rate_limit_burst: args.rate_limit.saturating_mul(2),
        cors_origins: args.cors_origin.clone(),
        webhooks_allow_private: args.allow_private_webhooks,
        metrics_id_labels: args.metrics_id_labels,
        ..ServerOptions::default()
    };
    // per-key request counts are gathered in memory and written every 10 s
    let usage = platform.spawn_key_usage_flush(std::time::Duration::from_secs(10));
    let worker = fintech_server::webhooks::spawn_worker(
        platform.clone(),
        fintech_server::webhooks::WorkerOptions {
            allow_private: args.allow_private_webhooks,
            ..Default::default()
        },
    );
    // webhook backlog, review queue and audit sweep gauges for alerting
    let ops_metrics = fintech_server::ops_metrics::spawn(platform.clone(), Default::default());
    let router = app(AppState::new(platform.clone(), options));
    let listener = listen(args.addr, "API").await?;
    // `/metrics` on its own listener (never the public one), stopped with the server
    let metrics = match args.metrics_addr {
        MetricsAddr::Off => None,
        MetricsAddr::At(addr) => {
            let metrics_listener = listen(addr, "metrics").await?;
            tracing::info!(%addr, "metrics at /metrics");
            Some(tokio::spawn(async move {
                if let Err(e) = axum::serve(metrics_listener, fintech_server::metrics_app()).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            }))
        }
    };
    tracing::info!(addr = %args.addr, "listening; OpenAPI at /openapi.json, docs at /docs");
    println!("fintech-server listening on http://{}", args.addr);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown().await;
            // close MCP sessions so open event streams do not hold the shutdown
            mcp_shutdown.cancel();
        })
        .await?;
    worker.abort();
    usage.abort();
    ops_metrics.abort();
    if let Some(m) = metrics {
        m.abort();
    }
    if let Err(e) = platform.flush_key_usage().await {
        tracing::warn!(error = %e, "could not write the last key usage counts");
    }
    platform.close().await;
    Ok(())
}

/// Logs on stderr, filtered by `FINTECH_LOG` (default `info`), as JSON lines when asked.
fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_env("FINTECH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    if json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
}

/// OIDC sign-in from the flags, or `None` without an issuer.
async fn oidc_config(
    args: &Args,
    platform: &Platform,
) -> anyhow::Result<Option<fintech_server::oidc::OidcConfig>> {
    Ok(match &args.oidc_issuer {
        None => None,
        Some(issuer) => {
            let audience = args
                .oidc_audience
                .clone()
                .context("--oidc-audience is required with --oidc-issuer")?;
            let tenant = match &args.oidc_tenant {
                Some(t) => fintech_core::id::TenantId::parse(t)?,
                None => platform
                    .tenants()
                    .await?
                    .first()
                    .map(|t| t.id.clone())
                    .context("no tenant for OIDC users")?,
            };
            Some(fintech_server::oidc::OidcConfig {
                issuer: issuer.clone(),
                audience,
                tenant,
                role_claim: args.oidc_role_claim.clone(),
                role_map: fintech_server::oidc::parse_role_map(&args.oidc_role_map)?,
                allow_unverified_email: args.oidc_allow_unverified_email,
            })
        }
    })
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// On an empty database: a sandbox tenant with demo data and an admin key, printed once.
async fn bootstrap(platform: &Platform, args: &Args) -> anyhow::Result<()> {
    let tenants = platform.tenants().await?;
    let tenant = match tenants.first() {
        Some(t) if !args.new_admin_key => {
            tracing::info!(tenant = %t.id, "existing database; use the admin key printed at first start (or --new-admin-key)");
            return Ok(());
        }
        Some(t) => t.clone(),
        None => {
            let t = platform.create_tenant("sandbox", Interface::Http).await?;
            if !args.no_demo {
                demo_data(platform, &Principal::system(t.id.clone(), Interface::Http))
                    .await
                    .context("creating demo data")?;
            }
            t
        }
    };
    let admin = Principal::system(tenant.id.clone(), Interface::Http);
    let key = platform
        .create_api_key(
            &admin,
            NewApiKey {
                name: "bootstrap admin".into(),
                scopes: BTreeSet::from([Scope::Admin]),
                limits: KeyLimits::default(),
            },
            None,
        )
        .await?
        .into_value();
    println!(
        "tenant {} ({}): admin API key, shown once:\n\n    {}\n\ntry: curl -H 'Authorization: Bearer {}' http://{}/v1/whoami",
        tenant.name, tenant.id, key.secret, key.secret, args.addr
    );
    if platform.fraud_rules(&admin).await?.is_none() {
        println!(
            "no fraud rules are active: every payment and order is allowed; load the starter set with `fintech fraud rules load --starter` (docs/fraud.md)"
        );
    }
    Ok(())
}

async fn demo_data(platform: &Platform, p: &Principal) -> anyhow::Result<()> {
    let token = platform.sandbox_public_token(p, "ins_109508", None).await?;
    let item = platform
        .link_item(p, &token, Some("demo-link".into()))
        .await?;
    platform.sync_transactions(p, &item.id, None, None).await?;
    for (i, (amount, pm, payee)) in [
        ("42.50", "pm_card_visa", "Blue Bottle Coffee"),
        ("1250.00", "pm_card_mastercard", "Framework Computer"),
        ("19.99", "pm_card_chargeDeclined", "Streaming Co"),
    ]
    .into_iter()
    .enumerate()
    {
        platform
            .create_payment(
                p,
                NewPayment {
                    amount: Money::parse(amount, "USD")?,
                    payment_method: pm.into(),
                    customer_id: None,
                    payee: Some(payee.into()),
                    description: Some("demo".into()),
                    capture_method: None,
                    confirmation_token: None,
                },
                Some(format!("demo-payment-{i}")),
            )
            .await?;
    }
    platform
        .place_order(
            p,
            OrderRequest {
                symbol: "AAPL".into(),
                side: OrderSide::Buy,
                qty: 10.into(),
                order_type: OrderType::Market,
                time_in_force: TimeInForce::Day,
                limit_price: None,
                stop_price: None,
                confirmation_token: None,
            },
            Some("demo-order".into()),
        )
        .await?;
    Ok(())
}
