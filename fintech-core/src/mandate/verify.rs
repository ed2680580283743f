//! Verification of a presented AP2 payment-mandate chain: the open mandate's issuer signature,
//! its disclosures, times, the agent's key-binding hop (signature by `cnf`, `sd_hash` /
//! `issuer_jwt_hash`, `aud`, `nonce`), `vct` values, then every constraint against the closed
//! mandate and the usage earlier payments made of the mandate.
//!
//! The checks run in the order of `../shared/ap2-vectors/README.md`, so a presentation that
//! fails several gets the first one's code. [`verify_chain`] does the token-level checks;
//! [`check_constraints`] the payment-level ones, given the usage the caller counted.

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Map, Value};

use super::jose::{sha256_b64url, Jwk, Jws};
use super::model::*;
use super::sdjwt::{self, SdError};

/// What the verifier is told besides the token.
#[derive(Debug, Clone)]
pub struct VerifyParams<'a> {
    /// Keys trusted to sign open mandates, each with a `kid`.
    pub trusted_issuers: &'a [Jwk],
    /// Current time, unix seconds.
    pub now: i64,
    /// Allowed clock difference, seconds (the reference SDK's default is 300).
    pub clock_skew_seconds: i64,
    /// The audience the key-binding hop must name.
    pub expected_aud: &'a str,
    /// The nonce the key-binding hop must carry.
    pub expected_nonce: &'a str,
}

/// A chain whose signatures, disclosures, times, binding and types verified.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerifiedChain {
    /// `kid` of the issuer key that signed the open mandate.
    pub issuer_kid: String,
    /// base64url(SHA-256(open mandate's issuer JWT)): identifies the open mandate whatever
    /// disclosures a presentation carries; usage is counted under it.
    pub mandate_digest: String,
    /// base64url(SHA-256(the terminal hop's JWT)): what a Payment Receipt's `reference` names.
    pub closed_reference: String,
    /// The open mandate, disclosures resolved.
    pub open: OpenMandate,
    /// The closed mandate.
    pub closed: ClosedMandate,
    /// `iat` of the key-binding hop.
    pub presented_at: i64,
}

impl VerifiedChain {
    /// The budget's limit in minor units and its currency, when the mandate has one
    /// (`int(max × 10^exponent)`, as the reference SDK computes it for two-digit currencies).
    pub fn budget_limit(&self) -> Result<Option<(i64, String)>, Rejection> {
        for c in &self.open.constraints {
            if let Constraint::Budget { max, currency } = c {
                return budget_minor(max, currency).map(|m| Some((m, currency.clone())));
            }
        }
        Ok(None)
    }

    /// `max_occurrences` of the recurrence constraint, when there is one.
    pub fn max_occurrences(&self) -> Option<u32> {
        self.open.constraints.iter().find_map(|c| match c {
            Constraint::AgentRecurrence {
                max_occurrences, ..
            } => *max_occurrences,
            _ => None,
        })
    }
}

fn reject<T>(code: ReasonCode, message: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection::new(code, message))
}

fn sd(e: SdError, which: &str) -> Rejection {
    match e {
        SdError::Malformed(m) => Rejection::new(ReasonCode::Malformed, format!("{which}: {m}")),
        SdError::Tampered(m) => {
            Rejection::new(ReasonCode::TamperedDisclosure, format!("{which}: {m}"))
        }
    }
}

/// The single object a `delegate_payload` array resolves to.
fn delegate(resolved: Value, which: &str) -> Result<Map<String, Value>, Rejection> {
    let mut root = match resolved {
        Value::Object(o) => o,
        _ => return reject(ReasonCode::Malformed, format!("{which} payload")),
    };
    match root.remove("delegate_payload") {
        Some(Value::Array(mut items)) if items.len() == 1 => match items.pop() {
            Some(Value::Object(o)) => Ok(o),
            _ => reject(
                ReasonCode::Malformed,
                format!("{which}: delegate_payload holds no mandate object"),
            ),
        },
        _ => reject(
            ReasonCode::Malformed,
            format!("{which}: delegate_payload must disclose exactly one mandate"),
        ),
    }
}

