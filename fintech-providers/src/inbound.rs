//! Verifying webhooks the providers send us.
//!
//! * Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`, where each `v1` is
//!   HMAC-SHA256 over `"<t>.<raw body>"` with an endpoint secret. Several `v1` appear while
//!   Stripe rolls a secret, and several secrets may be configured here while we roll ours; one
//!   match is enough. Comparison is constant-time; the timestamp must be within the tolerance
//!   (300 s by default) to stop replays.
//! * Plaid: `Plaid-Verification` is an ES256 JWT whose `kid` names a key fetched from
//!   `/webhook_verification_key/get` (see [`crate::plaid::Plaid::verify_webhook`]; unknown key
//!   ids are remembered and lookups are bounded per minute); its `iat`
//!   must be at most 5 minutes old and its `request_body_sha256` must match the raw body.
//!
//! A verified body becomes a [`ProviderEvent`], named by an id core deduplicates on (see
//! [`ProviderEvent::event_id`]).

use std::time::Duration;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use fintech_core::{Error, Result};

/// A verified provider notification.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderEvent {
    /// `stripe`, `plaid`.
    pub provider: &'static str,
    /// What identifies this event, for deduplication: Stripe's event `id` (`evt_…`, the same
    /// on every delivery of one event); for Plaid, which gives webhooks no id, `jwt:` and the
    /// SHA-256 of the `Plaid-Verification` JWT (the same for a replayed request, new for each
    /// delivery Plaid signs, so two genuine webhooks with identical bodies both count).
    pub event_id: String,
    /// The provider's event type (`payment_intent.succeeded`, `TRANSACTIONS:SYNC_UPDATES_AVAILABLE`).
    pub kind: String,
    /// The object it is about (a PaymentIntent id, a Plaid item id), when present.
    pub object_id: Option<String>,
    /// The whole event.
    pub data: serde_json::Value,
}

fn refused(message: &str) -> Error {
    Error::Unauthenticated(format!("webhook signature: {message}"))
}

/// Verifies a Stripe webhook and parses its event. `now` is unix seconds.
pub fn verify_stripe(
    body: &[u8],
    signature_header: &str,
    secrets: &[SecretString],
    tolerance: Duration,
    now: i64,
) -> Result<ProviderEvent> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in signature_header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => {
                if let Ok(bytes) = hex::decode(sig) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let t = timestamp.ok_or_else(|| refused("no timestamp"))?;
    if signatures.is_empty() {
        return Err(refused("no v1 signature"));
    }
    // `t` is the sender's text: an i64 at either end must not overflow the difference
    if now.abs_diff(t) > tolerance.as_secs() {
        return Err(refused("timestamp outside the tolerance"));
    }
    let matched = secrets.iter().any(|secret| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
            .expect("any key length");
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        // verify_slice compares in constant time
        signatures
            .iter()
            .any(|s| mac.clone().verify_slice(s).is_ok())
    });
    if !matched {
        return Err(refused("no signature matches"));
    }
    let data: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| Error::validation("body", "not JSON"))?;
    let event_id = data["id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| Error::validation("id", "a Stripe event carries its id"))?
        .to_owned();
    Ok(ProviderEvent {
        provider: "stripe",
        event_id,
        kind: data["type"].as_str().unwrap_or_default().to_owned(),
        object_id: data["data"]["object"]["id"].as_str().map(str::to_owned),
        data,
    })
}

fn plaid_refused(why: &str) -> Error {
    Error::Unauthenticated(format!("Plaid webhook verification: {why}"))
}

/// The key id a `Plaid-Verification` JWT names, after checking that it is an ES256 JWT (any
/// other algorithm, `none` included, is refused before a key is looked up).
pub fn plaid_key_id(verification: &str) -> Result<String> {
    use jsonwebtoken::{decode_header, Algorithm};
    let header = decode_header(verification).map_err(|_| plaid_refused("not a JWT"))?;
    if header.alg != Algorithm::ES256 {
        return Err(plaid_refused("only ES256 is accepted"));
    }
    header.kid.ok_or_else(|| plaid_refused("no key id"))
}

