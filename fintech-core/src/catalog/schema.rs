//! JSON Schemas of the operations: inputs from schemars (feature `schema`: the argument
//! structs of [`super::args`]), outputs from the utoipa schemas of the core types (feature
//! `openapi`: the same schemas the REST API's OpenAPI document describes, so the two cannot
//! drift apart). References point into the schema's own `$defs`.

use serde_json::{json, Map, Value};
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[cfg(feature = "openapi")]
use crate::banking::BankAccount;
#[cfg(feature = "openapi")]
#[cfg(feature = "openapi")]
use crate::trading::{Fill, Order};
#[cfg(feature = "openapi")]
use crate::Money;

/// The input schema of `T` (JSON Schema 2020-12): an object with descriptions and bounds,
/// without the wrapper type's own title and description.
#[cfg(feature = "schema")]
pub fn input<T: schemars::JsonSchema>() -> Map<String, Value> {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    let Value::Object(mut object) = serde_json::to_value(schema).expect("schema serializes") else {
        panic!(
            "input schema of {} is not an object",
            std::any::type_name::<T>()
        );
    };
    assert_eq!(
        object.get("type"),
        Some(&json!("object")),
        "input schema of {} must be an object",
        std::any::type_name::<T>()
    );
    object.remove("title");
    object.remove("description");
    object
}

#[cfg(feature = "openapi")]
/// Builds an output schema: an object whose properties refer to core types kept in `$defs`.
#[derive(Default)]
pub struct Out {
    defs: Map<String, Value>,
    properties: Map<String, Value>,
    required: Vec<String>,
}

#[cfg(feature = "openapi")]
impl Out {
    /// An empty object schema.
    pub fn new() -> Self {
        Self::default()
    }

    /// A reference to `T`, with `T` and everything it uses added to `$defs`.
    pub fn of<T: ToSchema>(&mut self) -> Value {
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
    pub fn list_of<T: ToSchema>(&mut self) -> Value {
        json!({ "type": "array", "items": self.of::<T>() })
    }

    /// Adds a required property.
    pub fn field(mut self, name: &str, schema: Value) -> Self {
        self.properties.insert(name.to_owned(), schema);
        self.required.push(name.to_owned());
        self
    }

    /// Adds an optional property.
    pub fn optional(mut self, name: &str, schema: Value) -> Self {
        self.properties.insert(name.to_owned(), schema);
        self
    }

    /// The finished schema.
    pub fn build(self) -> Map<String, Value> {
        let mut root = Map::new();
        root.insert("type".into(), json!("object"));
        root.insert("properties".into(), Value::Object(self.properties));
        root.insert("required".into(), json!(self.required));
        if !self.defs.is_empty() {
            root.insert("$defs".into(), Value::Object(self.defs));
        }
        root
    }
}

#[cfg(feature = "openapi")]
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
pub fn nullable(schema: Value) -> Value {
    json!({ "anyOf": [schema, { "type": "null" }] })
}

/// A plain string with a description.
pub fn string(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

/// A boolean with a description.
pub fn boolean(description: &str) -> Value {
    json!({ "type": "boolean", "description": description })
}

/// `{key: T}`.
#[cfg(feature = "openapi")]
pub fn one<T: ToSchema>(key: &str) -> Map<String, Value> {
    let mut o = Out::new();
    let s = o.of::<T>();
    o.field(key, s).build()
}

/// `{key: [T]}`, with `next_cursor` when paged.
#[cfg(feature = "openapi")]
pub fn many<T: ToSchema>(key: &str, paged: bool) -> Map<String, Value> {
    let mut o = Out::new();
    let s = o.list_of::<T>();
    let o = o.field(key, s);
    if paged {
        o.field(
            "next_cursor",
            nullable(string(
                "Pass as `cursor` for the next page; null on the last page.",
            )),
        )
        .build()
    } else {
        o.build()
    }
}

#[cfg(feature = "openapi")]
/// A money move's output: either executed (the object) or a preview with a token.
pub fn money_move<T: ToSchema>(key: &str) -> Map<String, Value> {
    let mut o = Out::new();
    let obj = o.of::<T>();
    let decision = o.of::<crate::platform::MoveDecision>();
    o.field(
        "status",
        json!({ "type": "string", "enum": ["executed", "confirmation_required"],
                "description": "`executed`: done (see the object's own status, which may be held). `confirmation_required`: nothing happened yet." }),
    )
    .optional(key, obj)
    .optional(
        "replayed",
        boolean("True when this confirmation token had already executed: the first result is returned, nothing moved twice."),
    )
    .optional("preview", decision)
    .optional(
        "confirmation_token",
        string("Call the same tool again with identical arguments plus this token to execute."),
    )
    .optional(
        "expires_at",
        json!({ "type": "string", "format": "date-time" }),
    )
    .build()
}

/// `banking_balances`: totals per currency and the accounts.
#[cfg(feature = "openapi")]
pub fn balances_output() -> Map<String, Value> {
    let mut o = Out::new();
    let money = o.of::<Money>();
    let accounts = o.list_of::<BankAccount>();
    o.field(
        "totals",
        json!({
            "type": "array",
            "description": "Sum over accounts, per currency.",
            "items": {
                "type": "object",
                "properties": { "currency": string("ISO 4217"), "current": money.clone(), "available": money },
                "required": ["currency", "current", "available"]
            }
        }),
    )
    .field("accounts", accounts)
    .build()
}

/// An order with its fills.
#[cfg(feature = "openapi")]
pub fn order_output() -> Map<String, Value> {
    let mut o = Out::new();
    let order = o.of::<Order>();
    let fills = o.list_of::<Fill>();
    o.field("order", order).field("fills", fills).build()
}

/// A sandbox public token.
#[cfg(feature = "openapi")]
pub fn public_token_output() -> Map<String, Value> {
    Out::new()
        .field("public_token", string("Pass to banking_link_complete."))
        .build()
}

/// `T` itself as the root object, the types it uses in `$defs`.
#[cfg(feature = "openapi")]
pub fn object<T: ToSchema>() -> Map<String, Value> {
    let mut out = Out::new();
    let reference = out.of::<T>();
    let name = T::name().into_owned();
    let root = out.defs.remove(&name).unwrap_or(reference);
    let Value::Object(mut root) = root else {
        panic!("the schema of {name} is not an object");
    };
    if !out.defs.is_empty() {
        root.insert("$defs".into(), Value::Object(out.defs));
    }
    root
}

/// `{key: T | null}`.
#[cfg(feature = "openapi")]
pub fn one_or_null<T: ToSchema>(key: &str) -> Map<String, Value> {
    let mut o = Out::new();
    let s = o.of::<T>();
    o.field(key, nullable(s)).build()
}