fn int_claim(obj: &Map<String, Value>, name: &str, which: &str) -> Result<Option<i64>, Rejection> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            Rejection::new(
                ReasonCode::Malformed,
                format!("{which}: {name} is not an integer"),
            )
        }),
    }
}

fn check_time(
    obj: &Map<String, Value>,
    which: &str,
    p: &VerifyParams<'_>,
) -> Result<(), Rejection> {
    if let Some(exp) = int_claim(obj, "exp", which)? {
        if p.now > exp.saturating_add(p.clock_skew_seconds) {
            return reject(ReasonCode::Expired, format!("{which} expired at {exp}"));
        }
    }
    if let Some(iat) = int_claim(obj, "iat", which)? {
        if iat > p.now.saturating_add(p.clock_skew_seconds) {
            return reject(
                ReasonCode::Expired,
                format!("{which} is issued in the future ({iat})"),
            );
        }
    }
    Ok(())
}

/// The token-level checks (README steps 1-5): on success the chain's parts are authentic,
/// current, bound to the expected audience and nonce, and of the right types.
pub fn verify_chain(token: &str, p: &VerifyParams<'_>) -> Result<VerifiedChain, Rejection> {
    let token = token.trim();
    let Some((open_part, terminal_part)) = token.split_once("~~") else {
        return reject(
            ReasonCode::Malformed,
            "expected <open SD-JWT>~~<key-binding SD-JWT>",
        );
    };
    if terminal_part.contains("~~") {
        return reject(
            ReasonCode::Malformed,
            "only one delegation hop (open mandate, then the agent's closed mandate) is supported",
        );
    }
    let open_segment = format!("{open_part}~");
    let mut open_iter = open_part.split('~');
    let issuer_jwt = open_iter.next().unwrap_or_default();
    let open_disclosures: Vec<&str> = open_iter.collect();
    let mut term_iter: Vec<&str> = terminal_part.split('~').collect();
    if term_iter.len() < 2 || term_iter.pop() != Some("") {
        return reject(
            ReasonCode::Malformed,
            "the key-binding SD-JWT must end in '~'",
        );
    }
    let terminal_jwt = term_iter.remove(0);
    let term_disclosures = term_iter;
    if open_disclosures
        .iter()
        .chain(term_disclosures.iter())
        .any(|d| d.is_empty())
    {
        return reject(ReasonCode::Malformed, "empty disclosure");
    }

    // 1. Root: trusted kid, ES256 signature.
    let Some(root) = Jws::parse(issuer_jwt) else {
        return reject(ReasonCode::Malformed, "open mandate is not a compact JWS");
    };
    let Some(kid) = root.header_str("kid") else {
        return reject(
            ReasonCode::UntrustedIssuer,
            "open mandate header has no kid",
        );
    };
    let Some(issuer) = p
        .trusted_issuers
        .iter()
        .find(|k| k.kid.as_deref() == Some(kid))
    else {
        return reject(
            ReasonCode::UntrustedIssuer,
            format!("issuer key {kid:?} is not trusted"),
        );
    };
    if !root.verify(issuer) {
        return reject(
            ReasonCode::BadSignature,
            "open mandate signature does not verify (ES256 under the issuer key)",
        );
    }

    // 2. Disclosures of both hops.
    let open_resolved =
        sdjwt::resolve(&root.payload, &open_disclosures).map_err(|e| sd(e, "open mandate"))?;
    let Some(term) = Jws::parse(terminal_jwt) else {
        return reject(
            ReasonCode::Malformed,
            "key-binding hop is not a compact JWS",
        );
    };
    let term_resolved =
        sdjwt::resolve(&term.payload, &term_disclosures).map_err(|e| sd(e, "closed mandate"))?;
    let open_obj = delegate(open_resolved, "open mandate")?;
    let closed_obj = delegate(term_resolved, "closed mandate")?;

    // 3. Time.
    check_time(&root.payload, "open mandate token", p)?;
    check_time(&open_obj, "open mandate", p)?;
    check_time(&closed_obj, "closed mandate", p)?;
    check_time(&term.payload, "key-binding hop", p)?;

    // 4. The key-binding hop.
    if term.header_str("typ") != Some("kb+sd-jwt") {
        return reject(
            ReasonCode::BindingMismatch,
            "the last hop's typ is not kb+sd-jwt",
        );
    }
    let cnf = match open_obj.get("cnf").and_then(|c| c.get("jwk")) {
        Some(jwk) => serde_json::from_value::<Jwk>(jwk.clone()).map_err(|_| {
            Rejection::new(ReasonCode::Malformed, "open mandate cnf.jwk is not a JWK")
        })?,
        None => return reject(ReasonCode::Malformed, "open mandate has no cnf.jwk"),
    };
    if cnf.sec1_point().is_err() {
        return reject(
            ReasonCode::Malformed,
            "open mandate cnf.jwk is not a P-256 key",
        );
    }
    if !term.verify(&cnf) {
        let other_kid = matches!(
            (term.header_str("kid"), cnf.kid.as_deref()),
            (Some(a), Some(b)) if a != b
        );
        return if other_kid {
            reject(
                ReasonCode::CnfMismatch,
                "the key-binding hop is not signed by the open mandate's cnf key",
            )
        } else {
            reject(
                ReasonCode::BadSignature,
                "the key-binding hop's signature does not verify under the cnf key",
            )
        };
    }
    let binding = match (
        term.payload.get("sd_hash"),
        term.payload.get("issuer_jwt_hash"),
    ) {
        (Some(Value::String(h)), None) => *h == sha256_b64url(&open_segment),
        (None, Some(Value::String(h))) => *h == sha256_b64url(issuer_jwt),
        _ => {
            return reject(
                ReasonCode::BindingMismatch,
                "the key-binding hop needs exactly one of sd_hash and issuer_jwt_hash",
            )
        }
    };
    if !binding {
        return reject(
            ReasonCode::BindingMismatch,
            "sd_hash / issuer_jwt_hash does not match the presented open mandate",
        );
    }
    let Some(presented_at) = int_claim(&term.payload, "iat", "key-binding hop")? else {
        return reject(ReasonCode::Malformed, "the key-binding hop has no iat");
    };
    if term.payload.get("aud").and_then(Value::as_str) != Some(p.expected_aud) {
        return reject(
            ReasonCode::WrongAud,
            format!("aud is not {:?}", p.expected_aud),
        );
    }
    if term.payload.get("nonce").and_then(Value::as_str) != Some(p.expected_nonce) {
        return reject(ReasonCode::WrongNonce, "nonce is not the expected one");
    }
    if closed_obj.contains_key("cnf") {
        return reject(
            ReasonCode::CnfMismatch,
            "the closed mandate carries cnf: it must be the last hop",
        );
    }

    // 5. Types.
    if open_obj.get("vct").and_then(Value::as_str) != Some(OPEN_VCT) {
        return reject(
            ReasonCode::WrongVct,
            format!("open mandate vct is not {OPEN_VCT}"),
        );
    }
    if closed_obj.get("vct").and_then(Value::as_str) != Some(CLOSED_VCT) {
        return reject(
            ReasonCode::WrongVct,
            format!("closed mandate vct is not {CLOSED_VCT}"),
        );
    }
    let Some(Value::Array(constraints)) = open_obj.get("constraints") else {
        return reject(
            ReasonCode::Malformed,
            "open mandate has no constraints array",
        );
    };
    for c in constraints {
        let ty = c.get("type").and_then(Value::as_str).unwrap_or("");
        if !KNOWN_CONSTRAINTS.contains(&ty) {
            return reject(
                ReasonCode::UnknownConstraint,
                format!("unknown constraint type {ty:?}"),
            );
        }
    }
    let open: OpenMandate = typed(Value::Object(open_obj), "open mandate")?;
    let closed: ClosedMandate = typed(Value::Object(closed_obj), "closed mandate")?;
    Ok(VerifiedChain {
        issuer_kid: kid.to_string(),
        mandate_digest: sha256_b64url(issuer_jwt),
        closed_reference: sha256_b64url(terminal_jwt),
        open,
        closed,
        presented_at,
    })
}

