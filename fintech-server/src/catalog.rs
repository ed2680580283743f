//! The REST rendering of the operation catalog (`fintech_core::catalog`): every operation the
//! catalog marks `rest: Generic` gets its route here, straight from the descriptor (path
//! parameters, the query string of a GET or the JSON body otherwise become the arguments; the
//! result is the operation's JSON object), and its OpenAPI operation from the descriptor's
//! schemas. Every documented operation, hand-written or generic, carries the scope the catalog
//! gives it.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::{Json, Router};
use fintech_core::catalog::{Method, Operation, Serve, OPERATIONS};
use fintech_core::Error;
use serde_json::{json, Map, Value};
use utoipa::openapi::path::{Operation as DocOperation, PathItem};
use utoipa::openapi::OpenApi;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Answer, Auth};
use crate::AppState;

/// The routes of the generic operations.
pub(crate) fn router() -> Router<AppState> {
    let mut router = Router::new();
    for op in OPERATIONS.iter().filter(|op| op.rest == Serve::Generic) {
        let filter = match op.method {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Put => MethodFilter::PUT,
            Method::Delete => MethodFilter::DELETE,
        };
        router = if op.path_params().next().is_some() {
            router.route(
                op.path,
                on(
                    filter,
                    move |State(s): State<AppState>,
                          Auth(p): Auth,
                          Path(params): Path<Vec<(String, String)>>,
                          RawQuery(query): RawQuery,
                          headers: HeaderMap,
                          body: Bytes| async move {
                        invoke(op, &s, p, params, query, &headers, body).await
                    },
                ),
            )
        } else {
            router.route(
                op.path,
                on(
                    filter,
                    move |State(s): State<AppState>,
                          Auth(p): Auth,
                          RawQuery(query): RawQuery,
                          headers: HeaderMap,
                          body: Bytes| async move {
                        invoke(op, &s, p, Vec::new(), query, &headers, body).await
                    },
                ),
            )
        };
    }
    router
}

/// Gathers the arguments, runs the operation, answers its result.
async fn invoke(
    op: &'static Operation,
    s: &AppState,
    p: fintech_core::Principal,
    params: Vec<(String, String)>,
    query: Option<String>,
    headers: &HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError::bad_request("Idempotency-Key must be printable ASCII"))?
                .to_owned(),
        ),
    };
    let mut args = match op.method {
        Method::Get | Method::Delete => query_args(op, query.as_deref().unwrap_or(""))?,
        Method::Post | Method::Put => body_args(headers, &body)?,
    };
    let mut path_args = Vec::new();
    for (param, value) in params {
        let Some(name) = op.path_params().find(|p| *p == param) else {
            continue;
        };
        let arg = op.path_arg(name);
        path_args.push(arg);
        args.insert(arg.to_owned(), Value::String(value));
    }
    match op.call(s.platform(), &p, Value::Object(args), key).await {
        // a change answers whether it was replayed (`Idempotent-Replayed`), as every route does
        Ok(v) if !op.effect.read_only => Ok(Answer::ok(v).into_response()),
        Ok(v) => Ok(Json(v.value).into_response()),
        // an id in the path that cannot be ours does not exist (404, as on every route)
        Err(Error::Validation { field, .. }) if path_args.contains(&field.as_str()) => {
            Err(Error::NotFound {
                kind: "object",
                id: field,
            }
            .into())
        }
        Err(e) => Err(e.into()),
    }
}

/// The query string as arguments, typed by the operation's input schema (integers and
/// booleans parse; everything else stays a string). A repeated parameter is refused.
fn query_args(op: &Operation, query: &str) -> ApiResult<Map<String, Value>> {
    let schema = (op.input_schema)();
    let mut args = Map::new();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))?;
    for (name, raw) in pairs {
        let kind = schema
            .get("properties")
            .and_then(|p| p.get(&name))
            .map(type_of)
            .unwrap_or("string");
        let value = match kind {
            "integer" => raw
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| ApiError::bad_request(format!("{name} must be an integer")))?,
            "boolean" => raw
                .parse::<bool>()
                .map(Value::from)
                .map_err(|_| ApiError::bad_request(format!("{name} must be true or false")))?,
            _ => Value::String(raw),
        };
        if args.insert(name.clone(), value).is_some() {
            return Err(ApiError::bad_request(format!("{name} is given twice")));
        }
    }
    Ok(args)
}

/// The first non-null JSON type a property schema allows.
fn type_of(property: &Value) -> &str {
    match property.get("type") {
        Some(Value::String(t)) => t,
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("string"),
        _ => "string",
    }
}

/// A JSON object body (an empty body is no arguments).
fn body_args(headers: &HeaderMap, body: &[u8]) -> ApiResult<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "send the body as application/json",
        ));
    }
    match fintech_core::json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_request(
            "the request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(format!("invalid request body: {e}"))),
    }
}

/// `/v1/payments/{id}` and `/v1/payments/{payment_id}` are the same route.
pub(crate) fn route_key(method: &str, path: &str) -> String {
    let shape: Vec<&str> = path
        .split('/')
        .map(|seg| if seg.starts_with('{') { "{}" } else { seg })
        .collect();
    format!("{} {}", method.to_uppercase(), shape.join("/"))
}

