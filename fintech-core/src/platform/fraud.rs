//! Fraud through the door: rule sets per tenant (versioned), the review queue (list, inspect,
//! approve, reject — each exactly once, audited and evented), and backtests.

use serde::{Deserialize, Serialize};

use super::{audit_entry, finish_once, to_value, validate_text, Executed, Idem, Platform};
use crate::auth::{Principal, Scope};
use crate::error::{ConflictCode, Error, Result};
use crate::events::types;
use crate::fraud::backtest::{self, BacktestReport, LabelledTxn};
use crate::fraud::{Assessment, CaseStatus, FraudCase, RuleFormat, RuleSet, StoredRuleSet};
use crate::id::{CaseId, OrderId, PaymentId};
use crate::storage::{CaseResolution, Tx};

/// Filters for listing review cases.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseQuery {
    /// Only this status (`open` for the queue).
    #[serde(default)]
    pub status: Option<CaseStatus>,
    /// Page size (default 100, max 500).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
}

/// Which rules a backtest runs.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rules")]
pub enum BacktestRules {
    /// The tenant's active stored rule set.
    Active,
    /// A candidate source, not stored.
    Source {
        /// The source text.
        source: String,
        /// Its format.
        format: RuleFormat,
    },
}

/// Most rule-set source accepted, in bytes.
const MAX_RULES_BYTES: usize = 256 * 1024;
/// Most payments a stored-history backtest replays (newest first).
const MAX_BACKTEST_ROWS: i64 = 1_000_000;

impl Platform {
    /// Installs a new version of the tenant's rule set (admin). The source is parsed and
    /// compiled first: a bad source is refused with the rule and field at fault, and nothing
    /// is stored. The new version applies to the next screened operation on every instance.
    pub async fn set_fraud_rules(
        &self,
        p: &Principal,
        source: &str,
        format: RuleFormat,
        idempotency_key: Option<String>,
    ) -> Result<Executed<StoredRuleSet>> {
        p.require(Scope::Admin)?;
        if source.len() > MAX_RULES_BYTES {
            return Err(Error::validation(
                "rules",
                format!("at most {MAX_RULES_BYTES} bytes"),
            ));
        }
        let set = RuleSet::from_source(source, format)?;
        let request = (source, format);
        self.once(
            p,
            idempotency_key,
            "fraud.rules.set",
            &request,
            |idem| async move {
                let idem = idem.as_ref();
                let now = crate::storage::now();
                let mut tx = self.inner.store.begin().await?;
                let version = tx
                    .insert_rule_set(
                        &p.tenant_id,
                        format,
                        source,
                        &p.actor.to_string(),
                        now.timestamp_micros(),
                    )
                    .await?;
                let stored = StoredRuleSet {
                    version,
                    format,
                    source: source.to_owned(),
                    created_by: p.actor.to_string(),
                    created_at: now,
                };
                let data =
                    serde_json::json!({ "version": version, "format": format, "rules": set.len() });
                let id = format!("rules_v{version}");
                let answer = self.kept(p, idem, &stored, false)?;
                finish_once(
                    &mut tx,
                    p,
                    idem,
                    answer.as_deref(),
                    &[(types::FRAUD_RULES_UPDATED, id.as_str(), data)],
                    audit_entry(
                        p,
                        "fraud.rules.set",
                        "fraud_rule_set",
                        &id,
                        idem.map(|i| i.key.as_str()),
                        &format!("version {version}, {} rules", set.len()),
                    ),
                )
                .await?;
                tx.commit().await?;
                Ok(stored)
            },
        )
        .await
    }

    /// The tenant's active rule set (`None`: no rules, everything is allowed).
    pub async fn fraud_rules(&self, p: &Principal) -> Result<Option<StoredRuleSet>> {
        p.require(Scope::FraudRead)?;
        match self
            .inner
            .store
            .active_rule_set_version(&p.tenant_id)
            .await?
        {
            Some(v) => self.inner.store.rule_set(&p.tenant_id, v).await,
            None => Ok(None),
        }
    }

    /// One stored version of the tenant's rule set.
    pub async fn fraud_rules_version(&self, p: &Principal, version: i64) -> Result<StoredRuleSet> {
        p.require(Scope::FraudRead)?;
        self.inner
            .store
            .rule_set(&p.tenant_id, version)
            .await?
            .ok_or_else(|| Error::not_found("fraud_rule_set", version))
    }

