//! Rules as data: the file format ([`RuleSetSpec`], TOML or JSON), its compilation into a
//! [`RuleSet`], and the pure evaluation of one [`Txn`] against prepared window statistics.
//!
//! Evaluation is synchronous, allocation-free when nothing hits (a hit allocates its reason),
//! and reads nothing but its arguments: where the window statistics come from (the database
//! for the `Platform`, memory for backtests and benchmarks) is the caller's business.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Assessment, Decision, RuleHit};
use crate::error::{Error, Result};
use crate::money::{Currency, Money};

/// The starter rule set shipped with the SDK (`fintech-core/rules/starter.toml`).
pub const STARTER_RULES: &str = include_str!("../../rules/starter.toml");

/// The format of a rule-set source.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleFormat {
    /// TOML (the documented format).
    Toml,
    /// JSON with the same structure.
    Json,
}

impl RuleFormat {
    /// The string form.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleFormat::Toml => "toml",
            RuleFormat::Json => "json",
        }
    }

    /// Parses the string form.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "toml" => Ok(RuleFormat::Toml),
            "json" => Ok(RuleFormat::Json),
            _ => Err(Error::validation("format", "expected toml or json")),
        }
    }
}

/// A rule set as written in a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSetSpec {
    /// A name for humans.
    #[serde(default)]
    pub name: Option<String>,
    /// The tenant's time zone as a fixed UTC offset (`"+00:00"`, `"-05:00"`), for
    /// `unusual_hour`.
    #[serde(default = "default_offset")]
    pub utc_offset: String,
    /// The aggregate score from which the decision is at least `review`.
    pub review_score: u32,
    /// The aggregate score from which the decision is `block`.
    pub block_score: u32,
    /// The rules, in evaluation order.
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleSpec>,
}

fn default_offset() -> String {
    "+00:00".to_owned()
}

/// One rule as written in a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique name within the set; shown in every hit.
    pub name: String,
    /// What the rule asks for when it matches (`allow`, `review`, `block`); omitted: the rule
    /// only adds its score (its hits show `action = "allow"`).
    #[serde(default)]
    pub action: Option<Decision>,
    /// Weight added to the aggregate score when it matches.
    #[serde(default)]
    pub score: u32,
    /// Recorded, not enforced: the hit is listed with `shadow = true` and neither decides nor
    /// scores.
    #[serde(default)]
    pub shadow: bool,
    /// The condition.
    pub when: Condition,
}

/// Amounts per currency code: `{ USD = "10000.00", EUR = "9000.00" }`. A rule with amounts
/// does not apply to a currency it does not name (no conversion is made).
pub type Amounts = BTreeMap<String, String>;

/// The condition of a rule (one kind per rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// A payment's amount is strictly above the threshold of its currency.
    AmountAbove {
        /// Thresholds per currency.
        amount: Amounts,
    },
    /// Too many payments (or orders), or too much money, for one key within a sliding window.
    Velocity(VelocitySpec),
    /// A payment above an amount to a payee the payer has never paid before.
    NewPayee {
        /// Thresholds per currency (strictly above).
        above: Amounts,
    },
    /// The value of a field is (or is not) in a list: blocked or allowed countries,
    /// merchants (payees), categories, payment methods, IPs, symbols.
    List(ListSpec),
    /// Several payments just below a reporting or approval threshold within a window.
    Structuring(StructuringSpec),
    /// The local hour (in the set's `utc_offset`) is within `[from_hour, to_hour)`;
    /// `from_hour > to_hour` wraps around midnight.
    UnusualHour {
        /// First unusual hour, 0–23.
        from_hour: u32,
        /// First usual hour again, 0–23.
        to_hour: u32,
    },
    /// An order's notional is strictly above the limit of its currency.
    OrderNotionalAbove {
        /// Limits per currency.
        amount: Amounts,
    },
    /// A buy would make the position more than this share of account equity.
    Concentration {
        /// Percent of equity, 1–100.
        max_percent: u32,
    },
    /// More orders than this within the last minute for one key.
    OrderRate {
        /// Orders per minute allowed (the next one hits).
        per_minute: u32,
        /// The key counted (default `api_key`).
        #[serde(default = "default_order_key")]
        key: Key,
    },
}

fn default_order_key() -> Key {
    Key::ApiKey
}

