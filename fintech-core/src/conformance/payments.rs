//! Scenarios every [`PaymentProvider`] passes: the simulator now, Stripe (test mode) later.
//!
//! Test payment-method tokens come from the harness, so each backend passes its own (the
//! simulator's are listed in `fintech_providers::sim::TEST_PAYMENT_METHODS`; Stripe's are
//! `pm_card_visa`, `pm_card_chargeDeclined` ...).

use std::time::Duration;

use super::Outcome;
use crate::error::{ConflictCode, Error, ErrorKind};
use crate::money::Money;
use crate::payments::{
    CaptureMethod, NewCustomer, PaymentProvider, ProviderCaptureRequest, ProviderPayment,
    ProviderPaymentRequest, ProviderPaymentStatus, ProviderRefundRequest, RefundStatus,
};

/// Counts the distinct charges the provider has made (replays of a key not counted).
pub type ChargeCounter = Box<dyn Fn() -> usize + Send + Sync>;

/// A payments backend's test tokens and hooks.
pub struct PaymentsHarness {
    /// A payment method that succeeds at once (`pm_card_visa`).
    pub succeeds: String,
    /// Payment methods that decline, each with the decline code it gives
    /// (`("pm_card_chargeDeclined", "card_declined")`).
    pub declines: Vec<(String, String)>,
    /// A payment method that is processing at first and then succeeds, when the backend has
    /// one; the scenario that needs it is skipped without it.
    pub processing: Option<String>,
    /// Distinct charges the provider has made, when the backend can count them; without it
    /// "no second charge" is checked through the payment id alone.
    pub charges: Option<ChargeCounter>,
}

/// Every scenario, by name.
pub const SCENARIOS: &[&str] = &[
    "customer_create_is_idempotent_per_key",
    "charge_succeeds",
    "same_key_same_request_charges_once",
    "same_key_other_amount_conflicts",
    "declines_are_failed_results_with_codes",
    "processing_settles_on_get",
    "partial_then_full_refund",
    "over_refund_is_refused",
    "refund_replays_by_key",
    "succeeded_payment_cannot_be_cancelled",
    "declined_payment_cannot_be_refunded",
    "unknown_ids_are_not_found",
    "bad_charges_are_errors",
    "manual_capture_in_part_bounds_refunds",
    "capture_replays_by_key_and_happens_once",
    "uncaptured_payment_cancels_and_cannot_be_refunded",
    "payment_methods_attach_by_token",
    "balance_reports_currencies",
];

/// Runs the scenario called `name` against `provider`.
pub async fn run(name: &str, provider: &dyn PaymentProvider, h: &PaymentsHarness) -> Outcome {
    let p = provider;
    match name {
        "customer_create_is_idempotent_per_key" => customer_create_is_idempotent_per_key(p).await,
        "charge_succeeds" => charge_succeeds(p, h).await,
        "same_key_same_request_charges_once" => same_key_same_request_charges_once(p, h).await,
        "same_key_other_amount_conflicts" => same_key_other_amount_conflicts(p, h).await,
        "declines_are_failed_results_with_codes" => {
            return declines_are_failed_results_with_codes(p, h).await
        }
        "processing_settles_on_get" => return processing_settles_on_get(p, h).await,
        "partial_then_full_refund" => partial_then_full_refund(p, h).await,
        "over_refund_is_refused" => over_refund_is_refused(p, h).await,
        "refund_replays_by_key" => refund_replays_by_key(p, h).await,
        "succeeded_payment_cannot_be_cancelled" => {
            succeeded_payment_cannot_be_cancelled(p, h).await
        }
        "declined_payment_cannot_be_refunded" => {
            return declined_payment_cannot_be_refunded(p, h).await
        }
        "unknown_ids_are_not_found" => unknown_ids_are_not_found(p).await,
        "bad_charges_are_errors" => bad_charges_are_errors(p, h).await,
        "manual_capture_in_part_bounds_refunds" => {
            manual_capture_in_part_bounds_refunds(p, h).await
        }
        "capture_replays_by_key_and_happens_once" => {
            capture_replays_by_key_and_happens_once(p, h).await
        }
        "uncaptured_payment_cancels_and_cannot_be_refunded" => {
            uncaptured_payment_cancels_and_cannot_be_refunded(p, h).await
        }
        "payment_methods_attach_by_token" => payment_methods_attach_by_token(p, h).await,
        "balance_reports_currencies" => balance_reports_currencies(p).await,
        other => panic!("unknown payments scenario {other}"),
    }
    Outcome::Passed
}