    /// Review cases, newest first.
    pub async fn fraud_cases(&self, p: &Principal, q: &CaseQuery) -> Result<Vec<FraudCase>> {
        p.require(Scope::FraudRead)?;
        super::validate_limit(q.limit)?;
        self.inner
            .store
            .fraud_cases(&p.tenant_id, q.status, q.limit)
            .await
    }

    /// One review case, with the assessment that opened it.
    pub async fn fraud_case(&self, p: &Principal, id: &CaseId) -> Result<FraudCase> {
        p.require(Scope::FraudRead)?;
        self.case_row(p, id).await
    }

    /// The caller's tenant's case, without a scope check (resolving a case needs
    /// `approvals:write`, not also `fraud:read`).
    async fn case_row(&self, p: &Principal, id: &CaseId) -> Result<FraudCase> {
        self.inner
            .store
            .fraud_case(&p.tenant_id, id)
            .await?
            .ok_or_else(|| Error::not_found("fraud_case", id))
    }

    /// Approves an open case (operator, comment required): the held payment is charged or
    /// the held order sent, exactly once however many approvals race.
    pub async fn approve_fraud_case(
        &self,
        p: &Principal,
        id: &CaseId,
        comment: String,
        idempotency_key: Option<String>,
    ) -> Result<Executed<FraudCase>> {
        self.decide_case(p, id, comment, true, idempotency_key)
            .await
    }

    /// Rejects an open case (operator, comment required): the held operation is cancelled and
    /// no money moves.
    pub async fn reject_fraud_case(
        &self,
        p: &Principal,
        id: &CaseId,
        comment: String,
        idempotency_key: Option<String>,
    ) -> Result<Executed<FraudCase>> {
        self.decide_case(p, id, comment, false, idempotency_key)
            .await
    }

    /// Approves or rejects a case through its held object's approval or rejection; under an
    /// idempotency key the case is the kept answer, and a retry after the decision committed
    /// (found by the key in the decision's audit record) answers the case as it stands.
    async fn decide_case(
        &self,
        p: &Principal,
        id: &CaseId,
        comment: String,
        approve: bool,
        idempotency_key: Option<String>,
    ) -> Result<Executed<FraudCase>> {
        self.check_case_comment(p, &comment)?;
        let (operation, request) = (
            if approve {
                "fraud_cases.approve"
            } else {
                "fraud_cases.reject"
            },
            (id, comment.clone()),
        );
        self.once(p, idempotency_key, operation, &request, |idem| async move {
            let idem = idem.as_ref();
            let case = self.case_row(p, id).await?;
            let verb = if approve { "approve" } else { "reject" };
            let action = format!("{}s.{verb}", case.object_type);
            if case.status != CaseStatus::Open
                && self
                    .approved_under(p, &case.object_id, &action, idem)
                    .await?
            {
                self.keep_answer(p, idem, &case).await?;
                return Ok(case);
            }
            if case.status != CaseStatus::Open {
                return Err(Error::conflict(
                    ConflictCode::InvalidState,
                    format!("case {id} is already {}", case.status.as_str()),
                ));
            }
            let step = idem.map(Idem::step);
            let comment = Some(comment.clone());
            match (case.object_type.as_str(), approve) {
                ("payment", true) => {
                    let pid = PaymentId::parse(&case.object_id)?;
                    self.approve_payment_once(p, &pid, comment, step).await?;
                }
                ("payment", false) => {
                    let pid = PaymentId::parse(&case.object_id)?;
                    self.close_held_payment(
                        p,
                        &pid,
                        crate::payments::PaymentStatus::Rejected,
                        "payments.reject",
                        comment,
                        step,
                    )
                    .await?;
                }
                ("order", true) => {
                    let oid = OrderId::parse(&case.object_id)?;
                    self.approve_order_once(p, &oid, comment, step).await?;
                }
                ("order", false) => {
                    let oid = OrderId::parse(&case.object_id)?;
                    self.reject_order_once(p, &oid, comment, step).await?;
                }
                (other, _) => {
                    return Err(Error::internal(format!("case of unknown object {other}")))
                }
            }
            let case = self.case_row(p, id).await?;
            self.keep_answer(p, idem, &case).await?;
            Ok(case)
        })
        .await
    }

    fn check_case_comment(&self, p: &Principal, comment: &str) -> Result<()> {
        p.require(Scope::ApprovalsWrite)?;
        if comment.trim().is_empty() {
            return Err(Error::validation(
                "comment",
                "say why the case is approved or rejected",
            ));
        }
        validate_text("comment", &Some(comment.to_owned()), 1000)
    }

