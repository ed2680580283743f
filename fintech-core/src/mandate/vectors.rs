//! Runs one interoperability vector (`ap2-payment-mandate-vectors/1`, see
//! `fintech-core/testdata/ap2/README.md`) through the verifier: one outcome per presentation,
//! a sequence counted against a fresh usage record that only accepted presentations add to.
//! `fintech mandates verify --vector FILE` prints these outcomes; the test suite compares them
//! with each vector's recorded verdict.

use serde::Deserialize;
use serde_json::Value;

use super::jose::Jwk;
use super::model::{Rejection, Usage};
use super::receipt::verify_receipt;
use super::verify::{check_constraints, verify_chain, VerifiedChain, VerifyParams};
use crate::error::{Error, Result};

/// One presentation's result: the accepted chain, or the refusal.
pub type Outcome = std::result::Result<Option<Box<VerifiedChain>>, Rejection>;

#[derive(Deserialize)]
struct Presentation {
    now: i64,
    expected_aud: String,
    expected_nonce: String,
    token: String,
}

#[derive(Deserialize)]
struct MandateVector {
    trusted_issuer_jwks: Vec<Jwk>,
    clock_skew_seconds: i64,
    #[serde(default)]
    open_checkout_hash: Option<String>,
    #[serde(default)]
    presentations: Option<Vec<Presentation>>,
    #[serde(flatten)]
    single: Option<Presentation>,
}

#[derive(Deserialize)]
struct ReceiptVector {
    receipt_issuer_jwk: Jwk,
    receipt: String,
    known_references: Vec<String>,
}

fn bad(message: impl Into<String>) -> Error {
    Error::validation("vector", message)
}

/// Runs `vector` (one object of the vectors file). A receipt vector's accepted outcome holds
/// no chain.
pub fn run_vector(vector: &Value) -> Result<Vec<Outcome>> {
    match vector.get("kind").and_then(Value::as_str) {
        Some("mandate") | Some("mandate_sequence") => {
            let v: MandateVector = serde_json::from_value(vector.clone())
                .map_err(|e| bad(format!("not a mandate vector: {e}")))?;
            let presentations = match (v.presentations, v.single) {
                (Some(list), _) => list,
                (None, Some(one)) => vec![one],
                (None, None) => return Err(bad("a mandate vector needs a token")),
            };
            let mut usage = Usage::default();
            let mut out = Vec::with_capacity(presentations.len());
            for p in presentations {
                let params = VerifyParams {
                    trusted_issuers: &v.trusted_issuer_jwks,
                    now: p.now,
                    clock_skew_seconds: v.clock_skew_seconds,
                    expected_aud: &p.expected_aud,
                    expected_nonce: &p.expected_nonce,
                };
                let result = verify_chain(&p.token, &params).and_then(|chain| {
                    check_constraints(&chain, usage, p.now, v.open_checkout_hash.as_deref())?;
                    Ok(chain)
                });
                if let Ok(chain) = &result {
                    usage.total_amount = usage
                        .total_amount
                        .saturating_add(chain.closed.payment_amount.amount);
                    usage.total_uses += 1;
                }
                out.push(result.map(|c| Some(Box::new(c))));
            }
            Ok(out)
        }
        Some("payment_receipt") => {
            let v: ReceiptVector = serde_json::from_value(vector.clone())
                .map_err(|e| bad(format!("not a receipt vector: {e}")))?;
            Ok(vec![verify_receipt(
                &v.receipt,
                &v.receipt_issuer_jwk,
                &v.known_references,
            )
            .map(|_| None)])
        }
        _ => Err(bad(
            "kind must be mandate, mandate_sequence or payment_receipt",
        )),
    }
}

/// The line `fintech mandates verify --vector` prints for an outcome: `accept` or
/// `reject REASON_CODE`.
pub fn outcome_line(outcome: &Outcome) -> String {
    match outcome {
        Ok(_) => "accept".into(),
        Err(r) => format!("reject {}", r.code),
    }
}
