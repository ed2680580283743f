//! The simulator's deterministic price feed: a price per symbol per minute, computed from the
//! symbol and the time alone (integer arithmetic, cents), so every run and every process sees
//! the same prices.

use chrono::{DateTime, Utc};
use fintech_core::{Currency, Money};
use sha2::{Digest, Sha256};

/// Half the bid/ask spread, in cents: bid = price − SPREAD, ask = price + SPREAD.
pub const SPREAD: i64 = 1;

/// Reference prices (cents) of well-known symbols, so demos look familiar.
const REFERENCE: &[(&str, i64)] = &[
    ("AAPL", 19_000),
    ("MSFT", 42_000),
    ("GOOGL", 17_000),
    ("AMZN", 18_500),
    ("NVDA", 12_000),
    ("TSLA", 24_000),
    ("META", 52_000),
    ("SPY", 56_000),
    ("QQQ", 48_000),
    ("BRK.B", 45_000),
];

/// First eight bytes of SHA-256, as a number: a stable hash across builds and platforms.
pub(crate) fn hash64(bytes: &[u8]) -> u64 {
    let digest = Sha256::digest(bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

pub(crate) fn hash_parts(parts: &[&[u8]]) -> u64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// The reference price of a symbol, in cents (10.00 to 500.00 USD for unknown symbols).
fn base_cents(symbol: &str) -> i64 {
    REFERENCE
        .iter()
        .find(|(s, _)| *s == symbol)
        .map(|(_, c)| *c)
        .unwrap_or_else(|| 1_000 + (hash64(symbol.as_bytes()) % 49_000) as i64)
}

/// A value in `-spread..=spread` from a hash.
fn spread(h: u64, spread: i64) -> i64 {
    (h % (2 * spread as u64 + 1)) as i64 - spread
}

/// The simulated price of `symbol` during the minute containing `at`, in cents: the
/// reference price moved by a daily drift (±2 %) and a per-minute wiggle (±0.2 %).
pub(crate) fn price_cents(symbol: &str, at: DateTime<Utc>) -> i64 {
    let minute = at.timestamp().div_euclid(60);
    let day = at.timestamp().div_euclid(86_400);
    let s = symbol.as_bytes();
    let daily = spread(hash_parts(&[s, b"day", &day.to_be_bytes()]), 200);
    let minutely = spread(hash_parts(&[s, b"min", &minute.to_be_bytes()]), 20);
    let bps = 10_000 + daily + minutely;
    // Rounded to the nearest cent, half up: all terms are positive.
    let cents = (base_cents(symbol) * bps + 5_000) / 10_000;
    cents.max(SPREAD + 1)
}

/// The simulated price of `symbol` at `at`, in USD.
pub fn price_at(symbol: &str, at: DateTime<Utc>) -> Money {
    Money::from_minor(price_cents(symbol, at), Currency::USD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn prices_are_deterministic_and_bounded() {
        let t = Utc
            .with_ymd_and_hms(2026, 11, 24, 15, 30, 0)
            .single()
            .expect("time");
        assert_eq!(price_cents("AAPL", t), price_cents("AAPL", t));
        let within_minute = t + chrono::Duration::seconds(59);
        assert_eq!(price_cents("AAPL", t), price_cents("AAPL", within_minute));
        for minute in 0..500 {
            let p = price_cents("AAPL", t + chrono::Duration::minutes(minute));
            assert!((18_581..=19_419).contains(&p), "{p} outside ±2.2 %");
        }
        let moved = (0..60)
            .map(|m| price_cents("MSFT", t + chrono::Duration::minutes(m)))
            .collect::<std::collections::BTreeSet<_>>();
        assert!(moved.len() > 5, "the price moves minute to minute");
        let unknown = price_cents("ZZTOP", t);
        assert!((900..=51_200).contains(&unknown));
    }
}
