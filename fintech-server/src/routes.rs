//! REST handlers under `/v1`: each authenticates, calls one `Platform` method, and answers
//! JSON (or problem+json). Routes and their OpenAPI operations are registered together, so the
//! document cannot drift from the router.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use fintech_core::audit::{AuditRecord, AuditVerification};
use fintech_core::banking::{
    BankAccount, BankTransaction, LinkToken, LinkedItem, SpendingBucket, SpendingQuery,
    SyncSummary, TransactionQuery,
};
use fintech_core::events::Event;
use fintech_core::fraud::backtest::BacktestReport;
use fintech_core::fraud::{Assessment, FraudCase, RuleFormat, StoredRuleSet};
use fintech_core::id::{
    ApiKeyId, CaseId, CustomerId, ItemId, OrderId, PaymentId, WebhookDeliveryId, WebhookEndpointId,
};
use fintech_core::ledger::AccountBalance;
use fintech_core::money::Money;
use fintech_core::payments::{
    AttachPaymentMethod, Customer, NewCustomer, NewPayment, NewRefund, Payment, PaymentMethod,
    ProviderBalance, Refund,
};
use fintech_core::platform::{
    BacktestRules, CaseQuery, CreatedApiKey, LogQuery, MoveDecision, NewApiKey, OrderQuery,
    PaymentQuery, WhoAmI,
};
use fintech_core::policy::KeyLimits;
use fintech_core::tenancy::{ApiKeyRecord, KeyUsage, Tenant, User};
use fintech_core::trading::{
    Asset, Bar, BarTimeframe, BrokerageAccount, Fill, MarketClock, Order, OrderRequest, Position,
    Quote,
};
use fintech_core::webhooks::{
    CreatedWebhookEndpoint, NewWebhookEndpoint, WebhookDelivery, WebhookEndpoint,
};
use fintech_core::{Role, Scope};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, IntoResponses, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiResult, Problem};
use crate::extract::{Answer, Auth, Body, IdempotencyKey, NoContent, Query};
use crate::AppState;

/// The error answers every `/v1` operation may give.
#[allow(dead_code)]
#[derive(IntoResponses)]
pub enum Errors {
    /// Malformed request: not JSON, wrong types, unknown fields.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(#[to_schema] Problem),
    /// No valid API key.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthenticated(Problem),
    /// A spending limit or fraud screening refused the operation.
    #[response(status = 402, content_type = "application/problem+json")]
    Refused(Problem),
    /// The key lacks the scope.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// No such object in the caller's tenant.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// State conflict, or a request with the same idempotency key is in flight.
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// The body is larger than the limit.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// The body is not `application/json`.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// Invalid values, or an idempotency key reused with a different request.
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
    /// A money move above the key's `confirm_above`: nothing was done; the problem carries
    /// the `decision` and a `confirmation_token` to send with the same request.
    #[response(status = 428, content_type = "application/problem+json")]
    ConfirmationRequired(Problem),
    /// Rate limited: see `Retry-After`.
    #[response(status = 429, content_type = "application/problem+json")]
    RateLimited(Problem),
    /// The provider failed.
    #[response(status = 502, content_type = "application/problem+json")]
    Provider(Problem),
}

/// Every `/v1` route with its OpenAPI operation.
pub(crate) fn api() -> OpenApiRouter<AppState> {
    keyed().merge(admin_changes())
}

/// Routes of the first group (reads, sign-in, provider webhooks, money moves); a change takes
/// its `Idempotency-Key` to core, which keeps the answer in the operation's own transaction.
fn keyed() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(whoami))
        .routes(routes!(tenant))
        .routes(routes!(revoke_key))
        .routes(routes!(set_limits))
        .routes(routes!(key_usage))
        .routes(routes!(list_items, link_item))
        .routes(routes!(remove_item))
        .routes(routes!(list_accounts))
        .routes(routes!(list_transactions))
        .routes(routes!(spending_summary))
        .routes(routes!(create_customer))
        .routes(routes!(get_customer))
        .routes(routes!(list_payment_methods, attach_payment_method))
        .routes(routes!(payments_balance))
        .routes(routes!(list_payments, create_payment))
        .routes(routes!(preview_payment))
        .routes(routes!(get_payment))
        .routes(routes!(capture_payment))
        .routes(routes!(preview_capture))
        .routes(routes!(list_refunds))
        .routes(routes!(create_refund))
        .routes(routes!(preview_refund))
        .routes(routes!(approvals))
        .routes(routes!(brokerage_account))
        .routes(routes!(positions))
        .routes(routes!(asset))
        .routes(routes!(quote))
        .routes(routes!(bars))
        .routes(routes!(clock))
        .routes(routes!(list_orders, place_order))
        .routes(routes!(preview_order))
        .routes(routes!(get_order))
        .routes(routes!(order_fills))
        .routes(routes!(list_events))
        .routes(routes!(audit_log))
        .routes(routes!(verify_audit))
        .routes(routes!(ledger_balances))
        .routes(routes!(get_fraud_rules, set_fraud_rules))
        .routes(routes!(get_fraud_rules_version))
        .routes(routes!(list_fraud_cases))
        .routes(routes!(get_fraud_case))
        .routes(routes!(crate::session::login))
        .routes(routes!(crate::session::oidc_login))
        .routes(routes!(crate::inbound::stripe_webhook))
        .routes(routes!(crate::inbound::plaid_webhook))
        .routes(routes!(crate::session::refresh))
        .routes(routes!(crate::session::logout))
        .routes(routes!(set_password))
        .routes(routes!(delete_webhook_endpoint))
        .routes(routes!(webhook_deliveries))
}

