//! Decisions on money moves, made once: one function per move (payment, capture, refund,
//! order) that both the execution and its preview (`Platform::preview_*`) call, so a
//! preview says exactly what the execution will do.
//!
//! A decision runs the move's checks in the execution's order — input and provider checks
//! (an unknown payment method is refused), the key's limits, the fraud screen, the approval
//! threshold — and answers a [`MoveDecision`]: the status the move would produce, the reasons,
//! the limits it would consume, the fraud assessment, and whether the caller must confirm it
//! first. A preview screens as a dry run and reads the daily limit; the execution screens for
//! real and reserves the daily limit atomically. Input errors are errors in both.
//!
//! Confirmation (the key's `confirm_above`) is core policy: a move that would go ahead and is
//! above the key's `confirm_above` answers [`Error::ConfirmationRequired`] with the decision
//! and a token (see [`super::confirm`]); sending the same request again with the token
//! executes it once. A key without `confirm_above` confirms every money move over MCP (the
//! agent's transport) and none elsewhere. A capture never needs confirmation: it moves at most
//! the amount already confirmed when the payment was authorized.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::tenancy::today;
use super::{api_key_of, confirm, Platform};
use crate::auth::{Interface, Principal, Scope};
use crate::error::{ConflictCode, Error, Result};
use crate::fraud::{self, Assessment, ScreenContext, ScreenRequest, Screened};
use crate::id::PaymentId;
use crate::money::Money;
use crate::payments::{CaptureMethod, NewPayment, NewRefund, Payment, PaymentStatus};
use crate::policy::{KeyLimits, PolicyOutcome};
use crate::provider::ProviderMode;
use crate::storage::PaymentRow;
use crate::trading::{OrderRequest, OrderSide};

/// What a money move would do, as its preview and its confirmation show it. `Debug` leaves
/// the confirmation token out (it executes a move).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MoveDecision {
    /// The operation: `payments.create`, `payments.capture`, `refunds.create` or
    /// `orders.place`.
    pub operation: String,
    /// What the move would produce.
    pub status: DecisionStatus,
    /// The same in words, for a human deciding whether to confirm.
    pub summary: String,
    /// Why: the refusal, the fraud rules that matched, the threshold crossed.
    pub reasons: Vec<String>,
    /// The money that moves: the payment, capture or refund amount, or an order's estimated
    /// notional (quantity times the reference price).
    pub amount: Money,
    /// Orders: the price the notional is estimated at (the limit price, else the stop price,
    /// else the quote's ask for a buy or bid for a sell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_price: Option<Money>,
    /// The key's limits and what this move consumes of them.
    pub limits: LimitUse,
    /// The fraud screen's assessment (payments and orders; a dry run in a preview).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment: Option<Assessment>,
    /// The provider that would act (`sim`, `stripe`, `alpaca`).
    pub provider: String,
    /// Whether that provider is simulated, a sandbox, or live (real money).
    pub mode: ProviderMode,
    /// Whether executing needs a confirmation token first (the key's `confirm_above`).
    pub confirmation_required: bool,
    /// The token that executes exactly this request once, when confirmation is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_token: Option<String>,
    /// When that token expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_expires_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for MoveDecision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MoveDecision")
            .field("operation", &self.operation)
            .field("status", &self.status)
            .field("summary", &self.summary)
            .field("reasons", &self.reasons)
            .field("amount", &self.amount)
            .field("reference_price", &self.reference_price)
            .field("limits", &self.limits)
            .field("assessment", &self.assessment)
            .field("provider", &self.provider)
            .field("mode", &self.mode)
            .field("confirmation_required", &self.confirmation_required)
            .field(
                "confirmation_token",
                &self.confirmation_token.as_ref().map(|_| "[redacted]"),
            )
            .field("confirmation_expires_at", &self.confirmation_expires_at)
            .finish()
    }
}

