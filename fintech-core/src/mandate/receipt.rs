//! AP2 Payment Receipts (`payment_receipt.json`): signed by the party that executed the
//! payment, bound to the closed mandate by `reference` = base64url(SHA-256(the closed
//! mandate's JWT)).

use serde::{Deserialize, Serialize};

use super::jose::{Jwk, Jws, SigningKey};
use super::model::{ReasonCode, Rejection};

/// A Payment Receipt's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaymentReceipt {
    /// `Success` or `Error`.
    pub status: ReceiptStatus,
    /// Who issued the receipt.
    pub iss: String,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Hash of the closed mandate this receipt is for.
    pub reference: String,
    /// The payment's id.
    pub payment_id: String,
    /// The PSP's confirmation id (Success only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psp_confirmation_id: Option<String>,
    /// The network's confirmation id (Success only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_confirmation_id: Option<String>,
    /// Error code (Error only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Error text (Error only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// A receipt's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ReceiptStatus {
    /// The payment went through.
    Success,
    /// The payment failed.
    Error,
}

impl PaymentReceipt {
    /// True when the fields agree with the status (the schema's `oneOf`).
    pub fn is_consistent(&self) -> bool {
        match self.status {
            ReceiptStatus::Success => {
                self.psp_confirmation_id.is_some() && self.network_confirmation_id.is_some()
            }
            ReceiptStatus::Error => self.error.is_some() && self.error_description.is_some(),
        }
    }

    /// Signs the receipt as a compact JWS (`typ` JWT).
    pub fn sign(&self, key: &SigningKey) -> crate::Result<String> {
        let payload = serde_json::to_value(self)
            .map_err(|e| crate::Error::internal(format!("receipt serialization: {e}")))?;
        key.sign_jws("JWT", &payload)
    }
}

/// Verifies a receipt: ES256 under `issuer`, a consistent Payment Receipt payload, and a
/// `reference` among `known_references`.
pub fn verify_receipt(
    receipt: &str,
    issuer: &Jwk,
    known_references: &[String],
) -> Result<PaymentReceipt, Rejection> {
    let bad = |m: &str| Rejection::new(ReasonCode::ReceiptBadSignature, m);
    let jws = Jws::parse(receipt.trim()).ok_or_else(|| bad("receipt is not a compact JWS"))?;
    if !jws.verify(issuer) {
        return Err(bad(
            "receipt signature does not verify under the issuer key",
        ));
    }
    // The reference SDK writes absent optional fields as null.
    let payload: serde_json::Map<_, _> = jws
        .payload
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .collect();
    let parsed: PaymentReceipt = serde_json::from_value(serde_json::Value::Object(payload))
        .map_err(|_| bad("receipt payload is not a Payment Receipt"))?;
    if !parsed.is_consistent() {
        return Err(bad("receipt fields do not match its status"));
    }
    if !known_references.contains(&parsed.reference) {
        return Err(Rejection::new(
            ReasonCode::ReceiptUnknownReference,
            "receipt reference names no known closed mandate",
        ));
    }
    Ok(parsed)
}
