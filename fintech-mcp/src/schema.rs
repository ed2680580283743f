//! JSON schemas of tool inputs (schemars, from the input structs of this crate) and outputs
//! (utoipa, from the same core types the REST API's OpenAPI document describes, so the two
//! cannot drift apart).

use std::sync::Arc;

use rmcp::model::JsonObject;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

/// The input schema of a tool: an object with descriptions and bounds.
pub(crate) fn input<T: schemars::JsonSchema + std::any::Any>() -> Arc<JsonObject> {
    rmcp::handler::server::common::schema_for_input::<T>()
        .unwrap_or_else(|e| panic!("input schema of {}: {e}", std::any::type_name::<T>()))
}

/// Builds an output schema: an object whose properties refer to core types kept in `$defs`.
#[derive(Default)]
pub(crate) struct Out {
    defs: Map<String, Value>,
    properties: Map<String, Value>,
    required: Vec<String>,
}

impl Out {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A reference to `T`, with `T` and everything it uses added to `$defs`.
    pub(crate) fn of<T: ToSchema>(&mut self) -> Value {
        let mut deps = Vec::new();
        T::schemas(&mut deps);
        for (name, schema) in deps {
            let v = serde_json::to_value(schema).expect("schema serializes");
            self.defs.insert(name, rewrite_refs(v));
        }
        let name = T::name().into_owned();
        let own = serde_json::to_value(T::schema()).expect("schema serializes");
        self.defs.insert(name.clone(), rewrite_refs(own));
        json!({ "$ref": format!("#/$defs/{name}") })
    }

    /// An array of `T`.
    pub(crate) fn list_of<T: ToSchema>(&mut self) -> Value {
        json!({ "type": "array", "items": self.of::<T>() })
    }

    /// Adds a required property.
    pub(crate) fn field(mut self, name: &str, schema: Value) -> Self {
        self.properties.insert(name.to_owned(), schema);
        self.required.push(name.to_owned());
        self
    }

    /// Adds an optional property.
    pub(crate) fn optional(mut self, name: &str, schema: Value) -> Self {
        self.properties.insert(name.to_owned(), schema);
        self
    }

    pub(crate) fn build(self) -> Arc<JsonObject> {
        let mut root = Map::new();
        root.insert("type".into(), json!("object"));
        root.insert("properties".into(), Value::Object(self.properties));
        root.insert("required".into(), json!(self.required));
        if !self.defs.is_empty() {
            root.insert("$defs".into(), Value::Object(self.defs));
        }
        Arc::new(root)
    }
}

/// `#/components/schemas/X` (OpenAPI) becomes `#/$defs/X` (plain JSON Schema).
fn rewrite_refs(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match (&*k, v) {
                        ("$ref", Value::String(s)) => {
                            Value::String(s.replace("#/components/schemas/", "#/$defs/"))
                        }
                        (_, v) => rewrite_refs(v),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(rewrite_refs).collect()),
        other => other,
    }
}

/// `{"type": ["string", "null"]}` and friends.
pub(crate) fn nullable(schema: Value) -> Value {
    json!({ "anyOf": [schema, { "type": "null" }] })
}

/// A plain string with a description.
pub(crate) fn string(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

/// A boolean with a description.
pub(crate) fn boolean(description: &str) -> Value {
    json!({ "type": "boolean", "description": description })
}