fn usd(s: &str) -> Money {
    Money::parse(s, "USD").expect("amount")
}

/// A fresh idempotency key.
fn key() -> String {
    format!("conformance-{}", uuid::Uuid::new_v4().simple())
}

fn charge(pm: &str, amount: &str, key: &str) -> ProviderPaymentRequest {
    ProviderPaymentRequest {
        amount: usd(amount),
        payment_method: pm.to_owned(),
        customer: None,
        description: Some("conformance".into()),
        capture_method: CaptureMethod::Automatic,
        idempotency_key: key.to_owned(),
    }
}

fn authorize(pm: &str, amount: &str, key: &str) -> ProviderPaymentRequest {
    ProviderPaymentRequest {
        capture_method: CaptureMethod::Manual,
        ..charge(pm, amount, key)
    }
}

fn capture(payment: &ProviderPayment, amount: &str, key: &str) -> ProviderCaptureRequest {
    ProviderCaptureRequest {
        provider_payment_id: payment.provider_id.clone(),
        amount: usd(amount),
        idempotency_key: key.to_owned(),
    }
}

/// An authorized (uncaptured) payment to work with.
async fn authorized(p: &dyn PaymentProvider, h: &PaymentsHarness, amount: &str) -> ProviderPayment {
    let payment = p
        .create_payment(&authorize(&h.succeeds, amount, &key()))
        .await
        .unwrap_or_else(|e| panic!("authorization of {amount} with {}: {e}", h.succeeds));
    assert_eq!(
        payment.status,
        ProviderPaymentStatus::RequiresCapture,
        "{} with manual capture is authorized, not charged",
        h.succeeds
    );
    payment
}

fn refund(payment: &ProviderPayment, amount: &str, key: &str) -> ProviderRefundRequest {
    ProviderRefundRequest {
        provider_payment_id: payment.provider_id.clone(),
        amount: usd(amount),
        idempotency_key: key.to_owned(),
    }
}

fn charges(h: &PaymentsHarness) -> Option<usize> {
    h.charges.as_ref().map(|count| count())
}

/// Checks that the provider made `n` charges since `before` was read, when it counts them.
fn assert_charged(h: &PaymentsHarness, before: Option<usize>, n: usize, what: &str) {
    if let (Some(before), Some(now)) = (before, charges(h)) {
        assert_eq!(now - before, n, "{what}: {n} charge(s) expected");
    }
}

fn assert_reused_key(got: Result<impl std::fmt::Debug, Error>, what: &str) {
    match got {
        Err(Error::Conflict {
            code: ConflictCode::IdempotencyKeyReused,
            ..
        }) => {}
        other => panic!("{what}: expected Conflict(IdempotencyKeyReused), got {other:?}"),
    }
}

/// A succeeded payment to work with.
async fn succeeded(p: &dyn PaymentProvider, h: &PaymentsHarness, amount: &str) -> ProviderPayment {
    let payment = p
        .create_payment(&charge(&h.succeeds, amount, &key()))
        .await
        .unwrap_or_else(|e| panic!("charge of {amount} with {}: {e}", h.succeeds));
    assert_eq!(
        payment.status,
        ProviderPaymentStatus::Succeeded,
        "{} succeeds",
        h.succeeds
    );
    payment
}

/// The same key creates one customer; a new key a new one; the same key with other details is
/// a reused key.
pub async fn customer_create_is_idempotent_per_key(p: &dyn PaymentProvider) {
    let req = NewCustomer {
        email: Some("ada@example.com".into()),
        name: Some("Ada Lovelace".into()),
    };
    let k = key();
    let a = p.create_customer(&req, &k).await.expect("customer");
    assert!(!a.provider_id.is_empty(), "a customer has an id");
    let b = p.create_customer(&req, &k).await.expect("replay");
    assert_eq!(a, b, "the same key returns the same customer");
    let c = p.create_customer(&req, &key()).await.expect("another");
    assert_ne!(a, c, "a new key makes a new customer");
    let other = NewCustomer {
        email: Some("grace@example.com".into()),
        name: Some("Grace Hopper".into()),
    };
    assert_reused_key(
        p.create_customer(&other, &k).await,
        "same customer key, other details",
    );
}