/// Routes of administration, approvals, syncs and webhooks; as every change, each takes its
/// `Idempotency-Key` to core.
pub(crate) fn admin_changes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(list_users, create_user))
        .routes(routes!(create_link_token))
        .routes(routes!(sandbox_public_token))
        .routes(routes!(sync_item))
        .routes(routes!(cancel_payment))
        .routes(routes!(approve_payment))
        .routes(routes!(reject_payment))
        .routes(routes!(assess_payment))
        .routes(routes!(cancel_order))
        .routes(routes!(approve_order))
        .routes(routes!(reject_order))
        .routes(routes!(approve_fraud_case))
        .routes(routes!(reject_fraud_case))
        .routes(routes!(run_backtest))
        .routes(routes!(list_webhook_endpoints, create_webhook_endpoint))
        .routes(routes!(replay_webhook_delivery))
}

/// The router without its document (the document is served by `crate::openapi`).
pub(crate) fn router() -> axum::Router<AppState> {
    let (keyed, _) = keyed().split_for_parts();
    let (changes, _) = admin_changes().split_for_parts();
    keyed
        .merge(changes)
        .merge(crate::catalog::router())
        .merge(crate::metrics::health_router())
}

/// An id from the path: one that cannot be ours does not exist (404, not 422).
fn path_id<T>(parsed: fintech_core::Result<T>, raw: &str) -> fintech_core::Result<T> {
    parsed.map_err(|_| fintech_core::Error::NotFound {
        kind: "object",
        id: raw.chars().take(80).collect(),
    })
}

// ---------------------------------------------------------------- tenancy and keys

/// Who the caller is: tenant, scopes, limits and what remains of them today, provider modes.
#[utoipa::path(get, path = "/v1/whoami", tag = "keys", security(("api_key" = [])),
    responses((status = 200, body = WhoAmI), Errors))]
async fn whoami(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<WhoAmI>> {
    Ok(Json(s.platform().whoami(&p).await?))
}

/// The caller's tenant.
#[utoipa::path(get, path = "/v1/tenant", tag = "admin", security(("api_key" = [])),
    responses((status = 200, body = Tenant), Errors))]
async fn tenant(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Tenant>> {
    Ok(Json(s.platform().tenant(&p).await?))
}

/// API keys of the tenant: prefixes and last use, never secrets (admin).
#[utoipa::path(get, path = "/v1/keys", tag = "admin", security(("api_key" = [])),
    responses((status = 200, body = Vec<ApiKeyRecord>), Errors))]
async fn list_keys(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Vec<ApiKeyRecord>>> {
    Ok(Json(s.platform().api_keys(&p).await?))
}

/// Creates an API key; the secret is in this response only (admin).
#[utoipa::path(post, path = "/v1/keys", tag = "admin", security(("api_key" = [])),
    request_body = NewApiKey,
    responses((status = 201, body = CreatedApiKey), Errors))]
async fn create_key(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<NewApiKey>,
) -> ApiResult<Answer<CreatedApiKey>> {
    Ok(Answer::created(
        s.platform().create_api_key(&p, req, key).await?,
    ))
}

/// Revokes an API key (admin, or the developer who created it).
#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "admin", security(("api_key" = [])),
    params(("id" = String, Path, description = "API key id (`key_…`)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays return the first result")),
    responses((status = 204, description = "Revoked"), Errors))]
async fn revoke_key(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
) -> ApiResult<NoContent> {
    let id = path_id(ApiKeyId::parse(&id), &id)?;
    Ok(NoContent(s.platform().revoke_api_key(&p, &id, key).await?))
}

/// Replaces a key's spending limits and approval threshold (admin, or the developer who
/// created it).
#[utoipa::path(put, path = "/v1/keys/{id}/limits", tag = "admin", security(("api_key" = [])),
    params(("id" = String, Path, description = "API key id (`key_…`)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays return the first result")),
    request_body = KeyLimits,
    responses((status = 200, body = ApiKeyRecord), Errors))]
async fn set_limits(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(limits): Body<KeyLimits>,
) -> ApiResult<Answer<ApiKeyRecord>> {
    let id = path_id(ApiKeyId::parse(&id), &id)?;
    Ok(Answer::ok(
        s.platform().set_key_limits(&p, &id, limits, key).await?,
    ))
}

/// Requests per UTC day of a key, newest first (admin, or the developer who created it).
#[utoipa::path(get, path = "/v1/keys/{id}/usage", tag = "developer", security(("api_key" = [])),
    params(("id" = String, Path, description = "API key id (`key_…`)")),
    responses((status = 200, body = Vec<KeyUsage>), Errors))]
async fn key_usage(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<KeyUsage>>> {
    let id = path_id(ApiKeyId::parse(&id), &id)?;
    Ok(Json(s.platform().api_key_usage(&p, &id).await?))
}

/// Users of the tenant (admin).
#[utoipa::path(get, path = "/v1/users", tag = "admin", security(("api_key" = [])),
    responses((status = 200, body = Vec<User>), Errors))]
async fn list_users(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(s.platform().users(&p).await?))
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewUser {
    /// E-mail address (unique per tenant).
    email: String,
    /// Role.
    role: Role,
}

/// Adds a user to the tenant (admin).
#[utoipa::path(post, path = "/v1/users", tag = "admin", security(("api_key" = [])),
    request_body = NewUser,
    responses((status = 201, body = User), Errors))]
async fn create_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<NewUser>,
) -> ApiResult<Answer<User>> {
    let user = s
        .platform()
        .create_user(&p, &req.email, req.role, key)
        .await?;
    Ok(Answer::created(user))
}

/// A new password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    /// 12 to 256 characters.
    password: String,
}

/// Sets a user's password for operator sign-in (admin).
#[utoipa::path(put, path = "/v1/users/{id}/password", tag = "admin", security(("api_key" = [])),
    params(("id" = String, Path, description = "User id (`usr_…`)")),
    request_body = NewPassword,
    responses((status = 204, description = "Set"), Errors))]
