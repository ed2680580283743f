//! SD-JWT selective disclosure (RFC 9901) as AP2 mandates use it: disclosures, their digests,
//! and the resolution of a payload's `_sd` digests and `{"...": digest}` array elements into
//! plain JSON.
//!
//! Resolution is strict where the RFC asks for it and the reference SDK is lax: a disclosure
//! that no digest references, a disclosure given twice, a digest referenced twice, a claim
//! name that already exists, or a disclosure of the wrong shape for where its digest sits are
//! all refused. A digest without a disclosure is a withheld claim and simply stays hidden.

use std::collections::{HashMap, HashSet};

use rand::RngCore;
use serde_json::{Map, Value};

use super::jose::{b64url, b64url_decode, sha256_b64url};

/// One disclosure: `[salt, value]` (array element) or `[salt, name, value]` (object property).
#[derive(Debug, Clone, PartialEq)]
pub struct Disclosure {
    /// The disclosure as presented (base64url); its digest is computed over this text.
    pub encoded: String,
    /// The property name, for an object-property disclosure.
    pub name: Option<String>,
    /// The disclosed value.
    pub value: Value,
}

impl Disclosure {
    /// Decodes a presented disclosure; `None` when it is not base64url of a JSON array of two
    /// or three elements with a string salt (and a string name).
    pub fn parse(encoded: &str) -> Option<Self> {
        let arr: Vec<Value> = crate::json::from_slice(&b64url_decode(encoded)?).ok()?;
        let (name, value) = match arr.as_slice() {
            [Value::String(_), value] => (None, value.clone()),
            [Value::String(_), Value::String(name), value] => (Some(name.clone()), value.clone()),
            _ => return None,
        };
        Some(Self {
            encoded: encoded.to_string(),
            name,
            value,
        })
    }

    /// A new disclosure with a random 128-bit salt.
    pub fn new(name: Option<&str>, value: Value) -> Self {
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let arr = match name {
            Some(n) => serde_json::json!([b64url(&salt), n, value]),
            None => serde_json::json!([b64url(&salt), value]),
        };
        Self {
            encoded: b64url(arr.to_string().as_bytes()),
            name: name.map(str::to_string),
            value,
        }
    }

    /// base64url(SHA-256(encoded)).
    pub fn digest(&self) -> String {
        sha256_b64url(&self.encoded)
    }

    /// The array element that references this disclosure: `{"...": digest}`.
    pub fn element_ref(&self) -> Value {
        serde_json::json!({ "...": self.digest() })
    }
}

/// Why resolution failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdError {
    /// A disclosure is not well-formed.
    Malformed(String),
    /// A disclosure is unreferenced, duplicated or misplaced.
    Tampered(String),
}

/// Resolves `payload` against `disclosures`: every referenced disclosure is put in place, every
/// `_sd`, `_sd_alg` and withheld element removed. `_sd_alg` must be absent or `sha-256`.
pub fn resolve(payload: &Map<String, Value>, disclosures: &[&str]) -> Result<Value, SdError> {
    if let Some(alg) = payload.get("_sd_alg") {
        if alg.as_str() != Some("sha-256") {
            return Err(SdError::Malformed(format!(
                "unsupported _sd_alg {alg}; only sha-256"
            )));
        }
    }
    let mut by_digest: HashMap<String, Disclosure> = HashMap::new();
    for d in disclosures {
        let parsed = Disclosure::parse(d)
            .ok_or_else(|| SdError::Malformed("a disclosure does not decode".into()))?;
        if by_digest.insert(parsed.digest(), parsed).is_some() {
            return Err(SdError::Tampered("a disclosure is given twice".into()));
        }
    }
    let mut used = HashSet::new();
    let mut root = payload.clone();
    root.remove("_sd_alg");
    let out = walk(Value::Object(root), &by_digest, &mut used)?;
    if by_digest.keys().any(|d| !used.contains(d)) {
        return Err(SdError::Tampered(
            "a disclosure does not hash to any digest of its token".into(),
        ));
    }
    Ok(out)
}

