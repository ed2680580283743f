//! Backtesting: replay labelled operations in time order through a rule set with in-memory
//! windows and report hits, precision and recall against the labels, and the share of volume
//! that would have been reviewed or blocked. Sources: a CSV of labelled transactions
//! ([`parse_csv`]), the tenant's stored history (`Platform::backtest_stored`), or the
//! deterministic synthetic set with planted fraud ([`synthetic`]).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::engine::OwnedTxn;
use super::rules::{Key, RuleSet, Subject};
use super::window::MemoryWindows;
use super::Decision;
use crate::error::{Error, Result};
use crate::money::{Currency, Money};

/// One operation with its label (`fraud = true` for known fraud).
#[derive(Debug, Clone)]
pub struct LabelledTxn {
    /// The operation.
    pub txn: OwnedTxn,
    /// Known fraud.
    pub fraud: bool,
}

/// Hits of one rule in a backtest.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleStats {
    /// Operations it hit.
    pub hits: u64,
    /// Of those, labelled fraud.
    pub fraud_hits: u64,
    /// The rule runs in shadow mode (recorded, not enforced).
    pub shadow: bool,
}

/// Volume by outcome in one currency.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeShare {
    /// All volume.
    pub total: Money,
    /// Volume that would have been held for review.
    pub reviewed: Money,
    /// Volume that would have been blocked.
    pub blocked: Money,
    /// `reviewed / total`, 4 decimal places.
    pub reviewed_share: Decimal,
    /// `blocked / total`, 4 decimal places.
    pub blocked_share: Decimal,
}

/// What a backtest found. "Flagged" means review or block.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestReport {
    /// Operations replayed.
    pub transactions: u64,
    /// Of which labelled fraud.
    pub labelled_fraud: u64,
    /// Allowed.
    pub allowed: u64,
    /// Held for review.
    pub reviewed: u64,
    /// Blocked.
    pub blocked: u64,
    /// Flagged and labelled fraud.
    pub true_positives: u64,
    /// Flagged but labelled legitimate.
    pub false_positives: u64,
    /// Labelled fraud but allowed.
    pub false_negatives: u64,
    /// `tp / (tp + fp)`, 4 decimal places; `None` when nothing was flagged.
    pub precision: Option<Decimal>,
    /// `tp / (tp + fn)`, 4 decimal places; `None` when nothing is labelled fraud.
    pub recall: Option<Decimal>,
    /// Volume per currency code.
    pub volume: BTreeMap<String, VolumeShare>,
    /// Hits per rule name (shadow rules included).
    pub rules: BTreeMap<String, RuleStats>,
}

fn ratio(n: u64, d: u64) -> Option<Decimal> {
    (d > 0).then(|| (Decimal::from(n) / Decimal::from(d)).round_dp(4))
}

fn ratio_i(n: i64, d: i64) -> Decimal {
    if d == 0 {
        Decimal::ZERO
    } else {
        (Decimal::from(n) / Decimal::from(d)).round_dp(4)
    }
}

