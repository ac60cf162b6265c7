//! How the tools reach an agent: stdio for one person's, Streamable HTTP for a team's.
//!
//! Each transport builds the API client and the [`crate::server::BatchServer`] once and hands the
//! server to rmcp; the tools know nothing of the transport. What belongs to one transport stays
//! in its files: stdio's pacing of stdin ([`backpressure`]), its bound on each line
//! ([`bounded_lines`]) and its answer buffer ([`answers`]);
//! HTTP's tokens, Host/Origin checks, limits and health check ([`http`]). [`shutdown`] is the
//! signal handling both share.

pub mod answers;
pub mod backpressure;
pub mod bounded_lines;
pub mod http;
pub mod shutdown;
pub mod stdio;
