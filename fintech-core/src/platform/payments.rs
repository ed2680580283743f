//! Customers, payments (with approval holds and review), refunds.

use serde::{Deserialize, Serialize};

use super::decision::{capturable, DecisionStatus, Mode, MoveDecision};
use super::tenancy::today;
use super::{
    api_key_of, audit_entry, finish, finish_once, hash_request, to_value, validate_text, Executed,
    Idem, Platform,
};
use crate::auth::{Principal, Scope};
use crate::error::{ConflictCode, Error, Result};
use crate::events::types;
use crate::fraud::{Assessment, CaseStatus, ScreenContext, ScreenRequest, Screened};
use crate::id::{CustomerId, PaymentId, RefundId};
use crate::ledger::JournalEntry;
use crate::money::Money;
use crate::payments::{
    validate_payment_method, AttachPaymentMethod, Customer, NewCustomer, NewPayment, NewRefund,
    Payment, PaymentMethod, PaymentStatus, ProviderBalance, ProviderCaptureRequest,
    ProviderPayment, ProviderPaymentRequest, ProviderPaymentStatus, ProviderRefundRequest, Refund,
    RefundStatus,
};
use crate::storage::PaymentRow;

/// Filters for listing payments.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct PaymentQuery {
    /// Only this status.
    #[serde(default)]
    pub status: Option<PaymentStatus>,
    /// Cursor: only payments older than this one.
    #[serde(default)]
    pub before: Option<PaymentId>,
    /// Page size (default 100, max 500).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
}

/// Applies what the provider said to a payment. A payment that succeeds without an explicit
/// capture amount captured all of it.
fn apply_provider(payment: &mut Payment, pp: &ProviderPayment) {
    payment.provider_payment_id = Some(pp.provider_id.clone());
    match &pp.status {
        ProviderPaymentStatus::Succeeded => {
            payment.status = PaymentStatus::Succeeded;
            if payment.amount_captured.is_zero() {
                payment.amount_captured = payment.amount;
            }
        }
        ProviderPaymentStatus::Processing => payment.status = PaymentStatus::Processing,
        ProviderPaymentStatus::RequiresCapture => payment.status = PaymentStatus::RequiresCapture,
        ProviderPaymentStatus::Canceled => payment.status = PaymentStatus::Canceled,
        ProviderPaymentStatus::Failed { code, message } => {
            payment.status = PaymentStatus::Failed;
            payment.failure_code = Some(code.clone());
            payment.failure_message = Some(message.clone());
        }
    }
    payment.updated_at = crate::storage::now();
}

/// The event type for a payment's status.
fn status_event(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Succeeded => types::PAYMENT_SUCCEEDED,
        PaymentStatus::Failed => types::PAYMENT_FAILED,
        PaymentStatus::PendingApproval | PaymentStatus::PendingReview => types::PAYMENT_HELD,
        PaymentStatus::Canceled | PaymentStatus::Rejected => types::PAYMENT_CANCELED,
        PaymentStatus::Processing => types::PAYMENT_CREATED,
        PaymentStatus::RequiresCapture => types::PAYMENT_AUTHORIZED,
    }
}

impl Platform {
    /// Creates a customer at the payments provider and stores it.
    pub async fn create_customer(
        &self,
        p: &Principal,
        req: NewCustomer,
        idempotency_key: Option<String>,
    ) -> Result<Executed<Customer>> {
        p.require(Scope::PaymentsWrite)?;
        validate_text("email", &req.email, 254)?;
        validate_text("name", &req.name, 200)?;
        let request_hash = hash_request("customers.create", &req)?;
        self.idempotent(
            p,
            idempotency_key,
            "customers.create",
            request_hash,
            |idem| async move {
                let provider = self.inner.providers.payments(&p.tenant_id);
                let pc = provider.create_customer(&req, &idem.provider_key).await?;
                let customer = Customer {
                    id: CustomerId::generate(),
                    email: req.email,
                    name: req.name,
                    provider_customer_id: pc.provider_id,
                    created_at: crate::storage::now(),
                };
                let response = serde_json::to_string(&customer).map_err(Error::internal)?;
                let mut tx = self.inner.store.begin().await?;
                tx.insert_customer(&p.tenant_id, &customer, provider.name())
                    .await?;
                let audit = audit_entry(
                    p,
                    "customers.create",
                    "customer",
                    customer.id.as_str(),
                    Some(&idem.key),
                    "ok",
                );
                finish(
                    &mut tx,
                    p,
                    Some((&idem, &response)),
                    &[(
                        types::CUSTOMER_CREATED,
                        customer.id.as_str(),
                        to_value(&customer)?,
                    )],
                    audit,
                )
                .await?;
                tx.commit().await?;
                Ok(customer)
            },
        )
        .await
    }