/// Replays `records` (sorted here by time, stably) through `rules`.
pub fn run(rules: &RuleSet, records: &mut [LabelledTxn]) -> BacktestReport {
    records.sort_by_key(|r| r.txn.at_micros);
    let mut windows = MemoryWindows::for_rules(rules);
    let mut stats = Vec::new();
    let mut r = BacktestReport {
        transactions: 0,
        labelled_fraud: 0,
        allowed: 0,
        reviewed: 0,
        blocked: 0,
        true_positives: 0,
        false_positives: 0,
        false_negatives: 0,
        precision: None,
        recall: None,
        volume: BTreeMap::new(),
        rules: BTreeMap::new(),
    };
    // Per currency: (total, reviewed, blocked) minor units.
    let mut volume: BTreeMap<&'static str, (Currency, i64, i64, i64)> = BTreeMap::new();
    for rec in records.iter() {
        let txn = rec.txn.txn();
        windows.record(&txn);
        windows.stats(rules, &txn, &mut stats);
        let a = rules.evaluate(&txn, &stats);
        r.transactions += 1;
        r.labelled_fraud += u64::from(rec.fraud);
        let v = volume
            .entry(txn.currency.code())
            .or_insert((txn.currency, 0, 0, 0));
        v.1 = v.1.saturating_add(txn.amount_minor);
        match a.decision {
            Decision::Allow => r.allowed += 1,
            Decision::Review => {
                r.reviewed += 1;
                v.2 = v.2.saturating_add(txn.amount_minor);
            }
            Decision::Block => {
                r.blocked += 1;
                v.3 = v.3.saturating_add(txn.amount_minor);
            }
        }
        let flagged = a.decision != Decision::Allow;
        match (flagged, rec.fraud) {
            (true, true) => r.true_positives += 1,
            (true, false) => r.false_positives += 1,
            (false, true) => r.false_negatives += 1,
            (false, false) => {}
        }
        for hit in &a.hits {
            let s = r.rules.entry(hit.rule.clone()).or_default();
            s.hits += 1;
            s.fraud_hits += u64::from(rec.fraud);
            s.shadow = hit.shadow;
        }
    }
    r.precision = ratio(r.true_positives, r.true_positives + r.false_positives);
    r.recall = ratio(r.true_positives, r.true_positives + r.false_negatives);
    for (code, (c, total, reviewed, blocked)) in volume {
        r.volume.insert(
            code.to_owned(),
            VolumeShare {
                total: Money::from_minor(total, c),
                reviewed: Money::from_minor(reviewed, c),
                blocked: Money::from_minor(blocked, c),
                reviewed_share: ratio_i(reviewed, total),
                blocked_share: ratio_i(blocked, total),
            },
        );
    }
    r
}

/// The columns a backtest CSV may have (header line required, any order). `at`, `amount`
/// and `currency` are required; `label` is `fraud`/`legit` (or `1`/`0`, `true`/`false`),
/// absent or empty meaning legit.
pub const CSV_COLUMNS: [&str; 13] = [
    "at",
    "subject",
    "amount",
    "currency",
    "payer",
    "payee",
    "payment_method",
    "api_key",
    "ip",
    "country",
    "category",
    "symbol",
    "label",
];

/// Parses a labelled CSV: comma-separated, no quoting (a field containing `"` is refused),
/// `at` as RFC 3339 (`2026-01-05T14:03:00Z`) or integer microseconds since the epoch, `amount`
/// as a decimal string exact in the currency. Every error names the line.
pub fn parse_csv(text: &str) -> Result<Vec<LabelledTxn>> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| Error::validation("csv", "empty file; expected a header line"))?;
    let mut idx = [usize::MAX; 13];
    let header: Vec<&str> = header.split(',').map(str::trim).collect();
    for (i, h) in header.iter().enumerate() {
        let Some(c) = CSV_COLUMNS.iter().position(|c| c == h) else {
            return Err(Error::validation(
                "csv",
                format!("unknown column {h:?}; known: {}", CSV_COLUMNS.join(", ")),
            ));
        };
        if idx[c] != usize::MAX {
            return Err(Error::validation(
                "csv",
                format!("column {h:?} appears twice"),
            ));
        }
        idx[c] = i;
    }
    for required in [0, 2, 3] {
        if idx[required] == usize::MAX {
            return Err(Error::validation(
                "csv",
                format!("missing required column {:?}", CSV_COLUMNS[required]),
            ));
        }
    }
    let mut out = Vec::new();
    for (n, line) in lines {
        let line_no = n + 1;
        let bad = |msg: String| Error::validation(format!("csv line {line_no}"), msg);
        if line.contains('"') {
            return Err(bad("quoted fields are not supported".into()));
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != header.len() {
            return Err(bad(format!(
                "{} fields, the header has {}",
                fields.len(),
                header.len()
            )));
        }
        let get = |c: usize| -> Option<&str> {
            idx.get(c)
                .and_then(|&i| fields.get(i).copied())
                .filter(|v| !v.is_empty())
        };
        let at = get(0).ok_or_else(|| bad("at is empty".into()))?;
        let at_micros = match at.parse::<i64>() {
            Ok(m) => m,
            Err(_) => chrono::DateTime::parse_from_rfc3339(at)
                .map_err(|e| bad(format!("at {at:?}: {e}")))?
                .timestamp_micros(),
        };
        let subject = match get(1) {
            None | Some("payment") => Subject::Payment,
            Some("order") => Subject::Order,
            Some(s) => return Err(bad(format!("subject {s:?}: expected payment or order"))),
        };
        let amount = Money::parse(
            get(2).ok_or_else(|| bad("amount is empty".into()))?,
            get(3).ok_or_else(|| bad("currency is empty".into()))?,
        )
        .map_err(|e| bad(e.to_string()))?;
        if !amount.is_positive() {
            return Err(bad("amount must be greater than zero".into()));
        }
        let fraud = match get(12) {
            None | Some("legit") | Some("0") | Some("false") => false,
            Some("fraud") | Some("1") | Some("true") => true,
            Some(l) => return Err(bad(format!("label {l:?}: expected fraud or legit"))),
        };
        let own = |c: usize| get(c).map(str::to_owned);
        let mut keys: [Option<String>; 5] = Default::default();
        for (k, c) in [
            (Key::Payer, 4),
            (Key::Payee, 5),
            (Key::PaymentMethod, 6),
            (Key::ApiKey, 7),
            (Key::Ip, 8),
        ] {
            keys[k.index()] = own(c);
        }
        out.push(LabelledTxn {
            txn: OwnedTxn {
                subject,
                at_micros,
                currency: amount.currency(),
                amount_minor: amount.to_minor().map_err(|e| bad(e.to_string()))?,
                keys,
                country: own(9),
                category: own(10),
                symbol: own(11),
                position_after_minor: None,
                equity_minor: None,
            },
            fraud,
        });
    }
    Ok(out)
}