fn default_payer() -> Key {
    Key::Payer
}

/// A velocity condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VelocitySpec {
    /// What is counted per value.
    pub key: Key,
    /// Window length: `"90s"`, `"15m"`, `"1h"`, `"1d"`.
    pub window: String,
    /// Hits when more than this many operations (this one included) fall in the window.
    #[serde(default)]
    pub max_count: Option<u32>,
    /// Hits when the sum (this one included, same currency) is strictly above this.
    #[serde(default)]
    pub max_sum: Option<Amounts>,
    /// Payments (default) or orders.
    #[serde(default)]
    pub subject: Subject,
}

/// A list condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSpec {
    /// The field compared.
    pub field: Field,
    /// The values (compared case-insensitively).
    pub values: Vec<String>,
    /// `in` (a block list: hits when the value is listed) or `not_in` (an allow list: hits
    /// when the value is present and not listed). An absent value never hits.
    #[serde(rename = "match", default)]
    pub matching: ListMatch,
}

/// A structuring condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StructuringSpec {
    /// The threshold being avoided, per currency.
    pub threshold: Amounts,
    /// "Just below" means at least `threshold × (100 − margin_percent) / 100` and strictly
    /// below the threshold.
    pub margin_percent: u32,
    /// Window length.
    pub window: String,
    /// Hits when at least this many payments (this one included) are just below.
    pub min_count: u32,
    /// The key counted (default `payer`).
    #[serde(default = "default_payer")]
    pub key: Key,
}

/// Payments or orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// Payments.
    #[default]
    Payment,
    /// Brokerage orders.
    Order,
}

impl Subject {
    /// The string form.
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Payment => "payment",
            Subject::Order => "order",
        }
    }
}

/// What velocity is counted per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    /// The customer, or the actor when no customer is given.
    Payer,
    /// The payee (merchant).
    Payee,
    /// The payment method token.
    PaymentMethod,
    /// The API key acting.
    ApiKey,
    /// The caller's IP address.
    Ip,
}

impl Key {
    /// Every key, in a stable order.
    pub const ALL: [Key; 5] = [
        Key::Payer,
        Key::Payee,
        Key::PaymentMethod,
        Key::ApiKey,
        Key::Ip,
    ];

    /// The string form (also the storage column name).
    pub fn as_str(self) -> &'static str {
        match self {
            Key::Payer => "payer",
            Key::Payee => "payee",
            Key::PaymentMethod => "payment_method",
            Key::ApiKey => "api_key",
            Key::Ip => "ip",
        }
    }

    /// Position in [`Key::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Fields a list rule can compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// ISO 3166 country code of the counterparty or card.
    Country,
    /// The payee (merchant).
    Payee,
    /// Merchant category.
    Category,
    /// Payment method token.
    PaymentMethod,
    /// Caller IP.
    Ip,
    /// Order symbol.
    Symbol,
}

impl Field {
    fn as_str(self) -> &'static str {
        match self {
            Field::Country => "country",
            Field::Payee => "payee",
            Field::Category => "category",
            Field::PaymentMethod => "payment_method",
            Field::Ip => "ip",
            Field::Symbol => "symbol",
        }
    }
}

/// `in` or `not_in`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListMatch {
    /// Hits when listed.
    #[default]
    In,
    /// Hits when not listed.
    NotIn,
}

/// One operation to evaluate, borrowed from the caller. Amounts are integer minor units of
/// `currency`.
#[derive(Debug, Clone, Copy)]
pub struct Txn<'a> {
    /// Payment or order.
    pub subject: Subject,
    /// When, in microseconds since the epoch.
    pub at_micros: i64,
    /// Currency of `amount_minor`.
    pub currency: Currency,
    /// The payment amount or the order notional, in minor units.
    pub amount_minor: i64,
    /// Values of the keys, indexed by [`Key::index`].
    pub keys: [Option<&'a str>; 5],
    /// Country code, if known.
    pub country: Option<&'a str>,
    /// Merchant category, if known.
    pub category: Option<&'a str>,
    /// Order symbol.
    pub symbol: Option<&'a str>,
    /// For buys: the position value after the order, in minor units of `currency`.
    pub position_after_minor: Option<i64>,
    /// Account equity, in minor units of `currency`.
    pub equity_minor: Option<i64>,
}

