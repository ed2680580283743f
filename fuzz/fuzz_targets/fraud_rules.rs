//! Fraud rule files (`RuleSet::from_source`, TOML and JSON): any source is a rule set or a
//! validation error, never a panic; an accepted set evaluates any operation without a panic,
//! its decision agrees with its score bands, and its JSON form reads back to the same spec.
//! Input: one byte (odd: JSON, even: TOML), then the source.
#![no_main]

use fintech_core::fraud::rules::Key;
use fintech_core::fraud::{Decision, RuleFormat, RuleSet, RuleSetSpec, Txn, WindowStat};
use fintech_core::Money;
use libfuzzer_sys::fuzz_target;

const NOW_MICROS: i64 = 1_700_000_000_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let source = String::from_utf8_lossy(rest);
    let format = if which % 2 == 1 {
        RuleFormat::Json
    } else {
        RuleFormat::Toml
    };
    let Ok(spec) = RuleSetSpec::parse(&source, format) else {
        assert!(RuleSet::from_source(&source, format).is_err());
        return;
    };
    // the spec's own JSON reads back to the same spec
    let json = serde_json::to_string(&spec).expect("serialize");
    assert_eq!(
        RuleSetSpec::parse(&json, RuleFormat::Json).expect("own JSON"),
        spec
    );
    let Ok(set) = RuleSet::compile(&spec) else {
        return;
    };
    let _ = set.longest_window();
    let amounts = [
        ("0.01", "USD"),
        ("250.00", "USD"),
        ("10000000000000.00", "USD"),
        ("1000000000000000", "JPY"),
        ("9.999", "KWD"),
        ("-5.00", "EUR"),
    ];
    for (i, (amount, code)) in amounts.iter().enumerate() {
        let m = Money::parse(amount, code).expect("valid amount");
        let txn = Txn::payment(NOW_MICROS + i as i64, m)
            .expect("txn")
            .with_key(Key::Payer, Some("cus_1"))
            .with_key(Key::Payee, Some("acme"))
            .with_key(Key::Ip, Some("10.0.0.1"));
        for stat in [
            WindowStat::default(),
            WindowStat {
                count: u32::MAX,
                sum_minor: i64::MAX,
            },
            WindowStat {
                count: 3,
                sum_minor: -7,
            },
        ] {
            let stats = vec![stat; set.windows().len()];
            for w in set.windows() {
                let _ = w.lookup(&txn);
            }
            let a = set.evaluate(&txn, &stats);
            let enforced = a.hits.iter().filter(|h| !h.shadow).count();
            if enforced == 0 {
                assert_eq!(a.decision, Decision::Allow, "{a:?}");
            }
            let _ = a.reasons();
        }
    }
});
