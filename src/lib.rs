//! msgbatch-mcp: an MCP server that cancels Anthropic Message Batches, helps find them and
//! follows a cancel through to `ended`, with an embedded simulator of the API for offline use.
//!
//! The binary (`src/main.rs`) is a thin CLI over this library:
//! - [`config`]: settings from the environment and flags; [`secret`]: the API key type;
//! - [`api`]: the HTTP client for the Batches API (types, IDs, errors, retries);
//! - [`server`]: the MCP surface (tools, notes, error advice);
//! - [`transport`]: serving the tools on stdio (one person's agent) or Streamable HTTP (a
//!   team's), stopping promptly; the tools know nothing of either; [`logging`]: logs on stderr;
//! - [`backlog`]: the count of calls waiting for an upstream slot, which paces stdin;
//! - [`json_budget`]: the bound on what a client's JSON may cost to parse, checked as it arrives;
//! - [`simulator`]: the in-memory Batches API used offline, in the demo and in tests;
//! - [`demo`]: the end-to-end demonstration;
//! - [`skill`]: installing the Agent Skill for Claude Code.

pub mod api;
pub mod backlog;
pub mod config;
pub mod demo;
pub mod json_budget;
pub mod logging;
pub mod secret;
pub mod server;
pub mod simulator;
pub mod skill;
pub mod transport;