async fn set_password(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Body(req): Body<NewPassword>,
) -> ApiResult<StatusCode> {
    let id = path_id(fintech_core::id::UserId::parse(&id), &id)?;
    s.platform()
        .set_user_password(&p, &id, &req.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- banking

/// Body of a link-token request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LinkTokenRequest {
    /// Your stable id for the end user linking a bank.
    client_user_id: String,
}

/// Starts a bank-linking flow: a token for the provider's Link UI.
#[utoipa::path(post, path = "/v1/banking/link_tokens", tag = "banking", security(("api_key" = [])),
    request_body = LinkTokenRequest,
    responses((status = 201, body = LinkToken), Errors))]
async fn create_link_token(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<LinkTokenRequest>,
) -> ApiResult<Answer<LinkToken>> {
    let t = s
        .platform()
        .create_link_token(&p, &req.client_user_id, key)
        .await?;
    Ok(Answer::created(t))
}

/// Body of a sandbox public-token request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SandboxTokenRequest {
    /// Sandbox institution (`ins_109508`).
    institution_id: String,
}

/// A public token.
#[derive(Debug, Serialize, ToSchema)]
struct PublicToken {
    /// Exchange it with `POST /v1/banking/items`.
    public_token: String,
}

/// Sandbox only: a public token for an institution without the Link UI.
#[utoipa::path(post, path = "/v1/banking/sandbox/public_tokens", tag = "banking", security(("api_key" = [])),
    request_body = SandboxTokenRequest,
    responses((status = 201, body = PublicToken), Errors))]
async fn sandbox_public_token(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<SandboxTokenRequest>,
) -> ApiResult<Answer<PublicToken>> {
    let public_token = s
        .platform()
        .sandbox_public_token(&p, &req.institution_id, key)
        .await?;
    Ok(Answer::created(
        public_token.map(|public_token| PublicToken { public_token }),
    ))
}

/// Body of a link request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LinkRequest {
    /// The public token from the Link flow.
    public_token: String,
}

/// Linked items of the tenant.
#[utoipa::path(get, path = "/v1/banking/items", tag = "banking", security(("api_key" = [])),
    responses((status = 200, body = Vec<LinkedItem>), Errors))]
async fn list_items(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Vec<LinkedItem>>> {
    Ok(Json(s.platform().items(&p).await?))
}

/// Exchanges a public token for a linked item (its access token is stored encrypted).
#[utoipa::path(post, path = "/v1/banking/items", tag = "banking", security(("api_key" = [])),
    request_body = LinkRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first result")),
    responses((status = 201, body = LinkedItem), Errors))]
async fn link_item(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<LinkRequest>,
) -> ApiResult<Answer<LinkedItem>> {
    Ok(Answer::created(
        s.platform().link_item(&p, &req.public_token, key).await?,
    ))
}

/// Removes a linked item at the provider (Plaid `/item/remove`) and here: it, its accounts
/// and its transactions stop listing and it can no longer be synced. Idempotent: removing a
/// removed item answers it again.
#[utoipa::path(delete, path = "/v1/banking/items/{id}", tag = "banking", security(("api_key" = [])),
    params(("id" = String, Path, description = "Item id (`itm_…`)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays return the first result")),
    responses((status = 200, body = LinkedItem, description = "The removed item (with `removed_at`)"), Errors))]
async fn remove_item(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
) -> ApiResult<Answer<LinkedItem>> {
    let id = path_id(ItemId::parse(&id), &id)?;
    Ok(Answer::ok(s.platform().remove_item(&p, &id, key).await?))
}

/// Syncs an item's transactions from the provider (cursor-based, all pages).
#[utoipa::path(post, path = "/v1/banking/items/{id}/sync", tag = "banking", security(("api_key" = [])),
    params(("id" = String, Path, description = "Item id (`itm_…`)")),
    responses((status = 200, body = SyncSummary), Errors))]
async fn sync_item(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
) -> ApiResult<Answer<SyncSummary>> {
    let id = path_id(ItemId::parse(&id), &id)?;
    Ok(Answer::ok(
        s.platform().sync_transactions(&p, &id, None, key).await?,
    ))
}

/// Filter for accounts.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AccountQuery {
    /// Only accounts of this item.
    item_id: Option<String>,
}

/// Bank accounts with their last balances.
#[utoipa::path(get, path = "/v1/accounts", tag = "banking", security(("api_key" = [])),
    params(AccountQuery),
    responses((status = 200, body = Vec<BankAccount>), Errors))]
async fn list_accounts(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<AccountQuery>,
) -> ApiResult<Json<Vec<BankAccount>>> {
    let item = q.item_id.as_deref().map(ItemId::parse).transpose()?;
    Ok(Json(s.platform().bank_accounts(&p, item.as_ref()).await?))
}

/// Stored bank transactions, newest first, filtered by account and dates.
#[utoipa::path(get, path = "/v1/transactions", tag = "banking", security(("api_key" = [])),
    params(TransactionQuery),
    responses((status = 200, body = Vec<BankTransaction>), Errors))]
async fn list_transactions(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<TransactionQuery>,
) -> ApiResult<Json<Vec<BankTransaction>>> {
    Ok(Json(s.platform().bank_transactions(&p, &q).await?))
}

/// Posted outflows in a date range grouped by category or merchant, largest first.
#[utoipa::path(get, path = "/v1/spending", tag = "banking", security(("api_key" = [])),
    params(SpendingQuery),
    responses((status = 200, body = Vec<SpendingBucket>), Errors))]
async fn spending_summary(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<SpendingQuery>,
) -> ApiResult<Json<Vec<SpendingBucket>>> {
    Ok(Json(s.platform().spending_summary(&p, &q).await?))
}