/// Adds the generic operations to the document and stamps every catalog operation with its
/// scope (`security: api_key: [scope]`) and name (`x-fintech-operation`).
pub(crate) fn document(doc: &mut OpenApi) {
    // the error answers every operation may give, as the hand-written routes document them
    let errors: Map<String, Value> = doc
        .paths
        .paths
        .get("/v1/whoami")
        .and_then(|item| item.get.as_ref())
        .and_then(|op| serde_json::to_value(&op.responses).ok())
        .and_then(|v| v.get("responses").cloned().or(Some(v)))
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|(status, _)| !status.starts_with('2'))
        .collect();
    for op in OPERATIONS.iter().filter(|op| op.rest == Serve::Generic) {
        let mut operation = generic_operation(op, doc);
        if let Some(Value::Object(responses)) = operation.get_mut("responses") {
            responses.extend(errors.clone());
        }
        let item: PathItem = serde_json::from_value(json!({
            op.method.as_str().to_lowercase(): operation,
        }))
        .unwrap_or_else(|e| panic!("the OpenAPI operation of {}: {e}", op.name));
        match doc.paths.paths.get_mut(op.path) {
            Some(existing) => existing.merge_operations(item),
            None => {
                doc.paths.paths.insert(op.path.to_owned(), item);
            }
        }
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, operation) in operations_mut(item) {
            let key = route_key(method, path);
            let Some(op) = OPERATIONS
                .iter()
                .find(|op| route_key(op.method.as_str(), op.path) == key)
            else {
                continue;
            };
            let scopes: Vec<String> = op.scope.iter().map(|s| s.as_str().to_owned()).collect();
            operation.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
                "api_key", scopes,
            )]);
            let mut ext = utoipa::openapi::extensions::Extensions::default();
            ext.insert("x-fintech-operation".into(), json!(op.name));
            match &mut operation.extensions {
                Some(existing) => existing.merge(ext),
                None => operation.extensions = Some(ext),
            }
        }
    }
}

fn operations_mut(item: &mut PathItem) -> Vec<(&'static str, &mut DocOperation)> {
    [
        ("GET", item.get.as_mut()),
        ("POST", item.post.as_mut()),
        ("PUT", item.put.as_mut()),
        ("DELETE", item.delete.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
    .collect()
}

/// The OpenAPI operation of a generic route, its output schema's `$defs` moved into the
/// document's components.
fn generic_operation(op: &Operation, doc: &mut OpenApi) -> Value {
    let mut output = (op.output_schema)();
    if let Some(Value::Object(defs)) = output.remove("$defs") {
        let components = doc.components.get_or_insert_with(Default::default);
        for (name, schema) in defs {
            if components.schemas.contains_key(&name) {
                continue;
            }
            let schema = serde_json::from_value(components_refs(schema))
                .unwrap_or_else(|e| panic!("schema {name} of {}: {e}", op.name));
            components.schemas.insert(name, schema);
        }
    }
    let input = (op.input_schema)();
    let properties = input
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let required: Vec<&str> = input
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let path_args: Vec<&str> = op.path_params().map(|p| op.path_arg(p)).collect();
    let mut parameters: Vec<Value> = op
        .path_params()
        .map(|param| {
            let arg = op.path_arg(param);
            json!({
                "name": param, "in": "path", "required": true,
                "description": properties.get(arg).and_then(|p| p.get("description")).cloned().unwrap_or(json!(arg)),
                "schema": { "type": "string" },
            })
        })
        .collect();
    let mut operation = json!({
        "tags": [op.name.split('_').next().unwrap_or("catalog")],
        "summary": op.title,
        "description": op.description,
        "operationId": op.name,
        "responses": {
            "200": {
                "description": op.title,
                "content": { "application/json": { "schema": components_refs(Value::Object(output)) } }
            }
        }
    });
    let rest: Map<String, Value> = properties
        .into_iter()
        .filter(|(name, _)| !path_args.contains(&name.as_str()))
        .collect();
    match op.method {
        Method::Get | Method::Delete => {
            for (name, schema) in rest {
                parameters.push(json!({
                    "name": name, "in": "query",
                    "required": required.contains(&name.as_str()),
                    "description": schema.get("description").cloned().unwrap_or(json!(name)),
                    "schema": { "type": type_of(&schema) },
                }));
            }
        }
        Method::Post | Method::Put if !rest.is_empty() => {
            operation["requestBody"] = json!({
                "content": { "application/json": { "schema": {
                    "type": "object", "properties": rest, "additionalProperties": false,
                    "required": required.iter().filter(|r| !path_args.contains(r)).collect::<Vec<_>>(),
                } } }
            });
        }
        _ => {}
    }
    operation["parameters"] = Value::Array(parameters);
    operation
}

/// `#/$defs/X` (plain JSON Schema) becomes `#/components/schemas/X` (OpenAPI).
fn components_refs(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match (&*k, v) {
                        ("$ref", Value::String(s)) => {
                            Value::String(s.replace("#/$defs/", "#/components/schemas/"))
                        }
                        (_, v) => components_refs(v),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(components_refs).collect()),
        other => other,
    }
}
