//! Payments: customers, tokenized payment methods, payments with a status lifecycle, refunds,
//! and the [`PaymentProvider`] trait.
//!
//! A card number or CVC never enters this crate: payment methods are provider tokens
//! (`pm_card_visa`), and input that looks like a card number is refused without being echoed.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fraud::Assessment;
use crate::id::{CustomerId, PaymentId, RefundId};
use crate::money::Money;
use crate::provider::ProviderMode;

/// Input for a new customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    /// Contact e-mail.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
}

/// A customer as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Customer {
    /// Our id.
    pub id: CustomerId,
    /// Contact e-mail.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// The provider's customer id.
    pub provider_customer_id: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Input for a new payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    /// What to charge.
    pub amount: Money,
    /// A tokenized payment method (`pm_…`); never a card number.
    pub payment_method: String,
    /// The customer paying, if known.
    #[serde(default)]
    pub customer_id: Option<CustomerId>,
    /// Who receives the money (merchant or payee name), for fraud rules and statements.
    #[serde(default)]
    pub payee: Option<String>,
    /// Free text shown on statements.
    #[serde(default)]
    pub description: Option<String>,
    /// `automatic` (the default): money moves when the payment succeeds. `manual`: the
    /// payment method is authorized and the funds held (`requires_capture`) until the payment
    /// is captured, in full or in part, or cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_method: Option<CaptureMethod>,
    /// The token a `confirmation_required` answer gave, to execute exactly what it previewed
    /// (see [`crate::platform::MoveDecision`]). Not part of the request's identity: the
    /// token's hash becomes the idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_token: Option<String>,
}

/// When the money of a payment moves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CaptureMethod {
    /// Charged as soon as the provider accepts the payment.
    #[default]
    Automatic,
    /// Authorized now, captured later (`capture_payment`), or cancelled to release the hold.
    Manual,
}

impl CaptureMethod {
    /// The string form.
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureMethod::Automatic => "automatic",
            CaptureMethod::Manual => "manual",
        }
    }

    /// Parses the string form.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "automatic" => Ok(CaptureMethod::Automatic),
            "manual" => Ok(CaptureMethod::Manual),
            _ => Err(Error::validation(
                "capture_method",
                format!("unknown capture method {s:?}"),
            )),
        }
    }
}

/// Where a payment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Above the key's approval threshold: waiting for an operator.
    PendingApproval,
    /// Fraud screening asked for review: waiting for an operator.
    PendingReview,
    /// Sent to the provider, outcome not final yet.
    Processing,
    /// Authorized with manual capture: the funds are held, no money has moved yet.
    RequiresCapture,
    /// Money moved.
    Succeeded,
    /// The provider declined.
    Failed,
    /// Cancelled before money moved.
    Canceled,
    /// An operator rejected the held payment; money never moved.
    Rejected,
}

impl PaymentStatus {
    /// The string form.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::PendingApproval => "pending_approval",
            PaymentStatus::PendingReview => "pending_review",
            PaymentStatus::Processing => "processing",
            PaymentStatus::RequiresCapture => "requires_capture",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Canceled => "canceled",
            PaymentStatus::Rejected => "rejected",
        }
    }

    /// Parses the string form.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "pending_approval" => PaymentStatus::PendingApproval,
            "pending_review" => PaymentStatus::PendingReview,
            "processing" => PaymentStatus::Processing,
            "requires_capture" => PaymentStatus::RequiresCapture,
            "succeeded" => PaymentStatus::Succeeded,
            "failed" => PaymentStatus::Failed,
            "canceled" => PaymentStatus::Canceled,
            "rejected" => PaymentStatus::Rejected,
            _ => {
                return Err(Error::validation(
                    "status",
                    format!("unknown payment status {s:?}"),
                ))
            }
        })
    }

    /// Held for a human decision.
    pub fn is_held(self) -> bool {
        matches!(
            self,
            PaymentStatus::PendingApproval | PaymentStatus::PendingReview
        )
    }
}