/// Verifies a Plaid webhook against the verification key its JWT names (`key`: the JSON key
/// as `/webhook_verification_key/get` returns it; an expired one is refused): the JWT must be
/// ES256, signed by that key, issued at most 5 minutes before `now` (unix seconds) and at
/// most a minute after it, and carry the SHA-256 of the raw body as `request_body_sha256`.
/// [`crate::plaid::Plaid::verify_webhook`] finds the key and calls this.
pub fn verify_plaid(
    body: &[u8],
    verification: &str,
    key: &serde_json::Value,
    now: i64,
) -> Result<ProviderEvent> {
    use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
    use serde_json::Value;
    use sha2::Digest;
    plaid_key_id(verification)?;
    if !key["expired_at"].is_null() {
        return Err(plaid_refused("the signing key has expired"));
    }
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(key.clone()).map_err(|_| plaid_refused("unreadable key"))?;
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|_| plaid_refused("unreadable key"))?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = false;
    validation.required_spec_claims = std::collections::HashSet::from(["iat".to_owned()]);
    let claims = decode::<Value>(verification, &decoding, &validation)
        .map_err(|_| plaid_refused("bad signature"))?
        .claims;
    let iat = claims["iat"]
        .as_i64()
        .ok_or_else(|| plaid_refused("no iat"))?;
    if now.saturating_sub(iat) > 300 || iat.saturating_sub(now) > 60 {
        return Err(plaid_refused("issued too long ago"));
    }
    let expected = claims["request_body_sha256"]
        .as_str()
        .ok_or_else(|| plaid_refused("no body hash"))?;
    let actual = hex::encode(sha2::Sha256::digest(body));
    let same = expected.len() == actual.len()
        && expected
            .bytes()
            .zip(actual.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err(plaid_refused("the body does not match its signed hash"));
    }
    let data: Value =
        serde_json::from_slice(body).map_err(|_| Error::validation("body", "not JSON"))?;
    Ok(ProviderEvent {
        provider: "plaid",
        event_id: format!("jwt:{}", hex::encode(sha2::Sha256::digest(verification))),
        kind: format!(
            "{}:{}",
            data["webhook_type"].as_str().unwrap_or_default(),
            data["webhook_code"].as_str().unwrap_or_default()
        ),
        object_id: data["item_id"].as_str().map(str::to_owned),
        data,
    })
}

/// What the server needs to verify provider webhooks, from configuration.
#[derive(Default)]
pub struct InboundVerifier {
    /// Stripe endpoint secrets (`whsec_…`), several while rotating; Stripe webhooks are
    /// refused (404) when empty.
    pub stripe_secrets: Vec<SecretString>,
    /// How far a Stripe signature's timestamp may be from now.
    pub stripe_tolerance: Duration,
    /// The Plaid client that fetches verification keys; Plaid webhooks are refused (404)
    /// without it.
    #[cfg(feature = "plaid")]
    pub plaid: Option<std::sync::Arc<crate::plaid::Plaid>>,
}

impl std::fmt::Debug for InboundVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundVerifier")
            .field(
                "stripe_secrets",
                &format!("[{} redacted]", self.stripe_secrets.len()),
            )
            .field("stripe_tolerance", &self.stripe_tolerance)
            .finish()
    }
}

