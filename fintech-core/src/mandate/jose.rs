//! The JOSE pieces AP2 mandates need, and nothing more: base64url, P-256 public keys as JWKs,
//! ES256 signing and verification (`ring`), and compact JWS serialization.
//!
//! Only ES256 is accepted: a header naming any other `alg` (`none`, `HS256` ...) fails
//! verification before a key is touched. Private keys live in [`SigningKey`], whose `Debug`
//! prints nothing secret; they leave it only as PKCS#8 bytes for sealing at rest.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// base64url without padding (RFC 7515 section 2).
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding; `None` when the text is not that.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// base64url(SHA-256(ASCII of `text`)): the digest SD-JWT uses for disclosures, `sd_hash` and
/// `issuer_jwt_hash`, and AP2 for receipt references.
pub fn sha256_b64url(text: &str) -> String {
    b64url(&Sha256::digest(text.as_bytes()))
}

/// A P-256 public key as a JSON Web Key (RFC 7517), as AP2 carries it in `cnf.jwk` and issuers
/// publish it in a JWKS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jwk {
    /// Key type: `EC`.
    pub kty: String,
    /// Curve: `P-256`.
    pub crv: String,
    /// base64url x coordinate (32 bytes).
    pub x: String,
    /// base64url y coordinate (32 bytes).
    pub y: String,
    /// Key id, matched against a JWS header's `kid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Algorithm, `ES256` when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Public key use, `sig` when present.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

impl Jwk {
    /// The uncompressed SEC1 point (`04 ‖ x ‖ y`), or an error naming what is wrong.
    pub fn sec1_point(&self) -> Result<Vec<u8>> {
        if self.kty != "EC" || self.crv != "P-256" {
            return Err(Error::validation("jwk", "must be an EC key on P-256"));
        }
        if self.alg.as_deref().is_some_and(|a| a != "ES256") {
            return Err(Error::validation("jwk", "alg must be ES256"));
        }
        let x = b64url_decode(&self.x).filter(|x| x.len() == 32);
        let y = b64url_decode(&self.y).filter(|y| y.len() == 32);
        let (Some(x), Some(y)) = (x, y) else {
            return Err(Error::validation(
                "jwk",
                "x and y must be base64url of 32 bytes each",
            ));
        };
        let mut point = Vec::with_capacity(65);
        point.push(4);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        Ok(point)
    }

    /// From an uncompressed SEC1 point.
    pub fn from_sec1(point: &[u8], kid: Option<String>) -> Result<Self> {
        if point.len() != 65 || point[0] != 4 {
            return Err(Error::validation("jwk", "not an uncompressed P-256 point"));
        }
        Ok(Self {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: b64url(&point[1..33]),
            y: b64url(&point[33..]),
            kid,
            alg: None,
            use_: None,
        })
    }

    /// True when both keys are the same point (ignoring `kid`, `alg` and `use`).
    pub fn same_key(&self, other: &Jwk) -> bool {
        self.kty == other.kty && self.crv == other.crv && self.x == other.x && self.y == other.y
    }

    /// Verifies a 64-byte ES256 signature (`r ‖ s`) over `message`.
    pub fn verify_es256(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(point) = self.sec1_point() else {
            return false;
        };
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .verify(message, signature)
            .is_ok()
    }
}

/// A P-256 private key for ES256. `Debug` prints the public key id only.
pub struct SigningKey {
    pair: EcdsaKeyPair,
    pkcs8: Vec<u8>,
    kid: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, [redacted])", self.kid)
    }
}