/// A payment as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Payment {
    /// Our id.
    pub id: PaymentId,
    /// The amount charged (or to be charged; with manual capture, the amount authorized).
    pub amount: Money,
    /// How much money has moved: zero until the payment succeeds, then the amount, or the
    /// part of it that was captured.
    pub amount_captured: Money,
    /// When the money moves: at once, or on a later capture.
    pub capture_method: CaptureMethod,
    /// How much has been refunded.
    pub amount_refunded: Money,
    /// The payment method token.
    pub payment_method: String,
    /// The customer, if any.
    pub customer_id: Option<CustomerId>,
    /// The payee, if given.
    pub payee: Option<String>,
    /// Statement text.
    pub description: Option<String>,
    /// Lifecycle status.
    pub status: PaymentStatus,
    /// Why it failed (`card_declined` ...).
    pub failure_code: Option<String>,
    /// Human-readable failure.
    pub failure_message: Option<String>,
    /// Which provider handles it.
    pub provider: String,
    /// The provider's id, once sent.
    pub provider_payment_id: Option<String>,
    /// Who created it (`key_…`, `usr_…`, `system`).
    pub created_by: String,
    /// The fraud assessment made when it was created.
    pub assessment: Option<Assessment>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Input for a refund.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewRefund {
    /// The payment to refund.
    pub payment_id: PaymentId,
    /// How much; the whole remaining amount when absent.
    #[serde(default)]
    pub amount: Option<Money>,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
    /// The token a `confirmation_required` answer gave, to execute exactly what it previewed
    /// (see [`crate::platform::MoveDecision`]). Not part of the request's identity: the
    /// token's hash becomes the idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_token: Option<String>,
}

/// Status of a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Submitted, not final.
    Pending,
    /// Money returned.
    Succeeded,
    /// The provider refused.
    Failed,
}

impl RefundStatus {
    /// The string form.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
        }
    }

    /// Parses the string form.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "pending" => RefundStatus::Pending,
            "succeeded" => RefundStatus::Succeeded,
            "failed" => RefundStatus::Failed,
            _ => {
                return Err(Error::validation(
                    "status",
                    format!("unknown refund status {s:?}"),
                ))
            }
        })
    }
}

/// A refund as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Refund {
    /// Our id.
    pub id: RefundId,
    /// The refunded payment.
    pub payment_id: PaymentId,
    /// How much.
    pub amount: Money,
    /// Status.
    pub status: RefundStatus,
    /// Why.
    pub reason: Option<String>,
    /// The provider's refund id.
    pub provider_refund_id: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A customer as the provider created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderCustomer {
    /// The provider's id.
    pub provider_id: String,
}

/// What the platform asks a payment provider to charge.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderPaymentRequest {
    /// Amount.
    pub amount: Money,
    /// Payment method token.
    pub payment_method: String,
    /// The provider's customer id.
    pub customer: Option<String>,
    /// Statement text.
    pub description: Option<String>,
    /// Charge at once, or authorize and hold for a later capture.
    pub capture_method: CaptureMethod,
    /// Sent as the provider's idempotency key; the same on every retry of this payment.
    pub idempotency_key: String,
}

/// A payment's state at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderPaymentStatus {
    /// Money moved.
    Succeeded,
    /// Not final yet.
    Processing,
    /// Authorized and held, waiting for a capture (manual capture only).
    RequiresCapture,
    /// Declined.
    Failed {
        /// Stable decline code (`card_declined`, `insufficient_funds` ...).
        code: String,
        /// Human-readable reason.
        message: String,
    },
    /// Cancelled.
    Canceled,
}

/// A payment as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPayment {
    /// The provider's id.
    pub provider_id: String,
    /// Its state.
    pub status: ProviderPaymentStatus,
}

/// What the platform asks a payment provider to refund.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderRefundRequest {
    /// The provider's payment id.
    pub provider_payment_id: String,
    /// Amount to refund.
    pub amount: Money,
    /// Sent as the provider's idempotency key.
    pub idempotency_key: String,
}