impl InboundVerifier {
    /// From `FINTECH_STRIPE_WEBHOOK_SECRETS` (comma-separated), `FINTECH_STRIPE_WEBHOOK_TOLERANCE`
    /// (seconds, default 300) and the Plaid credentials (`FINTECH_PLAID_*`).
    pub fn from_env() -> Result<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let stripe_secrets = var("FINTECH_STRIPE_WEBHOOK_SECRETS")
            .map(|v| {
                v.split(',')
                    .map(|s| SecretString::from(s.trim().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let stripe_tolerance = Duration::from_secs(
            var("FINTECH_STRIPE_WEBHOOK_TOLERANCE")
                .map(|v| {
                    v.parse().map_err(|_| {
                        Error::validation("FINTECH_STRIPE_WEBHOOK_TOLERANCE", "seconds")
                    })
                })
                .transpose()?
                .unwrap_or(300),
        );
        #[cfg(feature = "plaid")]
        let plaid = match (var("FINTECH_PLAID_CLIENT_ID"), var("FINTECH_PLAID_SECRET")) {
            (Some(client_id), Some(secret)) => Some(std::sync::Arc::new(crate::plaid::Plaid::new(
                crate::plaid::PlaidConfig {
                    client_id,
                    secret: secret.into(),
                    environment: crate::plaid::PlaidEnvironment::parse(
                        &var("FINTECH_PLAID_ENV").unwrap_or_else(|| "sandbox".into()),
                    )?,
                    client_name: "fintech".into(),
                },
                crate::http::HttpSettings::default(),
            )?)),
            _ => None,
        };
        Ok(Self {
            stripe_secrets,
            stripe_tolerance,
            #[cfg(feature = "plaid")]
            plaid,
        })
    }

    /// Verifies a Stripe webhook now; `None` when Stripe webhooks are not configured.
    pub fn stripe(&self, body: &[u8], signature: &str) -> Option<Result<ProviderEvent>> {
        if self.stripe_secrets.is_empty() {
            return None;
        }
        Some(verify_stripe(
            body,
            signature,
            &self.stripe_secrets,
            self.stripe_tolerance,
            chrono::Utc::now().timestamp(),
        ))
    }

    /// Verifies a Plaid webhook now; `None` when Plaid is not configured.
    #[cfg(feature = "plaid")]
    pub async fn plaid(&self, body: &[u8], verification: &str) -> Option<Result<ProviderEvent>> {
        let plaid = self.plaid.as_ref()?;
        Some(
            plaid
                .verify_webhook(body, verification, chrono::Utc::now().timestamp())
                .await,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, t: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    const BODY: &[u8] =
        br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1"}}}"#;

    #[test]
    fn stripe_signatures() {
        let now = 1_700_000_000;
        let secret = SecretString::from("whsec_current");
        let old = SecretString::from("whsec_old");
        let tol = Duration::from_secs(300);
        let good = format!("t={now},v1={}", sign("whsec_current", now, BODY));
        let e = verify_stripe(BODY, &good, std::slice::from_ref(&secret), tol, now + 10)
            .expect("valid");
        assert_eq!(e.kind, "payment_intent.succeeded");
        assert_eq!(e.object_id.as_deref(), Some("pi_1"));
        assert_eq!(e.event_id, "evt_1");
        // wrong secret
        assert!(verify_stripe(BODY, &good, std::slice::from_ref(&old), tol, now).is_err());
        // rotation on our side: either secret verifies
        assert!(verify_stripe(BODY, &good, &[old.clone(), secret.clone()], tol, now).is_ok());
        // rotation on Stripe's side: several v1, one matches
        let two = format!(
            "t={now},v1={},v1={}",
            sign("whsec_other", now, BODY),
            sign("whsec_current", now, BODY)
        );
        assert!(verify_stripe(BODY, &two, std::slice::from_ref(&secret), tol, now).is_ok());
        // stale timestamp (a replay)
        assert!(verify_stripe(BODY, &good, std::slice::from_ref(&secret), tol, now + 301).is_err());
        // tampered body
        let tampered =
            br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_2"}}}"#;
        assert!(verify_stripe(tampered, &good, std::slice::from_ref(&secret), tol, now).is_err());
        // a signature over another timestamp
        let shifted = format!("t={},v1={}", now + 1, sign("whsec_current", now, BODY));
        assert!(verify_stripe(BODY, &shifted, std::slice::from_ref(&secret), tol, now).is_err());
        // a timestamp at the ends of i64 (found by the `stripe_signature` fuzz target: `now - t`
        // overflowed, a panic before any signature was checked)
        for t in [i64::MIN, i64::MAX, i64::MIN + 1] {
            let h = format!("t={t},v1={}", sign("whsec_current", t, BODY));
            assert!(
                verify_stripe(BODY, &h, std::slice::from_ref(&secret), tol, now).is_err(),
                "{h}"
            );
        }
        // malformed headers
        for h in ["", "v1=abc", &format!("t={now}"), "t=x,v1=zz"] {
            assert!(
                verify_stripe(BODY, h, std::slice::from_ref(&secret), tol, now).is_err(),
                "{h}"
            );
        }
    }
}
