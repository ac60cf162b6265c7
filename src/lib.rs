//! msgbatch-mcp: an MCP server that cancels Anthropic Message Batches, helps find them and
//! follows a cancel through to `ended`, with an embedded simulator of the API for offline use.
//!
//! The binary (`src/main.rs`) is a thin CLI over this library:
//! - [`config`]: settings from the environment and flags; [`secret`]: the API key type;
//! - [`api`]: the HTTP client for the Batches API (types, IDs, errors, retries);
//! - [`server`]: the MCP surface (tools, notes, error advice);
//! - [`serve`], [`shutdown`], [`logging`]: serving on stdio, stopping promptly, logs on stderr;
//! - [`backpressure`]: pausing stdin while the upstream is saturated, so memory stays bounded;
//!   [`answers`]: answers leave as bytes through one drain task, whatever the client's pace;
//! - [`simulator`]: the in-memory Batches API used offline, in the demo and in tests;
//! - [`demo`]: the end-to-end demonstration;
//! - [`skill`]: installing the Agent Skill for Claude Code.

pub mod answers;
pub mod api;
pub mod backpressure;
pub mod config;
pub mod demo;
pub mod logging;
pub mod secret;
pub mod serve;
pub mod server;
pub mod shutdown;
pub mod simulator;
pub mod skill;