/// What a money move would produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DecisionStatus {
    /// Sent to the provider now; the provider's answer decides the final state (a payment
    /// `succeeded`, `processing` or `failed`; an order `new`, `filled` or `rejected`; a refund
    /// `succeeded`, `pending` or `failed`; a capture `succeeded` or `failed`).
    Execute,
    /// A payment with manual capture: sent for authorization now and held
    /// (`requires_capture`; `processing` or `failed` as the provider answers); money moves at
    /// the capture.
    RequiresCapture,
    /// Recorded and held for an operator's approval (the key's approval threshold); nothing
    /// moves until approved.
    PendingApproval,
    /// Recorded and held for a fraud review; nothing moves until an operator approves.
    PendingReview,
    /// Refused by the key's limits; nothing is recorded.
    Refused,
    /// Blocked by the fraud screen; nothing is recorded.
    Blocked,
}

impl DecisionStatus {
    /// The string form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Execute => "execute",
            Self::RequiresCapture => "requires_capture",
            Self::PendingApproval => "pending_approval",
            Self::PendingReview => "pending_review",
            Self::Refused => "refused",
            Self::Blocked => "blocked",
        }
    }

    /// Whether the move would be recorded (executed or held), not refused.
    pub fn goes_ahead(self) -> bool {
        !matches!(self, Self::Refused | Self::Blocked)
    }

    /// The decision status a created payment's status comes from.
    pub fn of_payment(status: PaymentStatus, capture: CaptureMethod) -> Self {
        match status {
            PaymentStatus::PendingApproval => Self::PendingApproval,
            PaymentStatus::PendingReview => Self::PendingReview,
            // sent for authorization: the provider's answer decides (requires_capture,
            // processing, failed)
            _ if capture == CaptureMethod::Manual => Self::RequiresCapture,
            _ => Self::Execute,
        }
    }

    /// The decision status a placed order's status comes from.
    pub fn of_order(status: crate::trading::OrderStatus) -> Self {
        match status {
            crate::trading::OrderStatus::PendingApproval => Self::PendingApproval,
            crate::trading::OrderStatus::PendingReview => Self::PendingReview,
            _ => Self::Execute,
        }
    }
}

impl std::fmt::Display for DecisionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The key's limits and what a move consumes of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LimitUse {
    /// Largest single payment.
    pub max_per_payment: Option<Money>,
    /// Largest total of payments per UTC day.
    pub max_per_day: Option<Money>,
    /// What remains of `max_per_day` today before this move (a preview reads it; an
    /// execution reserves atomically and leaves it empty).
    pub remaining_today: Option<Money>,
    /// What would remain after this move.
    pub remaining_after: Option<Money>,
    /// Largest order notional.
    pub max_order_notional: Option<Money>,
    /// Moves above this are held for approval.
    pub approval_threshold: Option<Money>,
    /// Moves above this need a confirmation token.
    pub confirm_above: Option<Money>,
}

impl LimitUse {
    fn of(l: &KeyLimits) -> Self {
        Self {
            max_per_payment: l.max_per_payment,
            max_per_day: l.max_per_day,
            remaining_today: None,
            remaining_after: None,
            max_order_notional: l.max_order_notional,
            approval_threshold: l.approval_threshold,
            confirm_above: l.confirm_above,
        }
    }
}

/// Whether a decision is for a preview or for the execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Screen as a dry run; read the daily limit.
    Preview,
    /// Screen for real; reserve the daily limit.
    Execute,
}

/// A decision and what the execution needs from making it.
pub(super) struct Plan {
    pub decision: MoveDecision,
    /// The error the execution answers when the decision is `refused` or `blocked`.
    pub refusal: Option<Error>,
    /// Whether the daily limit was reserved (an execution of a payment).
    pub reserved: bool,
}

/// Whether this caller may be asked to confirm at all (without looking at the amount).
fn may_need_confirmation(p: &Principal) -> bool {
    p.limits.confirm_above.is_some() || p.interface == Interface::Mcp
}

/// Whether a move of `amount` needs the caller's confirmation: above the key's
/// `confirm_above`; without one, every move over MCP and none elsewhere.
pub(super) fn needs_confirmation(p: &Principal, amount: &Money) -> bool {
    match &p.limits.confirm_above {
        Some(max) => amount.checked_cmp(max).map_or(true, |o| o.is_gt()),
        None => p.interface == Interface::Mcp,
    }
}

