//! # fintech-server
//!
//! The HTTP API over `fintech_core::Platform`: REST under `/v1`, SSE events, OpenAPI, metrics,
//! and MCP at `/mcp`, exposed as `fn app(state) -> Router` with a thin binary.
//!
//! This crate is a placeholder in the foundation: it compiles and holds the dependency edges
//! (`core` <- `providers` <- `server`) so the server work lands without reshaping the
//! workspace. It deliberately exposes nothing yet.
