//! JSON request bodies through the strict reader (`fintech_core::json`), for the types the
//! REST server and the CLI read: it never panics, accepts only what plain `serde_json` also
//! accepts (and reads it the same), and refuses every repeated key. Input: one selector byte,
//! then the body.
#![no_main]

use fintech_core::json;
use fintech_core::payments::{AttachPaymentMethod, NewCustomer, NewPayment, NewRefund};
use fintech_core::policy::KeyLimits;
use fintech_core::trading::OrderRequest;
use fintech_core::webhooks::NewWebhookEndpoint;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Strict ⊆ plain, read the same; what is accepted serializes and reads back the same.
fn check<T: DeserializeOwned + Serialize>(body: &[u8]) {
    let Ok(strict) = json::from_slice::<T>(body) else {
        return;
    };
    let plain: T = serde_json::from_slice(body).expect("strict accepted what plain refuses");
    let strict_v = serde_json::to_value(&strict).expect("serialize");
    assert_eq!(strict_v, serde_json::to_value(&plain).expect("serialize"));
    let again: T = json::from_slice(&serde_json::to_vec(&strict).expect("serialize"))
        .expect("its own JSON reads back");
    assert_eq!(serde_json::to_value(&again).expect("serialize"), strict_v);
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 9 {
        0 => check::<NewPayment>(body),
        1 => check::<NewRefund>(body),
        2 => check::<OrderRequest>(body),
        3 => check::<KeyLimits>(body),
        4 => check::<NewCustomer>(body),
        5 => check::<AttachPaymentMethod>(body),
        6 => check::<NewWebhookEndpoint>(body),
        7 => check::<fintech_core::fraud::RuleSetSpec>(body),
        _ => {}
    }
    // any text: the strict reader agrees with serde_json, except that it refuses repeated keys
    let strict = json::from_slice::<Value>(body);
    let plain = serde_json::from_slice::<Value>(body);
    match (&strict, &plain) {
        (Ok(s), Ok(p)) => assert_eq!(s, p),
        (Ok(_), Err(e)) => panic!("strict accepted what plain refuses: {e}"),
        (Err(_), _) => {}
    }
    assert_eq!(json::check_text(body).is_ok(), strict.is_ok());
});
