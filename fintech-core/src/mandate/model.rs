//! The AP2 v0.2 payment-mandate data model: the open Payment Mandate a user (or we, as the
//! trusted surface) signs, its constraints, the closed Payment Mandate an agent signs for one
//! payment, and the reason codes every refusal carries.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::jose::Jwk;

/// `vct` of an open Payment Mandate.
pub const OPEN_VCT: &str = "mandate.payment.open.1";
/// `vct` of a closed Payment Mandate.
pub const CLOSED_VCT: &str = "mandate.payment.1";

/// Why a presented mandate chain (or receipt) was refused. The codes are the interoperability
/// vectors' (`../shared/ap2-vectors/README.md`) plus four of this platform's own:
/// `MALFORMED`, `MANDATE_REVOKED`, `MANDATE_REQUIRED` and `PAYMENT_MISMATCH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum ReasonCode {
    /// The open mandate's header `kid` is absent or not a trusted issuer key.
    UntrustedIssuer,
    /// A JWS signature does not verify, or its `alg` is not ES256.
    BadSignature,
    /// `exp` passed (or `iat` lies in the future) beyond the clock skew.
    Expired,
    /// `aud` of the terminal hop differs from the expected audience.
    WrongAud,
    /// `nonce` of the terminal hop differs from the expected (issued, unused) nonce.
    WrongNonce,
    /// The terminal hop is not signed by the open mandate's `cnf` key.
    CnfMismatch,
    /// A disclosure does not hash to a digest of its token, or is duplicated.
    TamperedDisclosure,
    /// `sd_hash` / `issuer_jwt_hash` does not match the presented open mandate.
    BindingMismatch,
    /// A `vct` is not the expected one.
    WrongVct,
    /// The open mandate carries a constraint type this verifier does not know.
    UnknownConstraint,
    /// `payment.amount_range` violated, or a pre-set amount differs.
    AmountOutOfRange,
    /// `payment.allowed_payees` violated, or a pre-set payee differs.
    PayeeNotAllowed,
    /// `payment.allowed_payment_instruments` violated, or a pre-set instrument differs.
    InstrumentNotAllowed,
    /// `payment.allowed_pisps` violated.
    PispNotAllowed,
    /// `payment.execution_date` violated, or a pre-set date differs.
    ExecutionDateOutOfRange,
    /// `payment.reference` differs from the open checkout hash the verifier holds.
    ReferenceMismatch,
    /// `payment.budget` would be exceeded.
    BudgetExceeded,
    /// `payment.agent_recurrence` occurrences used up.
    RecurrenceExceeded,
    /// A receipt's signature does not verify, or it is not a Payment Receipt.
    ReceiptBadSignature,
    /// A receipt's `reference` names no known closed mandate.
    ReceiptUnknownReference,
    /// The presentation is not an open SD-JWT and a key-binding hop, or a required claim is
    /// missing or of the wrong type.
    Malformed,
    /// The open mandate was revoked by the tenant that issued it.
    MandateRevoked,
    /// The API key requires a mandate for money moves and none was presented.
    MandateRequired,
    /// The closed mandate does not describe the payment being made (amount, currency, payee
    /// or payment method differ from the request).
    PaymentMismatch,
}

