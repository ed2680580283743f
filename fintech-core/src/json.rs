//! Strict JSON: what every shell uses to read a request body, tool arguments or a rule file.
//!
//! `serde_json` on its own lets the last of two equal keys win (`{"amount":"1.00",
//! "amount":"900.00"}` reads as 900.00, while a proxy or a reviewer reading the first sees
//! 1.00), and lets a derived struct be given as an array (`"amount": ["1.00","USD"]`). Both are
//! refused here, at every depth: [`from_slice`] and [`from_value`] wrap the deserializer so
//! that every object is read key by key (a repeated key is an error) and every struct must be
//! a JSON object.
//!
//! ```
//! use fintech_core::json;
//! use fintech_core::Money;
//! assert!(json::from_slice::<Money>(br#"{"amount":"1.00","currency":"USD"}"#).is_ok());
//! assert!(json::from_slice::<Money>(br#"{"amount":"1.00","amount":"900.00","currency":"USD"}"#).is_err());
//! assert!(json::from_slice::<Money>(br#"["1.00","USD"]"#).is_err());
//! ```

use std::collections::HashSet;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess,
    SeqAccess, VariantAccess, Visitor,
};

use crate::error::{Error, Result};

/// Reads `T` from JSON text, refusing duplicate keys and arrays where objects belong.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(Strict(&mut de)).map_err(invalid)?;
    de.end().map_err(invalid)?;
    Ok(value)
}

/// Reads `T` from an already parsed value (MCP tool arguments), refusing arrays where objects
/// belong. (A parsed value has lost any duplicate key; check the raw text with
/// [`check_text`] where it is available.)
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T> {
    T::deserialize(Strict(value)).map_err(invalid)
}

/// Checks that JSON text is well formed and repeats no key in any object.
pub fn check_text(bytes: &[u8]) -> Result<()> {
    from_slice::<de::IgnoredAny>(bytes).map(|_| ())
}

/// Marks a deserialization error about a value that is well formed but not acceptable (an
/// amount out of range or too precise): [`from_slice`] and [`from_value`] answer it as a
/// validation error on the value (HTTP 422), not as a malformed body (`body`, HTTP 400).
pub(crate) const VALUE_ERROR: &str = "[value] ";

fn invalid(e: serde_json::Error) -> Error {
    let text = e.to_string();
    match text.split_once(VALUE_ERROR) {
        Some((_, rest)) => {
            let message = rest.split(" at line ").next().unwrap_or(rest);
            Error::validation("amount", message.trim_start_matches("invalid amount: "))
        }
        None => Error::validation("body", text),
    }
}

/// A deserializer that reads every struct as a map and every map key by key.
struct Strict<D>(D);

/// A visitor whose nested deserializers are strict too.
struct Wrap<V>(V);

struct StrictSeed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for StrictSeed<S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<S::Value, D::Error> {
        self.0.deserialize(Strict(d))
    }
}