/// A refund as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefund {
    /// The provider's id.
    pub provider_id: String,
    /// Its state.
    pub status: RefundStatus,
}

/// What the platform asks a payment provider to capture.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderCaptureRequest {
    /// The provider's payment id.
    pub provider_payment_id: String,
    /// How much of the authorized amount to capture; the rest of the hold is released.
    pub amount: Money,
    /// Sent as the provider's idempotency key.
    pub idempotency_key: String,
}

/// Card details a provider reports for a tokenized payment method: never the number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CardDetails {
    /// Card brand (`visa`, `mastercard` ...).
    pub brand: String,
    /// The last four digits.
    pub last4: String,
    /// Expiry month (1-12).
    pub exp_month: u32,
    /// Expiry year.
    pub exp_year: u32,
}

/// A payment method attached to a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaymentMethod {
    /// The token to pay with (`pm_…`).
    pub id: String,
    /// The kind (`card`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Card details, for cards.
    pub card: Option<CardDetails>,
}

/// Input for attaching a payment method to a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AttachPaymentMethod {
    /// A payment method token (`pm_…`) from the provider's client-side tokenization; never
    /// card data.
    pub payment_method: String,
}

/// Money held at the payments provider in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderBalance {
    /// Available to pay out.
    pub available: Money,
    /// Not yet available (settling).
    pub pending: Money,
}

/// A payments provider (Stripe, or the simulator).
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Short provider name (`sim`, `stripe`).
    fn name(&self) -> &'static str;
    /// Whether real money is involved.
    fn mode(&self) -> ProviderMode;
    /// Creates a customer; the same key returns the same customer.
    async fn create_customer(
        &self,
        req: &NewCustomer,
        idempotency_key: &str,
    ) -> Result<ProviderCustomer>;
    /// Charges a payment method. A decline is `Ok` with a `Failed` status; `Err` means the
    /// request itself failed. The same idempotency key never charges twice.
    async fn create_payment(&self, req: &ProviderPaymentRequest) -> Result<ProviderPayment>;
    /// The current state of a payment.
    async fn get_payment(&self, provider_id: &str) -> Result<ProviderPayment>;
    /// Cancels a payment that has not completed.
    async fn cancel_payment(&self, provider_id: &str) -> Result<ProviderPayment>;
    /// Refunds part or all of a succeeded payment. The same key never refunds twice.
    async fn create_refund(&self, req: &ProviderRefundRequest) -> Result<ProviderRefund>;
    /// Captures part or all of an authorized payment (`RequiresCapture`); the same key never
    /// captures twice.
    async fn capture_payment(&self, req: &ProviderCaptureRequest) -> Result<ProviderPayment>;
    /// Attaches a tokenized payment method to a customer and returns it as the provider now
    /// knows it (its id is the token to pay with).
    async fn attach_payment_method(
        &self,
        payment_method: &str,
        provider_customer: &str,
    ) -> Result<PaymentMethod>;
    /// Whether the provider knows a payment method token (one it could charge): a decision
    /// on a payment asks before anything is held or charged, so a preview and the execution
    /// refuse an unknown method alike.
    async fn payment_method_exists(&self, payment_method: &str) -> Result<bool>;
    /// The card payment methods attached to a customer.
    async fn payment_methods(&self, provider_customer: &str) -> Result<Vec<PaymentMethod>>;
    /// The account's balance per currency.
    async fn balance(&self) -> Result<Vec<ProviderBalance>>;
}

