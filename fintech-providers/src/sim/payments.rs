//! Simulated payments in the Stripe test-mode model: test payment-method tokens decide the
//! outcome, idempotency keys are honoured (same key + same request replays, same key +
//! different request is refused), refunds never exceed the charge.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use fintech_core::payments::{
    NewCustomer, PaymentProvider, ProviderCustomer, ProviderPayment, ProviderPaymentRequest,
    ProviderPaymentStatus, ProviderRefund, ProviderRefundRequest, RefundStatus,
};
use fintech_core::{ConflictCode, Error, Money, ProviderMode, Result};

use super::{lock, sim_error};

/// What a test payment method does when charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Succeed,
    /// Held for review at the provider (`processing`), then succeeds on the next look.
    Review,
    /// Processing (an asynchronous method), then succeeds on the next look.
    Processing,
    Decline(&'static str, &'static str),
}

/// The test payment-method tokens the simulator knows, with what they do. Any other token is
/// refused as `resource_missing`, as Stripe refuses an unknown payment method.
pub const TEST_PAYMENT_METHODS: &[(&str, &str)] = &[
    ("pm_card_visa", "succeeds"),
    ("pm_card_visa_debit", "succeeds"),
    ("pm_card_mastercard", "succeeds"),
    ("pm_card_amex", "succeeds"),
    ("pm_card_discover", "succeeds"),
    (
        "pm_card_processing",
        "processing, succeeds when next retrieved",
    ),
    (
        "pm_card_riskLevelElevated",
        "held for review (processing), then succeeds",
    ),
    ("pm_card_chargeDeclined", "declined: card_declined"),
    (
        "pm_card_chargeDeclinedInsufficientFunds",
        "declined: insufficient_funds",
    ),
    ("pm_card_chargeDeclinedFraudulent", "declined: fraudulent"),
    (
        "pm_card_chargeDeclinedExpiredCard",
        "declined: expired_card",
    ),
    (
        "pm_card_chargeDeclinedIncorrectCvc",
        "declined: incorrect_cvc",
    ),
    (
        "pm_card_chargeDeclinedProcessingError",
        "declined: processing_error",
    ),
    ("pm_card_chargeDeclinedLostCard", "declined: lost_card"),
    ("pm_card_chargeDeclinedStolenCard", "declined: stolen_card"),
    (
        "pm_card_authenticationRequired",
        "declined: authentication_required",
    ),
];

fn outcome(pm: &str) -> Option<Outcome> {
    Some(match pm {
        "pm_card_visa" | "pm_card_visa_debit" | "pm_card_mastercard" | "pm_card_amex"
        | "pm_card_discover" => Outcome::Succeed,
        "pm_card_processing" => Outcome::Processing,
        "pm_card_riskLevelElevated" => Outcome::Review,
        "pm_card_chargeDeclined" => Outcome::Decline("card_declined", "Your card was declined."),
        "pm_card_chargeDeclinedInsufficientFunds" => {
            Outcome::Decline("insufficient_funds", "Your card has insufficient funds.")
        }
        "pm_card_chargeDeclinedFraudulent" => {
            Outcome::Decline("fraudulent", "Your card was declined.")
        }
        "pm_card_chargeDeclinedExpiredCard" => {
            Outcome::Decline("expired_card", "Your card has expired.")
        }
        "pm_card_chargeDeclinedIncorrectCvc" => {
            Outcome::Decline("incorrect_cvc", "Your card's security code is incorrect.")
        }
        "pm_card_chargeDeclinedProcessingError" => Outcome::Decline(
            "processing_error",
            "An error occurred while processing your card. Try again in a little bit.",
        ),
        "pm_card_chargeDeclinedLostCard" => {
            Outcome::Decline("lost_card", "Your card was declined.")
        }
        "pm_card_chargeDeclinedStolenCard" => {
            Outcome::Decline("stolen_card", "Your card was declined.")
        }
        "pm_card_authenticationRequired" => Outcome::Decline(
            "authentication_required",
            "Your card was declined. This transaction requires authentication.",
        ),
        _ => return None,
    })
}

