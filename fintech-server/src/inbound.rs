//! Webhooks the providers send us: `POST /v1/providers/stripe/webhook` (`Stripe-Signature`)
//! and `POST /v1/providers/plaid/webhook` (`Plaid-Verification`). No API key: the signature
//! is the authentication. A verified event moves the matching object forward through core —
//! a `payment_intent.*` refreshes that payment from Stripe (the body is not trusted for the
//! new state), a Plaid `TRANSACTIONS` webhook syncs that item in the background — which writes
//! the usual core events, audit records and ledger entries. Core applies each provider event
//! once (by Stripe's event id, by the hash of Plaid's verification JWT): a replay within the
//! signature tolerance answers 200 with `duplicate: true` and changes nothing. 404 when the
//! provider's webhook verification is not configured; 400 when the signature does not verify.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use fintech_core::platform::Inbound;
use fintech_core::Interface;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::routes::Errors;
use crate::AppState;

/// The acknowledgement.
#[derive(Serialize, ToSchema)]
pub(crate) struct Received {
    /// Always true: the event was verified and accepted.
    received: bool,
    /// The provider's event type.
    event_type: String,
    /// Whether it concerned an object this server holds.
    matched: bool,
    /// True when this event was received before (a replay or a duplicate delivery): it was
    /// acknowledged and not applied again.
    duplicate: bool,
}

fn not_configured(provider: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("{provider} webhooks are not configured on this server"),
    )
}

fn bad_signature(e: fintech_core::Error) -> ApiError {
    tracing::info!(error = %e, "provider webhook refused");
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_signature",
        "the webhook signature does not verify",
    )
}

/// Receives a Stripe webhook.
#[utoipa::path(post, path = "/v1/providers/stripe/webhook", tag = "providers",
    request_body(content = String, content_type = "application/json", description = "The event, exactly as Stripe sent it"),
    params(("Stripe-Signature" = String, Header, description = "t=…,v1=…")),
    responses((status = 200, body = Received), Errors))]
pub(crate) async fn stripe_webhook(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Received>> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::bad_request("the Stripe-Signature header is required"))?;
    let verifier = s
        .options()
        .inbound
        .clone()
        .ok_or_else(|| not_configured("Stripe"))?;
    let event = verifier
        .stripe(&body, signature)
        .ok_or_else(|| not_configured("Stripe"))?
        .map_err(bad_signature)?;
    let (mut matched, mut duplicate) = (false, false);
    if event.kind.starts_with("payment_intent.") {
        if let Some(id) = &event.object_id {
            match s
                .platform()
                .provider_payment_event("stripe", &event.event_id, id, Interface::Http)
                .await?
            {
                Inbound::Applied(found) => matched = found.is_some(),
                Inbound::Duplicate => duplicate = true,
            }
        }
    }
    Ok(Json(Received {
        received: true,
        event_type: event.kind,
        matched,
        duplicate,
    }))
}

/// Receives a Plaid webhook.
#[utoipa::path(post, path = "/v1/providers/plaid/webhook", tag = "providers",
    request_body(content = String, content_type = "application/json", description = "The webhook, exactly as Plaid sent it"),
    params(("Plaid-Verification" = String, Header, description = "ES256 JWT")),
    responses((status = 200, body = Received), Errors))]
pub(crate) async fn plaid_webhook(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Received>> {
    let verification = headers
        .get("plaid-verification")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::bad_request("the Plaid-Verification header is required"))?;
    let verifier = s
        .options()
        .inbound
        .clone()
        .ok_or_else(|| not_configured("Plaid"))?;
    let event = verifier
        .plaid(&body, verification)
        .await
        .ok_or_else(|| not_configured("Plaid"))?
        .map_err(bad_signature)?;
    let (mut matched, mut duplicate) = (false, false);
    if event.kind.starts_with("TRANSACTIONS:") {
        if let Some(item) = &event.object_id {
            // core answers at once and syncs the item in the background
            match s
                .platform()
                .provider_item_event("plaid", &event.event_id, item, Interface::Http)
                .await?
            {
                Inbound::Applied(found) => matched = found,
                Inbound::Duplicate => duplicate = true,
            }
        }
    }
    Ok(Json(Received {
        received: true,
        event_type: event.kind,
        matched,
        duplicate,
    }))
}