fn walk(
    value: Value,
    disclosures: &HashMap<String, Disclosure>,
    used: &mut HashSet<String>,
) -> Result<Value, SdError> {
    match value {
        Value::Object(mut obj) => {
            let sd = obj.remove("_sd");
            let mut out = Map::new();
            for (k, v) in obj {
                out.insert(k, walk(v, disclosures, used)?);
            }
            if let Some(sd) = sd {
                let Value::Array(digests) = sd else {
                    return Err(SdError::Malformed("_sd is not an array".into()));
                };
                for digest in digests {
                    let Value::String(digest) = digest else {
                        return Err(SdError::Malformed("_sd holds a non-string".into()));
                    };
                    if !used.insert(digest.clone()) {
                        return Err(SdError::Tampered("a digest is referenced twice".into()));
                    }
                    let Some(d) = disclosures.get(&digest) else {
                        continue;
                    };
                    let Some(name) = &d.name else {
                        return Err(SdError::Tampered(
                            "an array-element disclosure is referenced from _sd".into(),
                        ));
                    };
                    if name == "_sd" || name == "..." || out.contains_key(name) {
                        return Err(SdError::Tampered(format!(
                            "disclosed claim {name:?} is reserved or already present"
                        )));
                    }
                    let v = walk(d.value.clone(), disclosures, used)?;
                    out.insert(name.clone(), v);
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let digest = match &item {
                    Value::Object(o) if o.len() == 1 && o.contains_key("...") => {
                        match o.get("...") {
                            Some(Value::String(d)) => Some(d.clone()),
                            _ => {
                                return Err(SdError::Malformed(
                                    "an array element digest is not a string".into(),
                                ))
                            }
                        }
                    }
                    _ => None,
                };
                match digest {
                    None => out.push(walk(item, disclosures, used)?),
                    Some(digest) => {
                        if !used.insert(digest.clone()) {
                            return Err(SdError::Tampered("a digest is referenced twice".into()));
                        }
                        let Some(d) = disclosures.get(&digest) else {
                            continue;
                        };
                        if d.name.is_some() {
                            return Err(SdError::Tampered(
                                "an object-property disclosure is referenced as an array element"
                                    .into(),
                            ));
                        }
                        out.push(walk(d.value.clone(), disclosures, used)?);
                    }
                }
            }
            Ok(Value::Array(out))
        }
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().expect("object").clone()
    }

    #[test]
    fn resolves_properties_and_elements_and_hides_withheld() {
        let a = Disclosure::new(Some("a"), json!(1));
        let b = Disclosure::new(Some("b"), json!(2));
        let e1 = Disclosure::new(None, json!({"id": "m1"}));
        let e2 = Disclosure::new(None, json!({"id": "m2"}));
        let payload = obj(json!({
            "_sd": [a.digest(), b.digest()],
            "_sd_alg": "sha-256",
            "list": [e1.element_ref(), e2.element_ref(), "plain"],
        }));
        let out = resolve(&payload, &[&a.encoded, &e1.encoded, &e2.encoded]).expect("resolve");
        assert_eq!(
            out,
            json!({"a": 1, "list": [{"id": "m1"}, {"id": "m2"}, "plain"]})
        );
        // b withheld, e2 withheld: hidden, not an error.
        let out = resolve(&payload, &[&e1.encoded]).expect("resolve");
        assert_eq!(out, json!({"list": [{"id": "m1"}, "plain"]}));
    }

    #[test]
    fn refuses_unreferenced_duplicate_and_misplaced() {
        let a = Disclosure::new(Some("a"), json!(1));
        let e = Disclosure::new(None, json!(1));
        let stray = Disclosure::new(Some("x"), json!(1));
        let payload = obj(json!({"_sd": [a.digest()], "l": [e.element_ref()]}));
        assert!(matches!(
            resolve(&payload, &[&a.encoded, &stray.encoded]),
            Err(SdError::Tampered(_))
        ));
        assert!(matches!(
            resolve(&payload, &[&a.encoded, &a.encoded]),
            Err(SdError::Tampered(_))
        ));
        let swapped = obj(json!({"_sd": [e.digest()], "l": [a.element_ref()]}));
        assert!(matches!(
            resolve(&swapped, &[&a.encoded, &e.encoded]),
            Err(SdError::Tampered(_))
        ));
        let clash = obj(json!({"_sd": [a.digest()], "a": 5}));
        assert!(matches!(
            resolve(&clash, &[&a.encoded]),
            Err(SdError::Tampered(_))
        ));
        let twice = obj(json!({"_sd": [a.digest()], "l": [{"...": a.digest()}]}));
        assert!(matches!(
            resolve(&twice, &[&a.encoded]),
            Err(SdError::Tampered(_))
        ));
        let alg = obj(json!({"_sd_alg": "sha-512"}));
        assert!(matches!(resolve(&alg, &[]), Err(SdError::Malformed(_))));
    }
}