impl<'a> Txn<'a> {
    /// A payment with only the amount set.
    pub fn payment(at_micros: i64, amount: Money) -> Result<Self> {
        Ok(Self {
            subject: Subject::Payment,
            at_micros,
            currency: amount.currency(),
            amount_minor: amount.to_minor()?,
            keys: [None; 5],
            country: None,
            category: None,
            symbol: None,
            position_after_minor: None,
            equity_minor: None,
        })
    }

    /// The value of a key.
    pub fn key(&self, k: Key) -> Option<&'a str> {
        self.keys[k.index()]
    }

    /// Sets a key.
    pub fn with_key(mut self, k: Key, v: Option<&'a str>) -> Self {
        self.keys[k.index()] = v;
        self
    }

    fn field(&self, f: Field) -> Option<&'a str> {
        match f {
            Field::Country => self.country,
            Field::Payee => self.key(Key::Payee),
            Field::Category => self.category,
            Field::PaymentMethod => self.key(Key::PaymentMethod),
            Field::Ip => self.key(Key::Ip),
            Field::Symbol => self.symbol,
        }
    }
}

/// A window the rule set needs counted, one per velocity-like rule.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSpec {
    /// Payments or orders.
    pub subject: Subject,
    /// Counted per this key's value.
    pub key: Key,
    /// Only operations to the same payee (new-payee rules).
    pub same_payee: bool,
    /// Window length in microseconds; `None` for all history.
    pub window_micros: Option<i64>,
    /// Only amounts in `[lo, hi)` of the same currency (structuring), per currency.
    band: Vec<(Currency, i64, i64)>,
}

/// A window resolved for one operation: what to count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lookup<'a> {
    /// Payments or orders.
    pub subject: Subject,
    /// The key.
    pub key: Key,
    /// The key's value.
    pub value: &'a str,
    /// Only this payee, when set.
    pub payee: Option<&'a str>,
    /// Count operations strictly after this instant (micros); `None`: all history.
    pub after_micros: Option<i64>,
    /// The operation's currency (sums are per currency).
    pub currency: Currency,
    /// Only amounts in `[lo, hi)` of `currency`, when set.
    pub band: Option<(i64, i64)>,
}

impl WindowSpec {
    /// The lookup for one operation, or `None` when the window does not apply to it (the key
    /// is absent, or a banded window has no band for the currency).
    pub fn lookup<'a>(&self, txn: &Txn<'a>) -> Option<Lookup<'a>> {
        if txn.subject != self.subject {
            return None;
        }
        let value = txn.key(self.key)?;
        let payee = if self.same_payee {
            Some(txn.key(Key::Payee)?)
        } else {
            None
        };
        let band = if self.band.is_empty() {
            None
        } else {
            let &(_, lo, hi) = self.band.iter().find(|(c, _, _)| *c == txn.currency)?;
            Some((lo, hi))
        };
        Some(Lookup {
            subject: self.subject,
            key: self.key,
            value,
            payee,
            after_micros: self.window_micros.map(|w| txn.at_micros - w),
            currency: txn.currency,
            band,
        })
    }
}

/// What a window holds for one operation, **the operation itself included**.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowStat {
    /// Operations in the window (any currency; banded windows: in the band only).
    pub count: u32,
    /// Sum of their amounts in the operation's currency, minor units.
    pub sum_minor: i64,
}

/// Thresholds per currency, compiled to minor units.
#[derive(Debug, Clone, Default)]
struct Limits(Vec<(Currency, i64)>);

impl Limits {
    fn compile(rule: &str, field: &str, amounts: &Amounts) -> Result<Self> {
        let mut out = Vec::with_capacity(amounts.len());
        for (code, amount) in amounts {
            let m = Money::parse(amount, code).map_err(|e| {
                Error::validation(format!("rule {rule}: {field}.{code}"), e.to_string())
            })?;
            if m.amount().is_sign_negative() {
                return Err(Error::validation(
                    format!("rule {rule}: {field}.{code}"),
                    "must not be negative",
                ));
            }
            out.push((m.currency(), m.to_minor()?));
        }
        Ok(Self(out))
    }

    fn get(&self, c: Currency) -> Option<i64> {
        self.0.iter().find(|(k, _)| *k == c).map(|&(_, v)| v)
    }
}