// ---------------------------------------------------------------- payments

/// Creates a customer.
#[utoipa::path(post, path = "/v1/customers", tag = "payments", security(("api_key" = [])),
    request_body = NewCustomer,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first result")),
    responses((status = 201, body = Customer), Errors))]
async fn create_customer(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<NewCustomer>,
) -> ApiResult<Answer<Customer>> {
    Ok(Answer::created(
        s.platform().create_customer(&p, req, key).await?,
    ))
}

/// A customer.
#[utoipa::path(get, path = "/v1/customers/{id}", tag = "payments", security(("api_key" = [])),
    params(("id" = String, Path, description = "Customer id (`cus_…`)")),
    responses((status = 200, body = Customer), Errors))]
async fn get_customer(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Customer>> {
    let id = path_id(CustomerId::parse(&id), &id)?;
    Ok(Json(s.platform().customer(&p, &id).await?))
}

/// Attaches a tokenized payment method (`pm_…`, never card data) to a customer at the
/// payments provider; pay with the returned `id`.
#[utoipa::path(post, path = "/v1/customers/{id}/payment_methods", tag = "payments", security(("api_key" = [])),
    params(("id" = String, Path, description = "Customer id (`cus_…`)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays return the first result")),
    request_body = AttachPaymentMethod,
    responses((status = 201, body = PaymentMethod), Errors))]
async fn attach_payment_method(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<AttachPaymentMethod>,
) -> ApiResult<Answer<PaymentMethod>> {
    let id = path_id(CustomerId::parse(&id), &id)?;
    Ok(Answer::created(
        s.platform()
            .attach_payment_method(&p, &id, req, key)
            .await?,
    ))
}

/// The payment methods attached to a customer (card brand, last four digits, expiry).
#[utoipa::path(get, path = "/v1/customers/{id}/payment_methods", tag = "payments", security(("api_key" = [])),
    params(("id" = String, Path, description = "Customer id (`cus_…`)")),
    responses((status = 200, body = Vec<PaymentMethod>), Errors))]
async fn list_payment_methods(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<PaymentMethod>>> {
    let id = path_id(CustomerId::parse(&id), &id)?;
    Ok(Json(s.platform().payment_methods(&p, &id).await?))
}

/// The balance at the payments provider, per currency (available and pending).
#[utoipa::path(get, path = "/v1/balance", tag = "payments", security(("api_key" = [])),
    responses((status = 200, body = Vec<ProviderBalance>), Errors))]
async fn payments_balance(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<Vec<ProviderBalance>>> {
    Ok(Json(s.platform().payments_balance(&p).await?))
}

/// Payments, newest first; page with `before` = the last id of the previous page.
#[utoipa::path(get, path = "/v1/payments", tag = "payments", security(("api_key" = [])),
    params(PaymentQuery),
    responses((status = 200, body = Vec<Payment>), Errors))]
async fn list_payments(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<PaymentQuery>,
) -> ApiResult<Json<Vec<Payment>>> {
    Ok(Json(s.platform().payments(&p, &q).await?))
}

/// Creates a payment: limits, approval threshold and fraud screening apply; above the key's
/// approval threshold it is held as `pending_approval`. A decline is a `failed` payment.
/// Above the key's `confirm_above` it answers 428 `confirmation_required` with the decision
/// and a `confirmation_token`; the same body plus that token executes it once.
#[utoipa::path(post, path = "/v1/payments", tag = "payments", security(("api_key" = [])),
    request_body = NewPayment,
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key + same body replays the first result with `Idempotent-Replayed: true`; a different body is 422")),
    responses((status = 201, body = Payment), Errors))]
async fn create_payment(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<NewPayment>,
) -> ApiResult<Answer<Payment>> {
    let payment = s.platform().create_payment(&p, req, key).await?;
    if !payment.replayed {
        crate::metrics::payment_outcome(&payment);
    }
    Ok(Answer::created(payment))
}

/// What creating this payment would do, without doing it: the decision execution makes
/// (status, reasons, limits consumed, fraud assessment as a dry run, whether confirmation is
/// required, and then a `confirmation_token` to send with `POST /v1/payments`).
#[utoipa::path(post, path = "/v1/payments/preview", tag = "payments", security(("api_key" = [])),
    request_body = NewPayment,
    responses((status = 200, body = MoveDecision), Errors))]
async fn preview_payment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Body(req): Body<NewPayment>,
) -> ApiResult<Json<MoveDecision>> {
    Ok(Json(s.platform().preview_payment(&p, &req).await?))
}

/// A payment (refreshed from the provider while it is processing).
#[utoipa::path(get, path = "/v1/payments/{id}", tag = "payments", security(("api_key" = [])),
    params(("id" = String, Path, description = "Payment id (`pay_…`)")),
    responses((status = 200, body = Payment), Errors))]
async fn get_payment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Payment>> {
    let id = path_id(PaymentId::parse(&id), &id)?;
    Ok(Json(s.platform().payment(&p, &id).await?))
}

/// Cancels a held or processing payment.
#[utoipa::path(post, path = "/v1/payments/{id}/cancel", tag = "payments", security(("api_key" = [])),
    params(("id" = String, Path, description = "Payment id (`pay_…`)")),
    responses((status = 200, body = Payment), Errors))]
async fn cancel_payment(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
) -> ApiResult<Answer<Payment>> {
    let id = path_id(PaymentId::parse(&id), &id)?;
    Ok(Answer::ok(s.platform().cancel_payment(&p, &id, key).await?))
}

/// What to capture of an authorized payment.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Capture {
    /// How much; the whole authorized amount when absent. The rest of the hold is released.
    #[serde(default)]
    amount: Option<Money>,
}