fn budget_minor(max: &serde_json::Number, currency: &str) -> Result<i64, Rejection> {
    let text = max.to_string();
    let major = text
        .parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(&text))
        .map_err(|_| Rejection::new(ReasonCode::Malformed, "budget.max is not a number"))?;
    let exponent = crate::money::Currency::from_code(currency)
        .map(|c| c.exponent())
        .map_err(|_| {
            Rejection::new(
                ReasonCode::Malformed,
                format!("budget currency {currency:?} is not known"),
            )
        })?;
    (major * Decimal::from(10i64.pow(exponent)))
        .trunc()
        .to_i64()
        .ok_or_else(|| Rejection::new(ReasonCode::Malformed, "budget.max is out of range"))
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// `a <= b` for execution dates: as instants when both parse as RFC 3339, else as strings
/// (the reference SDK's comparison).
fn date_le(a: &str, b: &str) -> bool {
    match (parse_time(a), parse_time(b)) {
        (Some(x), Some(y)) => x <= y,
        _ => a <= b,
    }
}

/// The payment-level checks (README steps 6-7): pre-set fields, then every constraint,
/// `usage` being what earlier accepted payments under this open mandate used.
/// `open_checkout_hash` is the verifier's input for `payment.reference`.
pub fn check_constraints(
    chain: &VerifiedChain,
    usage: Usage,
    now: i64,
    open_checkout_hash: Option<&str>,
) -> Result<(), Rejection> {
    let open = &chain.open;
    let closed = &chain.closed;
    let amount = &closed.payment_amount;

    // 6. Pre-set fields.
    if let Some(payee) = &open.payee {
        if !payee.matches(&closed.payee) {
            return reject(
                ReasonCode::PayeeNotAllowed,
                "payee differs from the one the mandate pre-sets",
            );
        }
    }
    if let Some(preset) = &open.payment_amount {
        if preset != amount {
            return reject(
                ReasonCode::AmountOutOfRange,
                "amount differs from the one the mandate pre-sets",
            );
        }
    }
    if let Some(preset) = &open.payment_instrument {
        if preset.id != closed.payment_instrument.id {
            return reject(
                ReasonCode::InstrumentNotAllowed,
                "payment instrument differs from the one the mandate pre-sets",
            );
        }
    }
    if let Some(preset) = &open.pisp {
        if closed.pisp.as_ref() != Some(preset) {
            return reject(
                ReasonCode::PispNotAllowed,
                "PISP differs from the one the mandate pre-sets",
            );
        }
    }
    if let Some(preset) = &open.execution_date {
        if closed.execution_date.as_ref() != Some(preset) {
            return reject(
                ReasonCode::ExecutionDateOutOfRange,
                "execution date differs from the one the mandate pre-sets",
            );
        }
    }

    // 7. Constraints.
    let has_range = open
        .constraints
        .iter()
        .any(|c| matches!(c, Constraint::AmountRange { .. }));
    let has_budget = open
        .constraints
        .iter()
        .any(|c| matches!(c, Constraint::Budget { .. }));
    for c in &open.constraints {
        match c {
            Constraint::AmountRange { currency, max, min } => {
                if *currency != amount.currency {
                    return reject(
                        ReasonCode::AmountOutOfRange,
                        format!("currency {} is not {currency}", amount.currency),
                    );
                }
                if amount.amount > *max || min.is_some_and(|m| amount.amount < m) {
                    return reject(
                        ReasonCode::AmountOutOfRange,
                        format!(
                            "{} minor units is outside {}..={max}",
                            amount.amount,
                            min.map(|m| m.to_string()).unwrap_or_default()
                        ),
                    );
                }
            }
            Constraint::Budget { max, currency } => {
                if *currency != amount.currency {
                    return reject(
                        ReasonCode::BudgetExceeded,
                        format!(
                            "currency {} is not the budget's {currency}",
                            amount.currency
                        ),
                    );
                }
                let limit = budget_minor(max, currency)?;
                let total = i128::from(usage.total_amount) + i128::from(amount.amount);
                if total > i128::from(limit) {
                    return reject(
                        ReasonCode::BudgetExceeded,
                        format!(
                            "{} already used + {} exceeds the budget of {limit} minor units",
                            usage.total_amount, amount.amount
                        ),
                    );
                }
            }
            Constraint::AgentRecurrence {
                max_occurrences, ..
            } => {
                if !(has_range && has_budget) {
                    return reject(
                        ReasonCode::Malformed,
                        "payment.agent_recurrence needs payment.amount_range and payment.budget",
                    );
                }
                if let Some(max) = max_occurrences {
                    if usage.total_uses >= *max {
                        return reject(
                            ReasonCode::RecurrenceExceeded,
                            format!("all {max} occurrences are used"),
                        );
                    }
                }
            }
            Constraint::AllowedPayees { allowed } => {
                if !allowed.iter().any(|m| m.matches(&closed.payee)) {
                    return reject(
                        ReasonCode::PayeeNotAllowed,
                        format!(
                            "payee {} is not in the allowed list",
                            closed.payee.name.as_deref().unwrap_or("(unnamed)")
                        ),
                    );
                }
            }
            Constraint::AllowedPaymentInstruments { allowed } => {
                if !allowed.iter().any(|i| i.id == closed.payment_instrument.id) {
                    return reject(
                        ReasonCode::InstrumentNotAllowed,
                        "payment instrument is not in the allowed list",
                    );
                }
            }
            Constraint::AllowedPisps { allowed } => {
                if !closed.pisp.as_ref().is_some_and(|p| allowed.contains(p)) {
                    return reject(
                        ReasonCode::PispNotAllowed,
                        "PISP is absent or not in the allowed list",
                    );
                }
            }
            Constraint::ExecutionDate {
                not_before,
                not_after,
            } => {
                let date = closed.execution_date.clone().unwrap_or_else(|| {
                    Utc.timestamp_opt(now, 0)
                        .single()
                        .unwrap_or_default()
                        .format("%Y-%m-%dT%H:%M:%SZ")
                        .to_string()
                });
                let after_start = not_before.as_deref().is_none_or(|nb| date_le(nb, &date));
                let before_end = not_after.as_deref().is_none_or(|na| date_le(&date, na));
                if !(after_start && before_end) {
                    return reject(
                        ReasonCode::ExecutionDateOutOfRange,
                        format!("execution date {date} is outside the allowed window"),
                    );
                }
            }
            Constraint::Reference {
                conditional_transaction_id,
            } => {
                if open_checkout_hash != Some(conditional_transaction_id.as_str()) {
                    return reject(
                        ReasonCode::ReferenceMismatch,
                        "payment.reference does not name the checkout this payment belongs to",
                    );
                }
            }
        }
    }
    Ok(())
}

/// Both steps: [`verify_chain`], then [`check_constraints`].
pub fn verify(
    token: &str,
    p: &VerifyParams<'_>,
    usage: Usage,
    open_checkout_hash: Option<&str>,
) -> Result<VerifiedChain, Rejection> {
    let chain = verify_chain(token, p)?;
    check_constraints(&chain, usage, p.now, open_checkout_hash)?;
    Ok(chain)
}