fn finish_decision(
    p: &Principal,
    mut decision: MoveDecision,
    refusal: Option<Error>,
    reserved: bool,
) -> Plan {
    decision.confirmation_required =
        decision.status.goes_ahead() && needs_confirmation(p, &decision.amount);
    if decision.confirmation_required {
        decision.reasons.push(match &p.limits.confirm_above {
            Some(max) => format!(
                "{} is above this key's confirm_above of {max}",
                decision.amount
            ),
            None => "money moves over MCP are confirmed unless the key sets confirm_above".into(),
        });
    }
    Plan {
        decision,
        refusal,
        reserved,
    }
}

/// The normalized order a confirmation binds to (the quantity without trailing zeros).
fn order_binding(req: &OrderRequest) -> OrderRequest {
    let mut b = req.clone();
    b.qty = b.qty.normalize();
    b.confirmation_token = None;
    b
}

impl Platform {
    /// The idempotency key a confirmation token stands for, after checking it against the
    /// request; `None` without a token.
    pub(super) fn confirmed_key(
        &self,
        p: &Principal,
        operation: &str,
        token: Option<&str>,
        binding: &str,
    ) -> Result<Option<String>> {
        token
            .map(|t| self.inner.confirmations.verify(t, operation, p, binding))
            .transpose()
    }

    /// Attaches a fresh token to a decision that needs confirmation.
    fn with_token(&self, p: &Principal, binding: &str, mut decision: MoveDecision) -> MoveDecision {
        if decision.confirmation_required {
            let issued = self
                .inner
                .confirmations
                .issue(&decision.operation, p, binding);
            decision.confirmation_token = Some(issued.token);
            decision.confirmation_expires_at = Some(issued.expires_at);
        }
        decision
    }

    fn confirmation_required(&self, p: &Principal, binding: &str, d: MoveDecision) -> Error {
        Error::ConfirmationRequired(Box::new(self.with_token(p, binding, d)))
    }

    // ------------------------------------------------------------------ payments

    /// Input checks of a new payment shared by its preview and execution: amount, method
    /// token, free text, and the customer (answers it).
    pub(super) async fn payment_input(
        &self,
        p: &Principal,
        req: &NewPayment,
    ) -> Result<Option<crate::payments::Customer>> {
        let customer = match &req.customer_id {
            Some(id) => Some(
                self.inner
                    .store
                    .customer(&p.tenant_id, id)
                    .await?
                    .ok_or_else(|| Error::not_found("customer", id))?,
            ),
            None => None,
        };
        if !req.amount.is_positive() {
            return Err(Error::validation("amount", "must be greater than zero"));
        }
        req.amount.to_minor()?;
        crate::payments::validate_payment_method(&req.payment_method)?;
        super::validate_text("payee", &req.payee, 200)?;
        super::validate_text("description", &req.description, 500)?;
        Ok(customer)
    }

