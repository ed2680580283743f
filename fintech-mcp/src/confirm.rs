//! Confirmation tokens for two-step money moves.
//!
//! A token is `ct1.<expires unix s>.<nonce>.<mac>`, where the MAC is HMAC-SHA256 over the
//! tool, tenant, actor, expiry, nonce and the canonical arguments. Changing any argument,
//! presenting it as another key or tenant, or waiting past the expiry makes it invalid. The
//! token is also the idempotency key of the execution (hashed), so presenting it again replays
//! the first result instead of moving money twice.

use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use fintech_core::Principal;

type HmacSha256 = Hmac<Sha256>;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token this server issues.
    Malformed,
    /// Issued for other arguments, another tool, or another caller.
    Mismatch,
    /// Past its expiry.
    Expired,
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TokenError::Malformed => "the confirmation token is malformed",
            TokenError::Mismatch => {
                "the confirmation token was issued for different arguments; call again without \
                 confirmation_token to get a new preview"
            }
            TokenError::Expired => {
                "the confirmation token has expired; call again without confirmation_token to \
                 get a new preview"
            }
        })
    }
}

/// Issues and checks tokens.
pub struct Confirmations {
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
pub struct Issued {
    /// The token to pass back as `confirmation_token`.
    pub token: String,
    /// Its expiry.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl Confirmations {
    /// Tokens keyed from `signing_key` (domain-separated), valid for `ttl`.
    pub fn new(signing_key: &[u8; 32], ttl: Duration) -> Self {
        let mut h = Sha256::new();
        h.update(b"fintech-mcp confirmation v1");
        h.update(signing_key);
        Self {
            key: h.finalize().into(),
            ttl,
        }
    }

    fn mac(&self, tool: &str, p: &Principal, expires: i64, nonce: &str, args: &str) -> String {
        let mut m = HmacSha256::new_from_slice(&self.key).expect("any key length");
        for part in [
            tool,
            p.tenant_id.as_str(),
            &p.actor.to_string(),
            &expires.to_string(),
            nonce,
            args,
        ] {
            m.update(&(part.len() as u64).to_be_bytes());
            m.update(part.as_bytes());
        }
        hex::encode(m.finalize().into_bytes())
    }

    /// A token for `tool` called by `p` with canonical arguments `args`.
    pub fn issue(&self, tool: &str, p: &Principal, args: &str) -> Issued {
        let now = chrono::Utc::now();
        let expires_at =
            now + chrono::Duration::from_std(self.ttl).unwrap_or_else(|_| chrono::Duration::zero());
        let expires = expires_at.timestamp();
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let nonce = hex::encode(nonce);
        let mac = self.mac(tool, p, expires, &nonce, args);
        Issued {
            token: format!("ct1.{expires}.{nonce}.{mac}"),
            expires_at,
        }
    }

    /// Checks a token against the call; on success returns the idempotency key the execution
    /// uses, the same for every presentation of the token.
    pub fn verify(
        &self,
        token: &str,
        tool: &str,
        p: &Principal,
        args: &str,
    ) -> Result<String, TokenError> {
        let mut parts = token.split('.');
        let (Some("ct1"), Some(expires), Some(nonce), Some(mac), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TokenError::Malformed);
        };
        let expires: i64 = expires.parse().map_err(|_| TokenError::Malformed)?;
        let expected = self.mac(tool, p, expires, nonce, args);
        // constant-time comparison of the MACs
        let same = expected.len() == mac.len()
            && expected
                .bytes()
                .zip(mac.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return Err(TokenError::Mismatch);
        }
        if chrono::Utc::now().timestamp() >= expires {
            return Err(TokenError::Expired);
        }
        Ok(idempotency_key(token))
    }
}

/// The idempotency key an execution with this token uses.
pub fn idempotency_key(token: &str) -> String {
    format!(
        "mcp-{}",
        &hex::encode(Sha256::digest(token.as_bytes()))[..40]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use fintech_core::id::TenantId;
    use fintech_core::Interface;

    fn principal() -> Principal {
        Principal::system(TenantId::generate(), Interface::Mcp)
    }

    #[test]
    fn a_token_is_bound_to_tool_caller_and_arguments() {
        let c = Confirmations::new(&[7; 32], Duration::from_secs(60));
        let p = principal();
        let t = c.issue("payments_create", &p, r#"{"amount":"10.00"}"#);
        let key = c
            .verify(&t.token, "payments_create", &p, r#"{"amount":"10.00"}"#)
            .expect("valid");
        assert_eq!(key, idempotency_key(&t.token));
        assert_eq!(
            c.verify(&t.token, "payments_create", &p, r#"{"amount":"10.01"}"#),
            Err(TokenError::Mismatch)
        );
        assert_eq!(
            c.verify(&t.token, "payments_refund", &p, r#"{"amount":"10.00"}"#),
            Err(TokenError::Mismatch)
        );
        assert_eq!(
            c.verify(
                &t.token,
                "payments_create",
                &principal(),
                r#"{"amount":"10.00"}"#
            ),
            Err(TokenError::Mismatch)
        );
        let other_key = Confirmations::new(&[8; 32], Duration::from_secs(60));
        assert_eq!(
            other_key.verify(&t.token, "payments_create", &p, r#"{"amount":"10.00"}"#),
            Err(TokenError::Mismatch)
        );
        assert_eq!(
            c.verify("ct1.x", "payments_create", &p, "{}"),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn an_expired_token_is_refused() {
        let c = Confirmations::new(&[7; 32], Duration::ZERO);
        let p = principal();
        let t = c.issue("payments_create", &p, "{}");
        assert_eq!(
            c.verify(&t.token, "payments_create", &p, "{}"),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn debug_hides_the_key() {
        let c = Confirmations::new(&[7; 32], Duration::from_secs(1));
        assert!(format!("{c:?}").contains("redacted"));
    }
}