#[derive(Debug, Clone)]
enum Cond {
    AmountAbove(Limits),
    Velocity {
        window: usize,
        max_count: Option<u32>,
        max_sum: Limits,
        label: Box<str>,
    },
    NewPayee {
        window: usize,
        above: Limits,
    },
    List {
        field: Field,
        values: Vec<Box<str>>,
        negate: bool,
    },
    Structuring {
        window: usize,
        min_count: u32,
        label: Box<str>,
    },
    UnusualHour {
        from: u32,
        to: u32,
    },
    OrderNotional(Limits),
    Concentration {
        max_percent: u32,
    },
    OrderRate {
        window: usize,
        per_minute: u32,
    },
}

#[derive(Debug, Clone)]
struct Rule {
    name: Box<str>,
    action: Option<Decision>,
    score: u32,
    shadow: bool,
    cond: Cond,
}

/// A compiled, validated rule set, ready to evaluate.
#[derive(Debug, Clone)]
pub struct RuleSet {
    version: Option<i64>,
    offset_secs: i64,
    review_score: u32,
    block_score: u32,
    rules: Vec<Rule>,
    windows: Vec<WindowSpec>,
}

/// Parses a window length: a positive integer and a unit `s`, `m`, `h` or `d`.
pub fn parse_window(rule: &str, s: &str) -> Result<i64> {
    let bad = || {
        Error::validation(
            format!("rule {rule}: window"),
            format!("{s:?} is not a window like \"90s\", \"15m\", \"1h\" or \"7d\""),
        )
    };
    let s = s.trim();
    if s.len() < 2 || !s.is_ascii() {
        return Err(bad());
    }
    let (n, unit) = s.split_at(s.len() - 1);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    // checked: a huge count must be refused, not wrapped into range
    match n.checked_mul(secs) {
        Some(total) if (1..=366 * 86_400).contains(&total) => Ok(total * 1_000_000),
        _ => Err(bad()),
    }
}

fn parse_offset(s: &str) -> Result<i64> {
    let bad = || {
        Error::validation(
            "utc_offset",
            format!("{s:?} is not an offset like \"+00:00\" or \"-05:30\""),
        )
    };
    let b = s.as_bytes();
    if b.len() != 6 || !(b[0] == b'+' || b[0] == b'-') || b[3] != b':' {
        return Err(bad());
    }
    let h: i64 = s[1..3].parse().map_err(|_| bad())?;
    let m: i64 = s[4..6].parse().map_err(|_| bad())?;
    if h > 14 || m > 59 {
        return Err(bad());
    }
    let secs = h * 3600 + m * 60;
    Ok(if b[0] == b'-' { -secs } else { secs })
}

impl RuleSetSpec {
    /// Parses a source in a format.
    pub fn parse(source: &str, format: RuleFormat) -> Result<Self> {
        match format {
            RuleFormat::Toml => {
                toml::from_str(source).map_err(|e| Error::validation("rules", e.to_string()))
            }
            RuleFormat::Json => crate::json::from_slice(source.as_bytes())
                .map_err(|e| Error::validation("rules", e.to_string())),
        }
    }
}

impl RuleSet {
    /// Parses and compiles a source; every problem is a validation error naming the rule.
    pub fn from_source(source: &str, format: RuleFormat) -> Result<Self> {
        Self::compile(&RuleSetSpec::parse(source, format)?)
    }

    /// The starter rule set.
    pub fn starter() -> Result<Self> {
        Self::from_source(STARTER_RULES, RuleFormat::Toml)
    }