/// Captures a payment created with `capture_method: manual` (status `requires_capture`), in
/// full or in part: the money moves now, once.
#[utoipa::path(post, path = "/v1/payments/{id}/capture", tag = "payments", security(("api_key" = [])),
    params(("id" = String, Path, description = "Payment id (`pay_…`)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays return the first result")),
    request_body = Capture,
    responses((status = 200, body = Payment), Errors))]
async fn capture_payment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    Body(c): Body<Capture>,
) -> ApiResult<Answer<Payment>> {
    let id = path_id(PaymentId::parse(&id), &id)?;
    Ok(Answer::ok(
        s.platform().capture_payment(&p, &id, c.amount, key).await?,
    ))
}

/// What capturing would do, without doing it (the same checks as the capture).
#[utoipa::path(post, path = "/v1/payments/{id}/capture/preview", tag = "payments", security(("api_key" = [])),
    params(("id" = String, Path, description = "Payment id (`pay_…`)")),
    request_body = Capture,
    responses((status = 200, body = MoveDecision), Errors))]
async fn preview_capture(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Body(c): Body<Capture>,
) -> ApiResult<Json<MoveDecision>> {
    let id = path_id(PaymentId::parse(&id), &id)?;
    Ok(Json(s.platform().preview_capture(&p, &id, c.amount).await?))
}

/// An operator's decision on a held payment or order.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Decision {
    /// Why (kept in the audit log).
    #[serde(default)]
    comment: Option<String>,
}

/// Approves a held payment: it is sent to the provider, exactly once (approvals:write).
#[utoipa::path(post, path = "/v1/payments/{id}/approve", tag = "approvals", security(("api_key" = [])),
    params(("id" = String, Path, description = "Payment id (`pay_…`)")),
    request_body = Decision,
    responses((status = 200, body = Payment), Errors))]
async fn approve_payment(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(d): Body<Decision>,
) -> ApiResult<Answer<Payment>> {
    let id = path_id(PaymentId::parse(&id), &id)?;
    Ok(Answer::ok(
        s.platform()
            .approve_payment(&p, &id, d.comment, key)
            .await?,
    ))
}

/// Rejects a held payment: money never moves (approvals:write).
#[utoipa::path(post, path = "/v1/payments/{id}/reject", tag = "approvals", security(("api_key" = [])),
    params(("id" = String, Path, description = "Payment id (`pay_…`)")),
    request_body = Decision,
    responses((status = 200, body = Payment), Errors))]
async fn reject_payment(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(d): Body<Decision>,
) -> ApiResult<Answer<Payment>> {
    let id = path_id(PaymentId::parse(&id), &id)?;
    Ok(Answer::ok(
        s.platform().reject_payment(&p, &id, d.comment, key).await?,
    ))
}

/// Refunds of a payment.
#[utoipa::path(get, path = "/v1/payments/{id}/refunds", tag = "payments", security(("api_key" = [])),
    params(("id" = String, Path, description = "Payment id (`pay_…`)")),
    responses((status = 200, body = Vec<Refund>), Errors))]
async fn list_refunds(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Refund>>> {
    let id = path_id(PaymentId::parse(&id), &id)?;
    Ok(Json(s.platform().refunds(&p, &id).await?))
}

/// Refunds part or all of a succeeded payment.
#[utoipa::path(post, path = "/v1/refunds", tag = "payments", security(("api_key" = [])),
    request_body = NewRefund,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first result")),
    responses((status = 201, body = Refund), Errors))]
async fn create_refund(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<NewRefund>,
) -> ApiResult<Answer<Refund>> {
    Ok(Answer::created(
        s.platform().create_refund(&p, req, key).await?,
    ))
}

/// What refunding would do, without doing it; with a `confirmation_token` when the key's
/// `confirm_above` requires one.
#[utoipa::path(post, path = "/v1/refunds/preview", tag = "payments", security(("api_key" = [])),
    request_body = NewRefund,
    responses((status = 200, body = MoveDecision), Errors))]
async fn preview_refund(
    State(s): State<AppState>,
    Auth(p): Auth,
    Body(req): Body<NewRefund>,
) -> ApiResult<Json<MoveDecision>> {
    Ok(Json(s.platform().preview_refund(&p, &req).await?))
}

/// Screens a payment without making it (dry run): the assessment it would get.
#[utoipa::path(post, path = "/v1/fraud/assessments", tag = "fraud", security(("api_key" = [])),
    request_body = NewPayment,
    responses((status = 200, body = Assessment), Errors))]
async fn assess_payment(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<NewPayment>,
) -> ApiResult<Answer<Assessment>> {
    Ok(Answer::ok(
        s.platform().assess_payment(&p, &req, key).await?,
    ))
}

/// What waits for an operator.
#[derive(Debug, Serialize, ToSchema)]
struct Approvals {
    /// Held payments.
    payments: Vec<Payment>,
    /// Held orders.
    orders: Vec<Order>,
}

/// Payments and orders held for approval or review.
#[utoipa::path(get, path = "/v1/approvals", tag = "approvals", security(("api_key" = [])),
    responses((status = 200, body = Approvals), Errors))]
async fn approvals(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Approvals>> {
    let payments = if p.has(Scope::PaymentsRead) {
        s.platform().held_payments(&p).await?
    } else {
        Vec::new()
    };
    let orders = if p.has(Scope::TradingRead) {
        s.platform().held_orders(&p).await?
    } else {
        Vec::new()
    };
    if !p.has(Scope::PaymentsRead) && !p.has(Scope::TradingRead) {
        return Err(fintech_core::Error::missing_scope(Scope::PaymentsRead.as_str()).into());
    }
    Ok(Json(Approvals { payments, orders }))
}

// ---------------------------------------------------------------- trading

/// The brokerage account: cash, buying power, equity, and whether it is paper or live.
#[utoipa::path(get, path = "/v1/brokerage/account", tag = "trading", security(("api_key" = [])),
    responses((status = 200, body = BrokerageAccount), Errors))]
