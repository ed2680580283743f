//! Exact money: a [`Decimal`] amount in an ISO 4217 [`Currency`] with its minor-unit exponent.
//!
//! Invariants: an amount never has more decimal places than its currency allows (`12.345 USD`
//! is refused, not rounded); arithmetic is checked and never mixes currencies; conversion to
//! provider minor units (`1234` cents) is exact or an error. Serialized as
//! `{"amount": "12.34", "currency": "USD"}` with the amount as a string, so no JSON number,
//! and so no float, ever carries money.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// An ISO 4217 currency with its number of minor-unit digits (USD 2, JPY 0, KWD 3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: &'static str,
    exponent: u32,
}

/// The currencies this SDK knows, with their ISO 4217 minor-unit exponents.
const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2),
    ("AUD", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("MYR", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PHP", 2),
    ("PLN", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("UGX", 0),
    ("USD", 2),
    ("VND", 0),
    ("XOF", 0),
    ("ZAR", 2),
];

impl Currency {
    /// US dollar.
    pub const USD: Currency = Currency {
        code: "USD",
        exponent: 2,
    };
    /// Euro.
    pub const EUR: Currency = Currency {
        code: "EUR",
        exponent: 2,
    };
    /// Japanese yen (no minor unit).
    pub const JPY: Currency = Currency {
        code: "JPY",
        exponent: 0,
    };
    /// Kuwaiti dinar (three minor digits).
    pub const KWD: Currency = Currency {
        code: "KWD",
        exponent: 3,
    };

    /// Looks up a currency by its ISO 4217 code (case-insensitive).
    pub fn from_code(code: &str) -> Result<Self> {
        let upper = code.trim().to_ascii_uppercase();
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == upper)
            .map(|&(code, exponent)| Currency { code, exponent })
            .ok_or_else(|| {
                Error::validation(
                    "currency",
                    format!("unknown ISO 4217 currency code {code:?}"),
                )
            })
    }

    /// Every currency this SDK knows.
    pub fn known() -> impl Iterator<Item = Currency> {
        CURRENCIES
            .iter()
            .map(|&(code, exponent)| Currency { code, exponent })
    }

    /// The three-letter code, upper case.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Number of minor-unit digits.
    pub fn exponent(&self) -> u32 {
        self.exponent
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl FromStr for Currency {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::from_code(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.code)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::from_code(&s).map_err(serde::de::Error::custom)
    }
}

/// The largest amount a caller may give, in minor units of any currency: 10^15 (ten trillion
/// US dollars, a quadrillion yen). Every stored amount is within it, so sums of stored amounts
/// cannot overflow `i64` on the way (limits, reservations) and are computed in 128 bits where
/// rows add up (balances, summaries, velocity windows).
pub const MAX_MINOR_UNITS: i64 = 1_000_000_000_000_000;

/// An exact amount of one currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// An amount that must be exactly representable in the currency's minor units.
    pub fn new(amount: Decimal, currency: Currency) -> Result<Self> {
        let normalized = amount.normalize();
        if normalized.scale() > currency.exponent {
            return Err(Error::validation(
                "amount",
                format!(
                    "{amount} has more than {} decimal places allowed for {currency}",
                    currency.exponent
                ),
            ));
        }
        let mut amount = normalized;
        amount.rescale(currency.exponent);
        let max = Decimal::new(MAX_MINOR_UNITS, currency.exponent);
        if amount.abs() > max {
            return Err(Error::validation(
                "amount",
                format!("{amount} is above the largest amount accepted, {max} {currency}"),
            ));
        }
        Ok(Self { amount, currency })
    }

    /// Parses a decimal string (`"12.34"`) in a currency code (`"USD"`).
    pub fn parse(amount: &str, currency: &str) -> Result<Self> {
        let currency = Currency::from_code(currency)?;
        let trimmed = amount.trim();
        let valid_chars = !trimmed.is_empty()
            && trimmed
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '+');
        let amount = if valid_chars {
            Decimal::from_str_exact(trimmed).ok()
        } else {
            None
        }
        .ok_or_else(|| {
            Error::validation(
                "amount",
                format!("{amount:?} is not a decimal amount like \"12.34\""),
            )
        })?;
        Self::new(amount, currency)
    }

    /// Rounds any decimal to the currency's minor unit with banker's rounding (half to even).
    /// Use for derived amounts (fees, shares); user input goes through [`Money::new`].
    pub fn rounded(amount: Decimal, currency: Currency) -> Self {
        let mut amount =
            amount.round_dp_with_strategy(currency.exponent, RoundingStrategy::MidpointNearestEven);
        amount.rescale(currency.exponent);
        Self { amount, currency }
    }

    /// Zero in a currency.
    pub fn zero(currency: Currency) -> Self {
        Self::rounded(Decimal::ZERO, currency)
    }

    /// From an integer count of minor units (`1234` cents is `12.34 USD`).
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Self {
            amount: Decimal::new(minor, currency.exponent),
            currency,
        }
    }

    /// From a wide count of minor units (a sum of many stored amounts), or an error when it
    /// exceeds what a decimal holds (about 7.9 × 10^28).
    pub fn from_minor_wide(minor: i128, currency: Currency) -> Result<Self> {
        let amount = Decimal::try_from_i128_with_scale(minor, currency.exponent)
            .map_err(|_| Error::internal(format!("a sum of {currency} amounts is out of range")))?;
        Ok(Self { amount, currency })
    }

    /// The integer count of minor units, exactly, or an error when it does not fit in `i64`.
    pub fn to_minor(&self) -> Result<i64> {
        let mut scaled = self.amount;
        scaled.rescale(self.currency.exponent);
        let mantissa = scaled.mantissa();
        i64::try_from(mantissa)
            .map_err(|_| Error::validation("amount", format!("{self} is too large")))
    }

    /// The decimal amount.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// True when strictly greater than zero.
    pub fn is_positive(&self) -> bool {
        self.amount > Decimal::ZERO
    }

    /// True when zero.
    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    /// The same amount with the opposite sign.
    pub fn negated(&self) -> Self {
        Self {
            amount: -self.amount,
            currency: self.currency,
        }
    }

    fn same_currency(&self, other: &Money) -> Result<()> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(Error::validation(
                "currency",
                format!("cannot combine {} with {}", self.currency, other.currency),
            ))
        }
    }

    /// Checked addition; an error on currency mismatch or overflow.
    pub fn checked_add(&self, other: &Money) -> Result<Money> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or_else(|| Error::validation("amount", "overflow"))?;
        Ok(Money {
            amount,
            currency: self.currency,
        })
    }

    /// Checked subtraction; an error on currency mismatch or overflow.
    pub fn checked_sub(&self, other: &Money) -> Result<Money> {
        self.checked_add(&other.negated())
    }

    /// Compares two amounts of the same currency.
    pub fn checked_cmp(&self, other: &Money) -> Result<std::cmp::Ordering> {
        self.same_currency(other)?;
        Ok(self.amount.cmp(&other.amount))
    }

    /// Multiplies by a decimal (a share count, a percentage), rounding half to even.
    pub fn checked_mul(&self, factor: Decimal) -> Result<Money> {
        let amount = self
            .amount
            .checked_mul(factor)
            .ok_or_else(|| Error::validation("amount", "overflow"))?;
        Ok(Money::rounded(amount, self.currency))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({} {})", self.amount, self.currency)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MoneyRepr {
    amount: AmountRepr,
    currency: String,
}