    /// Compiles a parsed spec.
    pub fn compile(spec: &RuleSetSpec) -> Result<Self> {
        if spec.review_score == 0 || spec.block_score < spec.review_score {
            return Err(Error::validation(
                "review_score",
                "review_score must be at least 1 and block_score at least review_score",
            ));
        }
        let mut set = RuleSet {
            version: None,
            offset_secs: parse_offset(&spec.utc_offset)?,
            review_score: spec.review_score,
            block_score: spec.block_score,
            rules: Vec::with_capacity(spec.rules.len()),
            windows: Vec::new(),
        };
        let mut names = std::collections::BTreeSet::new();
        for r in &spec.rules {
            let name = r.name.trim();
            if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
                return Err(Error::validation(
                    "rule.name",
                    "1 to 100 printable characters",
                ));
            }
            if !names.insert(name.to_owned()) {
                return Err(Error::validation(
                    "rule.name",
                    format!("two rules are named {name:?}"),
                ));
            }
            let cond = set.compile_cond(name, &r.when)?;
            set.rules.push(Rule {
                name: name.into(),
                action: r.action,
                score: r.score,
                shadow: r.shadow,
                cond,
            });
        }
        Ok(set)
    }

    fn add_window(&mut self, w: WindowSpec) -> usize {
        if let Some(i) = self.windows.iter().position(|x| *x == w) {
            return i;
        }
        self.windows.push(w);
        self.windows.len() - 1
    }

    fn compile_cond(&mut self, name: &str, c: &Condition) -> Result<Cond> {
        let invalid = |field: &str, msg: &str| {
            Error::validation(format!("rule {name}: {field}"), msg.to_owned())
        };
        Ok(match c {
            Condition::AmountAbove { amount } => {
                Cond::AmountAbove(Limits::compile(name, "amount", amount)?)
            }
            Condition::Velocity(v) => {
                let window_micros = parse_window(name, &v.window)?;
                let max_sum = match &v.max_sum {
                    Some(a) => Limits::compile(name, "max_sum", a)?,
                    None => Limits::default(),
                };
                if v.max_count.is_none() && max_sum.0.is_empty() {
                    return Err(invalid("velocity", "give max_count, max_sum or both"));
                }
                let window = self.add_window(WindowSpec {
                    subject: v.subject,
                    key: v.key,
                    same_payee: false,
                    window_micros: Some(window_micros),
                    band: Vec::new(),
                });
                Cond::Velocity {
                    window,
                    max_count: v.max_count,
                    max_sum,
                    label: format!(
                        "{} per {} in {}",
                        v.subject.as_str(),
                        v.key.as_str(),
                        v.window.trim()
                    )
                    .into(),
                }
            }
            Condition::NewPayee { above } => {
                let above = Limits::compile(name, "above", above)?;
                let window = self.add_window(WindowSpec {
                    subject: Subject::Payment,
                    key: Key::Payer,
                    same_payee: true,
                    window_micros: None,
                    band: Vec::new(),
                });
                Cond::NewPayee { window, above }
            }
            Condition::List(l) => {
                if l.values.is_empty() {
                    return Err(invalid("values", "give at least one value"));
                }
                let mut values: Vec<Box<str>> = l
                    .values
                    .iter()
                    .map(|v| v.trim().to_ascii_lowercase().into())
                    .collect();
                values.sort();
                values.dedup();
                Cond::List {
                    field: l.field,
                    values,
                    negate: l.matching == ListMatch::NotIn,
                }
            }
            Condition::Structuring(s) => {
                if !(1..=99).contains(&s.margin_percent) {
                    return Err(invalid("margin_percent", "between 1 and 99"));
                }
                if s.min_count < 2 {
                    return Err(invalid("min_count", "at least 2"));
                }
                let window_micros = parse_window(name, &s.window)?;
                let limits = Limits::compile(name, "threshold", &s.threshold)?;
                if limits.0.is_empty() {
                    return Err(invalid("threshold", "give at least one currency"));
                }
                let band = limits
                    .0
                    .iter()
                    .map(|&(c, t)| {
                        // lo = ceil(t × (100 − margin) / 100), in integers.
                        let keep = i128::from(100 - s.margin_percent);
                        let lo = (i128::from(t) * keep + 99) / 100;
                        (c, i64::try_from(lo).unwrap_or(i64::MAX), t)
                    })
                    .collect();
                let window = self.add_window(WindowSpec {
                    subject: Subject::Payment,
                    key: s.key,
                    same_payee: false,
                    window_micros: Some(window_micros),
                    band,
                });
                Cond::Structuring {
                    window,
                    min_count: s.min_count,
                    label: format!("per {} in {}", s.key.as_str(), s.window.trim()).into(),
                }
            }
            Condition::UnusualHour { from_hour, to_hour } => {
                if *from_hour > 23 || *to_hour > 23 || from_hour == to_hour {
                    return Err(invalid(
                        "unusual_hour",
                        "from_hour and to_hour are 0–23 and differ",
                    ));
                }
                Cond::UnusualHour {
                    from: *from_hour,
                    to: *to_hour,
                }
            }
            Condition::OrderNotionalAbove { amount } => {
                Cond::OrderNotional(Limits::compile(name, "amount", amount)?)
            }
            Condition::Concentration { max_percent } => {
                if !(1..=100).contains(max_percent) {
                    return Err(invalid("max_percent", "between 1 and 100"));
                }
                Cond::Concentration {
                    max_percent: *max_percent,
                }
            }
            Condition::OrderRate { per_minute, key } => {
                if *per_minute == 0 {
                    return Err(invalid("per_minute", "at least 1"));
                }
                let window = self.add_window(WindowSpec {
                    subject: Subject::Order,
                    key: *key,
                    same_payee: false,
                    window_micros: Some(60_000_000),
                    band: Vec::new(),
                });
                Cond::OrderRate {
                    window,
                    per_minute: *per_minute,
                }
            }
        })
    }

    /// The same set labelled with its stored version.
    pub fn with_version(mut self, version: i64) -> Self {
        self.version = Some(version);
        self
    }

    /// The stored version, if any.
    pub fn version(&self) -> Option<i64> {
        self.version
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when the set has no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The windows the set needs counted; [`RuleSet::evaluate`] takes one [`WindowStat`] per
    /// window, in this order.
    pub fn windows(&self) -> &[WindowSpec] {
        &self.windows
    }

    /// Longest window, in microseconds (in-memory windows keep this much history); `None`
    /// when a window covers all history (new-payee rules).
    pub fn longest_window(&self) -> Option<i64> {
        let mut longest = 0;
        for w in &self.windows {
            longest = longest.max(w.window_micros?);
        }
        Some(longest)
    }

    /// Evaluates one operation. `stats[i]` is what window `i` holds for `txn`, the operation
    /// itself included (zero for windows whose lookup is `None`).
    ///
    /// Order: every rule is evaluated and every hit listed, in file order. Among enforced
    /// (non-shadow) hits that name an action, the **first** one decides the rule action; if it is `allow`, the
    /// decision is `allow` whatever the score (an explicit allow list placed first).
    /// Otherwise the decision is the stricter of that action and the score band
    /// (`score ≥ block_score`: block; `≥ review_score`: review).
    pub fn evaluate(&self, txn: &Txn<'_>, stats: &[WindowStat]) -> Assessment {
        let mut hits = Vec::new();
        let mut first: Option<Decision> = None;
        let mut score: u32 = 0;
        for rule in &self.rules {
            let Some(reason) = self.check(rule, txn, stats) else {
                continue;
            };
            if !rule.shadow {
                if first.is_none() {
                    first = rule.action;
                }
                score = score.saturating_add(rule.score);
            }
            hits.push(RuleHit {
                rule: rule.name.to_string(),
                action: rule.action.unwrap_or(Decision::Allow),
                score: rule.score,
                reason,
                shadow: rule.shadow,
            });
        }
        let decision = match first {
            Some(Decision::Allow) => Decision::Allow,
            first => {
                let band = if score >= self.block_score {
                    Decision::Block
                } else if score >= self.review_score {
                    Decision::Review
                } else {
                    Decision::Allow
                };
                band.max(first.unwrap_or(Decision::Allow))
            }
        };
        Assessment {
            decision,
            score,
            hits,
            rule_set_version: self.version,
        }
    }

    fn money(&self, minor: i64, c: Currency) -> Money {
        Money::from_minor(minor, c)
    }

    /// The reason when `rule` hits `txn`.
    fn check(&self, rule: &Rule, txn: &Txn<'_>, stats: &[WindowStat]) -> Option<String> {
        let stat = |w: usize| stats.get(w).copied().unwrap_or_default();
        let c = txn.currency;
        let pay = txn.subject == Subject::Payment;
        match &rule.cond {
            Cond::AmountAbove(limits) => {
                let t = limits.get(c)?;
                (pay && txn.amount_minor > t).then(|| {
                    format!(
                        "amount {} is above {}",
                        self.money(txn.amount_minor, c),
                        self.money(t, c)
                    )
                })
            }
            Cond::Velocity {
                window,
                max_count,
                max_sum,
                label,
            } => {
                let spec = &self.windows[*window];
                if spec.subject != txn.subject {
                    return None;
                }
                let value = txn.key(spec.key)?;
                let s = stat(*window);
                if let Some(max) = max_count {
                    if s.count > *max {
                        return Some(format!(
                            "{} {}s for {} {value:?} in the window, more than {max} ({label})",
                            s.count,
                            spec.subject.as_str(),
                            spec.key.as_str()
                        ));
                    }
                }
                let t = max_sum.get(c)?;
                (s.sum_minor > t).then(|| {
                    format!(
                        "{} for {} {value:?} in the window is above {} ({label})",
                        self.money(s.sum_minor, c),
                        spec.key.as_str(),
                        self.money(t, c)
                    )
                })
            }
            Cond::NewPayee { window, above } => {
                let t = above.get(c)?;
                let payee = txn.key(Key::Payee)?;
                txn.key(Key::Payer)?;
                // The window includes this payment: 1 means never paid before.
                (pay && stat(*window).count <= 1 && txn.amount_minor > t).then(|| {
                    format!(
                        "first payment to payee {payee:?}, {} is above {}",
                        self.money(txn.amount_minor, c),
                        self.money(t, c)
                    )
                })
            }
            Cond::List {
                field,
                values,
                negate,
            } => {
                let v = txn.field(*field)?;
                let listed = contains_folded(values, v);
                (listed != *negate).then(|| {
                    if *negate {
                        format!("{} {v:?} is not in the allowed list", field.as_str())
                    } else {
                        format!("{} {v:?} is in the blocked list", field.as_str())
                    }
                })
            }
            Cond::Structuring {
                window,
                min_count,
                label,
            } => {
                let spec = &self.windows[*window];
                if !pay {
                    return None;
                }
                let &(_, lo, hi) = spec.band.iter().find(|(k, _, _)| *k == c)?;
                if txn.amount_minor < lo || txn.amount_minor >= hi {
                    return None;
                }
                let s = stat(*window);
                (s.count >= *min_count).then(|| {
                    format!(
                        "{} payments between {} and {} ({label}), at least {min_count}",
                        s.count,
                        self.money(lo, c),
                        self.money(hi, c)
                    )
                })
            }
            Cond::UnusualHour { from, to } => {
                let local = txn.at_micros.div_euclid(1_000_000) + self.offset_secs;
                let hour = u32::try_from(local.rem_euclid(86_400) / 3600).unwrap_or(0);
                let unusual = if from < to {
                    (*from..*to).contains(&hour)
                } else {
                    hour >= *from || hour < *to
                };
                unusual.then(|| {
                    format!("local hour {hour:02} is within the unusual hours {from:02}–{to:02}")
                })
            }
            Cond::OrderNotional(limits) => {
                let t = limits.get(c)?;
                (!pay && txn.amount_minor > t).then(|| {
                    format!(
                        "order notional {} is above {}",
                        self.money(txn.amount_minor, c),
                        self.money(t, c)
                    )
                })
            }
            Cond::Concentration { max_percent } => {
                let (pos, eq) = (txn.position_after_minor?, txn.equity_minor?);
                if pay || eq <= 0 {
                    return None;
                }
                // pos / eq > max / 100  <=>  pos × 100 > max × eq (exact integers).
                (i128::from(pos) * 100 > i128::from(*max_percent) * i128::from(eq)).then(|| {
                    format!(
                        "position after the order {} is more than {max_percent}% of equity {}",
                        self.money(pos, c),
                        self.money(eq, c)
                    )
                })
            }
            Cond::OrderRate { window, per_minute } => {
                let spec = &self.windows[*window];
                if pay {
                    return None;
                }
                let value = txn.key(spec.key)?;
                let n = stat(*window).count;
                (n > *per_minute).then(|| {
                    format!(
                        "{n} orders for {} {value:?} in the last minute, more than {per_minute}",
                        spec.key.as_str()
                    )
                })
            }
        }
    }
}

/// Binary search over lower-cased sorted values without allocating.
fn contains_folded(values: &[Box<str>], v: &str) -> bool {
    values
        .binary_search_by(|x| {
            let a = x.bytes();
            let b = v.trim().bytes().map(|c| c.to_ascii_lowercase());
            a.cmp(b)
        })
        .is_ok()
}