async fn brokerage_account(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<BrokerageAccount>> {
    Ok(Json(s.platform().brokerage_account(&p).await?))
}

/// Open positions.
#[utoipa::path(get, path = "/v1/positions", tag = "trading", security(("api_key" = [])),
    responses((status = 200, body = Vec<Position>), Errors))]
async fn positions(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Vec<Position>>> {
    Ok(Json(s.platform().positions(&p).await?))
}

/// An asset the broker lists: name, exchange, class, status and whether it is tradable,
/// fractionable, shortable, marginable and easy to borrow.
#[utoipa::path(get, path = "/v1/assets/{symbol}", tag = "trading", security(("api_key" = [])),
    params(("symbol" = String, Path, description = "Ticker (`AAPL`)")),
    responses((status = 200, body = Asset), Errors))]
async fn asset(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(symbol): Path<String>,
) -> ApiResult<Json<Asset>> {
    Ok(Json(s.platform().asset(&p, &symbol).await?))
}

/// Latest quote.
#[utoipa::path(get, path = "/v1/quotes/{symbol}", tag = "trading", security(("api_key" = [])),
    params(("symbol" = String, Path, description = "Ticker (`AAPL`)")),
    responses((status = 200, body = Quote), Errors))]
async fn quote(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(symbol): Path<String>,
) -> ApiResult<Json<Quote>> {
    Ok(Json(s.platform().quote(&p, &symbol).await?))
}

/// Bar query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct BarQuery {
    /// `1Min`, `1Hour` or `1Day` (default `1Day`).
    timeframe: Option<BarTimeframe>,
    /// How many bars, 1 to 1000 (default 30).
    limit: Option<u32>,
}

/// Recent bars, oldest first.
#[utoipa::path(get, path = "/v1/bars/{symbol}", tag = "trading", security(("api_key" = [])),
    params(("symbol" = String, Path, description = "Ticker (`AAPL`)"), BarQuery),
    responses((status = 200, body = Vec<Bar>), Errors))]
async fn bars(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(symbol): Path<String>,
    Query(q): Query<BarQuery>,
) -> ApiResult<Json<Vec<Bar>>> {
    let bars = s
        .platform()
        .bars(
            &p,
            &symbol,
            q.timeframe.unwrap_or(BarTimeframe::Day),
            q.limit.unwrap_or(30),
        )
        .await?;
    Ok(Json(bars))
}

/// The market clock.
#[utoipa::path(get, path = "/v1/clock", tag = "trading", security(("api_key" = [])),
    responses((status = 200, body = MarketClock), Errors))]
async fn clock(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<MarketClock>> {
    Ok(Json(s.platform().market_clock(&p).await?))
}

/// Orders, newest first; page with `before`.
#[utoipa::path(get, path = "/v1/orders", tag = "trading", security(("api_key" = [])),
    params(OrderQuery),
    responses((status = 200, body = Vec<Order>), Errors))]
async fn list_orders(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<OrderQuery>,
) -> ApiResult<Json<Vec<Order>>> {
    Ok(Json(s.platform().orders(&p, &q).await?))
}

/// Places an order: the key's notional limit, approval threshold and screening apply.
#[utoipa::path(post, path = "/v1/orders", tag = "trading", security(("api_key" = [])),
    request_body = OrderRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first result")),
    responses((status = 201, body = Order), Errors))]
async fn place_order(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<OrderRequest>,
) -> ApiResult<Answer<Order>> {
    Ok(Answer::created(
        s.platform().place_order(&p, req, key).await?,
    ))
}

/// What placing this order would do, without doing it: priced, limited and screened (dry
/// run) as the execution will; with a `confirmation_token` when one is required.
#[utoipa::path(post, path = "/v1/orders/preview", tag = "trading", security(("api_key" = [])),
    request_body = OrderRequest,
    responses((status = 200, body = MoveDecision), Errors))]
async fn preview_order(
    State(s): State<AppState>,
    Auth(p): Auth,
    Body(req): Body<OrderRequest>,
) -> ApiResult<Json<MoveDecision>> {
    Ok(Json(s.platform().preview_order(&p, &req).await?))
}

/// An order, refreshed from the broker.
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "trading", security(("api_key" = [])),
    params(("id" = String, Path, description = "Order id (`ord_…`)")),
    responses((status = 200, body = Order), Errors))]
async fn get_order(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Order>> {
    let id = path_id(OrderId::parse(&id), &id)?;
    Ok(Json(s.platform().order(&p, &id).await?))
}

/// Fills of an order.
#[utoipa::path(get, path = "/v1/orders/{id}/fills", tag = "trading", security(("api_key" = [])),
    params(("id" = String, Path, description = "Order id (`ord_…`)")),
    responses((status = 200, body = Vec<Fill>), Errors))]
async fn order_fills(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Fill>>> {
    let id = path_id(OrderId::parse(&id), &id)?;
    Ok(Json(s.platform().fills(&p, &id).await?))
}

/// Cancels an order.
#[utoipa::path(post, path = "/v1/orders/{id}/cancel", tag = "trading", security(("api_key" = [])),
    params(("id" = String, Path, description = "Order id (`ord_…`)")),
    responses((status = 200, body = Order), Errors))]
async fn cancel_order(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
) -> ApiResult<Answer<Order>> {
    let id = path_id(OrderId::parse(&id), &id)?;
    Ok(Answer::ok(s.platform().cancel_order(&p, &id, key).await?))
}

/// Approves a held order: it is sent to the broker once (approvals:write).
#[utoipa::path(post, path = "/v1/orders/{id}/approve", tag = "approvals", security(("api_key" = [])),
    params(("id" = String, Path, description = "Order id (`ord_…`)")),
    request_body = Decision,
    responses((status = 200, body = Order), Errors))]
