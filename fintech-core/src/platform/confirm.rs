//! Confirmation tokens for money moves above a key's `confirm_above`.
//!
//! A token is `ct1.<expires unix s>.<nonce>.<mac>`, where the MAC is HMAC-SHA256 over the
//! operation, tenant, actor, expiry, nonce and the normalized request (the request as the
//! core types serialize it, without the token). Changing anything in the request, presenting
//! it as another key or tenant, for another operation, or after the expiry makes it invalid.
//! The key is derived from the platform's encryption key (like the session signing key), so
//! every instance sharing the database and key accepts every instance's tokens. A token's
//! hash is the idempotency key of the execution, so presenting it again replays the first
//! result instead of moving money twice.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::error::{ConflictCode, Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// Issues and checks tokens.
pub(crate) struct Confirmations {
    key: [u8; 32],
    ttl: Duration,
}

impl std::fmt::Debug for Confirmations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Confirmations")
            .field("key", &"[redacted]")
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// An issued token and when it expires.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// The normalized form of a request a token is bound to: its JSON with object keys sorted.
pub(crate) fn binding(request: &impl Serialize) -> Result<String> {
    fn sorted(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let mut entries: Vec<_> = m.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                serde_json::Value::Object(
                    entries.into_iter().map(|(k, v)| (k, sorted(v))).collect(),
                )
            }
            serde_json::Value::Array(a) => {
                serde_json::Value::Array(a.into_iter().map(sorted).collect())
            }
            other => other,
        }
    }
    let v = serde_json::to_value(request).map_err(Error::internal)?;
    Ok(sorted(v).to_string())
}

impl Confirmations {
    /// Tokens keyed from `signing_key` (domain-separated), valid for `ttl`.
    pub(crate) fn new(signing_key: &[u8; 32], ttl: Duration) -> Self {
        let mut h = Sha256::new();
        h.update(b"fintech confirmation v1");
        h.update(signing_key);
        Self {
            key: h.finalize().into(),
            ttl,
        }
    }

    fn mac(&self, operation: &str, p: &Principal, expires: i64, nonce: &str, req: &str) -> String {
        let mut m = HmacSha256::new_from_slice(&self.key).expect("any key length");
        for part in [
            operation,
            p.tenant_id.as_str(),
            &p.actor.to_string(),
            &expires.to_string(),
            nonce,
            req,
        ] {
            m.update(&(part.len() as u64).to_be_bytes());
            m.update(part.as_bytes());
        }
        hex::encode(m.finalize().into_bytes())
    }

    /// A token for `operation` by `p` on the normalized request `req`.
    pub(crate) fn issue(&self, operation: &str, p: &Principal, req: &str) -> Issued {
        let expires_at = Utc::now()
            + chrono::Duration::from_std(self.ttl).unwrap_or_else(|_| chrono::Duration::zero());
        let expires = expires_at.timestamp();
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let nonce = hex::encode(nonce);
        let mac = self.mac(operation, p, expires, &nonce, req);
        Issued {
            token: format!("ct1.{expires}.{nonce}.{mac}"),
            expires_at,
        }
    }

    /// Checks a token against the call; on success answers the idempotency key the execution
    /// uses, the same for every presentation of the token.
    pub(crate) fn verify(
        &self,
        token: &str,
        operation: &str,
        p: &Principal,
        req: &str,
    ) -> Result<String> {
        let invalid = |why: &str| {
            Error::conflict(
                ConflictCode::ConfirmationInvalid,
                format!("the confirmation token {why}; send the request without confirmation_token to get a new decision and token"),
            )
        };
        let mut parts = token.split('.');
        let (Some("ct1"), Some(expires), Some(nonce), Some(mac), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid("is malformed"));
        };
        let expires: i64 = expires.parse().map_err(|_| invalid("is malformed"))?;
        let expected = self.mac(operation, p, expires, nonce, req);
        // constant-time comparison of the MACs
        let same = expected.len() == mac.len()
            && expected
                .bytes()
                .zip(mac.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return Err(invalid(
                "was issued for another request, operation or caller",
            ));
        }
        if Utc::now().timestamp() >= expires {
            return Err(Error::conflict(
                ConflictCode::ConfirmationExpired,
                "the confirmation token has expired; send the request without confirmation_token to get a new decision and token",
            ));
        }
        Ok(idempotency_key(token))
    }
}

