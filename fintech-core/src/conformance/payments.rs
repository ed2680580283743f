//! Scenarios every [`PaymentProvider`] passes: the simulator now, Stripe later. Test
//! payment-method tokens come from the harness so each backend passes its own.

use std::sync::Arc;

use crate::error::{ConflictCode, Error};
use crate::money::Money;
use crate::payments::{
    NewCustomer, PaymentProvider, ProviderPaymentRequest, ProviderPaymentStatus,
    ProviderRefundRequest, RefundStatus,
};

/// A payments provider under test and its test tokens.
pub struct PaymentsHarness {
    /// The provider.
    pub provider: Arc<dyn PaymentProvider>,
    /// A payment method that succeeds (`pm_card_visa`).
    pub succeeds: String,
    /// Payment methods that decline, with the decline code each gives.
    pub declines: Vec<(String, String)>,
    /// A payment method that stays processing at first, when the backend has one.
    pub processing: Option<String>,
    /// Charges the provider has made, when the backend can count them.
    pub charges: Option<Box<dyn Fn() -> usize + Send + Sync>>,
}

/// Every scenario, by name.
pub const SCENARIOS: &[&str] = &[
    "customers_are_idempotent",
    "charge_succeeds_once_per_key",
    "same_key_other_request_conflicts",
    "declines_are_results_not_errors",
    "processing_settles",
    "refunds_partial_full_and_bounded",
    "succeeded_payment_cannot_be_cancelled",
    "unknown_payment_is_not_found",
];

/// Runs the scenario called `name`.
pub async fn run(name: &str, h: &PaymentsHarness) {
    match name {
        "customers_are_idempotent" => customers_are_idempotent(h).await,
        "charge_succeeds_once_per_key" => charge_succeeds_once_per_key(h).await,
        "same_key_other_request_conflicts" => same_key_other_request_conflicts(h).await,
        "declines_are_results_not_errors" => declines_are_results_not_errors(h).await,
        "processing_settles" => processing_settles(h).await,
        "refunds_partial_full_and_bounded" => refunds_partial_full_and_bounded(h).await,
        "succeeded_payment_cannot_be_cancelled" => succeeded_payment_cannot_be_cancelled(h).await,
        "unknown_payment_is_not_found" => unknown_payment_is_not_found(h).await,
        other => panic!("unknown payments scenario {other}"),
    }
}

fn usd(s: &str) -> Money {
    Money::parse(s, "USD").expect("amount")
}

fn key() -> String {
    format!("conformance-{}", uuid::Uuid::new_v4().simple())
}

fn charge(pm: &str, amount: &str, key: &str) -> ProviderPaymentRequest {
    ProviderPaymentRequest {
        amount: usd(amount),
        payment_method: pm.to_owned(),
        customer: None,
        description: Some("conformance".into()),
        idempotency_key: key.to_owned(),
    }
}

/// The same key creates one customer.
pub async fn customers_are_idempotent(h: &PaymentsHarness) {
    let req = NewCustomer {
        email: Some("ada@example.com".into()),
        name: Some("Ada".into()),
    };
    let k = key();
    let a = h
        .provider
        .create_customer(&req, &k)
        .await
        .expect("customer");
    let b = h.provider.create_customer(&req, &k).await.expect("replay");
    assert_eq!(a, b);
    let c = h
        .provider
        .create_customer(&req, &key())
        .await
        .expect("another");
    assert_ne!(a, c, "a new key makes a new customer");
}

/// A charge succeeds; the same key and request returns it again without a second charge.
pub async fn charge_succeeds_once_per_key(h: &PaymentsHarness) {
    let before = h.charges.as_ref().map(|c| c());
    let k = key();
    let first = h
        .provider
        .create_payment(&charge(&h.succeeds, "12.34", &k))
        .await
        .expect("charge");
    assert_eq!(first.status, ProviderPaymentStatus::Succeeded);
    let again = h
        .provider
        .create_payment(&charge(&h.succeeds, "12.34", &k))
        .await
        .expect("replay");
    assert_eq!(again.provider_id, first.provider_id);
    if let (Some(before), Some(count)) = (before, &h.charges) {
        assert_eq!(count() - before, 1, "one charge for two calls with one key");
    }
    let fetched = h
        .provider
        .get_payment(&first.provider_id)
        .await
        .expect("get");
    assert_eq!(fetched.status, ProviderPaymentStatus::Succeeded);
}