    /// The decision on a new payment (after [`Platform::payment_input`]): the payment method
    /// must be known to the provider; then the per-payment limit, the daily limit, the fraud
    /// screen (a block refuses, a review holds), the approval threshold.
    pub(super) async fn decide_payment(
        &self,
        p: &Principal,
        req: &NewPayment,
        mode: Mode,
    ) -> Result<Plan> {
        let provider = self.inner.providers.payments(&p.tenant_id);
        if !provider.payment_method_exists(&req.payment_method).await? {
            return Err(Error::validation(
                "payment_method",
                format!(
                    "the {} payments provider knows no such payment method; pass a token it issued (pm_…)",
                    provider.name()
                ),
            ));
        }
        let manual = req.capture_method == Some(CaptureMethod::Manual);
        let mut d = MoveDecision {
            operation: "payments.create".into(),
            status: DecisionStatus::Execute,
            summary: String::new(),
            reasons: Vec::new(),
            amount: req.amount,
            reference_price: None,
            limits: LimitUse::of(&p.limits),
            assessment: None,
            provider: provider.name().to_owned(),
            mode: provider.mode(),
            confirmation_required: false,
            confirmation_token: None,
            confirmation_expires_at: None,
        };
        let refuse = |mut d: MoveDecision, e: Error| {
            d.status = DecisionStatus::Refused;
            d.summary = format!("refused; nothing is charged or recorded: {e}");
            d.reasons.push(e.to_string());
            finish_decision(p, d, Some(e), false)
        };
        let outcome = match p.limits.check_payment(&req.amount) {
            Ok(o) => o,
            Err(e @ Error::LimitExceeded { .. }) => return Ok(refuse(d, e)),
            Err(e) => return Err(e),
        };
        // the daily limit: read for a preview, reserved atomically for the execution
        let mut reserved = false;
        match mode {
            Mode::Preview => {
                if let (Some(key), Some(max)) = (api_key_of(p), &p.limits.max_per_day) {
                    let spent = self
                        .inner
                        .store
                        .spent(&key, &today(), max.currency())
                        .await?;
                    let remaining = max.checked_sub(&spent)?;
                    d.limits.remaining_today = Some(remaining);
                    if req.amount.checked_cmp(&remaining)?.is_gt() {
                        let e = Error::LimitExceeded {
                            limit: "max_per_day",
                            message: format!("{} would exceed this key's daily limit of {max} ({spent} already spent today)", req.amount),
                        };
                        return Ok(refuse(d, e));
                    }
                    d.limits.remaining_after = Some(remaining.checked_sub(&req.amount)?);
                }
            }
            Mode::Execute => match self.reserve_daily(p, &req.amount).await {
                Ok(r) => reserved = r,
                Err(e @ Error::LimitExceeded { .. }) => return Ok(refuse(d, e)),
                Err(e) => return Err(e),
            },
        }
        let screened = self
            .inner
            .fraud
            .assess(&ScreenRequest {
                tenant_id: p.tenant_id.clone(),
                actor: p.actor.clone(),
                interface: p.interface,
                subject: Screened::Payment {
                    amount: req.amount,
                    payee: req.payee.clone(),
                    payment_method: req.payment_method.clone(),
                    customer_id: req.customer_id.as_ref().map(|c| c.to_string()),
                },
                context: ScreenContext::default(),
                dry_run: mode == Mode::Preview,
            })
            .await;
        let assessment = match screened {
            Ok(a) => a,
            Err(e) => {
                if reserved {
                    self.release_daily(p, &req.amount).await;
                }
                return Err(e);
            }
        };
        let mut refusal = None;
        let what = if manual { "authorized" } else { "charged" };
        (d.status, d.summary) = match assessment.decision {
            fraud::Decision::Block => {
                let e = Error::Blocked {
                    reasons: assessment.reasons(),
                };
                d.reasons.push(e.to_string());
                refusal = Some(e);
                (
                    DecisionStatus::Blocked,
                    "declined by fraud screening; nothing is charged or recorded".to_owned(),
                )
            }
            fraud::Decision::Review => {
                d.reasons.push(format!("fraud review: {}", assessment.reasons()));
                (
                    DecisionStatus::PendingReview,
                    format!("held for a fraud review (pending_review); nothing is {what} until an operator approves"),
                )
            }
            fraud::Decision::Allow if outcome == PolicyOutcome::HoldForApproval => {
                d.reasons.push(format!(
                    "{} is above this key's approval threshold of {}",
                    req.amount,
                    p.limits
                        .approval_threshold
                        .map(|t| t.to_string())
                        .unwrap_or_default()
                ));
                (
                    DecisionStatus::PendingApproval,
                    format!("held for an operator's approval (pending_approval); nothing is {what} until approved"),
                )
            }
            fraud::Decision::Allow if manual => (
                DecisionStatus::RequiresCapture,
                format!(
                    "{} authorized now through the {} payments provider ({}) and held (requires_capture); money moves only when the payment is captured",
                    req.amount, d.provider, d.mode
                ),
            ),
            fraud::Decision::Allow => (
                DecisionStatus::Execute,
                format!(
                    "{} charged now through the {} payments provider ({}); the provider's answer decides succeeded, processing or failed",
                    req.amount, d.provider, d.mode
                ),
            ),
        };
        d.assessment = Some(assessment);
        Ok(finish_decision(p, d, refusal, reserved))
    }

    /// What creating this payment would do, without doing it: the same decision as
    /// [`Platform::create_payment`] (fraud screened as a dry run, the daily limit read, not
    /// reserved). When confirmation is required the decision carries the token that executes
    /// exactly this request.
    pub async fn preview_payment(&self, p: &Principal, req: &NewPayment) -> Result<MoveDecision> {
        p.require(Scope::PaymentsWrite)?;
        let mut req = req.clone();
        req.confirmation_token = None;
        self.payment_input(p, &req).await?;
        let plan = self.decide_payment(p, &req, Mode::Preview).await?;
        Ok(self.with_token(p, &confirm::binding(&req)?, plan.decision))
    }

