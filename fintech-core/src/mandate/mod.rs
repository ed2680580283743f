//! AP2 v0.2 payment mandates: a user's (or this platform's, as the trusted surface) signed
//! statement of what an agent may pay, and the agent's signed statement of one payment under
//! it, verified before any money moves.
//!
//! * [`jose`]: base64url, P-256 JWKs, ES256 (`ring`), compact JWS.
//! * [`sdjwt`]: SD-JWT disclosures and their resolution.
//! * [`model`]: open and closed Payment Mandates, constraints, reason codes.
//! * [`verify`](mod@verify): the chain checks and the constraint checks, in the order of the
//!   interoperability vectors.
//! * [`receipt`]: signed Payment Receipts.
//! * [`issue_open_mandate`] and [`present`]: the two signing sides (the issuer's, and the
//!   agent's), so an embedding agent and the tests make chains the verifier accepts.
//!
//! The token format is `<open SD-JWT without its trailing ~>~~<key-binding SD-JWT>` (see
//! docs/mandates.md).

pub mod jose;
pub mod model;
pub mod receipt;
pub mod sdjwt;
pub mod vectors;
pub mod verify;

pub use jose::{Jwk, SigningKey};
pub use model::*;
pub use receipt::{verify_receipt, PaymentReceipt, ReceiptStatus};
pub use verify::{check_constraints, verify_chain, VerifiedChain, VerifyParams};

use serde_json::{json, Value};

use crate::error::{Error, Result};
use sdjwt::Disclosure;

/// Signs `mandate` as an open SD-JWT (`<issuer JWT>~<disclosure>~…~`): the mandate object is
/// an array-element disclosure of `delegate_payload`, and each element of an
/// `allowed_payees` / `allowed_payment_instruments` list is one too (the schema's
/// selectively disclosable arrays).
pub fn issue_open_mandate(key: &SigningKey, mandate: &OpenMandate) -> Result<String> {
    let mut value = serde_json::to_value(mandate)
        .map_err(|e| Error::internal(format!("mandate serialization: {e}")))?;
    let mut disclosures = Vec::new();
    if let Some(Value::Array(constraints)) = value.get_mut("constraints") {
        for c in constraints {
            let selective = matches!(
                c.get("type").and_then(Value::as_str),
                Some("payment.allowed_payees" | "payment.allowed_payment_instruments")
            );
            if let (true, Some(Value::Array(allowed))) = (selective, c.get_mut("allowed")) {
                for item in allowed.iter_mut() {
                    let d = Disclosure::new(None, item.take());
                    *item = d.element_ref();
                    disclosures.push(d);
                }
            }
        }
    }
    let top = Disclosure::new(None, value);
    let payload = json!({"delegate_payload": [top.element_ref()], "_sd_alg": "sha-256"});
    disclosures.push(top);
    let jwt = key.sign_jws("dc+sd-jwt", &payload)?;
    let mut out = jwt;
    out.push('~');
    for d in &disclosures {
        out.push_str(&d.encoded);
        out.push('~');
    }
    Ok(out)
}

/// The agent's side: binds `closed` to `open_sd_jwt` (as issued, ending in `~`) with a
/// key-binding SD-JWT signed by `agent` (the open mandate's `cnf` key) for audience `aud`
/// and `nonce`, and returns the chain to present.
pub fn present(
    open_sd_jwt: &str,
    agent: &SigningKey,
    closed: &ClosedMandate,
    aud: &str,
    nonce: &str,
    iat: i64,
) -> Result<String> {
    let open_segment = if open_sd_jwt.ends_with('~') {
        open_sd_jwt.to_string()
    } else {
        format!("{open_sd_jwt}~")
    };
    let value = serde_json::to_value(closed)
        .map_err(|e| Error::internal(format!("mandate serialization: {e}")))?;
    let d = Disclosure::new(None, value);
    let payload = json!({
        "delegate_payload": [d.element_ref()],
        "iat": iat,
        "aud": aud,
        "nonce": nonce,
        "sd_hash": jose::sha256_b64url(&open_segment),
        "_sd_alg": "sha-256",
    });
    let jwt = agent.sign_jws("kb+sd-jwt", &payload)?;
    Ok(format!(
        "{}~~{jwt}~{}~",
        &open_segment[..open_segment.len() - 1],
        d.encoded
    ))
}

/// Decodes a presented chain without verifying anything, for an operator asking why it was
/// refused: each hop's header and payload, with its disclosures resolved when they resolve,
/// else listed as given. Never use this to decide anything.
pub fn decode_unverified(token: &str) -> Value {
    let hop = |text: &str| -> Value {
        let mut parts: Vec<&str> = text.split('~').filter(|s| !s.is_empty()).collect();
        if parts.is_empty() {
            return Value::Null;
        }
        let jwt = parts.remove(0);
        let Some(jws) = jose::Jws::parse(jwt) else {
            return json!({"error": "not a compact JWS"});
        };
        let payload = match sdjwt::resolve(&jws.payload, &parts) {
            Ok(v) => v,
            Err(_) => json!({
                "unresolved": Value::Object(jws.payload.clone()),
                "disclosures": parts
                    .iter()
                    .map(|d| Disclosure::parse(d).map(|d| d.value).unwrap_or(Value::Null))
                    .collect::<Vec<_>>(),
            }),
        };
        json!({"header": Value::Object(jws.header), "payload": payload})
    };
    match token.trim().split_once("~~") {
        Some((open, closed)) => json!({"open": hop(open), "closed": hop(closed)}),
        None => json!({"open": hop(token.trim())}),
    }
}

#[cfg(test)]
mod tests;