impl SigningKey {
    /// A fresh random key with the given key id.
    pub fn generate(kid: impl Into<String>) -> Result<Self> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| Error::internal("cannot generate a P-256 key"))?;
        Self::from_pkcs8(doc.as_ref(), kid)
    }

    /// From PKCS#8 bytes (what [`SigningKey::pkcs8`] gave).
    pub fn from_pkcs8(pkcs8: &[u8], kid: impl Into<String>) -> Result<Self> {
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8,
            &SystemRandom::new(),
        )
        .map_err(|_| Error::internal("stored signing key is not a P-256 PKCS#8 key"))?;
        Ok(Self {
            pair,
            pkcs8: pkcs8.to_vec(),
            kid: kid.into(),
        })
    }

    /// The PKCS#8 encoding of the private key, to be sealed before it is stored.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK with this key's `kid`, `alg` ES256 and `use` sig.
    pub fn public_jwk(&self) -> Jwk {
        let mut jwk = Jwk::from_sec1(self.pair.public_key().as_ref(), Some(self.kid.clone()))
            .expect("ring returns an uncompressed P-256 point");
        jwk.alg = Some("ES256".into());
        jwk.use_ = Some("sig".into());
        jwk
    }

    /// Signs `message` (ES256, 64-byte `r ‖ s`).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.pair
            .sign(&SystemRandom::new(), message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| Error::internal("ES256 signing failed"))
    }

    /// A compact JWS (`header.payload.signature`) with header `{"alg":"ES256","typ":typ,"kid":…}`.
    pub fn sign_jws(&self, typ: &str, payload: &serde_json::Value) -> Result<String> {
        let header = serde_json::json!({"alg": "ES256", "typ": typ, "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(payload.to_string().as_bytes())
        );
        let sig = self.sign(signing_input.as_bytes())?;
        Ok(format!("{signing_input}.{}", b64url(&sig)))
    }
}

/// A compact JWS split into its parts, the header and payload parsed strictly (no repeated
/// key). The signature is not checked until [`Jws::verify`].
#[derive(Debug, Clone)]
pub struct Jws {
    /// `header.payload` as received: the signing input.
    pub signing_input: String,
    /// The protected header.
    pub header: serde_json::Map<String, serde_json::Value>,
    /// The payload.
    pub payload: serde_json::Map<String, serde_json::Value>,
    /// The signature bytes.
    pub signature: Vec<u8>,
}

impl Jws {
    /// Parses `header.payload.signature`; `None` when it is not a compact JWS with JSON object
    /// header and payload.
    pub fn parse(compact: &str) -> Option<Self> {
        let mut parts = compact.split('.');
        let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header = crate::json::from_slice(&b64url_decode(h)?).ok()?;
        let payload = crate::json::from_slice(&b64url_decode(p)?).ok()?;
        let signature = b64url_decode(s)?;
        Some(Self {
            signing_input: format!("{h}.{p}"),
            header,
            payload,
            signature,
        })
    }

    /// A header field as a string.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(|v| v.as_str())
    }

    /// True when the header says ES256 and the signature verifies under `key`.
    pub fn verify(&self, key: &Jwk) -> bool {
        self.header_str("alg") == Some("ES256")
            && key.verify_es256(self.signing_input.as_bytes(), &self.signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_round_trip_and_tamper() {
        let key = SigningKey::generate("k1").expect("key");
        let jwk = key.public_jwk();
        let jws = key
            .sign_jws("JWT", &serde_json::json!({"a": 1}))
            .expect("sign");
        let parsed = Jws::parse(&jws).expect("parse");
        assert!(parsed.verify(&jwk));
        let other = SigningKey::generate("k2").expect("key").public_jwk();
        assert!(!parsed.verify(&other));
        let mut bad = parsed.clone();
        bad.signing_input.push('x');
        assert!(!bad.verify(&jwk));
        // A reloaded key signs for the same public key.
        let again = SigningKey::from_pkcs8(key.pkcs8(), "k1").expect("reload");
        assert!(again.public_jwk().same_key(&jwk));
        assert!(!format!("{key:?}").contains(&b64url(key.pkcs8())));
    }

    #[test]
    fn repeated_keys_and_non_es256_are_refused() {
        let h = b64url(br#"{"alg":"ES256","alg":"none"}"#);
        let p = b64url(br#"{"a":1}"#);
        assert!(Jws::parse(&format!("{h}.{p}.")).is_none());
        let key = SigningKey::generate("k").expect("key");
        let jws = key.sign_jws("JWT", &serde_json::json!({})).expect("sign");
        let (_, rest) = jws.split_once('.').expect("dot");
        let none = format!("{}.{rest}", b64url(br#"{"alg":"none","kid":"k"}"#));
        assert!(!Jws::parse(&none).expect("parse").verify(&key.public_jwk()));
    }

    #[test]
    fn jwk_shape_is_checked() {
        let mut jwk = SigningKey::generate("k").expect("key").public_jwk();
        assert!(jwk.sec1_point().is_ok());
        jwk.crv = "P-384".into();
        assert!(jwk.sec1_point().is_err());
    }
}