    /// Before executing a payment: checks a confirmation token (answering the idempotency
    /// key it stands for) or, without one, answers `ConfirmationRequired` when the move would
    /// go ahead above the key's `confirm_above`. `req` has no token.
    pub(super) async fn confirm_payment(
        &self,
        p: &Principal,
        req: &NewPayment,
        token: Option<&str>,
    ) -> Result<Option<String>> {
        let binding = confirm::binding(req)?;
        if let Some(key) = self.confirmed_key(p, "payments.create", token, &binding)? {
            return Ok(Some(key));
        }
        if needs_confirmation(p, &req.amount) {
            let plan = self.decide_payment(p, req, Mode::Preview).await?;
            if plan.decision.confirmation_required {
                return Err(self.confirmation_required(p, &binding, plan.decision));
            }
        }
        Ok(None)
    }

    // ------------------------------------------------------------------ capture

    /// The decision on a capture: the amount (all of the authorization when absent) in the
    /// payment's currency, positive and at most what was authorized. The payment's state is
    /// checked by [`capturable`] inside the idempotent step.
    pub(super) fn decide_capture(
        &self,
        p: &Principal,
        row: &PaymentRow,
        amount: Option<Money>,
    ) -> Result<MoveDecision> {
        let authorized = row.payment.amount;
        let amount = amount.unwrap_or(authorized);
        if amount.currency() != authorized.currency() {
            return Err(Error::validation(
                "amount",
                format!("the payment is in {}", authorized.currency()),
            ));
        }
        if !amount.is_positive() {
            return Err(Error::validation("amount", "must be greater than zero"));
        }
        if amount.checked_cmp(&authorized)?.is_gt() {
            return Err(Error::validation(
                "amount",
                format!("{amount} is more than the {authorized} authorized"),
            ));
        }
        let provider = self.inner.providers.payments(&p.tenant_id);
        let released = authorized.checked_sub(&amount)?;
        Ok(MoveDecision {
            operation: "payments.capture".into(),
            status: DecisionStatus::Execute,
            summary: format!(
                "captures {amount} of payment {} through the {} payments provider ({}); {released} of the authorization is released",
                row.payment.id,
                provider.name(),
                provider.mode()
            ),
            reasons: Vec::new(),
            amount,
            reference_price: None,
            limits: LimitUse::of(&p.limits),
            assessment: None,
            provider: provider.name().to_owned(),
            mode: provider.mode(),
            // the authorization was confirmed; a capture moves at most that
            confirmation_required: false,
            confirmation_token: None,
            confirmation_expires_at: None,
        })
    }

    /// What capturing would do, without doing it (the same checks as
    /// [`Platform::capture_payment`], including the payment's state).
    pub async fn preview_capture(
        &self,
        p: &Principal,
        id: &PaymentId,
        amount: Option<Money>,
    ) -> Result<MoveDecision> {
        p.require(Scope::PaymentsWrite)?;
        let row = self.payment_row(p, id).await?;
        let decision = self.decide_capture(p, &row, amount)?;
        capturable(&row.payment)?;
        Ok(decision)
    }

    // ------------------------------------------------------------------ refunds