/// A charge succeeds, alone and for a customer, and reads back as succeeded.
pub async fn charge_succeeds(p: &dyn PaymentProvider, h: &PaymentsHarness) {
    let before = charges(h);
    let first = succeeded(p, h, "12.34").await;
    assert!(!first.provider_id.is_empty(), "a payment has an id");
    let fetched = p.get_payment(&first.provider_id).await.expect("get");
    assert_eq!(fetched, first, "a succeeded payment reads back unchanged");
    let customer = p
        .create_customer(
            &NewCustomer {
                email: Some("payer@example.com".into()),
                name: None,
            },
            &key(),
        )
        .await
        .expect("customer");
    let mut req = charge(&h.succeeds, "7.00", &key());
    req.customer = Some(customer.provider_id);
    let second = p.create_payment(&req).await.expect("charge for a customer");
    assert_eq!(second.status, ProviderPaymentStatus::Succeeded);
    assert_ne!(
        second.provider_id, first.provider_id,
        "two keys, two payments"
    );
    assert_charged(h, before, 2, "two charges with two keys");
}

/// The same key and the same request return the same payment without a second charge.
pub async fn same_key_same_request_charges_once(p: &dyn PaymentProvider, h: &PaymentsHarness) {
    let before = charges(h);
    let k = key();
    let first = p
        .create_payment(&charge(&h.succeeds, "12.34", &k))
        .await
        .expect("charge");
    assert_eq!(first.status, ProviderPaymentStatus::Succeeded);
    for attempt in 1..=2 {
        let again = p
            .create_payment(&charge(&h.succeeds, "12.34", &k))
            .await
            .unwrap_or_else(|e| panic!("replay {attempt}: {e}"));
        assert_eq!(
            again.provider_id, first.provider_id,
            "replay {attempt} returns the first payment"
        );
        assert_eq!(again.status, ProviderPaymentStatus::Succeeded);
    }
    assert_charged(h, before, 1, "three calls with one key");
}

/// The same key with another amount is refused as a reused key, and charges nothing.
pub async fn same_key_other_amount_conflicts(p: &dyn PaymentProvider, h: &PaymentsHarness) {
    let before = charges(h);
    let k = key();
    let first = p
        .create_payment(&charge(&h.succeeds, "5.00", &k))
        .await
        .expect("charge");
    assert_reused_key(
        p.create_payment(&charge(&h.succeeds, "6.00", &k)).await,
        "same payment key, other amount",
    );
    assert_charged(h, before, 1, "the refused request");
    let replay = p
        .create_payment(&charge(&h.succeeds, "5.00", &k))
        .await
        .expect("the original request still replays");
    assert_eq!(replay.provider_id, first.provider_id);
}

/// A decline is an `Ok` payment with status failed and the expected decline code; it reads
/// back the same, and replaying its key returns it without charging again.
pub async fn declines_are_failed_results_with_codes(
    p: &dyn PaymentProvider,
    h: &PaymentsHarness,
) -> Outcome {
    if h.declines.is_empty() {
        return Outcome::skipped("the harness lists no declining payment methods");
    }
    for (pm, code) in &h.declines {
        let before = charges(h);
        let k = key();
        let payment = p
            .create_payment(&charge(pm, "20.00", &k))
            .await
            .unwrap_or_else(|e| panic!("{pm}: a decline is a result, not an error: {e}"));
        match &payment.status {
            ProviderPaymentStatus::Failed { code: got, message } => {
                assert_eq!(got, code, "{pm} declines with {code}");
                assert!(!message.is_empty(), "{pm}: a decline has a message");
            }
            other => panic!("{pm}: expected failed with {code}, got {other:?}"),
        }
        let fetched = p.get_payment(&payment.provider_id).await.expect("get");
        assert_eq!(fetched, payment, "{pm}: a decline reads back unchanged");
        let replay = p
            .create_payment(&charge(pm, "20.00", &k))
            .await
            .unwrap_or_else(|e| panic!("{pm}: replay of a decline: {e}"));
        assert_eq!(replay, payment, "{pm}: the key replays the decline");
        assert_charged(h, before, 1, pm);
    }
    Outcome::Passed
}