impl ReasonCode {
    /// The stable string form (`BUDGET_EXCEEDED`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UntrustedIssuer => "UNTRUSTED_ISSUER",
            Self::BadSignature => "BAD_SIGNATURE",
            Self::Expired => "EXPIRED",
            Self::WrongAud => "WRONG_AUD",
            Self::WrongNonce => "WRONG_NONCE",
            Self::CnfMismatch => "CNF_MISMATCH",
            Self::TamperedDisclosure => "TAMPERED_DISCLOSURE",
            Self::BindingMismatch => "BINDING_MISMATCH",
            Self::WrongVct => "WRONG_VCT",
            Self::UnknownConstraint => "UNKNOWN_CONSTRAINT",
            Self::AmountOutOfRange => "AMOUNT_OUT_OF_RANGE",
            Self::PayeeNotAllowed => "PAYEE_NOT_ALLOWED",
            Self::InstrumentNotAllowed => "INSTRUMENT_NOT_ALLOWED",
            Self::PispNotAllowed => "PISP_NOT_ALLOWED",
            Self::ExecutionDateOutOfRange => "EXECUTION_DATE_OUT_OF_RANGE",
            Self::ReferenceMismatch => "REFERENCE_MISMATCH",
            Self::BudgetExceeded => "BUDGET_EXCEEDED",
            Self::RecurrenceExceeded => "RECURRENCE_EXCEEDED",
            Self::ReceiptBadSignature => "RECEIPT_BAD_SIGNATURE",
            Self::ReceiptUnknownReference => "RECEIPT_UNKNOWN_REFERENCE",
            Self::Malformed => "MALFORMED",
            Self::MandateRevoked => "MANDATE_REVOKED",
            Self::MandateRequired => "MANDATE_REQUIRED",
            Self::PaymentMismatch => "PAYMENT_MISMATCH",
        }
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal: the reason code and a message for the operator (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rejection {
    /// The reason code.
    pub code: ReasonCode,
    /// What failed, in words.
    pub message: String,
}

impl Rejection {
    /// A refusal with `code` and `message`.
    pub fn new(code: ReasonCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// A merchant (`types/merchant.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Merchant {
    /// Unique identifier of the merchant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Website of the merchant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
}

impl Merchant {
    /// The `allowed_payees` comparison: equal `id` when both have one; otherwise equal,
    /// non-empty `name` and `website`.
    pub fn matches(&self, other: &Merchant) -> bool {
        match (&self.id, &other.id) {
            (Some(a), Some(b)) => a == b,
            _ => {
                let filled = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
                filled(&self.name)
                    && filled(&self.website)
                    && self.name == other.name
                    && self.website == other.website
            }
        }
    }
}

/// An amount in minor units (`types/amount.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Amount {
    /// Minor units (USD cents).
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// A payment instrument (`types/payment_instrument.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Instrument {
    /// Identifier of the instrument (here: a payment method id, `pm_…`).
    pub id: String,
    /// Category (`card`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Display text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A Payment Initiation Service Provider (`types/pisp.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Pisp {
    /// Legal name.
    pub legal_name: String,
    /// Brand name.
    pub brand_name: String,
    /// Domain name.
    pub domain_name: String,
}

/// How often an agent may reuse a mandate (`payment.agent_recurrence`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Frequency {
    /// Whenever the agent needs to.
    OnDemand,
    /// Daily.
    Daily,
    /// Weekly.
    Weekly,
    /// Every two weeks.
    Biweekly,
    /// Monthly.
    Monthly,
    /// Quarterly.
    Quarterly,
    /// Annually.
    Annually,
}

/// One constraint of an open Payment Mandate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Constraint {
    /// Amount per payment, in minor units, inclusive.
    #[serde(rename = "payment.amount_range")]
    AmountRange {
        /// ISO 4217 code.
        currency: String,
        /// Largest amount (minor units).
        max: i64,
        /// Smallest amount (minor units); none when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
    },
    /// Total over all uses, in major units (`50.0` = 50 USD).
    #[serde(rename = "payment.budget")]
    Budget {
        /// Largest total, in major units (a JSON number).
        #[cfg_attr(feature = "openapi", schema(value_type = f64))]
        max: serde_json::Number,
        /// ISO 4217 code.
        currency: String,
    },
    /// How often the mandate may be used.
    #[serde(rename = "payment.agent_recurrence")]
    AgentRecurrence {
        /// Frequency.
        frequency: Frequency,
        /// Largest number of uses.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_occurrences: Option<u32>,
    },
    /// The payees the agent may pay.
    #[serde(rename = "payment.allowed_payees")]
    AllowedPayees {
        /// Allowed merchants.
        allowed: Vec<Merchant>,
    },
    /// The instruments the agent may pay with.
    #[serde(rename = "payment.allowed_payment_instruments")]
    AllowedPaymentInstruments {
        /// Allowed instruments.
        allowed: Vec<Instrument>,
    },
    /// The PISPs that may initiate the payment.
    #[serde(rename = "payment.allowed_pisps")]
    AllowedPisps {
        /// Allowed PISPs.
        allowed: Vec<Pisp>,
    },
    /// The window the payment's execution date must fall in.
    #[serde(rename = "payment.execution_date")]
    ExecutionDate {
        /// Earliest (inclusive).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        not_before: Option<String>,
        /// Latest (inclusive).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        not_after: Option<String>,
    },
    /// The checkout this payment belongs to.
    #[serde(rename = "payment.reference")]
    Reference {
        /// Digest of the open checkout mandate.
        conditional_transaction_id: String,
    },
}