    /// Runs rules over labelled operations given as CSV (see `fraud::backtest::parse_csv`).
    pub async fn backtest_csv(
        &self,
        p: &Principal,
        rules: &BacktestRules,
        csv: &str,
        idempotency_key: Option<String>,
    ) -> Result<Executed<BacktestReport>> {
        p.require(Scope::FraudRead)?;
        let request = (rules, csv);
        self.once(
            p,
            idempotency_key,
            "fraud.backtest",
            &request,
            |idem| async move {
                let set = self.backtest_rules(p, rules).await?;
                let mut records = backtest::parse_csv(csv)?;
                let report = backtest::run(&set, &mut records);
                self.keep_answer(p, idem.as_ref(), &report).await?;
                Ok(report)
            },
        )
        .await
    }

    /// Runs rules over the tenant's stored payments, oldest first. Labels come from the review
    /// queue: a payment whose case was rejected counts as fraud, every other one as
    /// legitimate (so recall here measures agreement with operators' past decisions).
    pub async fn backtest_stored(
        &self,
        p: &Principal,
        rules: &BacktestRules,
        idempotency_key: Option<String>,
    ) -> Result<Executed<BacktestReport>> {
        p.require(Scope::FraudRead)?;
        self.once(
            p,
            idempotency_key,
            "fraud.backtest_stored",
            rules,
            |idem| async move {
                let set = self.backtest_rules(p, rules).await?;
                let mut records: Vec<LabelledTxn> = self
                    .inner
                    .store
                    .payment_history(&p.tenant_id, MAX_BACKTEST_ROWS)
                    .await?;
                let report = backtest::run(&set, &mut records);
                self.keep_answer(p, idem.as_ref(), &report).await?;
                Ok(report)
            },
        )
        .await
    }

    async fn backtest_rules(&self, p: &Principal, rules: &BacktestRules) -> Result<RuleSet> {
        match rules {
            BacktestRules::Active => {
                let stored = self.fraud_rules(p).await?.ok_or_else(|| {
                    Error::validation("rules", "the tenant has no rule set; give a source")
                })?;
                Ok(RuleSet::from_source(&stored.source, stored.format)?
                    .with_version(stored.version))
            }
            BacktestRules::Source { source, format } => {
                if source.len() > MAX_RULES_BYTES {
                    return Err(Error::validation(
                        "rules",
                        format!("at most {MAX_RULES_BYTES} bytes"),
                    ));
                }
                RuleSet::from_source(source, *format)
            }
        }
    }

    /// Opens the review case of a held operation inside its creating transaction; returns the
    /// case as event data.
    pub(super) async fn open_case(
        &self,
        tx: &mut Tx,
        p: &Principal,
        object_type: &str,
        object_id: &str,
        assessment: &Option<Assessment>,
    ) -> Result<serde_json::Value> {
        let case = FraudCase {
            id: CaseId::generate(),
            object_type: object_type.to_owned(),
            object_id: object_id.to_owned(),
            status: CaseStatus::Open,
            assessment: assessment.clone().unwrap_or_else(Assessment::allow),
            created_at: crate::storage::now(),
            resolved_by: None,
            resolved_at: None,
            comment: None,
        };
        tx.insert_fraud_case(&p.tenant_id, &case).await?;
        to_value(&case)
    }

    /// Resolves the open case of a held operation inside the transaction that moves the
    /// operation out of `pending_review` (so both happen once, together); returns event data.
    pub(super) async fn resolve_case(
        &self,
        tx: &mut Tx,
        p: &Principal,
        object_type: &str,
        object_id: &str,
        to: CaseStatus,
        comment: Option<&str>,
    ) -> Result<serde_json::Value> {
        let at = crate::storage::now();
        let by = p.actor.to_string();
        let resolution = CaseResolution {
            to,
            by: &by,
            comment,
            at_micros: at.timestamp_micros(),
        };
        if !tx
            .resolve_fraud_case(&p.tenant_id, object_type, object_id, &resolution)
            .await?
        {
            return Err(Error::conflict(
                ConflictCode::InvalidState,
                format!("the review case of {object_type} {object_id} was already decided"),
            ));
        }
        Ok(serde_json::json!({
            "object_type": object_type,
            "object_id": object_id,
            "status": to,
            "resolved_by": p.actor.to_string(),
            "resolved_at": at,
            "comment": comment,
        }))
    }
}
