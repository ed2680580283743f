//! Stripe webhook signatures (`fintech_providers::inbound::verify_stripe`): any header and
//! body is refused or verified without a panic; a header the fuzzer did not sign with the
//! secret is never accepted; a correctly signed body is accepted exactly when it is an event
//! with an id. Input: `<header> 0xFF <body>`.
#![no_main]

use std::time::Duration;

use fintech_fuzz::{parts, text};
use fintech_providers::inbound::verify_stripe;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use sha2::Sha256;

const NOW: i64 = 1_700_000_000;
const SECRET: &str = "whsec_fuzz";

fn sign(t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fuzz_target!(|data: &[u8]| {
    let [header, body] = parts::<2>(data);
    let header = text(header);
    let secrets = [SecretString::from(SECRET)];
    let tolerance = Duration::from_secs(300);
    if let Ok(event) = verify_stripe(body, &header, &secrets, tolerance, NOW) {
        // accepted: the header must carry a valid signature of this body at some t in range
        let signed = header.split(',').any(|part| {
            let part = part.trim();
            part.strip_prefix("v1=").is_some_and(|sig| {
                (NOW - 300..=NOW + 300).any(|t| {
                    header.contains(&format!("t={t}")) && sig.eq_ignore_ascii_case(&sign(t, body))
                })
            })
        });
        assert!(signed, "accepted an unsigned webhook: {header:?}");
        assert!(!event.event_id.is_empty());
    }
    // the same body signed properly, at a fuzzed offset from now
    let offset = body.first().map_or(0, |&b| i64::from(b as i8) * 5);
    let t = NOW + offset;
    let good = format!("t={t},v1={}", sign(t, body));
    let verdict = verify_stripe(body, &good, &secrets, tolerance, NOW);
    let is_event = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .is_some_and(|v| v["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(
        verdict.is_ok(),
        is_event && offset.abs() <= 300,
        "{verdict:?}"
    );
    // and under the fuzzed header's timestamp, whatever it says
    let _ = verify_stripe(
        body,
        &format!("{header},v1={}", sign(t, body)),
        &secrets,
        tolerance,
        NOW,
    );
});