/// The constraint type names this verifier knows.
pub const KNOWN_CONSTRAINTS: &[&str] = &[
    "payment.amount_range",
    "payment.budget",
    "payment.agent_recurrence",
    "payment.allowed_payees",
    "payment.allowed_payment_instruments",
    "payment.allowed_pisps",
    "payment.execution_date",
    "payment.reference",
];

/// The `cnf` claim: the key the next hop must be signed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Confirmation {
    /// The agent's public key.
    pub jwk: Jwk,
}

/// An open Payment Mandate, after disclosure resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpenMandate {
    /// `mandate.payment.open.1`.
    pub vct: String,
    /// The constraints.
    pub constraints: Vec<Constraint>,
    /// The agent key.
    pub cnf: Confirmation,
    /// Pre-set payee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee: Option<Merchant>,
    /// Pre-set amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_amount: Option<Amount>,
    /// Pre-set instrument.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_instrument: Option<Instrument>,
    /// Pre-set PISP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pisp: Option<Pisp>,
    /// Pre-set execution date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_date: Option<String>,
    /// Issued at (unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Expires at (unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
}

/// A closed Payment Mandate: what the agent signed for one payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ClosedMandate {
    /// `mandate.payment.1`.
    pub vct: String,
    /// Hash of the checkout this payment belongs to.
    pub transaction_id: String,
    /// The payee.
    pub payee: Merchant,
    /// The amount.
    pub payment_amount: Amount,
    /// The instrument.
    pub payment_instrument: Instrument,
    /// The PISP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pisp: Option<Pisp>,
    /// Execution date (ISO 8601); absent means now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_date: Option<String>,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Expires at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
}

/// How much of a mandate earlier accepted payments used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Usage {
    /// Sum of their amounts, in minor units.
    pub total_amount: i64,
    /// How many.
    pub total_uses: u32,
}

/// Parses a JSON value into `T`, mapping failure to `MALFORMED` naming `what`.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(
    value: Value,
    what: &str,
) -> Result<T, Rejection> {
    serde_json::from_value(value)
        .map_err(|e| Rejection::new(ReasonCode::Malformed, format!("{what}: {e}")))
}

/// A published key set (RFC 7517 section 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// What an operator asks for when granting an agent a mandate.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewMandate {
    /// The API key (the agent) the mandate is for.
    pub api_key_id: crate::id::ApiKeyId,
    /// The agent's public key: the only key that can present the mandate (`cnf`).
    pub agent_jwk: Jwk,
    /// The constraints (at least one; amounts in minor units, budget in major units).
    pub constraints: Vec<Constraint>,
    /// Lifetime in seconds (default 3600, at most 30 days).
    #[serde(default)]
    pub ttl_secs: Option<i64>,
}

/// A mandate the tenant issued.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MandateRecord {
    /// Id (`mdt_…`).
    pub id: crate::id::MandateId,
    /// The agent's API key.
    pub api_key_id: crate::id::ApiKeyId,
    /// The issuer key that signed it.
    pub issuer_kid: String,
    /// base64url(SHA-256(issuer JWT)): how a presented chain names it.
    pub mandate_digest: String,
    /// The open SD-JWT to hand to the agent (it is the agent's credential; only its `cnf`
    /// key can present it).
    pub token: String,
    /// The open mandate as signed.
    pub mandate: OpenMandate,
    /// Who issued it.
    pub created_by: String,
    /// When.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it expires.
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// When it was revoked.
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// What accepted payments used of it.
    pub usage: Usage,
}
