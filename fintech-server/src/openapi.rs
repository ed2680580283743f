//! The OpenAPI 3.1 document, generated from the handlers' annotations and the core types'
//! schemas, served at `/openapi.json` with an interactive reference at `/docs`.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa::openapi::Required;
use utoipa::Modify;
use utoipa_scalar::{Scalar, Servable};

use crate::AppState;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "fintech",
        description = "Bank data, payments and brokerage with guard rails: scoped API keys, spending limits, approval holds, fraud screening, idempotency, a double-entry ledger and a hash-chained audit log. Money is `{\"amount\": \"12.34\", \"currency\": \"USD\"}` with the amount as a decimal string.",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&BearerAuth),
    components(schemas(
        crate::error::Problem,
        fintech_core::trading::BarTimeframe,
        fintech_core::banking::SpendingGroup
    )),
    tags(
        (name = "keys", description = "Who am I"),
        (name = "auth", description = "Operator sign-in: password, short-lived access tokens, rotating refresh tokens"),
        (name = "admin", description = "Tenant, users, API keys and limits (scope `admin`)"),
        (name = "banking", description = "Linked banks, accounts, transactions"),
        (name = "payments", description = "Customers, payments, refunds"),
        (name = "approvals", description = "Held payments and orders (scope `approvals:write`)"),
        (name = "fraud", description = "Fraud screening"),
        (name = "trading", description = "Brokerage account, orders, positions, market data"),
        (name = "events", description = "The event log, and its live stream at `/v1/events/stream` (SSE)"),
        (name = "audit", description = "Audit log and ledger"),
        (name = "webhooks", description = "Signed outgoing webhooks with a durable retry queue"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some("An API key (`Authorization: Bearer fk_…`) or an operator access token from `/v1/auth/login`".into());
        components.add_security_scheme("api_key", SecurityScheme::Http(scheme));
    }
}

/// The OpenAPI document of the HTTP API.
pub fn openapi() -> OpenApi {
    use utoipa::OpenApi as _;
    let (_, api) = crate::routes::api().split_for_parts();
    let mut doc = ApiDoc::openapi();
    doc.merge(api);
    // the administrative changes take the header too (core keeps their answers)
    let (_, changes) = crate::routes::admin_changes().split_for_parts();
    for path in changes.paths.paths.keys() {
        let Some(op) = doc
            .paths
            .paths
            .get_mut(path)
            .and_then(|item| item.post.as_mut())
        else {
            continue;
        };
        let params = op.parameters.get_or_insert_with(Vec::new);
        if !params.iter().any(|p| p.name == "Idempotency-Key") {
            params.push(
                ParameterBuilder::new()
                    .name("Idempotency-Key")
                    .parameter_in(ParameterIn::Header)
                    .required(Required::False)
                    .description(Some(
                        "Same key and request replay the first successful answer with `Idempotent-Replayed: true`; another request under the key is 422",
                    ))
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .build(),
            );
        }
    }
    crate::catalog::document(&mut doc);
    doc
}

pub(crate) fn router() -> Router<AppState> {
    let doc = openapi();
    Router::new()
        .route("/openapi.json", get(move || async move { Json(doc) }))
        .merge(Scalar::with_url("/docs", openapi()))
}