async fn approve_order(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(d): Body<Decision>,
) -> ApiResult<Answer<Order>> {
    let id = path_id(OrderId::parse(&id), &id)?;
    Ok(Answer::ok(
        s.platform().approve_order(&p, &id, d.comment, key).await?,
    ))
}

/// Rejects a held order (approvals:write).
#[utoipa::path(post, path = "/v1/orders/{id}/reject", tag = "approvals", security(("api_key" = [])),
    params(("id" = String, Path, description = "Order id (`ord_…`)")),
    request_body = Decision,
    responses((status = 200, body = Order), Errors))]
async fn reject_order(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(d): Body<Decision>,
) -> ApiResult<Answer<Order>> {
    let id = path_id(OrderId::parse(&id), &id)?;
    Ok(Answer::ok(
        s.platform().reject_order(&p, &id, d.comment, key).await?,
    ))
}

// ---------------------------------------------------------------- events, audit, ledger

/// Events of the tenant after a sequence number (for streaming, see `/v1/events/stream`).
#[utoipa::path(get, path = "/v1/events", tag = "events", security(("api_key" = [])),
    params(LogQuery),
    responses((status = 200, body = Vec<Event>), Errors))]
async fn list_events(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<Vec<Event>>> {
    Ok(Json(s.platform().events(&p, q).await?))
}

/// Audit records of the tenant after a sequence number.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", security(("api_key" = [])),
    params(LogQuery),
    responses((status = 200, body = Vec<AuditRecord>), Errors))]
async fn audit_log(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<Vec<AuditRecord>>> {
    Ok(Json(s.platform().audit_log(&p, q).await?))
}

/// Recomputes the tenant's audit hash chain; names the first record that fails.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", security(("api_key" = [])),
    responses((status = 200, body = AuditVerification), Errors))]
async fn verify_audit(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<AuditVerification>> {
    Ok(Json(s.platform().verify_audit(&p).await?))
}

/// Ledger balances, derived from the postings.
#[utoipa::path(get, path = "/v1/ledger/balances", tag = "audit", security(("api_key" = [])),
    responses((status = 200, body = Vec<AccountBalance>), Errors))]
async fn ledger_balances(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<Vec<AccountBalance>>> {
    Ok(Json(s.platform().ledger_balances(&p).await?))
}

// ---------------------------------------------------------------- webhooks (developer portal)

/// Webhook endpoints of the tenant (admin).
#[utoipa::path(get, path = "/v1/webhook_endpoints", tag = "webhooks", security(("api_key" = [])),
    responses((status = 200, body = Vec<WebhookEndpoint>), Errors))]
async fn list_webhook_endpoints(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<Vec<WebhookEndpoint>>> {
    Ok(Json(s.platform().webhook_endpoints(&p).await?))
}

/// Registers an endpoint for event types (admin); the signing secret is in this response
/// only. Deliveries are POSTs signed `Fintech-Signature: t=…,v1=HMAC-SHA256(secret, "t.body")`
/// with the event id in `Fintech-Event-Id`.
#[utoipa::path(post, path = "/v1/webhook_endpoints", tag = "webhooks", security(("api_key" = [])),
    request_body = NewWebhookEndpoint,
    responses((status = 201, body = CreatedWebhookEndpoint), Errors))]
async fn create_webhook_endpoint(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<NewWebhookEndpoint>,
) -> ApiResult<Answer<CreatedWebhookEndpoint>> {
    let allow = s.options().webhooks_allow_private;
    let created = s
        .platform()
        .create_webhook_endpoint(&p, req, allow, key)
        .await?;
    Ok(Answer::created(created))
}

/// Deletes an endpoint: no new deliveries (admin).
#[utoipa::path(delete, path = "/v1/webhook_endpoints/{id}", tag = "webhooks", security(("api_key" = [])),
    params(("id" = String, Path, description = "Endpoint id (`whe_…`)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays return the first result")),
    responses((status = 204, description = "Deleted"), Errors))]
async fn delete_webhook_endpoint(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
) -> ApiResult<NoContent> {
    let id = path_id(WebhookEndpointId::parse(&id), &id)?;
    Ok(NoContent(
        s.platform().delete_webhook_endpoint(&p, &id, key).await?,
    ))
}

/// Page size for deliveries.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DeliveryQuery {
    /// At most this many (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// Deliveries to an endpoint with their attempts, newest first (admin).
#[utoipa::path(get, path = "/v1/webhook_endpoints/{id}/deliveries", tag = "webhooks", security(("api_key" = [])),
    params(("id" = String, Path, description = "Endpoint id (`whe_…`)"), DeliveryQuery),
    responses((status = 200, body = Vec<WebhookDelivery>), Errors))]
async fn webhook_deliveries(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Query(q): Query<DeliveryQuery>,
) -> ApiResult<Json<Vec<WebhookDelivery>>> {
    let id = path_id(WebhookEndpointId::parse(&id), &id)?;
    Ok(Json(
        s.platform().webhook_deliveries(&p, &id, q.limit).await?,
    ))
}

/// Sends a delivery again, now (admin).
#[utoipa::path(post, path = "/v1/webhook_deliveries/{id}/replay", tag = "webhooks", security(("api_key" = [])),
    params(("id" = String, Path, description = "Delivery id (`whd_…`)")),
    responses((status = 200, body = WebhookDelivery), Errors))]
async fn replay_webhook_delivery(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
) -> ApiResult<Answer<WebhookDelivery>> {
    let id = path_id(WebhookDeliveryId::parse(&id), &id)?;
    Ok(Answer::ok(
        s.platform().replay_webhook_delivery(&p, &id, key).await?,
    ))
}