/// Writes records as CSV in the format [`parse_csv`] reads (all columns).
pub fn to_csv(records: &[LabelledTxn]) -> String {
    let mut s = CSV_COLUMNS.join(",");
    s.push('\n');
    for r in records {
        let t = &r.txn;
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        let fields = [
            t.at_micros.to_string(),
            t.subject.as_str().to_owned(),
            Money::from_minor(t.amount_minor, t.currency)
                .amount()
                .to_string(),
            t.currency.code().to_owned(),
            o(&t.keys[0]),
            o(&t.keys[1]),
            o(&t.keys[2]),
            o(&t.keys[3]),
            o(&t.keys[4]),
            o(&t.country),
            o(&t.category),
            o(&t.symbol),
            if r.fraud { "fraud" } else { "legit" }.to_owned(),
        ];
        s.push_str(&fields.join(","));
        s.push('\n');
    }
    s
}

/// SplitMix64: a tiny deterministic generator, stable across platforms and crate versions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi]`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = u64::try_from(hi - lo + 1).unwrap_or(1);
        lo + i64::try_from(self.next() % span).unwrap_or(0)
    }

    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
}

/// Monday 2026-01-05 00:00:00 UTC, in micros: the start of the synthetic data set.
pub const SYNTHETIC_START_MICROS: i64 = 1_767_571_200_000_000;

const HOUR: i64 = 3_600_000_000;
const MINUTE: i64 = 60_000_000;

/// Which planted pattern a synthetic record belongs to (for tests that check each).
pub fn pattern_of(r: &LabelledTxn) -> &'static str {
    match r.txn.keys[Key::Payer.index()].as_deref() {
        Some(p) if p.starts_with("cus_ct") => "card_testing",
        Some(p) if p.starts_with("cus_st") => "structuring",
        Some(p) if p.starts_with("cus_ato") => "account_takeover",
        Some(p) if p.starts_with("cus_bc") => "blocked_country",
        _ => "legit",
    }
}