macro_rules! forward_deserialize {
    ($($method:ident),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, Self::Error> {
                self.0.$method(Wrap(visitor))
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward_deserialize!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
    );

    /// Ignored values are still walked, so a repeated key inside one is found.
    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, D::Error> {
        self.0.deserialize_any(Wrap(visitor))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> std::result::Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, Wrap(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> std::result::Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, Wrap(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> std::result::Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, Wrap(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> std::result::Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, Wrap(visitor))
    }

    /// A struct must be an object: read as a map, so an array is refused.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, D::Error> {
        self.0.deserialize_map(Wrap(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, Wrap(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> std::result::Result<Self::Value, E> {
                self.0.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    forward_visit!(
        visit_bool(bool),
        visit_i8(i8),
        visit_i16(i16),
        visit_i32(i32),
        visit_i64(i64),
        visit_i128(i128),
        visit_u8(u8),
        visit_u16(u16),
        visit_u32(u32),
        visit_u64(u64),
        visit_u128(u128),
        visit_f32(f32),
        visit_f64(f64),
        visit_char(char),
        visit_str(&str),
        visit_borrowed_str(&'de str),
        visit_string(String),
        visit_bytes(&[u8]),
        visit_borrowed_bytes(&'de [u8]),
        visit_byte_buf(Vec<u8>),
    );

    fn visit_none<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
        self.0.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        self.0.visit_some(Strict(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        self.0.visit_newtype_struct(Strict(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<Self::Value, A::Error> {
        self.0.visit_seq(StrictSeq(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<Self::Value, A::Error> {
        self.0.visit_map(StrictMap {
            inner: map,
            seen: HashSet::new(),
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> std::result::Result<Self::Value, A::Error> {
        self.0.visit_enum(StrictEnum(data))
    }
}

struct StrictSeq<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for StrictSeq<A> {
    type Error = A::Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> std::result::Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(StrictSeed(seed))
    }
    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// Reads each key as text first, so a repeated one is seen before its value is used.
struct StrictMap<A> {
    inner: A,
    seen: HashSet<String>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for StrictMap<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> std::result::Result<Option<K::Value>, A::Error> {
        let Some(key) = self.inner.next_key::<String>()? else {
            return Ok(None);
        };
        if !self.seen.insert(key.clone()) {
            let shown: String = key.chars().take(64).collect();
            return Err(de::Error::custom(format_args!(
                "duplicate key {shown:?}: each key may appear once in an object"
            )));
        }
        let key: de::value::StringDeserializer<A::Error> = key.into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> std::result::Result<V::Value, A::Error> {
        self.inner.next_value_seed(StrictSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

struct StrictEnum<A>(A);

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for StrictEnum<A> {
    type Error = A::Error;
    type Variant = StrictVariant<A::Variant>;
    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> std::result::Result<(V::Value, Self::Variant), A::Error> {
        let (v, variant) = self.0.variant_seed(StrictSeed(seed))?;
        Ok((v, StrictVariant(variant)))
    }
}

struct StrictVariant<A>(A);

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for StrictVariant<A> {
    type Error = A::Error;
    fn unit_variant(self) -> std::result::Result<(), A::Error> {
        self.0.unit_variant()
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> std::result::Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(StrictSeed(seed))
    }
    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> std::result::Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Wrap(visitor))
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, A::Error> {
        self.0.struct_variant(fields, Wrap(visitor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::NewPayment;

    #[test]
    fn duplicate_keys_are_refused_at_every_depth() {
        let twice = br#"{"amount":{"amount":"1.00","currency":"USD"},"payment_method":"pm_card_visa","amount":{"amount":"900.00","currency":"USD"}}"#;
        let err = from_slice::<NewPayment>(twice).expect_err("duplicate refused");
        assert!(
            err.to_string().contains("duplicate key \"amount\""),
            "{err}"
        );
        let nested = br#"{"amount":{"amount":"1.00","amount":"900.00","currency":"USD"},"payment_method":"pm_card_visa"}"#;
        assert!(from_slice::<NewPayment>(nested).is_err());
        assert!(check_text(br#"{"a":[{"b":1,"b":2}]}"#).is_err());
        assert!(check_text(br#"{"a":[{"b":1},{"b":2}]}"#).is_ok());
        // also inside a value nobody reads
        assert!(check_text(br#"{"x":{"y":1,"y":1}}"#).is_err());
    }

    #[test]
    fn an_array_is_not_an_object() {
        let arr = br#"{"amount":["1.00","USD"],"payment_method":"pm_card_visa"}"#;
        assert!(from_slice::<NewPayment>(arr).is_err());
        let v: serde_json::Value = serde_json::from_slice(arr).expect("json");
        assert!(
            serde_json::from_value::<NewPayment>(v.clone()).is_ok(),
            "plain serde accepts it: the reason this module exists"
        );
        assert!(from_value::<NewPayment>(v).is_err());
        let ok =
            br#"{"amount":{"amount":"1.00","currency":"USD"},"payment_method":"pm_card_visa"}"#;
        let p = from_slice::<NewPayment>(ok).expect("valid");
        assert_eq!(p.amount.to_string(), "1.00 USD");
    }

    #[test]
    fn an_unacceptable_amount_is_a_value_error_not_a_malformed_body() {
        let big = br#"{"amount":{"amount":"92233720368547758.07","currency":"USD"},"payment_method":"pm_card_visa"}"#;
        match from_slice::<NewPayment>(big) {
            Err(Error::Validation { field, message }) => {
                assert_eq!(field, "amount");
                assert!(message.contains("largest amount"), "{message}");
                assert!(!message.contains("[value]"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match from_slice::<NewPayment>(br#"{"amount":"x"}"#) {
            Err(Error::Validation { field, .. }) => assert_eq!(field, "body"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn trailing_text_is_refused() {
        assert!(from_slice::<serde_json::Value>(br#"{"a":1} {"a":2}"#).is_err());
    }
}