#[derive(Debug)]
struct SimPayment {
    amount: Money,
    refunded: Money,
    status: ProviderPaymentStatus,
}

#[derive(Debug, Default)]
struct State {
    customers: HashMap<String, (NewCustomer, String)>,
    /// Idempotency key → (fingerprint of the request, provider payment id).
    payment_keys: HashMap<String, (String, String)>,
    payments: HashMap<String, SimPayment>,
    /// Idempotency key → (fingerprint, refund).
    refund_keys: HashMap<String, (String, ProviderRefund)>,
    charges: usize,
    refunds: usize,
}

/// The simulated payments provider of one tenant.
#[derive(Debug, Default)]
pub struct SimPayments {
    state: Mutex<State>,
}

impl SimPayments {
    /// An empty simulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Charges made (distinct payments created; replays of an idempotency key not counted).
    pub fn charge_count(&self) -> usize {
        lock(&self.state).charges
    }

    /// Refunds made (replays not counted).
    pub fn refund_count(&self) -> usize {
        lock(&self.state).refunds
    }
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_sim_{}", uuid::Uuid::new_v4().simple())
}

/// A payment by id. The simulator keeps payments in memory, but each id carries the amount,
/// currency and outcome (`pi_sim_<uuid>_<minor>_<CUR>_<s|p|f>`), so a payment made by an
/// earlier process (a CLI invocation, a server before its restart) is known again: settled if
/// it was processing, with nothing refunded yet (the platform tracks refunds and refuses more
/// than the payment itself).
fn lookup<'a>(st: &'a mut State, id: &str) -> Result<&'a mut SimPayment> {
    if !st.payments.contains_key(id) {
        let restored = (|| {
            let mut parts = id.strip_prefix("pi_sim_")?.split('_');
            let (_uuid, minor, cur, kind) =
                (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
            let currency = fintech_core::Currency::from_code(cur).ok()?;
            let amount = Money::from_minor(minor.parse().ok()?, currency);
            let status = match kind {
                "s" | "p" => ProviderPaymentStatus::Succeeded,
                "f" => ProviderPaymentStatus::Failed {
                    code: "card_declined".into(),
                    message: "Your card was declined.".into(),
                },
                _ => return None,
            };
            Some(SimPayment {
                amount,
                refunded: Money::zero(currency),
                status,
            })
        })();
        if let Some(p) = restored {
            st.payments.insert(id.to_owned(), p);
        }
    }
    st.payments
        .get_mut(id)
        .ok_or_else(|| Error::not_found("payment", id))
}

fn reused_key(what: &str) -> Error {
    Error::conflict(
        ConflictCode::IdempotencyKeyReused,
        format!(
            "idempotency key already used for a different {what} request; use a new key for a new request"
        ),
    )
}

fn snapshot(id: &str, p: &SimPayment) -> ProviderPayment {
    ProviderPayment {
        provider_id: id.to_owned(),
        status: p.status.clone(),
    }
}

#[async_trait]
impl PaymentProvider for SimPayments {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn mode(&self) -> ProviderMode {
        ProviderMode::Simulated
    }

    async fn create_customer(
        &self,
        req: &NewCustomer,
        idempotency_key: &str,
    ) -> Result<ProviderCustomer> {
        let mut st = lock(&self.state);
        if let Some((first, id)) = st.customers.get(idempotency_key) {
            if first != req {
                return Err(reused_key("customer"));
            }
            return Ok(ProviderCustomer {
                provider_id: id.clone(),
            });
        }
        let id = new_id("cus");
        st.customers
            .insert(idempotency_key.to_owned(), (req.clone(), id.clone()));
        Ok(ProviderCustomer { provider_id: id })
    }

