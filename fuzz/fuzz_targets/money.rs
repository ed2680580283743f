//! Money and amount parsing: `Money::parse(amount, currency)`, its JSON form, and the
//! invariants of what it accepts. Input: `<amount>|<currency>` as text (currency USD when
//! there is no `|`).
#![no_main]

use fintech_core::money::{Currency, MAX_MINOR_UNITS};
use fintech_core::{json, Money};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let (amount, code) = s.split_once('|').unwrap_or((&s, "USD"));
    let parsed = Money::parse(amount, code);
    // the JSON form reads exactly what `parse` reads
    let body = serde_json::json!({ "amount": amount, "currency": code }).to_string();
    let from_json = json::from_slice::<Money>(body.as_bytes());
    assert_eq!(parsed.is_ok(), from_json.is_ok(), "{amount:?} {code:?}");
    let Ok(m) = parsed else {
        return;
    };
    assert_eq!(from_json.ok(), Some(m));
    let currency = Currency::from_code(code).expect("parse accepted the currency");
    assert_eq!(m.currency(), currency);
    // exactly the currency's minor digits, within the cap, and exact in minor units
    assert_eq!(m.amount().scale(), currency.exponent(), "{m:?}");
    let minor = m
        .to_minor()
        .expect("an accepted amount fits in minor units");
    assert!(minor.abs() <= MAX_MINOR_UNITS, "{m:?}");
    assert_eq!(Money::from_minor(minor, currency), m);
    // its text and JSON forms read back to the same amount
    let shown = m.amount().to_string();
    assert_eq!(Money::parse(&shown, code).expect("own text"), m);
    let round: Money =
        json::from_slice(&serde_json::to_vec(&m).expect("serialize")).expect("own JSON");
    assert_eq!(round, m);
    // arithmetic on it is exact and never mixes currencies
    let zero = m.checked_add(&m.negated()).expect("m - m");
    assert!(zero.is_zero());
    assert_eq!(m.checked_sub(&m).expect("m - m"), zero);
    let doubled = m
        .checked_add(&m)
        .expect("twice the cap still fits a decimal");
    assert_eq!(doubled.to_minor().expect("fits i64"), minor * 2);
    assert_eq!(
        m.checked_cmp(&Money::zero(currency))
            .expect("same currency"),
        minor.cmp(&0)
    );
    assert_eq!(m.is_positive(), minor > 0);
    let other = if currency == Currency::USD {
        Currency::EUR
    } else {
        Currency::USD
    };
    assert!(m.checked_add(&Money::zero(other)).is_err());
});