    /// The decision on a refund: the payment must have succeeded; the amount (all that is
    /// left when absent) is in its currency, positive and at most what is left to refund.
    pub(super) async fn decide_refund(
        &self,
        p: &Principal,
        req: &NewRefund,
    ) -> Result<(MoveDecision, Payment)> {
        let row = self.payment_row(p, &req.payment_id).await?;
        super::validate_text("reason", &req.reason, 500)?;
        let payment = row.payment;
        if payment.status != PaymentStatus::Succeeded {
            return Err(Error::conflict(
                ConflictCode::InvalidState,
                format!(
                    "payment {} is {}; only succeeded payments can be refunded",
                    payment.id,
                    payment.status.as_str()
                ),
            ));
        }
        let remaining = payment
            .amount_captured
            .checked_sub(&payment.amount_refunded)?;
        let amount = req.amount.unwrap_or(remaining);
        if amount.currency() != payment.amount.currency() {
            return Err(Error::validation(
                "amount",
                format!("the payment is in {}", payment.amount.currency()),
            ));
        }
        if !amount.is_positive() {
            return Err(Error::validation("amount", "must be greater than zero"));
        }
        if amount.checked_cmp(&remaining)?.is_gt() {
            return Err(Error::validation(
                "amount",
                format!("{amount} is more than the {remaining} left to refund"),
            ));
        }
        let provider = self.inner.providers.payments(&p.tenant_id);
        let d = MoveDecision {
            operation: "refunds.create".into(),
            status: DecisionStatus::Execute,
            summary: format!(
                "refunds {amount} of payment {} (captured {}, already refunded {}) through the {} payments provider ({})",
                payment.id,
                payment.amount_captured,
                payment.amount_refunded,
                provider.name(),
                provider.mode()
            ),
            reasons: Vec::new(),
            amount,
            reference_price: None,
            limits: LimitUse::of(&p.limits),
            assessment: None,
            provider: provider.name().to_owned(),
            mode: provider.mode(),
            confirmation_required: false,
            confirmation_token: None,
            confirmation_expires_at: None,
        };
        Ok((finish_decision(p, d, None, false).decision, payment))
    }

    /// What refunding would do, without doing it (the same checks as
    /// [`Platform::create_refund`]); carries a confirmation token when one is required.
    pub async fn preview_refund(&self, p: &Principal, req: &NewRefund) -> Result<MoveDecision> {
        p.require(Scope::PaymentsWrite)?;
        let mut req = req.clone();
        req.confirmation_token = None;
        let (d, _) = self.decide_refund(p, &req).await?;
        Ok(self.with_token(p, &confirm::binding(&req)?, d))
    }

    /// Before executing a refund: the token's idempotency key, or `ConfirmationRequired`.
    pub(super) fn confirm_refund(
        &self,
        p: &Principal,
        req: &NewRefund,
        decision: MoveDecision,
        token: Option<&str>,
    ) -> Result<Option<String>> {
        let binding = confirm::binding(req)?;
        if let Some(key) = self.confirmed_key(p, "refunds.create", token, &binding)? {
            return Ok(Some(key));
        }
        if decision.confirmation_required {
            return Err(self.confirmation_required(p, &binding, decision));
        }
        Ok(None)
    }

    // ------------------------------------------------------------------ orders