    async fn create_payment(&self, req: &ProviderPaymentRequest) -> Result<ProviderPayment> {
        if !req.amount.is_positive() {
            return Err(sim_error(
                "parameter_invalid_integer",
                "amount must be greater than zero",
            ));
        }
        let fingerprint = format!(
            "{}|{}|{:?}|{:?}",
            req.amount, req.payment_method, req.customer, req.description
        );
        let mut st = lock(&self.state);
        if let Some((first, id)) = st.payment_keys.get(&req.idempotency_key) {
            if *first != fingerprint {
                return Err(reused_key("payment"));
            }
            let p = st
                .payments
                .get(id)
                .ok_or_else(|| Error::internal("simulator lost a keyed payment"))?;
            return Ok(snapshot(id, p));
        }
        let outcome = outcome(&req.payment_method).ok_or_else(|| {
            sim_error(
                "resource_missing",
                "no such payment method; the simulator accepts the test tokens listed in fintech_providers::sim::TEST_PAYMENT_METHODS",
            )
        })?;
        let status = match outcome {
            Outcome::Succeed => ProviderPaymentStatus::Succeeded,
            Outcome::Processing | Outcome::Review => ProviderPaymentStatus::Processing,
            Outcome::Decline(code, message) => ProviderPaymentStatus::Failed {
                code: code.to_owned(),
                message: message.to_owned(),
            },
        };
        // The id carries what a later process needs to know the payment (see `lookup`).
        let kind = match &status {
            ProviderPaymentStatus::Succeeded => 's',
            ProviderPaymentStatus::Processing => 'p',
            _ => 'f',
        };
        let id = format!(
            "pi_sim_{}_{}_{}_{kind}",
            uuid::Uuid::new_v4().simple(),
            req.amount.to_minor()?,
            req.amount.currency().code()
        );
        let payment = SimPayment {
            amount: req.amount,
            refunded: Money::zero(req.amount.currency()),
            status,
        };
        let out = snapshot(&id, &payment);
        st.payments.insert(id.clone(), payment);
        st.payment_keys
            .insert(req.idempotency_key.clone(), (fingerprint, id));
        st.charges += 1;
        Ok(out)
    }

    async fn get_payment(&self, provider_id: &str) -> Result<ProviderPayment> {
        let mut st = lock(&self.state);
        let p = lookup(&mut st, provider_id)?;
        // Processing settles by the time anyone looks again: deterministic, no timers.
        if p.status == ProviderPaymentStatus::Processing {
            p.status = ProviderPaymentStatus::Succeeded;
        }
        Ok(snapshot(provider_id, p))
    }

    async fn cancel_payment(&self, provider_id: &str) -> Result<ProviderPayment> {
        let mut st = lock(&self.state);
        let p = lookup(&mut st, provider_id)?;
        match p.status {
            ProviderPaymentStatus::Processing => p.status = ProviderPaymentStatus::Canceled,
            ProviderPaymentStatus::Canceled => {}
            _ => {
                return Err(Error::conflict(
                    ConflictCode::InvalidState,
                    "only a processing payment can be cancelled; refund a succeeded one",
                ))
            }
        }
        Ok(snapshot(provider_id, p))
    }

    async fn create_refund(&self, req: &ProviderRefundRequest) -> Result<ProviderRefund> {
        let fingerprint = format!("{}|{}", req.provider_payment_id, req.amount);
        let mut st = lock(&self.state);
        if let Some((first, refund)) = st.refund_keys.get(&req.idempotency_key) {
            if *first != fingerprint {
                return Err(reused_key("refund"));
            }
            return Ok(refund.clone());
        }
        let p = lookup(&mut st, &req.provider_payment_id)?;
        if p.status != ProviderPaymentStatus::Succeeded {
            return Err(Error::conflict(
                ConflictCode::InvalidState,
                "only a succeeded payment can be refunded",
            ));
        }
        if !req.amount.is_positive() {
            return Err(Error::validation("amount", "must be greater than zero"));
        }
        let total = p.refunded.checked_add(&req.amount)?;
        if total.checked_cmp(&p.amount)? == std::cmp::Ordering::Greater {
            return Err(Error::validation(
                "amount",
                format!(
                    "refund of {} exceeds the {} left on the payment",
                    req.amount,
                    p.amount.checked_sub(&p.refunded)?
                ),
            ));
        }
        p.refunded = total;
        let refund = ProviderRefund {
            provider_id: new_id("re"),
            status: RefundStatus::Succeeded,
        };
        st.refund_keys
            .insert(req.idempotency_key.clone(), (fingerprint, refund.clone()));
        st.refunds += 1;
        Ok(refund)
    }
}
