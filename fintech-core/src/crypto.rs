//! Encryption of secrets at rest (provider access tokens) with XChaCha20-Poly1305.
//!
//! Each ciphertext is bound to the row it belongs to by associated data, so a ciphertext
//! copied into another row does not decrypt. The key comes from configuration; the embedded
//! default keeps a generated key in a file next to the SQLite database.

use std::fmt;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

/// An AEAD key for secrets at rest.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
    /// HMAC-SHA256(key, "fintech session signing v1"): a separate key for signing sessions,
    /// the same on every instance that shares the encryption key.
    signing: [u8; 32],
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox([redacted])")
    }
}

impl SecretBox {
    /// From a base64-encoded 32-byte key.
    pub fn from_base64(key: &SecretString) -> Result<Self> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key.expose_secret().trim())
            .map_err(|_| {
                Error::validation("encryption_key", "must be base64 of 32 random bytes")
            })?;
        if bytes.len() != 32 {
            return Err(Error::validation(
                "encryption_key",
                "must be base64 of exactly 32 bytes",
            ));
        }
        let signing = {
            use hmac::Mac;
            let mut m = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&bytes)
                .map_err(|_| Error::validation("encryption_key", "invalid key length"))?;
            m.update(b"fintech session signing v1");
            m.finalize().into_bytes().into()
        };
        Ok(Self {
            cipher: XChaCha20Poly1305::new_from_slice(&bytes)
                .map_err(|_| Error::validation("encryption_key", "invalid key length"))?,
            signing,
        })
    }

    /// A new random key, base64-encoded, for `FINTECH_ENCRYPTION_KEY` or the key file.
    pub fn generate_key() -> SecretString {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        SecretString::from(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    /// A key for signing session tokens, derived from (never equal to) the encryption key.
    pub fn signing_key(&self) -> &[u8; 32] {
        &self.signing
    }

    /// Encrypts `plaintext` bound to `context` (the row's identity). Output: nonce ‖ ciphertext.
    pub fn seal(&self, plaintext: &str, context: &str) -> Result<Vec<u8>> {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Error::internal("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts what [`SecretBox::seal`] produced for the same `context`.
    pub fn open(&self, sealed: &[u8], context: &str) -> Result<SecretString> {
        if sealed.len() < 24 {
            return Err(Error::internal("sealed secret is truncated"));
        }
        let (nonce, ct) = sealed.split_at(24);
        let pt = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| {
                Error::internal(
                    "cannot decrypt a stored secret: wrong encryption key or tampered row",
                )
            })?;
        String::from_utf8(pt)
            .map(SecretString::from)
            .map_err(|_| Error::internal("stored secret is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_is_bound_to_context_and_key() {
        let k = SecretBox::from_base64(&SecretBox::generate_key()).expect("key");
        let sealed = k.seal("access-sandbox-123", "itm_1").expect("seal");
        assert!(!String::from_utf8_lossy(&sealed).contains("access-sandbox"));
        assert_eq!(
            k.open(&sealed, "itm_1").expect("open").expose_secret(),
            "access-sandbox-123"
        );
        assert!(k.open(&sealed, "itm_2").is_err());
        let other = SecretBox::from_base64(&SecretBox::generate_key()).expect("key");
        assert!(other.open(&sealed, "itm_1").is_err());
        assert!(SecretBox::from_base64(&SecretString::from("c2hvcnQ=")).is_err());
    }
}