/// The idempotency key an execution with this token uses: 40 hexadecimal digits of the
/// token's SHA-256, written with the letters `a` to `p` (no digits, so a key can never look
/// like a card number, which idempotency keys refuse).
pub(crate) fn idempotency_key(token: &str) -> String {
    let letters: String = hex::encode(Sha256::digest(token.as_bytes()))[..40]
        .chars()
        .map(|c| match c.to_digit(16) {
            Some(d) => char::from(b'a' + d as u8),
            None => c,
        })
        .collect();
    format!("ct-{letters}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Interface;
    use crate::id::TenantId;

    fn principal() -> Principal {
        Principal::system(TenantId::generate(), Interface::Mcp)
    }

    fn code(e: Error) -> ConflictCode {
        match e {
            Error::Conflict { code, .. } => code,
            other => panic!("not a conflict: {other}"),
        }
    }

    #[test]
    fn a_token_is_bound_to_operation_caller_and_request() {
        let c = Confirmations::new(&[7; 32], Duration::from_secs(60));
        let p = principal();
        let t = c.issue("payments.create", &p, r#"{"amount":"10.00"}"#);
        let key = c
            .verify(&t.token, "payments.create", &p, r#"{"amount":"10.00"}"#)
            .expect("valid");
        assert_eq!(key, idempotency_key(&t.token));
        for (op, who, req) in [
            ("payments.create", p.clone(), r#"{"amount":"10.01"}"#),
            ("refunds.create", p.clone(), r#"{"amount":"10.00"}"#),
            ("payments.create", principal(), r#"{"amount":"10.00"}"#),
        ] {
            assert_eq!(
                code(c.verify(&t.token, op, &who, req).expect_err("mismatch")),
                ConflictCode::ConfirmationInvalid
            );
        }
        let other_key = Confirmations::new(&[8; 32], Duration::from_secs(60));
        assert_eq!(
            code(
                other_key
                    .verify(&t.token, "payments.create", &p, r#"{"amount":"10.00"}"#)
                    .expect_err("other key")
            ),
            ConflictCode::ConfirmationInvalid
        );
        assert_eq!(
            code(
                c.verify("ct1.x", "payments.create", &p, "{}")
                    .expect_err("malformed")
            ),
            ConflictCode::ConfirmationInvalid
        );
    }

    #[test]
    fn an_expired_token_is_refused() {
        let c = Confirmations::new(&[7; 32], Duration::ZERO);
        let p = principal();
        let t = c.issue("payments.create", &p, "{}");
        assert_eq!(
            code(
                c.verify(&t.token, "payments.create", &p, "{}")
                    .expect_err("expired")
            ),
            ConflictCode::ConfirmationExpired
        );
    }

    #[test]
    fn the_binding_does_not_depend_on_key_order() {
        let a = binding(&serde_json::json!({"b": 1, "a": {"d": 2, "c": 3}})).expect("json");
        let b = binding(&serde_json::json!({"a": {"c": 3, "d": 2}, "b": 1})).expect("json");
        assert_eq!(a, b);
    }

    #[test]
    fn idempotency_keys_have_no_digits() {
        for i in 0..200 {
            let key = idempotency_key(&format!("ct1.{i}.nonce.mac"));
            assert_eq!(key.len(), 43);
            assert!(!key.chars().any(|c| c.is_ascii_digit()), "{key}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let c = Confirmations::new(&[7; 32], Duration::from_secs(1));
        assert!(format!("{c:?}").contains("redacted"));
    }
}