/// A deterministic labelled data set of `days` days of USD payments by 300 customers, with
/// planted fraud: card-testing bursts (8–15 small payments on one new card within minutes),
/// structuring (3–4 payments of 9,100–9,950 within hours), account takeover (a 2,000–8,000
/// payment to a new payee between 01:00 and 05:00) and payments from a blocked country.
/// Legitimate traffic includes hard cases: occasional large payments (some above 10,000),
/// payments to new payees, and late-night small purchases.
pub fn synthetic(seed: u64, days: u32) -> Vec<LabelledTxn> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    let usd = Currency::USD;
    let mk = |at: i64,
              amount: i64,
              payer: String,
              payee: String,
              pm: String,
              ip: String,
              country: &str,
              fraud: bool| {
        let mut keys: [Option<String>; 5] = Default::default();
        keys[Key::Payer.index()] = Some(payer);
        keys[Key::Payee.index()] = Some(payee);
        keys[Key::PaymentMethod.index()] = Some(pm);
        keys[Key::Ip.index()] = Some(ip);
        LabelledTxn {
            txn: OwnedTxn {
                subject: Subject::Payment,
                at_micros: at,
                currency: usd,
                amount_minor: amount,
                keys,
                country: Some(country.to_owned()),
                category: None,
                symbol: None,
                position_after_minor: None,
                equity_minor: None,
            },
            fraud,
        }
    };
    const CUSTOMERS: i64 = 300;
    for day in 0..i64::from(days) {
        let day0 = SYNTHETIC_START_MICROS + day * 24 * HOUR;
        for c in 0..CUSTOMERS {
            let n = rng.range(0, 3);
            for _ in 0..n {
                let at = day0 + rng.range(7, 22) * HOUR + rng.range(0, 59) * MINUTE;
                let (amount, payee) = if rng.chance(20) {
                    // A large legitimate payment to a regular payee.
                    (
                        rng.range(150_000, 1_200_000),
                        format!("payee_{c}_{}", rng.range(0, 2)),
                    )
                } else if rng.chance(50) {
                    // Somewhere new, small.
                    (
                        rng.range(500, 20_000),
                        format!("shop_{}", rng.range(0, 5_000)),
                    )
                } else {
                    (
                        rng.range(500, 40_000),
                        format!("payee_{c}_{}", rng.range(0, 2)),
                    )
                };
                out.push(mk(
                    at,
                    amount,
                    format!("cus_{c}"),
                    payee,
                    format!("pm_{c}"),
                    format!("10.0.{}.{}", c / 250, c % 250),
                    if c % 10 == 0 { "CA" } else { "US" },
                    false,
                ));
            }
            // A night owl: small late-night purchases at usual places.
            if c % 25 == 0 && rng.chance(300) {
                let at = day0 + rng.range(1, 4) * HOUR + rng.range(0, 59) * MINUTE;
                out.push(mk(
                    at,
                    rng.range(500, 5_000),
                    format!("cus_{c}"),
                    format!("payee_{c}_0"),
                    format!("pm_{c}"),
                    format!("10.0.{}.{}", c / 250, c % 250),
                    "US",
                    false,
                ));
            }
        }
        // Planted fraud, one of each pattern per day on average.
        if rng.chance(800) {
            let k = format!("{day}_{}", rng.range(0, 999));
            let start = day0 + rng.range(0, 23) * HOUR + rng.range(0, 50) * MINUTE;
            for i in 0..rng.range(8, 15) {
                out.push(mk(
                    start + i * rng.range(10, 40) * 1_000_000,
                    rng.range(100, 500),
                    format!("cus_ct_{k}"),
                    format!("shop_{}", rng.range(0, 5_000)),
                    format!("pm_stolen_{k}"),
                    format!("203.0.113.{}", rng.range(1, 254)),
                    "US",
                    true,
                ));
            }
        }
        if rng.chance(800) {
            let k = format!("{day}_{}", rng.range(0, 999));
            let start = day0 + rng.range(8, 12) * HOUR;
            for i in 0..rng.range(3, 4) {
                out.push(mk(
                    start + i * rng.range(1, 3) * HOUR,
                    rng.range(910_000, 995_000),
                    format!("cus_st_{k}"),
                    format!("payee_st_{k}_{i}"),
                    format!("pm_st_{k}_{i}"),
                    format!("198.51.100.{}", rng.range(1, 254)),
                    "US",
                    true,
                ));
            }
        }
        if rng.chance(800) {
            let k = format!("{day}_{}", rng.range(0, 999));
            out.push(mk(
                day0 + rng.range(1, 4) * HOUR + rng.range(0, 59) * MINUTE,
                rng.range(200_000, 800_000),
                format!("cus_ato_{k}"),
                format!("mule_{k}"),
                format!("pm_ato_{k}"),
                format!("192.0.2.{}", rng.range(1, 254)),
                "US",
                true,
            ));
        }
        if rng.chance(800) {
            let k = format!("{day}_{}", rng.range(0, 999));
            out.push(mk(
                day0 + rng.range(8, 20) * HOUR,
                rng.range(1_000, 50_000),
                format!("cus_bc_{k}"),
                format!("shop_{}", rng.range(0, 5_000)),
                format!("pm_bc_{k}"),
                format!("192.0.2.{}", rng.range(1, 254)),
                if rng.chance(500) { "KP" } else { "IR" },
                true,
            ));
        }
    }
    out.sort_by_key(|r| r.txn.at_micros);
    out
}