    /// The decision on an order (after `OrderRequest::validate`): the notional at the
    /// reference price (the limit price, else the stop price, else the quote), the key's
    /// notional limit, the fraud screen (with equity and the position after a buy, for
    /// concentration rules), the approval threshold.
    pub(super) async fn decide_order(
        &self,
        p: &Principal,
        req: &OrderRequest,
        mode: Mode,
    ) -> Result<Plan> {
        let broker = self.inner.providers.brokerage(&p.tenant_id);
        let reference = match req.limit_price.or(req.stop_price) {
            Some(price) => price,
            None => {
                let q = broker.latest_quote(&req.symbol).await?;
                if req.side == OrderSide::Buy {
                    q.ask
                } else {
                    q.bid
                }
            }
        };
        let notional = reference.checked_mul(req.qty)?;
        let mut d = MoveDecision {
            operation: "orders.place".into(),
            status: DecisionStatus::Execute,
            summary: String::new(),
            reasons: Vec::new(),
            amount: notional,
            reference_price: Some(reference),
            limits: LimitUse::of(&p.limits),
            assessment: None,
            provider: broker.name().to_owned(),
            mode: broker.mode(),
            confirmation_required: false,
            confirmation_token: None,
            confirmation_expires_at: None,
        };
        let outcome = match p.limits.check_order(&notional) {
            Ok(o) => o,
            Err(e @ Error::LimitExceeded { .. }) => {
                d.status = DecisionStatus::Refused;
                d.summary = format!("refused; nothing is sent or recorded: {e}");
                d.reasons.push(e.to_string());
                return Ok(finish_decision(p, d, Some(e), false));
            }
            Err(e) => return Err(e),
        };
        let context = if req.side == OrderSide::Buy {
            let account = broker.account().await?;
            let held = broker
                .positions()
                .await?
                .into_iter()
                .find(|pos| pos.symbol == req.symbol)
                .map(|pos| pos.market_value);
            let position_after = match held {
                Some(v) if v.currency() == notional.currency() => Some(v.checked_add(&notional)?),
                Some(_) => None,
                None => Some(notional),
            };
            ScreenContext {
                equity: Some(account.equity),
                position_after,
                ..ScreenContext::default()
            }
        } else {
            ScreenContext::default()
        };
        let assessment = self
            .inner
            .fraud
            .assess(&ScreenRequest {
                tenant_id: p.tenant_id.clone(),
                actor: p.actor.clone(),
                interface: p.interface,
                subject: Screened::Order {
                    symbol: req.symbol.clone(),
                    side: req.side,
                    notional,
                },
                context,
                dry_run: mode == Mode::Preview,
            })
            .await?;
        let mut refusal = None;
        (d.status, d.summary) = match assessment.decision {
            fraud::Decision::Block => {
                let e = Error::Blocked {
                    reasons: assessment.reasons(),
                };
                d.reasons.push(e.to_string());
                refusal = Some(e);
                (
                    DecisionStatus::Blocked,
                    "declined by fraud screening; nothing is sent or recorded".to_owned(),
                )
            }
            fraud::Decision::Review => {
                d.reasons.push(format!("fraud review: {}", assessment.reasons()));
                (
                    DecisionStatus::PendingReview,
                    "held for a fraud review (pending_review); not sent to the broker until an operator approves".to_owned(),
                )
            }
            fraud::Decision::Allow if outcome == PolicyOutcome::HoldForApproval => {
                d.reasons.push(format!(
                    "estimated notional {notional} is above this key's approval threshold of {}",
                    p.limits
                        .approval_threshold
                        .map(|t| t.to_string())
                        .unwrap_or_default()
                ));
                (
                    DecisionStatus::PendingApproval,
                    "held for an operator's approval (pending_approval); not sent to the broker until approved".to_owned(),
                )
            }
            fraud::Decision::Allow => (
                DecisionStatus::Execute,
                format!(
                    "{} {} {} as a {} {} order at the {} broker ({}), estimated notional {notional} at {reference}",
                    req.side, req.qty, req.symbol, req.order_type, req.time_in_force, d.provider, d.mode
                ),
            ),
        };
        d.assessment = Some(assessment);
        Ok(finish_decision(p, d, refusal, false))
    }

    /// What placing this order would do, without doing it: the same decision as
    /// [`Platform::place_order`] (priced the same way, fraud screened as a dry run). When
    /// confirmation is required the decision carries the token.
    pub async fn preview_order(&self, p: &Principal, req: &OrderRequest) -> Result<MoveDecision> {
        p.require(Scope::TradingWrite)?;
        req.validate()?;
        let binding = order_binding(req);
        let plan = self.decide_order(p, &binding, Mode::Preview).await?;
        Ok(self.with_token(p, &confirm::binding(&binding)?, plan.decision))
    }

    /// Before executing an order: the token's idempotency key, or `ConfirmationRequired`.
    pub(super) async fn confirm_order(
        &self,
        p: &Principal,
        req: &OrderRequest,
        token: Option<&str>,
    ) -> Result<Option<String>> {
        let normalized = order_binding(req);
        let binding = confirm::binding(&normalized)?;
        if let Some(key) = self.confirmed_key(p, "orders.place", token, &binding)? {
            return Ok(Some(key));
        }
        if may_need_confirmation(p) {
            let plan = self.decide_order(p, &normalized, Mode::Preview).await?;
            if plan.decision.confirmation_required {
                return Err(self.confirmation_required(p, &binding, plan.decision));
            }
        }
        Ok(None)
    }
}

/// The provider id of a payment that can be captured now (`requires_capture`).
pub(super) fn capturable(payment: &Payment) -> Result<String> {
    payment
        .provider_payment_id
        .clone()
        .filter(|_| payment.status == PaymentStatus::RequiresCapture)
        .ok_or_else(|| {
            Error::conflict(
                ConflictCode::InvalidState,
                format!(
                    "payment {} is {}; only an authorized payment (requires_capture) can be captured",
                    payment.id,
                    payment.status.as_str()
                ),
            )
        })
}