    /// A customer.
    pub async fn customer(&self, p: &Principal, id: &CustomerId) -> Result<Customer> {
        p.require(Scope::PaymentsRead)?;
        self.customer_row(p, id).await
    }

    /// The caller's tenant's customer, without a scope check (for operations that checked
    /// their own scope: attaching a method needs `payments:write`, not also `payments:read`).
    async fn customer_row(&self, p: &Principal, id: &CustomerId) -> Result<Customer> {
        self.inner
            .store
            .customer(&p.tenant_id, id)
            .await?
            .ok_or_else(|| Error::not_found("customer", id))
    }

    /// Creates a payment: checks, confirmation (above the key's `confirm_above` without a
    /// valid `confirmation_token` it answers [`Error::ConfirmationRequired`] and does
    /// nothing), claims the idempotency key, then the decision
    /// ([`Platform::preview_payment`] makes the same one): the key's limits and approval
    /// threshold, fraud screening; charges through the provider, and records the payment,
    /// its ledger entry, event and audit record in one transaction. Held payments
    /// (`pending_approval`, `pending_review`) are recorded without charging.
    pub async fn create_payment(
        &self,
        p: &Principal,
        mut req: NewPayment,
        idempotency_key: Option<String>,
    ) -> Result<Executed<Payment>> {
        // 1. authorization, 2. validation
        p.require(Scope::PaymentsWrite)?;
        let token = req.confirmation_token.take();
        let customer = self.payment_input(p, &req).await?;
        // confirmation: a token stands for its idempotency key
        let idempotency_key = self
            .confirm_payment(p, &req, token.as_deref())
            .await?
            .or(idempotency_key);
        // 3. idempotency
        let request_hash = hash_request("payments.create", &req)?;
        self.idempotent(
            p,
            idempotency_key,
            "payments.create",
            request_hash,
            |idem| async move {
                let id = PaymentId::generate();
                // 4. policy and 5. fraud screening: the decision
                let plan = self.decide_payment(p, &req, Mode::Execute).await?;
                if let Some(e) = plan.refusal {
                    if plan.reserved {
                        self.release_daily(p, &req.amount).await;
                    }
                    self.audit_denial(
                        p,
                        "payments.create",
                        "payment",
                        id.as_str(),
                        Some(&idem.key),
                        &e,
                    )
                    .await?;
                    return Err(e);
                }
                let reserved = plan.reserved;
                let amount = req.amount;
                let result = self
                    .create_payment_reserved(p, req, customer, id, &idem, plan.decision)
                    .await;
                let release = match &result {
                    Ok(payment) => matches!(
                        payment.status,
                        PaymentStatus::Failed | PaymentStatus::Canceled
                    ),
                    Err(_) => true,
                };
                if release && reserved {
                    self.release_daily(p, &amount).await;
                }
                result
            },
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn create_payment_reserved(
        &self,
        p: &Principal,
        req: NewPayment,
        customer: Option<Customer>,
        id: PaymentId,
        idem: &super::Idem,
        decision: MoveDecision,
    ) -> Result<Payment> {
        let provider = self.inner.providers.payments(&p.tenant_id);
        let now = crate::storage::now();
        let held = match decision.status {
            DecisionStatus::PendingReview => Some(PaymentStatus::PendingReview),
            DecisionStatus::PendingApproval => Some(PaymentStatus::PendingApproval),
            _ => None,
        };
        let mut payment = Payment {
            id,
            amount: req.amount,
            amount_captured: Money::zero(req.amount.currency()),
            capture_method: req.capture_method.unwrap_or_default(),
            amount_refunded: Money::zero(req.amount.currency()),
            payment_method: req.payment_method,
            customer_id: req.customer_id,
            payee: req.payee,
            description: req.description,
            status: held.unwrap_or(PaymentStatus::Processing),
            failure_code: None,
            failure_message: None,
            provider: provider.name().to_owned(),
            provider_payment_id: None,
            created_by: p.actor.to_string(),
            assessment: decision.assessment,
            created_at: now,
            updated_at: now,
        };
        if held.is_none() {
            // 6. the provider call, keyed so a retry never charges twice
            let pp = provider
                .create_payment(&ProviderPaymentRequest {
                    amount: payment.amount,
                    payment_method: payment.payment_method.clone(),
                    customer: customer.map(|c| c.provider_customer_id),
                    description: payment.description.clone(),
                    capture_method: payment.capture_method,
                    idempotency_key: idem.provider_key.clone(),
                })
                .await?;
            apply_provider(&mut payment, &pp);
        }
        // 7. one transaction
        let row = PaymentRow {
            payment: payment.clone(),
            provider_idempotency_key: idem.provider_key.clone(),
            api_key_id: api_key_of(p),
        };
        let response = serde_json::to_string(&payment).map_err(Error::internal)?;
        let mut tx = self.inner.store.begin().await?;
        tx.insert_payment(&p.tenant_id, &row).await?;
        if payment.status == PaymentStatus::Succeeded {
            tx.post_journal(
                &p.tenant_id,
                payment.id.as_str(),
                &JournalEntry::payment_captured(payment.id.as_str(), payment.amount_captured)?,
            )
            .await?;
        }
        let data = to_value(&payment)?;
        let mut events = vec![(types::PAYMENT_CREATED, payment.id.as_str(), data.clone())];
        if payment.status != PaymentStatus::Processing {
            events.push((status_event(payment.status), payment.id.as_str(), data));
        }
        if payment.status == PaymentStatus::PendingReview {
            let case = self
                .open_case(
                    &mut tx,
                    p,
                    "payment",
                    payment.id.as_str(),
                    &payment.assessment,
                )
                .await?;
            events.push((types::FRAUD_CASE_OPENED, payment.id.as_str(), case));
        }
        let outcome = match payment.status {
            PaymentStatus::Failed => format!(
                "failed: {}",
                payment.failure_code.as_deref().unwrap_or("unknown")
            ),
            s => s.as_str().to_owned(),
        };
        let audit = audit_entry(
            p,
            "payments.create",
            "payment",
            payment.id.as_str(),
            Some(&idem.key),
            &outcome,
        );
        finish(&mut tx, p, Some((idem, &response)), &events, audit).await?;
        tx.commit().await?;
        Ok(payment)
    }

    /// Reserves the payment against the key's daily limit; `Ok(true)` when a reservation was made.
    pub(super) async fn reserve_daily(&self, p: &Principal, amount: &Money) -> Result<bool> {
        let (Some(key), Some(max)) = (api_key_of(p), &p.limits.max_per_day) else {
            return Ok(false);
        };
        if self
            .inner
            .store
            .reserve_spend(&key, &today(), amount, max)
            .await?
        {
            Ok(true)
        } else {
            let spent = self
                .inner
                .store
                .spent(&key, &today(), max.currency())
                .await?;
            Err(Error::LimitExceeded {
                limit: "max_per_day",
                message: format!("{amount} would exceed this key's daily limit of {max} ({spent} already spent today)"),
            })
        }
    }

    pub(super) async fn release_daily(&self, p: &Principal, amount: &Money) {
        if let Some(key) = api_key_of(p) {
            if let Err(e) = self.inner.store.release_spend(&key, &today(), amount).await {
                tracing::error!(error = %e, "could not release a spending reservation");
            }
        }
    }

    /// A provider says a payment changed (a verified webhook): the payment is found by the
    /// provider's id in whichever tenant holds it and, if still `processing`, refreshed from
    /// the provider (the webhook body itself is not trusted for the new state). `None` when no
    /// payment has that id.
    pub async fn provider_payment_changed(
        &self,
        provider: &str,
        provider_payment_id: &str,
        interface: crate::Interface,
    ) -> Result<Option<Payment>> {
        let Some((tenant, id)) = self
            .inner
            .store
            .payment_by_provider_id(provider, provider_payment_id)
            .await?
        else {
            return Ok(None);
        };
        let system = Principal::system(tenant, interface);
        let row = self.payment_row(&system, &id).await?;
        if matches!(
            row.payment.status,
            PaymentStatus::Processing | PaymentStatus::RequiresCapture
        ) {
            return self.advance_processing(&system, row).await.map(Some);
        }
        Ok(Some(row.payment))
    }

    /// A payment. A `processing` payment is refreshed from the provider first.
    pub async fn payment(&self, p: &Principal, id: &PaymentId) -> Result<Payment> {
        p.require(Scope::PaymentsRead)?;
        let row = self.payment_row(p, id).await?;
        if row.payment.status == PaymentStatus::Processing {
            return self.advance_processing(p, row).await;
        }
        Ok(row.payment)
    }

    pub(super) async fn payment_row(&self, p: &Principal, id: &PaymentId) -> Result<PaymentRow> {
        self.inner
            .store
            .payment_row(&p.tenant_id, id)
            .await?
            .ok_or_else(|| Error::not_found("payment", id))
    }

    /// Payments of the tenant, newest first.
    pub async fn payments(&self, p: &Principal, q: &PaymentQuery) -> Result<Vec<Payment>> {
        p.require(Scope::PaymentsRead)?;
        super::validate_limit(q.limit)?;
        self.inner
            .store
            .payments(&p.tenant_id, q.status, q.before.as_ref(), q.limit)
            .await
    }

    /// Payments waiting for an operator (approval or review): all of the tenant's for a caller
    /// with `approvals:write`, else those the caller created.
    pub async fn held_payments(&self, p: &Principal) -> Result<Vec<Payment>> {
        p.require(Scope::PaymentsRead)?;
        let mut held = self
            .inner
            .store
            .payments(
                &p.tenant_id,
                Some(PaymentStatus::PendingApproval),
                None,
                Some(500),
            )
            .await?;
        held.extend(
            self.inner
                .store
                .payments(
                    &p.tenant_id,
                    Some(PaymentStatus::PendingReview),
                    None,
                    Some(500),
                )
                .await?,
        );
        // An operator who decides (approvals:write) sees every held item of the tenant; any
        // other caller (an agent's key) the ones it created.
        if !p.has(Scope::ApprovalsWrite) {
            let me = p.actor.to_string();
            held.retain(|x| x.created_by == me);
        }
        Ok(held)
    }

    /// Moves a `processing` payment forward: submits it if it never reached the provider
    /// (approved, then interrupted), else asks the provider for its state.
    async fn advance_processing(&self, p: &Principal, row: PaymentRow) -> Result<Payment> {
        self.advance_keyed(p, row, None).await
    }

    /// [`Self::advance_processing`] as the last step of a claimed operation (an approval):
    /// its answer is kept in the transaction that records the outcome, or on its own when
    /// nothing changed.
    async fn advance_keyed(
        &self,
        p: &Principal,
        row: PaymentRow,
        idem: Option<&Idem>,
    ) -> Result<Payment> {
        let provider = self.inner.providers.payments(&p.tenant_id);
        let pp = match &row.payment.provider_payment_id {
            Some(pid) => provider.get_payment(pid).await?,
            None => {
                let customer = match &row.payment.customer_id {
                    Some(c) => self
                        .inner
                        .store
                        .customer(&p.tenant_id, c)
                        .await?
                        .map(|c| c.provider_customer_id),
                    None => None,
                };
                provider
                    .create_payment(&ProviderPaymentRequest {
                        amount: row.payment.amount,
                        payment_method: row.payment.payment_method.clone(),
                        customer,
                        description: row.payment.description.clone(),
                        capture_method: row.payment.capture_method,
                        idempotency_key: row.provider_idempotency_key.clone(),
                    })
                    .await?
            }
        };
        let mut payment = row.payment.clone();
        apply_provider(&mut payment, &pp);
        if payment.status == row.payment.status && row.payment.provider_payment_id.is_some() {
            self.keep_answer(p, idem, &row.payment).await?;
            return Ok(row.payment);
        }
        let mut tx = self.inner.store.begin().await?;
        if !tx
            .transition_payment(&p.tenant_id, &payment, row.payment.status)
            .await?
        {
            // Someone else advanced it first; report what is stored now.
            drop(tx);
            let now = self.payment_row(p, &payment.id).await?.payment;
            self.keep_answer(p, idem, &now).await?;
            return Ok(now);
        }
        if payment.status == PaymentStatus::Succeeded {
            tx.post_journal(
                &p.tenant_id,
                payment.id.as_str(),
                &JournalEntry::payment_captured(payment.id.as_str(), payment.amount_captured)?,
            )
            .await?;
        }
        let events = if payment.status == row.payment.status {
            vec![]
        } else {
            vec![(
                status_event(payment.status),
                payment.id.as_str(),
                to_value(&payment)?,
            )]
        };
        let audit = audit_entry(
            p,
            "payments.update",
            "payment",
            payment.id.as_str(),
            idem.map(|i| i.key.as_str()),
            payment.status.as_str(),
        );
        let answer = self.kept(p, idem, &payment, false)?;
        finish_once(&mut tx, p, idem, answer.as_deref(), &events, audit).await?;
        tx.commit().await?;
        if matches!(
            payment.status,
            PaymentStatus::Failed | PaymentStatus::Canceled
        ) {
            self.release_row_reservation(&row).await;
        }
        Ok(payment)
    }

    async fn release_row_reservation(&self, row: &PaymentRow) {
        self.release_row_amount(row, &row.payment.amount).await;
    }

    /// Releases `amount` of the daily reservation a payment made on the day it was created.
    async fn release_row_amount(&self, row: &PaymentRow, amount: &Money) {
        if let Some(key) = &row.api_key_id {
            let day = row.payment.created_at.format("%Y-%m-%d").to_string();
            if let Err(e) = self.inner.store.release_spend(key, &day, amount).await {
                tracing::error!(error = %e, "could not release a spending reservation");
            }
        }
    }

    /// Approves a held payment (operator). Exactly one of several concurrent approvals wins;
    /// the payment is then charged once. The actor that created it cannot approve it.
    ///
    /// Under an idempotency key the answer is kept with the charge's outcome; a retry of an
    /// approval that committed but was interrupted before the charge (a crash) resumes it.
    pub async fn approve_payment(
        &self,
        p: &Principal,
        id: &PaymentId,
        comment: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<Executed<Payment>> {
        p.require(Scope::ApprovalsWrite)?;
        validate_text("comment", &comment, 1000)?;
        let request = (id, &comment);
        self.once(p, idempotency_key, "payments.approve", &request, |idem| {
            self.approve_payment_once(p, id, comment.clone(), idem)
        })
        .await
    }

    pub(super) async fn approve_payment_once(
        &self,
        p: &Principal,
        id: &PaymentId,
        comment: Option<String>,
        idem: Option<Idem>,
    ) -> Result<Payment> {
        let idem = idem.as_ref();
        let row = self.payment_row(p, id).await?;
        if row.payment.status == PaymentStatus::Processing
            && row.payment.provider_payment_id.is_none()
            && self
                .approved_under(p, id.as_str(), "payments.approve", idem)
                .await?
        {
            // this key's approval committed, and the charge was interrupted: resume it
            return self.advance_keyed(p, row, idem).await;
        }
        if !row.payment.status.is_held() {
            return Err(Error::conflict(
                ConflictCode::InvalidState,
                format!("payment {id} is {}, not held", row.payment.status.as_str()),
            ));
        }
        let self_approved = self
            .check_approver(p, &row.payment.created_by, "payment")
            .await?;
        let mut claimed = row.payment.clone();
        claimed.status = PaymentStatus::Processing;
        claimed.updated_at = crate::storage::now();
        let mut tx = self.inner.store.begin().await?;
        if !tx
            .transition_payment(&p.tenant_id, &claimed, row.payment.status)
            .await?
        {
            return Err(Error::conflict(
                ConflictCode::InvalidState,
                format!("payment {id} was already decided"),
            ));
        }
        let mut events = Vec::new();
        if row.payment.status == PaymentStatus::PendingReview {
            let case = self
                .resolve_case(
                    &mut tx,
                    p,
                    "payment",
                    id.as_str(),
                    CaseStatus::Approved,
                    comment.as_deref(),
                )
                .await?;
            events.push((types::FRAUD_CASE_RESOLVED, id.as_str(), case));
        }
        let outcome = format!(
            "approved{}{}",
            if self_approved {
                " by its creator (tenant allows self-approval)"
            } else {
                ""
            },
            comment.map(|c| format!(": {c}")).unwrap_or_default()
        );
        finish(
            &mut tx,
            p,
            None,
            &events,
            audit_entry(
                p,
                "payments.approve",
                "payment",
                id.as_str(),
                idem.map(|i| i.key.as_str()),
                &outcome,
            ),
        )
        .await?;
        tx.commit().await?;
        let row = PaymentRow {
            payment: claimed,
            ..row
        };
        self.advance_keyed(p, row, idem).await
    }

    /// Rejects a held payment (operator): it is never charged.
    pub async fn reject_payment(
        &self,
        p: &Principal,
        id: &PaymentId,
        comment: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<Executed<Payment>> {
        p.require(Scope::ApprovalsWrite)?;
        validate_text("comment", &comment, 1000)?;
        let request = (id, &comment);
        self.once(p, idempotency_key, "payments.reject", &request, |idem| {
            self.close_held_payment(
                p,
                id,
                PaymentStatus::Rejected,
                "payments.reject",
                comment.clone(),
                idem,
            )
        })
        .await
    }

    /// Cancels a payment that has not completed: a held one is closed without charging; a
    /// processing one is cancelled at the provider.
    pub async fn cancel_payment(
        &self,
        p: &Principal,
        id: &PaymentId,
        idempotency_key: Option<String>,
    ) -> Result<Executed<Payment>> {
        p.require(Scope::PaymentsWrite)?;
        self.once(p, idempotency_key, "payments.cancel", id, |idem| {
            self.cancel_payment_once(p, id, idem)
        })
        .await
    }

    async fn cancel_payment_once(
        &self,
        p: &Principal,
        id: &PaymentId,
        idem: Option<Idem>,
    ) -> Result<Payment> {
        let row = self.payment_row(p, id).await?;
        if row.payment.status.is_held() {
            return self
                .close_held_payment(
                    p,
                    id,
                    PaymentStatus::Canceled,
                    "payments.cancel",
                    None,
                    idem,
                )
                .await;
        }
        let idem = idem.as_ref();
        let Some(pid) = row.payment.provider_payment_id.clone().filter(|_| {
            matches!(
                row.payment.status,
                PaymentStatus::Processing | PaymentStatus::RequiresCapture
            )
        }) else {
            return Err(Error::conflict(
                ConflictCode::InvalidState,
                format!(
                    "payment {id} is {} and cannot be cancelled",
                    row.payment.status.as_str()
                ),
            ));
        };
        let pp = self
            .inner
            .providers
            .payments(&p.tenant_id)
            .cancel_payment(&pid)
            .await?;
        let mut payment = row.payment.clone();
        apply_provider(&mut payment, &pp);
        let mut tx = self.inner.store.begin().await?;
        if !tx
            .transition_payment(&p.tenant_id, &payment, row.payment.status)
            .await?
        {
            return Err(Error::conflict(
                ConflictCode::InvalidState,
                format!("payment {id} changed while cancelling"),
            ));
        }
        if payment.status == PaymentStatus::Succeeded {
            tx.post_journal(
                &p.tenant_id,
                payment.id.as_str(),
                &JournalEntry::payment_captured(payment.id.as_str(), payment.amount_captured)?,
            )
            .await?;
        }
        let events = [(
            status_event(payment.status),
            payment.id.as_str(),
            to_value(&payment)?,
        )];
        let answer = self.kept(p, idem, &payment, false)?;
        finish_once(
            &mut tx,
            p,
            idem,
            answer.as_deref(),
            &events,
            audit_entry(
                p,
                "payments.cancel",
                "payment",
                id.as_str(),
                idem.map(|i| i.key.as_str()),
                payment.status.as_str(),
            ),
        )
        .await?;
        tx.commit().await?;
        if payment.status == PaymentStatus::Canceled {
            self.release_row_reservation(&row).await;
        }
        Ok(payment)
    }

    pub(super) async fn close_held_payment(
        &self,
        p: &Principal,
        id: &PaymentId,
        to: PaymentStatus,
        action: &str,
        comment: Option<String>,
        idem: Option<Idem>,
    ) -> Result<Payment> {
        let idem = idem.as_ref();
        let row = self.payment_row(p, id).await?;
        if !row.payment.status.is_held() {
            return Err(Error::conflict(
                ConflictCode::InvalidState,
                format!("payment {id} is {}, not held", row.payment.status.as_str()),
            ));
        }
        let mut payment = row.payment.clone();
        payment.status = to;
        payment.updated_at = crate::storage::now();
        let mut tx = self.inner.store.begin().await?;
        if !tx
            .transition_payment(&p.tenant_id, &payment, row.payment.status)
            .await?
        {
            return Err(Error::conflict(
                ConflictCode::InvalidState,
                format!("payment {id} was already decided"),
            ));
        }
        let mut events = vec![(types::PAYMENT_CANCELED, id.as_str(), to_value(&payment)?)];
        if row.payment.status == PaymentStatus::PendingReview {
            let case = self
                .resolve_case(
                    &mut tx,
                    p,
                    "payment",
                    id.as_str(),
                    CaseStatus::Rejected,
                    comment.as_deref(),
                )
                .await?;
            events.push((types::FRAUD_CASE_RESOLVED, id.as_str(), case));
        }
        let outcome = format!(
            "{}{}",
            to.as_str(),
            comment.map(|c| format!(": {c}")).unwrap_or_default()
        );
        let answer = self.kept(p, idem, &payment, false)?;
        finish_once(
            &mut tx,
            p,
            idem,
            answer.as_deref(),
            &events,
            audit_entry(
                p,
                action,
                "payment",
                id.as_str(),
                idem.map(|i| i.key.as_str()),
                &outcome,
            ),
        )
        .await?;
        tx.commit().await?;
        self.release_row_reservation(&row).await;
        Ok(payment)
    }

    /// Refunds part or all of a succeeded payment. Above the key's `confirm_above` without
    /// a valid `confirmation_token` it answers [`Error::ConfirmationRequired`] and does
    /// nothing ([`Platform::preview_refund`] makes the same decision).
    pub async fn create_refund(
        &self,
        p: &Principal,
        mut req: NewRefund,
        idempotency_key: Option<String>,
    ) -> Result<Executed<Refund>> {
        p.require(Scope::PaymentsWrite)?;
        let token = req.confirmation_token.take();
        let (decision, payment) = self.decide_refund(p, &req).await?;
        let amount = decision.amount;
        let idempotency_key = self
            .confirm_refund(p, &req, decision, token.as_deref())?
            .or(idempotency_key);
        let request_hash = hash_request("refunds.create", &req)?;
        self.idempotent(
            p,
            idempotency_key,
            "refunds.create",
            request_hash,
            |idem| async move {
                let provider_id = payment
                    .provider_payment_id
                    .clone()
                    .ok_or_else(|| Error::internal("succeeded payment without provider id"))?;
                let pr = self
                    .inner
                    .providers
                    .payments(&p.tenant_id)
                    .create_refund(&ProviderRefundRequest {
                        provider_payment_id: provider_id,
                        amount,
                        idempotency_key: idem.provider_key.clone(),
                    })
                    .await?;
                let refund = Refund {
                    id: RefundId::generate(),
                    payment_id: payment.id.clone(),
                    amount,
                    status: pr.status,
                    reason: req.reason,
                    provider_refund_id: pr.provider_id,
                    created_at: crate::storage::now(),
                };
                let response = serde_json::to_string(&refund).map_err(Error::internal)?;
                let mut tx = self.inner.store.begin().await?;
                if refund.status != RefundStatus::Failed {
                    if !tx.add_refunded(&p.tenant_id, &payment.id, &amount).await? {
                        return Err(Error::conflict(
                            ConflictCode::InvalidState,
                            "another refund of this payment went first; nothing left to refund",
                        ));
                    }
                    tx.post_journal(
                        &p.tenant_id,
                        refund.id.as_str(),
                        &JournalEntry::refund(refund.id.as_str(), amount)?,
                    )
                    .await?;
                }
                tx.insert_refund(&p.tenant_id, &refund).await?;
                let audit = audit_entry(
                    p,
                    "refunds.create",
                    "refund",
                    refund.id.as_str(),
                    Some(&idem.key),
                    refund.status.as_str(),
                );
                finish(
                    &mut tx,
                    p,
                    Some((&idem, &response)),
                    &[(
                        types::REFUND_CREATED,
                        refund.id.as_str(),
                        to_value(&refund)?,
                    )],
                    audit,
                )
                .await?;
                tx.commit().await?;
                Ok(refund)
            },
        )
        .await
    }

    /// Refunds of a payment.
    pub async fn refunds(&self, p: &Principal, payment: &PaymentId) -> Result<Vec<Refund>> {
        p.require(Scope::PaymentsRead)?;
        self.payment_row(p, payment).await?;
        self.inner.store.refunds(&p.tenant_id, payment).await
    }

    /// Captures an authorized payment (`requires_capture`, created with manual capture): all
    /// of it, or `amount` of it (the rest of the hold is released, and with it the rest of the
    /// key's daily reservation). Money moves here: the ledger entry is for the captured amount.
    /// A payment is captured at most once, whatever the keys: the provider call carries a key
    /// derived from the payment, and the status moves only from `requires_capture`.
    pub async fn capture_payment(
        &self,
        p: &Principal,
        id: &PaymentId,
        amount: Option<Money>,
        idempotency_key: Option<String>,
    ) -> Result<Executed<Payment>> {
        p.require(Scope::PaymentsWrite)?;
        let row = self.payment_row(p, id).await?;
        let authorized = row.payment.amount;
        let amount = self.decide_capture(p, &row, amount)?.amount;
        #[derive(Serialize)]
        struct CaptureRequest<'a> {
            payment_id: &'a PaymentId,
            amount: Money,
        }
        let request_hash = hash_request(
            "payments.capture",
            &CaptureRequest {
                payment_id: id,
                amount,
            },
        )?;
        self.idempotent(
            p,
            idempotency_key,
            "payments.capture",
            request_hash,
            |idem| async move {
                let pid = capturable(&row.payment)?;
                let pp = self
                    .inner
                    .providers
                    .payments(&p.tenant_id)
                    .capture_payment(&ProviderCaptureRequest {
                        provider_payment_id: pid,
                        amount,
                        idempotency_key: format!("{}-capture", row.provider_idempotency_key),
                    })
                    .await?;
                let mut payment = row.payment.clone();
                payment.amount_captured = amount;
                apply_provider(&mut payment, &pp);
                if matches!(
                    payment.status,
                    PaymentStatus::Failed | PaymentStatus::Canceled
                ) {
                    payment.amount_captured = Money::zero(amount.currency());
                }
                let response = serde_json::to_string(&payment).map_err(Error::internal)?;
                let mut tx = self.inner.store.begin().await?;
                if !tx
                    .transition_payment(&p.tenant_id, &payment, PaymentStatus::RequiresCapture)
                    .await?
                {
                    return Err(Error::conflict(
                        ConflictCode::InvalidState,
                        format!("payment {id} changed while capturing"),
                    ));
                }
                if payment.status == PaymentStatus::Succeeded {
                    tx.post_journal(
                        &p.tenant_id,
                        payment.id.as_str(),
                        &JournalEntry::payment_captured(
                            payment.id.as_str(),
                            payment.amount_captured,
                        )?,
                    )
                    .await?;
                }
                let events = [(
                    status_event(payment.status),
                    payment.id.as_str(),
                    to_value(&payment)?,
                )];
                let audit = audit_entry(
                    p,
                    "payments.capture",
                    "payment",
                    id.as_str(),
                    Some(&idem.key),
                    &format!("{}: {}", payment.status.as_str(), payment.amount_captured),
                );
                finish(&mut tx, p, Some((&idem, &response)), &events, audit).await?;
                tx.commit().await?;
                // what was not captured no longer counts against the key's day
                let released = match payment.status {
                    PaymentStatus::Succeeded => authorized.checked_sub(&payment.amount_captured)?,
                    PaymentStatus::Failed | PaymentStatus::Canceled => authorized,
                    _ => Money::zero(authorized.currency()),
                };
                if released.is_positive() {
                    self.release_row_amount(&row, &released).await;
                }
                Ok(payment)
            },
        )
        .await
    }

    /// Attaches a tokenized payment method to a customer at the provider, so the customer can
    /// pay with it again. Only tokens are accepted, never card data.
    pub async fn attach_payment_method(
        &self,
        p: &Principal,
        customer_id: &CustomerId,
        req: AttachPaymentMethod,
        idempotency_key: Option<String>,
    ) -> Result<Executed<PaymentMethod>> {
        p.require(Scope::PaymentsWrite)?;
        validate_payment_method(&req.payment_method)?;
        let customer = self.customer_row(p, customer_id).await?;
        #[derive(Serialize)]
        struct AttachRequest<'a> {
            customer_id: &'a CustomerId,
            payment_method: &'a str,
        }
        let request_hash = hash_request(
            "payment_methods.attach",
            &AttachRequest {
                customer_id,
                payment_method: &req.payment_method,
            },
        )?;
        self.idempotent(
            p,
            idempotency_key,
            "payment_methods.attach",
            request_hash,
            |idem| async move {
                let method = self
                    .inner
                    .providers
                    .payments(&p.tenant_id)
                    .attach_payment_method(&req.payment_method, &customer.provider_customer_id)
                    .await?;
                let response = serde_json::to_string(&method).map_err(Error::internal)?;
                let mut tx = self.inner.store.begin().await?;
                let audit = audit_entry(
                    p,
                    "payment_methods.attach",
                    "customer",
                    customer_id.as_str(),
                    Some(&idem.key),
                    &format!("attached {}", method.id),
                );
                let data = serde_json::json!({
                    "customer_id": customer_id,
                    "payment_method": &method,
                });
                finish(
                    &mut tx,
                    p,
                    Some((&idem, &response)),
                    &[(types::PAYMENT_METHOD_ATTACHED, customer_id.as_str(), data)],
                    audit,
                )
                .await?;
                tx.commit().await?;
                Ok(method)
            },
        )
        .await
    }

    /// The payment methods attached to a customer, as the provider knows them.
    pub async fn payment_methods(
        &self,
        p: &Principal,
        customer_id: &CustomerId,
    ) -> Result<Vec<PaymentMethod>> {
        p.require(Scope::PaymentsRead)?;
        let customer = self.customer(p, customer_id).await?;
        self.inner
            .providers
            .payments(&p.tenant_id)
            .payment_methods(&customer.provider_customer_id)
            .await
    }

    /// The tenant's balance at its payments provider, per currency.
    pub async fn payments_balance(&self, p: &Principal) -> Result<Vec<ProviderBalance>> {
        p.require(Scope::PaymentsRead)?;
        self.inner.providers.payments(&p.tenant_id).balance().await
    }

    /// Screens a payment without making it (a dry run for agents and operators).
    ///
    /// Under an idempotency key a retry answers the first assessment (it changes nothing, but
    /// a client retrying a request gets the answer it missed).
    pub async fn assess_payment(
        &self,
        p: &Principal,
        req: &NewPayment,
        idempotency_key: Option<String>,
    ) -> Result<Executed<Assessment>> {
        p.require(Scope::PaymentsRead)?;
        validate_payment_method(&req.payment_method)?;
        self.once(
            p,
            idempotency_key,
            "payments.assess",
            req,
            |idem| async move {
                let assessment = self.screen_dry_run(p, req).await?;
                self.keep_answer(p, idem.as_ref(), &assessment).await?;
                Ok(assessment)
            },
        )
        .await
    }

    async fn screen_dry_run(&self, p: &Principal, req: &NewPayment) -> Result<Assessment> {
        self.inner
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
                dry_run: true,
            })
            .await
    }
}
