//! # fintech-mcp
//!
//! The MCP server for AI agents over `fintech_core::Platform`: tools, resources and prompts,
//! served over stdio, Streamable HTTP and legacy HTTP+SSE, and mounted by `fintech-server` at
//! `/mcp`.
//!
//! This crate is a placeholder in the foundation: it compiles and holds the dependency edges
//! (`core` <- `providers` <- `mcp`) so the MCP work lands without reshaping the workspace. It
//! deliberately exposes nothing yet: no tool may exist before the door it calls is tested.