/// True when `text` holds something that looks like a card number: 13 to 19 digits that pass
/// the Luhn check, written together or in groups separated by single spaces or dashes
/// (`4242 4242 4242 4242`, `4242-4242-4242-4242`), anywhere in the text — also when more
/// digit groups follow or precede it (a card number and its CVC in one field). Digits glued
/// to letters (`f42424242…` in a hex digest, an order code) are part of a word, not a number:
/// they are not counted, which keeps hashes and random tokens used as idempotency keys from
/// being refused.
pub fn contains_card_number(text: &str) -> bool {
    // runs of digit-only words joined by single separators
    let mut runs: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut groups: Vec<Vec<u8>> = Vec::new();
    let mut word = String::new();
    let mut separators = 0usize;
    let end_run = |groups: &mut Vec<Vec<u8>>, runs: &mut Vec<Vec<Vec<u8>>>| {
        if !groups.is_empty() {
            runs.push(std::mem::take(groups));
        }
    };
    for c in text.chars().chain(std::iter::once('\u{0}')) {
        if c.is_alphanumeric() {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            if word.bytes().all(|b| b.is_ascii_digit()) {
                groups.push(word.bytes().map(|b| b - b'0').collect());
            } else {
                end_run(&mut groups, &mut runs);
            }
            word.clear();
            separators = 0;
        }
        if c == ' ' || c == '-' {
            separators += 1;
            if separators > 1 {
                end_run(&mut groups, &mut runs);
            }
        } else {
            end_run(&mut groups, &mut runs);
            separators = 0;
        }
    }
    runs.iter().any(|groups| {
        (0..groups.len()).any(|i| {
            let mut digits: Vec<u8> = Vec::new();
            groups[i..].iter().any(|g| {
                digits.extend_from_slice(g);
                (13..=19).contains(&digits.len()) && luhn(&digits)
            })
        })
    })
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// Refuses free text that holds a card number (see [`contains_card_number`]) without
/// repeating it.
pub fn refuse_card_number(field: &str, text: &str) -> Result<()> {
    if contains_card_number(text) {
        Err(Error::validation(
            field,
            "looks like it contains a card number; card data is never accepted in any field",
        ))
    } else {
        Ok(())
    }
}

/// Checks that a payment method is a token, refusing anything that looks like a card number
/// without repeating it.
pub fn validate_payment_method(pm: &str) -> Result<()> {
    let digits = pm.chars().filter(|c| c.is_ascii_digit()).count();
    if digits >= 12 {
        return Err(Error::validation(
            "payment_method",
            "looks like a card number; pass a tokenized payment method (pm_…), never card data",
        ));
    }
    let valid = pm.len() <= 255
        && pm.starts_with("pm_")
        && pm.len() > 3
        && pm.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(Error::validation(
            "payment_method",
            "expected a payment method token like \"pm_card_visa\"",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_found_in_free_text() {
        for text in [
            "4242424242424242",
            "card 4242 4242 4242 4242 cvv 123",
            "4242-4242-4242-4242",
            "pay 4242 4242 4242 4242 123 now",
            "378282246310005",         // amex, 15
            "6011111111111117",        // discover
            "card: 4000056655665556.", // punctuation around it
            "4242424242424242 12/30",  // expiry after it
        ] {
            assert!(contains_card_number(text), "{text:?} missed");
            let err = refuse_card_number("payee", text).expect_err("refused");
            assert!(!err.to_string().contains("4242"), "not echoed: {err}");
        }
        for text in [
            "Invoice 2024-11-30",
            "order 1234567890123", // 13 digits, Luhn-invalid
            "4242424242424241",    // Luhn-invalid
            "+1 415 555 0100",
            "Acme Supplies",
            "4242  4242  4242  4242", // double spaces break the run
            "x4000056655665556y",     // glued to letters: a word, not a number
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "fk-4242424242424242abc", // a derived token
            "",
        ] {
            assert!(!contains_card_number(text), "{text:?} flagged");
        }
    }

    #[test]
    fn card_numbers_are_refused_and_not_echoed() {
        let err = validate_payment_method("4242424242424242").expect_err("pan refused");
        assert!(!err.to_string().contains("4242"));
        let err = validate_payment_method("pm_4242 4242 4242 4242").expect_err("pan refused");
        assert!(!err.to_string().contains("4242"));
        assert!(validate_payment_method("pm_card_visa").is_ok());
        assert!(validate_payment_method("card_visa").is_err());
        assert!(validate_payment_method("pm_").is_err());
    }
}
