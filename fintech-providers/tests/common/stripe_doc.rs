//! Stripe's documents for the Stripe tests: the fixtures, one operation's path item parsed
//! out of the 4 MB document, and a validator of form bodies against a request body schema.
#![allow(dead_code)]

use serde_json::{json, Value};

pub fn specs() -> std::path::PathBuf {
    // the providers' documents live next to the repository (../shared/provider-specs), or
    // wherever FINTECH_PROVIDER_SPECS says
    match std::env::var("FINTECH_PROVIDER_SPECS") {
        Ok(dir) => dir.into(),
        Err(_) => {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/provider-specs")
        }
    }
}

pub fn fixtures() -> Value {
    let text = std::fs::read_to_string(specs().join("stripe-fixtures3.json")).expect("fixtures");
    serde_json::from_str::<Value>(&text).expect("json")["resources"].clone()
}

/// The operation's path item from the document, parsed alone (the whole file takes long).
pub fn path_item(spec: &str, path: &str) -> Value {
    // path keys with braces are quoted in the document
    let (start, header) = [format!("\n  {path}:\n"), format!("\n  '{path}':\n")]
        .into_iter()
        .find_map(|h| spec.find(&h).map(|i| (i + 1, h)))
        .unwrap_or_else(|| panic!("{path} not in the document"));
    let body_start = start + header.len() - 1;
    let rest = &spec[body_start..];
    let end = [
        rest.find("\n  /"),
        rest.find("\n  '/"),
        rest.find("\ncomponents:"),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(rest.len());
    let yaml = &spec[start..body_start + end];
    let v: serde_yaml::Value = serde_yaml::from_str(yaml).expect("yaml");
    serde_json::to_value(v).expect("json")[path].clone()
}

/// Checks a form body against a request body schema; the problems found.
pub fn validate(schema: &Value, form: &[(String, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    for (key, value) in form {
        let segments: Vec<&str> = key.split(['[', ']']).filter(|s| !s.is_empty()).collect();
        if let Err(e) = check(schema, &segments, value) {
            problems.push(format!("{key}={value}: {e}"));
        }
    }
    for r in schema["required"].as_array().into_iter().flatten() {
        let r = r.as_str().unwrap_or_default();
        if !form
            .iter()
            .any(|(k, _)| k == r || k.starts_with(&format!("{r}[")))
        {
            problems.push(format!("required parameter {r} missing"));
        }
    }
    problems
}

fn check(schema: &Value, segments: &[&str], value: &str) -> Result<(), String> {
    if let Some(branches) = schema["anyOf"].as_array() {
        let errors: Vec<String> = branches
            .iter()
            .filter_map(|b| check(b, segments, value).err())
            .collect();
        return if errors.len() < branches.len() {
            Ok(())
        } else {
            Err(errors.join(" | "))
        };
    }
    assert!(
        schema.get("$ref").is_none(),
        "unresolved $ref in a request schema"
    );
    match segments.split_first() {
        Some((seg, rest)) => {
            if seg.chars().all(|c| c.is_ascii_digit()) && schema["type"] == "array" {
                return check(&schema["items"], rest, value);
            }
            match schema["properties"].get(*seg) {
                Some(p) => check(p, rest, value),
                None if schema["additionalProperties"] == json!(false)
                    || schema["type"] != "object" =>
                {
                    Err(format!("unknown parameter {seg}"))
                }
                None => Ok(()),
            }
        }
        None => {
            match schema["type"].as_str() {
                Some("integer") => value
                    .parse::<i64>()
                    .map(|_| ())
                    .map_err(|_| "not an integer".to_owned())?,
                Some("boolean") if !matches!(value, "true" | "false") => {
                    return Err("not a boolean".into());
                }
                Some("string") => {
                    if let Some(max) = schema["maxLength"].as_u64() {
                        if value.chars().count() as u64 > max {
                            return Err(format!("longer than {max}"));
                        }
                    }
                }
                Some("object") | Some("array") => {
                    return Err("a scalar where the schema wants a structure".into())
                }
                _ => {}
            }
            if let Some(allowed) = schema["enum"].as_array() {
                if !allowed.iter().any(|a| a.as_str() == Some(value)) {
                    return Err(format!("{value:?} not in {allowed:?}"));
                }
            }
            Ok(())
        }
    }
}

pub fn request_schema(spec: &str, template: &str, method: &str) -> Value {
    path_item(spec, template)[method]["requestBody"]["content"]["application/x-www-form-urlencoded"]
        ["schema"]
        .clone()
}

/// Checks a query string against an operation's query parameters: each one must be declared
/// (`in: query`) with a matching type or enum, and required ones present.
pub fn validate_query(operation: &Value, query: &[(String, String)]) -> Vec<String> {
    let params: Vec<&Value> = operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query")
        .collect();
    let mut problems = Vec::new();
    for (key, value) in query {
        let name = key.split('[').next().unwrap_or(key);
        let Some(param) = params.iter().find(|p| p["name"] == name) else {
            problems.push(format!("unknown query parameter {key}"));
            continue;
        };
        let segments: Vec<&str> = key.split(['[', ']']).filter(|s| !s.is_empty()).collect();
        if let Err(e) = check(&param["schema"], &segments[1..], value) {
            problems.push(format!("{key}={value}: {e}"));
        }
    }
    for p in params.iter().filter(|p| p["required"] == json!(true)) {
        let name = p["name"].as_str().unwrap_or_default();
        if !query.iter().any(|(k, _)| k == name) {
            problems.push(format!("required query parameter {name} missing"));
        }
    }
    problems
}