/// The amount as a JSON string; a JSON number is refused so no float can carry money.
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
struct AmountRepr(String);

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        MoneyRepr {
            amount: AmountRepr(self.amount.to_string()),
            currency: self.currency.code.to_owned(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let repr = MoneyRepr::deserialize(d)?;
        Money::parse(&repr.amount.0, &repr.currency)
            .map_err(|e| serde::de::Error::custom(format_args!("{}{e}", crate::json::VALUE_ERROR)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(s: &str) -> Money {
        Money::parse(s, "USD").expect("valid")
    }

    #[test]
    fn parses_and_normalizes_to_the_currency_exponent() {
        assert_eq!(usd("12.3").to_string(), "12.30 USD");
        assert_eq!(usd("12.3400").to_minor().expect("fits"), 1234);
        assert_eq!(
            Money::parse("1000", "jpy").expect("ok").to_string(),
            "1000 JPY"
        );
        assert_eq!(
            Money::parse("1.234", "KWD")
                .expect("ok")
                .to_minor()
                .expect("fits"),
            1234
        );
    }

    #[test]
    fn amounts_are_capped_so_sums_stay_exact() {
        // the amount of the adversarial pass: two of these overflowed the ledger sum
        assert!(usd_err("92233720368547758.07"));
        assert!(usd_err("10000000000000.01"));
        assert_eq!(
            usd("10000000000000.00").to_minor().expect("fits"),
            MAX_MINOR_UNITS
        );
        assert!(Money::parse("-10000000000000.01", "USD").is_err());
        assert_eq!(
            Money::parse("1000000000000000", "JPY")
                .expect("the cap is in minor units")
                .to_minor()
                .expect("fits"),
            MAX_MINOR_UNITS
        );
        assert!(Money::parse("1000000000000001", "JPY").is_err());
        // a wide sum keeps every digit
        let twice = i128::from(i64::MAX) * 2;
        let m = Money::from_minor_wide(twice, Currency::USD).expect("in range");
        assert_eq!(m.amount().to_string(), "184467440737095516.14");
    }

    fn usd_err(s: &str) -> bool {
        Money::parse(s, "USD").is_err()
    }

    #[test]
    fn refuses_more_precision_than_the_currency_has() {
        assert!(Money::parse("12.345", "USD").is_err());
        assert!(Money::parse("1.5", "JPY").is_err());
        assert!(Money::parse("1.2345", "KWD").is_err());
    }

    #[test]
    fn refuses_garbage_and_unknown_currencies() {
        for bad in ["", "abc", "1e3", "12,34", "NaN", "1.2.3", " "] {
            assert!(Money::parse(bad, "USD").is_err(), "{bad:?} accepted");
        }
        assert!(Money::parse("1", "XXX").is_err());
        assert!(Money::parse("1", "US").is_err());
    }

    /// Surviving mutants of money.rs: exponents, the sign test, the Debug forms and the
    /// characters `parse` lets through to the decimal parser.
    #[test]
    fn exponents_signs_debug_and_amount_characters() {
        assert_eq!(Currency::USD.exponent(), 2);
        assert_eq!(Currency::JPY.exponent(), 0);
        assert_eq!(Currency::KWD.exponent(), 3);
        assert!(Currency::known().any(|c| c.code() == "CHF" && c.exponent() == 2));
        assert!(usd("0.01").is_positive());
        assert!(!usd("0").is_positive());
        assert!(!usd("-0.01").is_positive());
        assert_eq!(format!("{:?}", usd("1.5")), "Money(1.50 USD)");
        assert_eq!(format!("{:?}", Currency::EUR), "EUR");
        // only digits, a sign and a point: the decimal parser alone would take `1_000`
        for bad in ["1_000", "1 000", "0x10", "1.0_0"] {
            assert!(Money::parse(bad, "USD").is_err(), "{bad:?} accepted");
        }
        assert_eq!(usd("+1.00"), usd("1"));
        assert_eq!(usd("-1.00").to_minor().expect("fits"), -100);
    }

    #[test]
    fn minor_unit_round_trip_is_exact() {
        for minor in [0_i64, 1, 99, 100, 123_456_789, -5] {
            for cur in [Currency::USD, Currency::JPY, Currency::KWD] {
                let m = Money::from_minor(minor, cur);
                assert_eq!(m.to_minor().expect("fits"), minor);
            }
        }
    }

    #[test]
    fn banker_rounding_for_derived_amounts() {
        let d = |s: &str| Decimal::from_str_exact(s).expect("decimal");
        assert_eq!(
            Money::rounded(d("0.125"), Currency::USD).to_string(),
            "0.12 USD"
        );
        assert_eq!(
            Money::rounded(d("0.135"), Currency::USD).to_string(),
            "0.14 USD"
        );
        assert_eq!(Money::rounded(d("2.5"), Currency::JPY).to_string(), "2 JPY");
        assert_eq!(
            usd("10.00")
                .checked_mul(d("0.333"))
                .expect("ok")
                .to_string(),
            "3.33 USD"
        );
    }

    #[test]
    fn arithmetic_never_mixes_currencies() {
        let eur = Money::parse("1", "EUR").expect("ok");
        assert!(usd("1").checked_add(&eur).is_err());
        assert!(usd("1").checked_cmp(&eur).is_err());
        assert_eq!(
            usd("1.10").checked_add(&usd("2.25")).expect("ok"),
            usd("3.35")
        );
        assert_eq!(
            usd("1.10").checked_sub(&usd("2.25")).expect("ok"),
            usd("-1.15")
        );
    }

    #[test]
    fn serde_uses_decimal_strings_and_refuses_numbers() {
        let json = serde_json::to_string(&usd("12.3")).expect("ser");
        assert_eq!(json, r#"{"amount":"12.30","currency":"USD"}"#);
        let back: Money = serde_json::from_str(&json).expect("de");
        assert_eq!(back, usd("12.30"));
        assert!(serde_json::from_str::<Money>(r#"{"amount":12.3,"currency":"USD"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount":"12.345","currency":"USD"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount":"1","currency":"USD","x":1}"#).is_err());
    }
}

#[cfg(feature = "openapi")]
mod openapi {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};
    use utoipa::openapi::RefOr;

    fn string(pattern: &str, description: &str, example: &str) -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(pattern))
            .description(Some(description))
            .examples([serde_json::json!(example)])
    }

    impl utoipa::PartialSchema for super::Currency {
        fn schema() -> RefOr<Schema> {
            string("^[A-Za-z]{3}$", "ISO 4217 currency code", "USD").into()
        }
    }

    impl utoipa::ToSchema for super::Currency {}

    impl utoipa::PartialSchema for super::Money {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some(
                    "An exact amount: a decimal string (never a JSON number) with at most the \
                     currency's minor-unit digits, and its ISO 4217 currency",
                ))
                .property(
                    "amount",
                    string(r"^-?[0-9]{1,15}(\.[0-9]{1,6})?$", "Decimal amount", "12.34"),
                )
                .required("amount")
                .property(
                    "currency",
                    string("^[A-Za-z]{3}$", "ISO 4217 currency code", "USD"),
                )
                .required("currency")
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
                .into()
        }
    }

    impl utoipa::ToSchema for super::Money {}
}