/// A processing payment settles as succeeded when read again.
pub async fn processing_settles_on_get(p: &dyn PaymentProvider, h: &PaymentsHarness) -> Outcome {
    let Some(pm) = &h.processing else {
        return Outcome::skipped("the harness has no processing payment method");
    };
    let payment = p
        .create_payment(&charge(pm, "30.00", &key()))
        .await
        .expect("charge");
    assert_eq!(
        payment.status,
        ProviderPaymentStatus::Processing,
        "{pm} is processing at first"
    );
    let mut status = payment.status;
    for _ in 0..60 {
        status = p
            .get_payment(&payment.provider_id)
            .await
            .expect("get")
            .status;
        if status != ProviderPaymentStatus::Processing {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(status, ProviderPaymentStatus::Succeeded, "{pm} settles");
    Outcome::Passed
}

/// A partial refund, then a refund of the rest; after that nothing is left to refund.
pub async fn partial_then_full_refund(p: &dyn PaymentProvider, h: &PaymentsHarness) {
    let payment = succeeded(p, h, "100.00").await;
    let r1 = p
        .create_refund(&refund(&payment, "30.00", &key()))
        .await
        .expect("partial refund");
    assert_ne!(r1.status, RefundStatus::Failed, "the partial refund");
    assert!(!r1.provider_id.is_empty(), "a refund has an id");
    let r2 = p
        .create_refund(&refund(&payment, "70.00", &key()))
        .await
        .expect("refund of the rest");
    assert_ne!(r2.status, RefundStatus::Failed, "the refund of the rest");
    assert_ne!(r2.provider_id, r1.provider_id, "two refunds, two ids");
    let more = p.create_refund(&refund(&payment, "0.01", &key())).await;
    assert!(
        more.is_err(),
        "a fully refunded payment refunds no more: {more:?}"
    );
}

/// A refund of more than the payment (or than what is left) is refused and takes nothing.
pub async fn over_refund_is_refused(p: &dyn PaymentProvider, h: &PaymentsHarness) {
    let payment = succeeded(p, h, "50.00").await;
    let over = p.create_refund(&refund(&payment, "50.01", &key())).await;
    assert!(over.is_err(), "50.01 of 50.00 is refused: {over:?}");
    p.create_refund(&refund(&payment, "20.00", &key()))
        .await
        .expect("a partial refund after the refusal");
    let over = p.create_refund(&refund(&payment, "30.01", &key())).await;
    assert!(
        over.is_err(),
        "30.01 of the 30.00 left is refused: {over:?}"
    );
    p.create_refund(&refund(&payment, "30.00", &key()))
        .await
        .expect("exactly what is left");
}

/// The same refund key and request return the same refund without refunding twice; the same
/// key with another amount is a reused key.
pub async fn refund_replays_by_key(p: &dyn PaymentProvider, h: &PaymentsHarness) {
    let payment = succeeded(p, h, "100.00").await;
    let k = key();
    let first = p
        .create_refund(&refund(&payment, "60.00", &k))
        .await
        .expect("refund");
    let replay = p
        .create_refund(&refund(&payment, "60.00", &k))
        .await
        .expect("replay");
    assert_eq!(
        replay.provider_id, first.provider_id,
        "a refund key replays"
    );
    assert_reused_key(
        p.create_refund(&refund(&payment, "10.00", &k)).await,
        "same refund key, other amount",
    );
    p.create_refund(&refund(&payment, "40.00", &key()))
        .await
        .expect("the replay refunded nothing: 40.00 is still left");
}

/// A succeeded payment is refunded, not cancelled: cancelling it fails and changes nothing.
pub async fn succeeded_payment_cannot_be_cancelled(p: &dyn PaymentProvider, h: &PaymentsHarness) {
    let payment = succeeded(p, h, "9.00").await;
    let cancel = p.cancel_payment(&payment.provider_id).await;
    assert!(
        cancel.is_err(),
        "cancelling a succeeded payment is refused: {cancel:?}"
    );
    let after = p.get_payment(&payment.provider_id).await.expect("get");
    assert_eq!(after.status, ProviderPaymentStatus::Succeeded);
}

/// A declined payment moved no money, so it cannot be refunded.
pub async fn declined_payment_cannot_be_refunded(
    p: &dyn PaymentProvider,
    h: &PaymentsHarness,
) -> Outcome {
    let Some((pm, _)) = h.declines.first() else {
        return Outcome::skipped("the harness lists no declining payment methods");
    };
    let payment = p
        .create_payment(&charge(pm, "15.00", &key()))
        .await
        .expect("decline");
    let got = p.create_refund(&refund(&payment, "15.00", &key())).await;
    assert!(got.is_err(), "a refund of a declined payment: {got:?}");
    Outcome::Passed
}

/// Ids the provider never issued are not found.
pub async fn unknown_ids_are_not_found(p: &dyn PaymentProvider) {
    let unknown = "pi_conformance_does_not_exist";
    let get = p.get_payment(unknown).await;
    assert!(
        matches!(get, Err(Error::NotFound { .. })),
        "get of an unknown payment: {get:?}"
    );
    let cancel = p.cancel_payment(unknown).await;
    assert!(
        matches!(cancel, Err(Error::NotFound { .. })),
        "cancel of an unknown payment: {cancel:?}"
    );
    let refund = p
        .create_refund(&ProviderRefundRequest {
            provider_payment_id: unknown.into(),
            amount: usd("1.00"),
            idempotency_key: key(),
        })
        .await;
    assert!(
        matches!(refund, Err(Error::NotFound { .. })),
        "refund of an unknown payment: {refund:?}"
    );
}

/// Requests that cannot be charged are errors, not failed payments: a zero amount, an unknown
/// payment method, and card data (refused without repeating it).
pub async fn bad_charges_are_errors(p: &dyn PaymentProvider, h: &PaymentsHarness) {
    let zero = p.create_payment(&charge(&h.succeeds, "0.00", &key())).await;
    assert!(zero.is_err(), "a zero charge: {zero:?}");
    let unknown = p
        .create_payment(&charge("pm_conformance_unknown", "1.00", &key()))
        .await;
    assert!(unknown.is_err(), "an unknown payment method: {unknown:?}");
    let pan = "4242424242424242";
    match p.create_payment(&charge(pan, "1.00", &key())).await {
        Ok(payment) => panic!("a card number was charged: {payment:?}"),
        Err(e) => {
            assert!(
                !e.to_string().contains("4242"),
                "the error repeats the card number: {e}"
            );
            assert_ne!(e.kind(), ErrorKind::Internal, "{e}");
        }
    }
}

/// With manual capture the money moves on capture, and only what was captured: a payment
/// authorized for 100.00 and captured for 60.00 refunds at most 60.00; it cannot be refunded
/// before the capture, nor captured again.
pub async fn manual_capture_in_part_bounds_refunds(p: &dyn PaymentProvider, h: &PaymentsHarness) {
    let payment = authorized(p, h, "100.00").await;
    let early = p.create_refund(&refund(&payment, "1.00", &key())).await;
    assert!(early.is_err(), "a refund before the capture: {early:?}");
    let over = p
        .capture_payment(&capture(&payment, "100.01", &key()))
        .await;
    assert!(over.is_err(), "a capture of more than authorized: {over:?}");
    let captured = p
        .capture_payment(&capture(&payment, "60.00", &key()))
        .await
        .expect("capture of 60.00");
    assert_eq!(captured.provider_id, payment.provider_id);
    assert_eq!(
        captured.status,
        ProviderPaymentStatus::Succeeded,
        "captured"
    );
    let fetched = p.get_payment(&payment.provider_id).await.expect("get");
    assert_eq!(fetched.status, ProviderPaymentStatus::Succeeded);
    let again = p.capture_payment(&capture(&payment, "40.00", &key())).await;
    assert!(again.is_err(), "a second capture: {again:?}");
    let over = p.create_refund(&refund(&payment, "60.01", &key())).await;
    assert!(
        over.is_err(),
        "a refund beyond the captured 60.00: {over:?}"
    );
    p.create_refund(&refund(&payment, "60.00", &key()))
        .await
        .expect("a refund of all that was captured");
}

/// The same capture key and request replay the capture; a capture with the same key and
/// another amount is a reused key.
pub async fn capture_replays_by_key_and_happens_once(p: &dyn PaymentProvider, h: &PaymentsHarness) {
    let payment = authorized(p, h, "80.00").await;
    let k = key();
    let first = p
        .capture_payment(&capture(&payment, "80.00", &k))
        .await
        .expect("capture");
    let replay = p
        .capture_payment(&capture(&payment, "80.00", &k))
        .await
        .expect("replay");
    assert_eq!(first, replay, "a capture key replays");
    assert_reused_key(
        p.capture_payment(&capture(&payment, "10.00", &k)).await,
        "same capture key, other amount",
    );
}

/// Cancelling an authorization releases it: the payment is cancelled, never captured, never
/// refunded.
pub async fn uncaptured_payment_cancels_and_cannot_be_refunded(
    p: &dyn PaymentProvider,
    h: &PaymentsHarness,
) {
    let payment = authorized(p, h, "25.00").await;
    let canceled = p
        .cancel_payment(&payment.provider_id)
        .await
        .expect("cancel an authorization");
    assert_eq!(canceled.status, ProviderPaymentStatus::Canceled);
    let cap = p.capture_payment(&capture(&payment, "25.00", &key())).await;
    assert!(cap.is_err(), "a capture after cancelling: {cap:?}");
    let got = p.create_refund(&refund(&payment, "25.00", &key())).await;
    assert!(
        got.is_err(),
        "a refund of a cancelled authorization: {got:?}"
    );
}

/// A payment method token attaches to a customer and lists under it with card details (never
/// a number); a charge with the attached method succeeds; an unknown token or card data is an
/// error.
pub async fn payment_methods_attach_by_token(p: &dyn PaymentProvider, h: &PaymentsHarness) {
    let customer = p
        .create_customer(
            &NewCustomer {
                email: Some("wallet@example.com".into()),
                name: None,
            },
            &key(),
        )
        .await
        .expect("customer");
    let attached = p
        .attach_payment_method(&h.succeeds, &customer.provider_id)
        .await
        .expect("attach");
    assert!(attached.id.starts_with("pm_"), "a token: {}", attached.id);
    let card = attached.card.as_ref().expect("card details");
    assert_eq!(card.last4.len(), 4, "last four digits: {card:?}");
    assert!((1..=12).contains(&card.exp_month), "{card:?}");
    let listed = p
        .payment_methods(&customer.provider_id)
        .await
        .expect("list");
    assert!(
        listed.iter().any(|m| m.id == attached.id),
        "the attached method lists: {listed:?}"
    );
    let mut req = charge(&attached.id, "5.00", &key());
    req.customer = Some(customer.provider_id.clone());
    let paid = p.create_payment(&req).await.expect("charge attached");
    assert_eq!(paid.status, ProviderPaymentStatus::Succeeded);
    let unknown = p
        .attach_payment_method("pm_conformance_unknown", &customer.provider_id)
        .await;
    assert!(unknown.is_err(), "an unknown token attaches: {unknown:?}");
    let pan = "4242424242424242";
    match p.attach_payment_method(pan, &customer.provider_id).await {
        Ok(m) => panic!("card data attached: {m:?}"),
        Err(e) => assert!(!e.to_string().contains("4242"), "echoes the number: {e}"),
    }
}

/// The balance names each currency once, with available and pending in that currency.
pub async fn balance_reports_currencies(p: &dyn PaymentProvider) {
    let balances = p.balance().await.expect("balance");
    assert!(!balances.is_empty(), "at least one currency");
    let mut seen = Vec::new();
    for b in &balances {
        assert_eq!(
            b.available.currency(),
            b.pending.currency(),
            "one currency per entry: {b:?}"
        );
        assert!(
            !seen.contains(&b.available.currency()),
            "a currency listed twice: {balances:?}"
        );
        seen.push(b.available.currency());
    }
}