// ---------------------------------------------------------------- fraud rules, cases, backtests

/// The active fraud rule set (its source, version and who loaded it).
#[utoipa::path(get, path = "/v1/fraud/rules", tag = "fraud", security(("api_key" = [])),
    responses((status = 200, body = StoredRuleSet), Errors))]
async fn get_fraud_rules(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<StoredRuleSet>> {
    let rules = s.platform().fraud_rules(&p).await?;
    Ok(Json(rules.ok_or_else(|| {
        fintech_core::Error::not_found("rule_set", "(none loaded: every operation is allowed)")
    })?))
}

/// A rule-set source to load.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RuleSource {
    /// The rules, in TOML (documented in docs/fraud.md) or JSON.
    source: String,
    /// `toml` (default) or `json`.
    #[serde(default)]
    format: Option<RuleFormat>,
}

/// Loads and activates a new rule-set version (admin). A bad source is refused with the rule
/// and field at fault and changes nothing. Rules marked `shadow` are recorded, not enforced.
#[utoipa::path(put, path = "/v1/fraud/rules", tag = "fraud", security(("api_key" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first result")),
    request_body = RuleSource,
    responses((status = 200, body = StoredRuleSet), Errors))]
async fn set_fraud_rules(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<RuleSource>,
) -> ApiResult<Answer<StoredRuleSet>> {
    let format = req.format.unwrap_or(RuleFormat::Toml);
    Ok(Answer::ok(
        s.platform()
            .set_fraud_rules(&p, &req.source, format, key)
            .await?,
    ))
}

/// One stored version of the rule set (assessments name the version they used).
#[utoipa::path(get, path = "/v1/fraud/rules/{version}", tag = "fraud", security(("api_key" = [])),
    params(("version" = i64, Path, description = "Rule-set version")),
    responses((status = 200, body = StoredRuleSet), Errors))]
async fn get_fraud_rules_version(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(version): Path<String>,
) -> ApiResult<Json<StoredRuleSet>> {
    // Parsed here, not by the extractor, so a bad version is a problem+json 404.
    let version = version.parse::<i64>().map_err(|_| {
        fintech_core::Error::not_found("rule_set", version.chars().take(40).collect::<String>())
    })?;
    Ok(Json(s.platform().fraud_rules_version(&p, version).await?))
}

/// Review cases, newest first.
#[utoipa::path(get, path = "/v1/fraud/cases", tag = "fraud", security(("api_key" = [])),
    params(CaseQuery),
    responses((status = 200, body = Vec<FraudCase>), Errors))]
async fn list_fraud_cases(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<CaseQuery>,
) -> ApiResult<Json<Vec<FraudCase>>> {
    Ok(Json(s.platform().fraud_cases(&p, &q).await?))
}

/// A review case with the assessment that opened it.
#[utoipa::path(get, path = "/v1/fraud/cases/{id}", tag = "fraud", security(("api_key" = [])),
    params(("id" = String, Path, description = "Case id (`fcs_…`)")),
    responses((status = 200, body = FraudCase), Errors))]
async fn get_fraud_case(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<FraudCase>> {
    let id = path_id(CaseId::parse(&id), &id)?;
    Ok(Json(s.platform().fraud_case(&p, &id).await?))
}

/// An operator's resolution of a case; the comment is required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Resolution {
    /// Why (kept in the audit log).
    comment: String,
}

/// Approves a case: the held operation proceeds, exactly once (approvals:write).
#[utoipa::path(post, path = "/v1/fraud/cases/{id}/approve", tag = "fraud", security(("api_key" = [])),
    params(("id" = String, Path, description = "Case id (`fcs_…`)")),
    request_body = Resolution,
    responses((status = 200, body = FraudCase), Errors))]
async fn approve_fraud_case(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(r): Body<Resolution>,
) -> ApiResult<Answer<FraudCase>> {
    let id = path_id(CaseId::parse(&id), &id)?;
    Ok(Answer::ok(
        s.platform()
            .approve_fraud_case(&p, &id, r.comment, key)
            .await?,
    ))
}

/// Rejects a case: the held operation is cancelled and money never moves (approvals:write).
#[utoipa::path(post, path = "/v1/fraud/cases/{id}/reject", tag = "fraud", security(("api_key" = [])),
    params(("id" = String, Path, description = "Case id (`fcs_…`)")),
    request_body = Resolution,
    responses((status = 200, body = FraudCase), Errors))]
async fn reject_fraud_case(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(r): Body<Resolution>,
) -> ApiResult<Answer<FraudCase>> {
    let id = path_id(CaseId::parse(&id), &id)?;
    Ok(Answer::ok(
        s.platform()
            .reject_fraud_case(&p, &id, r.comment, key)
            .await?,
    ))
}

/// A backtest to run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BacktestRequest {
    /// The rules: `{"rules": "active"}` or `{"rules": "source", "source": "…", "format": "toml"}`.
    rules: BacktestRules,
    /// Labelled transactions as CSV (see docs/fraud.md); the tenant's stored history when absent.
    #[serde(default)]
    csv: Option<String>,
}

/// Replays a rule set over labelled data and reports hits, precision, recall and the share of
/// volume it would review or block. Changes nothing.
#[utoipa::path(post, path = "/v1/fraud/backtests", tag = "fraud", security(("api_key" = [])),
    request_body = BacktestRequest,
    responses((status = 200, body = BacktestReport), Errors))]
async fn run_backtest(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<BacktestRequest>,
) -> ApiResult<Answer<BacktestReport>> {
    let report = match &req.csv {
        Some(csv) => s.platform().backtest_csv(&p, &req.rules, csv, key).await?,
        None => s.platform().backtest_stored(&p, &req.rules, key).await?,
    };
    Ok(Answer::ok(report))
}