/// The same key with another amount is refused as a reused key.
pub async fn same_key_other_request_conflicts(h: &PaymentsHarness) {
    let k = key();
    h.provider
        .create_payment(&charge(&h.succeeds, "5.00", &k))
        .await
        .expect("charge");
    let err = h
        .provider
        .create_payment(&charge(&h.succeeds, "6.00", &k))
        .await
        .expect_err("different request, same key");
    assert!(
        matches!(
            err,
            Error::Conflict {
                code: ConflictCode::IdempotencyKeyReused,
                ..
            }
        ),
        "{err:?}"
    );
}

/// A decline is an `Ok` payment with status failed and the decline code.
pub async fn declines_are_results_not_errors(h: &PaymentsHarness) {
    for (pm, code) in &h.declines {
        let p = h
            .provider
            .create_payment(&charge(pm, "20.00", &key()))
            .await
            .unwrap_or_else(|e| panic!("{pm}: a decline is not an error: {e}"));
        match p.status {
            ProviderPaymentStatus::Failed { code: got, message } => {
                assert_eq!(&got, code, "{pm}");
                assert!(!message.is_empty());
            }
            other => panic!("{pm}: expected failed, got {other:?}"),
        }
    }
}

/// A processing payment settles when looked at again.
pub async fn processing_settles(h: &PaymentsHarness) {
    let Some(pm) = &h.processing else { return };
    let p = h
        .provider
        .create_payment(&charge(pm, "30.00", &key()))
        .await
        .expect("charge");
    assert_eq!(p.status, ProviderPaymentStatus::Processing);
    let mut status = p.status;
    for _ in 0..20 {
        status = h
            .provider
            .get_payment(&p.provider_id)
            .await
            .expect("get")
            .status;
        if status != ProviderPaymentStatus::Processing {
            break;
        }
    }
    assert_eq!(status, ProviderPaymentStatus::Succeeded);
}

/// Partial then full refunds; more than the payment is refused; a refund key replays.
pub async fn refunds_partial_full_and_bounded(h: &PaymentsHarness) {
    let p = h
        .provider
        .create_payment(&charge(&h.succeeds, "100.00", &key()))
        .await
        .expect("charge");
    let refund = |amount: &str, k: &str| ProviderRefundRequest {
        provider_payment_id: p.provider_id.clone(),
        amount: usd(amount),
        idempotency_key: k.to_owned(),
    };
    let k1 = key();
    let r1 = h
        .provider
        .create_refund(&refund("30.00", &k1))
        .await
        .expect("partial");
    assert_ne!(r1.status, RefundStatus::Failed);
    let replay = h
        .provider
        .create_refund(&refund("30.00", &k1))
        .await
        .expect("replay");
    assert_eq!(replay.provider_id, r1.provider_id, "a refund key replays");
    assert!(
        h.provider
            .create_refund(&refund("70.01", &key()))
            .await
            .is_err(),
        "more than what is left is refused"
    );
    let r2 = h
        .provider
        .create_refund(&refund("70.00", &key()))
        .await
        .expect("rest");
    assert_ne!(r2.provider_id, r1.provider_id);
    assert!(h
        .provider
        .create_refund(&refund("0.01", &key()))
        .await
        .is_err());
}

/// A succeeded payment is refunded, not cancelled.
pub async fn succeeded_payment_cannot_be_cancelled(h: &PaymentsHarness) {
    let p = h
        .provider
        .create_payment(&charge(&h.succeeds, "9.00", &key()))
        .await
        .expect("charge");
    assert!(h.provider.cancel_payment(&p.provider_id).await.is_err());
}

/// Unknown ids are not found.
pub async fn unknown_payment_is_not_found(h: &PaymentsHarness) {
    assert!(matches!(
        h.provider.get_payment("pi_does_not_exist").await,
        Err(Error::NotFound { .. })
    ));
}
