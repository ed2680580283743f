//! The operation catalog: one [`Operation`] descriptor per operation, the single place that
//! says what an operation is called, where REST serves it, which scope it needs, whether it
//! moves money, what it does to the world (MCP annotations), how it is documented, the shape
//! of its arguments and result, and how to run it (a type-erased invoker that parses the
//! arguments strictly and calls the one [`Platform`] method).
//!
//! The shells render the catalog: MCP lists, filters, annotates and dispatches its tools from
//! it; the REST server checks its hand-written routes against it and serves the rest
//! generically; the CLI runs any operation with `fintech op <name> --json '{…}'`. A test walks
//! the catalog and fails when a shell lacks an operation or disagrees on its scope. See "How
//! to add an operation" in docs/ARCHITECTURE.md.

pub mod args;
mod ops;
#[cfg(any(feature = "schema", feature = "openapi"))]
pub mod schema;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::platform::Executed;
use crate::{Error, Platform, Principal, Result, Scope};

pub use ops::{totals, OPERATIONS};

/// An HTTP method of a REST route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`: a read; arguments in the path and the query string.
    Get,
    /// `POST`: arguments in the path and a JSON body.
    Post,
    /// `PUT`: arguments in the path and a JSON body.
    Put,
    /// `DELETE`: arguments in the path.
    Delete,
}

impl Method {
    /// The method's name, upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
        }
    }
}

/// What an operation does to the world: the MCP tool annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effect {
    /// Changes nothing.
    pub read_only: bool,
    /// May destroy or irreversibly change something (money moved, a link removed).
    pub destructive: bool,
    /// Calling twice with the same arguments has no further effect.
    pub idempotent: bool,
    /// Talks to a provider (live data or an external change), not only our database.
    pub open_world: bool,
}

/// A read of our own database.
pub const READ: Effect = Effect {
    read_only: true,
    destructive: false,
    idempotent: true,
    open_world: false,
};

/// A read that asks a provider (live data).
pub const LIVE: Effect = Effect {
    read_only: true,
    destructive: false,
    idempotent: true,
    open_world: true,
};

/// A change at a provider and here.
pub const fn write(destructive: bool, idempotent: bool) -> Effect {
    Effect {
        read_only: false,
        destructive,
        idempotent,
        open_world: true,
    }
}

/// How a shell serves an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serve {
    /// From the descriptor alone: arguments in, the invoker, the result out.
    Generic,
    /// By hand-written shell code that renders more than the descriptor (a two-step
    /// confirmation, progress notifications, `201 Created`, headers) and must agree with the
    /// descriptor's name, route and scope — the completeness test checks that.
    Custom,
}

/// The type-erased invoker: parses the arguments (strictly, unknown fields refused) and calls
/// one [`Platform`] method with the caller's idempotency key (if any; a read ignores it); the
/// result is the operation's JSON object and whether it was replayed from an earlier request
/// with the same key.
pub type Invoke = for<'a> fn(
    &'a Platform,
    &'a Principal,
    Value,
    Option<String>,
) -> BoxFuture<'a, Result<Executed<Value>>>;

/// One operation.
#[derive(Clone, Copy)]
pub struct Operation {
    /// The name: snake_case, the MCP tool name and the CLI's `fintech op <name>`.
    pub name: &'static str,
    /// A short title.
    pub title: &'static str,
    /// What it does, for humans and agents.
    pub description: &'static str,
    /// The REST method.
    pub method: Method,
    /// The REST path under which it is served, e.g. `/v1/payments/{id}`.
    pub path: &'static str,
    /// The argument the path's `{id}` fills, if the path has one.
    pub path_id: Option<&'static str>,
    /// The scope it needs; `None`: any valid key.
    pub scope: Option<Scope>,
    /// Whether it moves money (charges, captures, refunds, orders).
    pub moves_money: bool,
    /// What it does to the world.
    pub effect: Effect,
    /// Result fields that carry provider-originated free text (data, not instructions).
    pub untrusted: &'static [&'static str],
    /// How the REST server serves it.
    pub rest: Serve,
    /// How the MCP server serves it.
    pub mcp: Serve,
    /// The JSON Schema of the arguments.
    #[cfg(feature = "schema")]
    pub input_schema: fn() -> Map<String, Value>,
    /// The JSON Schema of the result.
    #[cfg(feature = "openapi")]
    pub output_schema: fn() -> Map<String, Value>,
    /// Runs it.
    pub invoke: Invoke,
}

impl std::fmt::Debug for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operation")
            .field("name", &self.name)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl Operation {
    /// Whether `p` may call it.
    pub fn allows(&self, p: &Principal) -> bool {
        self.scope.is_none_or(|s| p.has(s))
    }

    /// Runs it for `p`: the scope is checked first (the same answer the `Platform` method
    /// gives), then the arguments are parsed and the method called, with `idempotency_key`
    /// for a mutating operation (a retry with the same key and arguments answers the first
    /// result, `replayed`; other arguments under the key are `Conflict`).
    pub async fn call(
        &self,
        platform: &Platform,
        p: &Principal,
        args: Value,
        idempotency_key: Option<String>,
    ) -> Result<Executed<Value>> {
        if let Some(scope) = self.scope {
            p.require(scope)?;
        }
        (self.invoke)(platform, p, args, idempotency_key).await
    }

    /// The names of the path's parameters (`{id}`, `{symbol}`), in order.
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> {
        self.path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    }

    /// The argument a path parameter fills: `{id}` fills [`Self::path_id`], any other
    /// parameter the argument of its own name.
    pub fn path_arg(&self, param: &'static str) -> &'static str {
        match param {
            "id" => self.path_id.unwrap_or(param),
            _ => param,
        }
    }
}

/// The operation called `name`.
pub fn find(name: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.name == name)
}

/// The operation called `name`, if `p` may call it (otherwise it does not exist for `p`).
pub fn visible(name: &str, p: &Principal) -> Option<&'static Operation> {
    find(name).filter(|op| op.allows(p))
}

/// The operations `p` may call, in catalog order.
pub fn for_principal(p: &Principal) -> impl Iterator<Item = &'static Operation> + '_ {
    OPERATIONS.iter().filter(move |op| op.allows(p))
}

/// Parses an operation's arguments strictly: absent or `null` means no arguments; anything
/// malformed is a validation error on `arguments` that changes nothing.
pub(crate) fn parse_args<T: DeserializeOwned>(args: Value) -> Result<T> {
    let args = match args {
        Value::Null => Value::Object(Map::new()),
        other => other,
    };
    crate::json::from_value(args).map_err(|e| Error::validation("arguments", e.to_string()))
}
