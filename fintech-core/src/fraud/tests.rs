//! Rule kinds at and around their boundaries, currency handling, evaluation order, shadow
//! mode, validation of rule files, CSV parsing and the synthetic backtest.

use super::backtest::{self, parse_csv, pattern_of, synthetic, to_csv};
use super::rules::{parse_window, Key, RuleFormat, RuleSet, Subject, Txn};
use super::{Assessment, Decision, MemoryWindows};
use crate::error::Error;
use crate::money::{Currency, Money};

const T0: i64 = 1_767_571_200_000_000; // 2026-01-05 00:00:00 UTC
const SEC: i64 = 1_000_000;

fn set(body: &str) -> RuleSet {
    let src = format!("review_score = 50\nblock_score = 100\n{body}");
    RuleSet::from_source(&src, RuleFormat::Toml).unwrap_or_else(|e| panic!("{e}\n{src}"))
}

fn money(s: &str, c: &str) -> Money {
    Money::parse(s, c).expect("amount")
}

fn pay<'a>(at: i64, amount: &str, c: &str) -> Txn<'a> {
    Txn::payment(at, money(amount, c)).expect("txn")
}

/// Replays `txns` in order through `rules` with in-memory windows; one assessment each.
fn replay(rules: &RuleSet, txns: &[Txn<'_>]) -> Vec<Assessment> {
    let mut w = MemoryWindows::for_rules(rules);
    let mut stats = Vec::new();
    txns.iter()
        .map(|t| {
            w.record(t);
            w.stats(rules, t, &mut stats);
            rules.evaluate(t, &stats)
        })
        .collect()
}

fn one(rules: &RuleSet, t: Txn<'_>) -> Assessment {
    replay(rules, &[t]).pop().expect("one")
}

fn hit_names(a: &Assessment) -> Vec<&str> {
    a.hits.iter().map(|h| h.rule.as_str()).collect()
}

fn validation_field(e: Error) -> String {
    match e {
        Error::Validation { field, message } => format!("{field}: {message}"),
        other => panic!("expected a validation error, got {other}"),
    }
}

#[test]
fn starter_rules_compile_and_name_their_windows() {
    let s = RuleSet::starter().expect("starter compiles");
    assert_eq!(s.len(), 13);
    assert!(s.windows().iter().any(|w| w.key == Key::PaymentMethod));
    // The new-payee rule needs all history.
    assert_eq!(s.longest_window(), None);
}

#[test]
fn amount_above_at_threshold_one_minor_unit_over_and_other_currencies() {
    let r = set(r#"
[[rule]]
name = "big"
action = "review"
score = 10
when.amount_above = { amount = { USD = "10000.00", JPY = "1000000", KWD = "5000.000" } }
"#);
    assert!(one(&r, pay(T0, "10000.00", "USD")).hits.is_empty());
    let a = one(&r, pay(T0, "10000.01", "USD"));
    assert_eq!(a.decision, Decision::Review);
    assert_eq!(
        a.hits[0].reason,
        "amount 10000.01 USD is above 10000.00 USD"
    );
    assert!(one(&r, pay(T0, "1000000", "JPY")).hits.is_empty());
    assert_eq!(hit_names(&one(&r, pay(T0, "1000001", "JPY"))), ["big"]);
    assert!(one(&r, pay(T0, "5000.000", "KWD")).hits.is_empty());
    assert_eq!(hit_names(&one(&r, pay(T0, "5000.001", "KWD"))), ["big"]);
    // A currency the rule does not name is not converted: no hit.
    assert!(one(&r, pay(T0, "99999999.00", "EUR")).hits.is_empty());
    // Orders are not payments.
    let mut order = pay(T0, "20000.00", "USD");
    order.subject = Subject::Order;
    assert!(one(&r, order).hits.is_empty());
}

#[test]
fn thresholds_must_be_exact_in_the_currency() {
    let e = RuleSet::from_source(
        r#"review_score = 1
block_score = 2
[[rule]]
name = "x"
action = "block"
when.amount_above = { amount = { USD = "10.001" } }
"#,
        RuleFormat::Toml,
    )
    .expect_err("three decimals in USD");
    assert!(validation_field(e).starts_with("rule x: amount.USD"));
    let e = RuleSet::from_source(
        "review_score = 1\nblock_score = 2\n[[rule]]\nname = \"x\"\naction = \"block\"\nwhen.amount_above = { amount = { XXX = \"1\" } }\n",
        RuleFormat::Toml,
    )
    .expect_err("unknown currency");
    assert!(validation_field(e).contains("XXX"));
}

#[test]
fn velocity_count_at_limit_and_one_over_within_the_window() {
    let r = set(r#"
[[rule]]
name = "card-hour"
action = "review"
score = 10
when.velocity = { key = "payment_method", window = "1h", max_count = 3 }
"#);
    let t = |at| pay(at, "5.00", "USD").with_key(Key::PaymentMethod, Some("pm_1"));
    let out = replay(&r, &[t(T0), t(T0 + SEC), t(T0 + 2 * SEC), t(T0 + 3 * SEC)]);
    assert!(
        out[..3].iter().all(|a| a.hits.is_empty()),
        "3 in an hour is allowed"
    );
    assert_eq!(out[3].decision, Decision::Review, "the 4th hits");
    assert!(out[3].hits[0]
        .reason
        .starts_with("4 payments for payment_method \"pm_1\""));
    // Another card is counted separately.
    let other = pay(T0 + 4 * SEC, "5.00", "USD").with_key(Key::PaymentMethod, Some("pm_2"));
    let out = replay(&r, &[t(T0), t(T0), t(T0), other]);
    assert!(out[3].hits.is_empty());
    // No key, no velocity.
    assert!(one(&r, pay(T0, "5.00", "USD")).hits.is_empty());
}

#[test]
fn velocity_window_edges() {
    let r = set(r#"
[[rule]]
name = "v"
action = "review"
score = 10
when.velocity = { key = "payer", window = "1h", max_count = 1 }
"#);
    let t = |at| pay(at, "5.00", "USD").with_key(Key::Payer, Some("cus_1"));
    let hour = 3600 * SEC;
    // Exactly one window apart: the first has left the window (it is (now − 1h, now]).
    let out = replay(&r, &[t(T0), t(T0 + hour)]);
    assert!(out[1].hits.is_empty());
    // One microsecond less: still inside.
    let out = replay(&r, &[t(T0), t(T0 + hour - 1)]);
    assert_eq!(hit_names(&out[1]), ["v"]);
}

#[test]
fn velocity_sum_per_currency() {
    let r = set(r#"
[[rule]]
name = "sum"
action = "review"
score = 10
when.velocity = { key = "payer", window = "1d", max_sum = { USD = "1000.00" } }
"#);
    let t = |at, a: &'static str, c: &'static str| pay(at, a, c).with_key(Key::Payer, Some("p"));
    let out = replay(&r, &[t(T0, "600.00", "USD"), t(T0 + SEC, "400.00", "USD")]);
    assert!(out[1].hits.is_empty(), "exactly the limit is allowed");
    let out = replay(&r, &[t(T0, "600.00", "USD"), t(T0 + SEC, "400.01", "USD")]);
    assert_eq!(
        out[1].hits[0].reason,
        "1000.01 USD for payer \"p\" in the window is above 1000.00 USD (payment per payer in 1d)"
    );
    // Euros are not added to dollars.
    let out = replay(&r, &[t(T0, "900.00", "EUR"), t(T0 + SEC, "900.00", "USD")]);
    assert!(out[1].hits.is_empty());
}

#[test]
fn new_payee_above_amount() {
    let r = set(r#"
[[rule]]
name = "np"
action = "review"
score = 10
when.new_payee = { above = { USD = "1000.00" } }
"#);
    let t = |at, a: &'static str, payee: &'static str| {
        pay(at, a, "USD")
            .with_key(Key::Payer, Some("cus_1"))
            .with_key(Key::Payee, Some(payee))
    };
    assert!(one(&r, t(T0, "1000.00", "acme")).hits.is_empty());
    let a = one(&r, t(T0, "1000.01", "acme"));
    assert_eq!(
        a.hits[0].reason,
        "first payment to payee \"acme\", 1000.01 USD is above 1000.00 USD"
    );
    // Paid before (even long ago): not new.
    let out = replay(
        &r,
        &[
            t(T0, "10.00", "acme"),
            t(T0 + 300 * 86_400 * SEC, "5000.00", "acme"),
        ],
    );
    assert!(out[1].hits.is_empty());
    // Another payer paying the same payee is new for that payer.
    let other = pay(T0 + SEC, "5000.00", "USD")
        .with_key(Key::Payer, Some("cus_2"))
        .with_key(Key::Payee, Some("acme"));
    let out = replay(&r, &[t(T0, "10.00", "acme"), other]);
    assert_eq!(hit_names(&out[1]), ["np"]);
}

#[test]
fn lists_block_and_allow_case_insensitively() {
    let r = set(r#"
[[rule]]
name = "blocked"
action = "block"
score = 100
when.list = { field = "country", values = ["KP", "ir"] }

[[rule]]
name = "allowed-categories"
action = "review"
score = 10
when.list = { field = "category", values = ["grocery", "travel"], match = "not_in" }
"#);
    let mut t = pay(T0, "1.00", "USD");
    t.country = Some("kp");
    let a = one(&r, t);
    assert_eq!(a.decision, Decision::Block);
    assert_eq!(a.hits[0].reason, "country \"kp\" is in the blocked list");
    t.country = Some("IR");
    assert_eq!(one(&r, t).decision, Decision::Block);
    t.country = Some("US");
    assert!(one(&r, t).hits.is_empty());
    t.category = Some("Travel");
    assert!(one(&r, t).hits.is_empty());
    t.category = Some("gambling");
    assert_eq!(hit_names(&one(&r, t)), ["allowed-categories"]);
    // Absent values never hit.
    assert!(one(&r, pay(T0, "1.00", "USD")).hits.is_empty());
}

#[test]
fn structuring_band_edges_and_count() {
    let r = set(r#"
[[rule]]
name = "st"
action = "review"
score = 60
when.structuring = { threshold = { USD = "10000.00" }, margin_percent = 10, window = "1d", min_count = 2 }
"#);
    let t = |at, a: &'static str| pay(at, a, "USD").with_key(Key::Payer, Some("cus_s"));
    // 9000.00 is the lower edge (inside), 10000.00 is the threshold (outside).
    let out = replay(&r, &[t(T0, "9000.00"), t(T0 + SEC, "9999.99")]);
    assert_eq!(hit_names(&out[1]), ["st"]);
    assert_eq!(
        out[1].hits[0].reason,
        "2 payments between 9000.00 USD and 10000.00 USD (per payer in 1d), at least 2"
    );
    let out = replay(&r, &[t(T0, "8999.99"), t(T0 + SEC, "9500.00")]);
    assert!(out[1].hits.is_empty(), "8999.99 is below the band");
    let out = replay(&r, &[t(T0, "10000.00"), t(T0 + SEC, "9500.00")]);
    assert!(
        out[1].hits.is_empty(),
        "the threshold itself is not just below"
    );
    // The one outside the band does not hit even when others are in it.
    let out = replay(
        &r,
        &[
            t(T0, "9500.00"),
            t(T0 + SEC, "9600.00"),
            t(T0 + 2 * SEC, "50.00"),
        ],
    );
    assert!(out[2].hits.is_empty());
    // Window edge: a day apart is outside.
    let out = replay(&r, &[t(T0, "9500.00"), t(T0 + 86_400 * SEC, "9500.00")]);
    assert!(out[1].hits.is_empty());
}

#[test]
fn unusual_hour_edges_offsets_and_wrap() {
    let r = set(r#"
utc_offset = "-05:00"
[[rule]]
name = "night"
score = 60
when.unusual_hour = { from_hour = 1, to_hour = 5 }
"#
    .replace("utc_offset = \"-05:00\"\n", "")
    .as_str());
    let h = 3600 * SEC;
    assert!(
        one(&r, pay(T0 + h - 1, "1.00", "USD")).hits.is_empty(),
        "00:59:59"
    );
    assert_eq!(
        one(&r, pay(T0 + h, "1.00", "USD")).decision,
        Decision::Review,
        "01:00, score-only rule reaching review_score"
    );
    assert!(
        !one(&r, pay(T0 + 5 * h - 1, "1.00", "USD")).hits.is_empty(),
        "04:59:59"
    );
    assert!(
        one(&r, pay(T0 + 5 * h, "1.00", "USD")).hits.is_empty(),
        "05:00"
    );
    let ny = RuleSet::from_source(
        "utc_offset = \"-05:00\"\nreview_score = 50\nblock_score = 100\n[[rule]]\nname = \"night\"\nscore = 10\nwhen.unusual_hour = { from_hour = 1, to_hour = 5 }\n",
        RuleFormat::Toml,
    )
    .expect("offset");
    // 06:00 UTC is 01:00 in UTC−05:00.
    assert!(!one(&ny, pay(T0 + 6 * h, "1.00", "USD")).hits.is_empty());
    assert!(one(&ny, pay(T0 + 2 * h, "1.00", "USD")).hits.is_empty());
    let wrap = set("[[rule]]\nname = \"late\"\nscore = 10\nwhen.unusual_hour = { from_hour = 22, to_hour = 2 }\n");
    assert!(!one(&wrap, pay(T0 + 23 * h, "1.00", "USD")).hits.is_empty());
    assert!(!one(&wrap, pay(T0 + h, "1.00", "USD")).hits.is_empty());
    assert!(one(&wrap, pay(T0 + 2 * h, "1.00", "USD")).hits.is_empty());
    assert!(one(&wrap, pay(T0 + 21 * h, "1.00", "USD")).hits.is_empty());
}

#[test]
fn trading_rules_notional_concentration_and_rate() {
    let r = set(r#"
[[rule]]
name = "notional"
action = "review"
score = 10
when.order_notional_above = { amount = { USD = "250000.00" } }

[[rule]]
name = "concentration"
action = "review"
score = 10
when.concentration = { max_percent = 25 }

[[rule]]
name = "rate"
action = "block"
score = 10
when.order_rate = { per_minute = 2 }
"#);
    let order = |at, a: &'static str| {
        let mut t = pay(at, a, "USD").with_key(Key::ApiKey, Some("key_1"));
        t.subject = Subject::Order;
        t
    };
    assert!(one(&r, order(T0, "250000.00")).hits.is_empty());
    assert_eq!(hit_names(&one(&r, order(T0, "250000.01"))), ["notional"]);
    // A payment of that size is not an order.
    assert!(one(&r, pay(T0, "300000.00", "USD")).hits.is_empty());
    let mut t = order(T0, "100.00");
    t.equity_minor = Some(10_000_000);
    t.position_after_minor = Some(2_500_000);
    assert!(one(&r, t).hits.is_empty(), "exactly 25% is allowed");
    t.position_after_minor = Some(2_500_001);
    let a = one(&r, t);
    assert_eq!(hit_names(&a), ["concentration"]);
    assert!(a.hits[0]
        .reason
        .contains("more than 25% of equity 100000.00 USD"));
    let out = replay(
        &r,
        &[
            order(T0, "1.00"),
            order(T0 + SEC, "1.00"),
            order(T0 + 2 * SEC, "1.00"),
        ],
    );
    assert!(out[1].hits.is_empty());
    assert_eq!(out[2].decision, Decision::Block);
    // A minute later the first has left the window.
    let out = replay(
        &r,
        &[
            order(T0, "1.00"),
            order(T0 + SEC, "1.00"),
            order(T0 + 60 * SEC, "1.00"),
        ],
    );
    assert!(out[2].hits.is_empty());
}

#[test]
fn evaluation_order_first_action_then_score() {
    let body = |first: &str, second: &str| {
        set(&format!(
            r#"
[[rule]]
name = "first"
action = "{first}"
score = 30
when.amount_above = {{ amount = {{ USD = "10.00" }} }}

[[rule]]
name = "second"
action = "{second}"
score = 30
when.amount_above = {{ amount = {{ USD = "20.00" }} }}
"#
        ))
    };
    // An allow that hits first wins over a later block, score ignored.
    let a = one(&body("allow", "block"), pay(T0, "30.00", "USD"));
    assert_eq!(a.decision, Decision::Allow);
    assert_eq!(hit_names(&a), ["first", "second"], "every hit is listed");
    assert_eq!(a.score, 60);
    // A later allow does not undo an earlier review.
    assert_eq!(
        one(&body("review", "allow"), pay(T0, "30.00", "USD")).decision,
        Decision::Review
    );
    // Two reviews whose scores reach block_score block.
    let r = set(r#"
[[rule]]
name = "a"
action = "review"
score = 60
when.amount_above = { amount = { USD = "10.00" } }

[[rule]]
name = "b"
action = "review"
score = 40
when.amount_above = { amount = { USD = "20.00" } }
"#);
    assert_eq!(one(&r, pay(T0, "15.00", "USD")).decision, Decision::Review);
    let a = one(&r, pay(T0, "25.00", "USD"));
    assert_eq!((a.decision, a.score), (Decision::Block, 100));
    // Nothing hits: allow with no reasons.
    let a = one(&r, pay(T0, "5.00", "USD"));
    assert_eq!((a.decision, a.score, a.hits.len()), (Decision::Allow, 0, 0));
}

#[test]
fn shadow_rules_are_recorded_not_enforced() {
    let r = set(r#"
[[rule]]
name = "would-block"
action = "block"
score = 100
shadow = true
when.amount_above = { amount = { USD = "10.00" } }
"#);
    let a = one(&r, pay(T0, "11.00", "USD"));
    assert_eq!(a.decision, Decision::Allow);
    assert_eq!(a.score, 0);
    assert_eq!(a.hits.len(), 1);
    assert!(a.hits[0].shadow);
    assert_eq!(a.hits[0].action, Decision::Block);
    assert_eq!(
        a.reasons(),
        "no reason given",
        "shadow hits are not enforced reasons"
    );
}

#[test]
fn bad_rule_files_are_refused_with_the_place_at_fault() {
    let bad = |body: &str| {
        validation_field(
            RuleSet::from_source(
                &format!("review_score = 50\nblock_score = 100\n{body}"),
                RuleFormat::Toml,
            )
            .expect_err(body),
        )
    };
    let e = bad("[[rule]]\nname = \"x\"\naction = \"block\"\nwhen.amount_above = { amount = { USD = \"1\" }, extra = 1 }\n");
    assert!(e.contains("unexpected keys in table: extra"), "{e}");
    assert!(bad("[[rule]]\nname = \"x\"\nwhen.velocity = { key = \"payer\", window = \"1w\", max_count = 1 }\n").contains("rule x: window"));
    assert!(
        bad("[[rule]]\nname = \"x\"\nwhen.velocity = { key = \"payer\", window = \"1h\" }\n")
            .contains("max_count")
    );
    assert!(bad("[[rule]]\nname = \"x\"\nwhen.velocity = { key = \"card\", window = \"1h\", max_count = 1 }\n").contains("unknown variant"));
    assert!(
        bad("[[rule]]\nname = \"x\"\nwhen.unusual_hour = { from_hour = 3, to_hour = 24 }\n")
            .contains("0–23")
    );
    assert!(
        bad("[[rule]]\nname = \"x\"\nwhen.amount_above = { amount = { USD = \"-1\" } }\n")
            .contains("negative")
    );
    assert!(
        bad("[[rule]]\nname = \"x\"\nwhen.concentration = { max_percent = 0 }\n")
            .contains("max_percent")
    );
    assert!(bad("[[rule]]\nname = \"x\"\nwhen.structuring = { threshold = { USD = \"10\" }, margin_percent = 10, window = \"1d\", min_count = 1 }\n").contains("min_count"));
    assert!(bad("[[rule]]\nname = \"x\"\nwhen.concentration = { max_percent = 5 }\n[[rule]]\nname = \"x\"\nwhen.concentration = { max_percent = 5 }\n").contains("two rules"));
    assert!(bad("utc_offset = \"+5\"\n").contains("utc_offset"));
    let e = RuleSet::from_source("review_score = 60\nblock_score = 50\n", RuleFormat::Toml)
        .expect_err("order");
    assert!(validation_field(e).contains("block_score"));
    assert!(RuleSet::from_source("{\"review_score\": 1", RuleFormat::Json).is_err());
}

#[test]
fn json_and_toml_are_the_same_rules() {
    let json = r#"{"review_score": 50, "block_score": 100, "rule": [
        {"name": "v", "action": "review", "score": 10,
         "when": {"velocity": {"key": "payment_method", "window": "1h", "max_count": 1}}}]}"#;
    let r = RuleSet::from_source(json, RuleFormat::Json).expect("json");
    let t = |at| pay(at, "1.00", "USD").with_key(Key::PaymentMethod, Some("pm"));
    let out = replay(&r, &[t(T0), t(T0 + 1)]);
    assert_eq!(hit_names(&out[1]), ["v"]);
}

#[test]
fn windows_parse() {
    assert_eq!(parse_window("r", "90s").expect("s"), 90 * SEC);
    assert_eq!(parse_window("r", "15m").expect("m"), 900 * SEC);
    assert_eq!(parse_window("r", "1d").expect("d"), 86_400 * SEC);
    for bad in ["", "h", "0h", "-1h", "1.5h", "1w", "400d"] {
        assert!(parse_window("r", bad).is_err(), "{bad}");
    }
}

/// Found by the `fraud_rules` fuzz target: a huge count overflowed `n * unit` (a panic in a
/// debug build; in a release build it wrapped, and `144115188075855873d` passed as one day).
#[test]
fn a_huge_window_is_refused_not_wrapped() {
    for bad in [
        "9223372036854775807d",
        "144115188075855873d",
        "9223372036854775807s",
        "-9223372036854775808h",
    ] {
        assert!(parse_window("r", bad).is_err(), "{bad}");
    }
    let rules = r#"
review_score = 50
block_score = 100
[[rule]]
name = "v"
action = "block"
score = 100
when.velocity = { key = "payment_method", window = "144115188075855873d", max_count = 2 }
"#;
    assert!(RuleSet::from_source(rules, RuleFormat::Toml).is_err());
}

#[test]
fn csv_round_trip_and_errors_name_the_line() {
    let data = synthetic(7, 2);
    let parsed = parse_csv(&to_csv(&data)).expect("round trip");
    assert_eq!(parsed.len(), data.len());
    assert_eq!(parsed[3].txn.amount_minor, data[3].txn.amount_minor);
    assert_eq!(parsed[3].txn.keys, data[3].txn.keys);
    assert_eq!(
        parsed.iter().filter(|r| r.fraud).count(),
        data.iter().filter(|r| r.fraud).count()
    );

    let ok = "at,amount,currency,payer,label\n2026-01-05T10:00:00Z,12.50,USD,cus_1,fraud\n";
    let r = parse_csv(ok).expect("rfc3339");
    assert_eq!(r[0].txn.at_micros, T0 + 10 * 3600 * SEC);
    assert_eq!(r[0].txn.currency, Currency::USD);
    assert!(r[0].fraud);
    let err = |s: &str| validation_field(parse_csv(s).expect_err(s));
    assert!(err("at,amount\n1,2\n").contains("currency"));
    assert!(err("at,amount,currency,colour\n").contains("unknown column"));
    assert!(err("at,amount,currency\n1,12.345,USD\n").starts_with("csv line 2"));
    assert!(err("at,amount,currency\n1,1.00,USD\nyesterday,1.00,USD\n").starts_with("csv line 3"));
    assert!(err("at,amount,currency\n1,\"1,00\",USD\n").contains("quoted"));
    assert!(err("at,amount,currency,label\n1,1.00,USD,maybe\n").contains("label"));
    assert!(err("at,amount,currency\n1,-1.00,USD\n").contains("greater than zero"));
    assert!(err("").contains("empty"));
}

#[test]
fn synthetic_set_is_deterministic_and_has_every_pattern() {
    let a = synthetic(42, 5);
    let b = synthetic(42, 5);
    assert_eq!(to_csv(&a), to_csv(&b));
    assert_ne!(to_csv(&a), to_csv(&synthetic(43, 5)));
    for p in [
        "card_testing",
        "structuring",
        "account_takeover",
        "blocked_country",
        "legit",
    ] {
        let n = synthetic(42, 30)
            .iter()
            .filter(|r| pattern_of(r) == p)
            .count();
        assert!(n > 0, "pattern {p} planted");
    }
}

#[test]
fn starter_rules_backtest_meets_precision_and_recall_floors() {
    let rules = RuleSet::starter().expect("starter");
    let mut data = synthetic(20261125, 60);
    let report = backtest::run(&rules, &mut data);
    let precision = report.precision.expect("something flagged");
    let recall = report.recall.expect("fraud planted");
    eprintln!(
        "starter backtest: {} transactions, {} fraud, precision {precision}, recall {recall}, rules {:?}",
        report.transactions, report.labelled_fraud, report.rules
    );
    assert!(
        report.labelled_fraud > 100,
        "enough planted fraud to measure"
    );
    assert!(
        precision >= rust_decimal::Decimal::new(85, 2),
        "precision {precision} below 0.85"
    );
    assert!(
        recall >= rust_decimal::Decimal::new(75, 2),
        "recall {recall} below 0.75"
    );
    // Every planted pattern is caught at least partly.
    for p in [
        "card_testing",
        "structuring",
        "account_takeover",
        "blocked_country",
    ] {
        let mut only: Vec<_> = data
            .iter()
            .filter(|r| pattern_of(r) == p)
            .cloned()
            .collect();
        let r = backtest::run(&rules, &mut only);
        assert!(r.true_positives > 0, "{p} never caught");
    }
    let usd = &report.volume["USD"];
    assert!(usd.blocked_share + usd.reviewed_share < rust_decimal::Decimal::new(25, 2));
    assert_eq!(
        report.allowed + report.reviewed + report.blocked,
        report.transactions
    );
}

/// Case statuses read back from their stored text (surviving mutants: `as_str` answering
/// `""`, and each arm of `parse` deleted).
#[test]
fn case_statuses_round_trip_through_their_text() {
    use crate::fraud::CaseStatus;
    for (status, text) in [
        (CaseStatus::Open, "open"),
        (CaseStatus::Approved, "approved"),
        (CaseStatus::Rejected, "rejected"),
    ] {
        assert_eq!(status.as_str(), text);
        assert_eq!(CaseStatus::parse(text).expect("known"), status);
    }
    assert!(CaseStatus::parse("xyzzy").is_err());
    assert!(CaseStatus::parse("").is_err());
}
